/**
 * `deno task token --sub 42 --roles admin,fulfillment [--ttl 3600]`: prints a
 * token signed with JWT_SECRET, or with the dev-only secret when it is unset
 * (and says so on stderr). It refuses what the service would refuse: a
 * `sub` that is not a positive integer, a role no token can grant, a
 * lifetime above JWT_MAX_TTL_SECONDS, an unknown option.
 */
import { parseArgs } from "node:util";
import { signToken } from "../auth/sign_token.ts";
import { DEV_JWT_SECRET, MIN_SECRET_BYTES } from "../config.ts";
import { GRANTABLE_ROLES, parseUserIdText } from "../domain/principal.ts";

const USAGE =
  "Usage: deno task token [--sub <user id>] [--roles admin,fulfillment] [--ttl <seconds>]";

function refuse(problem: string): never {
  console.error(`Cannot mint a token: ${problem}\n${USAGE}`);
  Deno.exit(2);
}

let values: { sub?: string; roles?: string; ttl?: string };
try {
  ({ values } = parseArgs({
    args: Deno.args,
    options: {
      sub: { type: "string", default: "1" },
      roles: { type: "string", default: "" },
      ttl: { type: "string", default: "3600" },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  refuse(error instanceof Error ? error.message : String(error));
}

const sub = parseUserIdText(values.sub ?? "");
if (sub === undefined) {
  refuse(
    `--sub must be a positive integer (a user id), not ${
      JSON.stringify(values.sub)
    }`,
  );
}
const roles = (values.roles ?? "").split(",").map((r) => r.trim())
  .filter(Boolean);
for (const role of roles) {
  if (!(GRANTABLE_ROLES as readonly string[]).includes(role)) {
    refuse(
      `unknown role ${JSON.stringify(role)}: a token grants ${
        GRANTABLE_ROLES.join(" or ")
      } (every caller is also a user)`,
    );
  }
}
const maxTtl = Number(Deno.env.get("JWT_MAX_TTL_SECONDS") || 86_400);
const ttl = /^[0-9]+$/.test(values.ttl ?? "") ? Number(values.ttl) : NaN;
if (!(ttl >= 1 && ttl <= maxTtl)) {
  refuse(
    `--ttl must be a whole number of seconds from 1 to ${maxTtl} (JWT_MAX_TTL_SECONDS), not ${
      JSON.stringify(values.ttl)
    }`,
  );
}
const configured = Deno.env.get("JWT_SECRET");
if (
  configured !== undefined &&
  new TextEncoder().encode(configured).length < MIN_SECRET_BYTES
) {
  refuse(
    `JWT_SECRET is too short: the service refuses secrets under ${MIN_SECRET_BYTES} bytes`,
  );
}
if (configured === undefined) {
  console.error(
    "JWT_SECRET is not set: signed with the public dev-only secret, which only deno task dev accepts",
  );
}
console.log(
  await signToken(configured ?? DEV_JWT_SECRET, {
    sub,
    roles,
    ttlSeconds: ttl,
    issuer: Deno.env.get("JWT_ISSUER"),
    audience: Deno.env.get("JWT_AUDIENCE"),
  }),
);
