/**
 * `deno task token --sub 42 --roles admin,fulfillment [--ttl 3600]`: prints a
 * token signed with JWT_SECRET, or with the dev-only secret when it is unset.
 */
import { parseArgs } from "node:util";
import { signToken } from "../auth/sign_token.ts";
import { DEV_JWT_SECRET } from "../config.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sub: { type: "string", default: "1" },
    roles: { type: "string", default: "" },
    ttl: { type: "string", default: "3600" },
  },
});
const secret = Deno.env.get("JWT_SECRET") ?? DEV_JWT_SECRET;
const roles = (values.roles ?? "").split(",").map((r) => r.trim()).filter(
  Boolean,
);
console.log(
  await signToken(secret, {
    sub: values.sub ?? "1",
    roles,
    ttlSeconds: Number(values.ttl),
    issuer: Deno.env.get("JWT_ISSUER"),
    audience: Deno.env.get("JWT_AUDIENCE"),
  }),
);
