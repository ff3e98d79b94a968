/**
 * `deno task audit:verify`: checks every audit chain in DATABASE_URL
 * (embedded or remote) and exits 1 at the first entry where the database
 * departs from the evidence. A line on stderr every 10,000 entries
 * (`--progress-every N`) shows how far it got.
 *
 * The seals are checked with the audit key (`AUDIT_KEY`, and
 * `AUDIT_KEY_PREVIOUS` for entries sealed before a rotation; `--dev` uses
 * the dev key); without one only the links are. `--checkpoints FILE` (the
 * service's log lines, among any others) or `--checkpoints redis` (the
 * list in UPSTASH_REDIS_REST_URL) adds the signed checkpoints, checked with
 * the public key alone (`AUDIT_PUBLIC_KEY`, comma-separated for several,
 * or derived from `AUDIT_SIGNING_KEY`): the database must extend each.
 */
import { parseArgs } from "node:util";
import {
  type CheckedEvidence,
  checkEvidence,
  checkpointsInText,
  type ReadCheckpoint,
  upstashCheckpointList,
} from "../audit/evidence.ts";
import {
  base64Key,
  createAuditSealer,
  createCheckpointSigner,
  createCheckpointVerifier,
} from "../audit/keys.ts";
import { DEV_AUDIT_KEY, DEV_AUDIT_SIGNING_KEY } from "../config.ts";
import { verifyAuditLog } from "../db/audit_verifier.ts";
import type { AuditSealer } from "../domain/audit.ts";
import { errorSummary } from "../error_fields.ts";
import { progressEveryOrExit, runTask } from "./task_environment.ts";

const CANNOT = "Cannot verify the audit log";
const progressEvery = progressEveryOrExit(CANNOT);
const { values } = parseArgs({
  args: Deno.args,
  options: { checkpoints: { type: "string" } },
  strict: false,
});
const dev = Deno.args.includes("--dev");
const keys = auditKeysOrExit();
const evidence = typeof values.checkpoints === "string"
  ? await evidenceOrExit(values.checkpoints)
  : undefined;

await runTask(CANNOT, async (database) => {
  if (evidence?.refused) {
    console.error(`Audit checkpoints refused: ${evidence.refused}`);
    Deno.exitCode = 1;
    return;
  }
  for (const gap of evidence?.gaps ?? []) {
    console.error(`audit:verify: note: ${gap}`);
  }
  const checkpoints = evidence?.accepted ?? [];
  const result = await verifyAuditLog(database.db, {
    progressEvery,
    keys,
    checkpoints,
    onProgress: (progress) =>
      console.error(
        `audit:verify: ${progress.entries} of ${progress.total} entries verified, in ${progress.chains} chains…`,
      ),
  });
  const { chains, entries, broken } = result;
  if (broken) {
    console.error(
      `Audit log broken at chain ${broken.chainId}, seq ${broken.chainSeq}: ${broken.reason}`,
    );
    console.error(
      `(${entries} entries in ${chains} chains verified before it)`,
    );
    Deno.exitCode = 1;
    return;
  }
  if (result.checkpointMismatch) {
    console.error(
      `Audit log departs from the checkpoints: ${result.checkpointMismatch}`,
    );
    Deno.exitCode = 1;
    return;
  }
  const latest = checkpoints.reduce<number | undefined>(
    (at, c) => at === undefined || c.at > at ? c.at : at,
    undefined,
  );
  const proved = [
    `${entries} entries in ${chains} chains`,
    latest === undefined
      ? "no checkpoints given (--checkpoints FILE|redis)"
      : `consistent with ${checkpoints.length} checkpoints, the latest at ${
        new Date(latest).toISOString()
      }`,
  ];
  if (result.unkeyed > 0) {
    proved.push(
      `${result.unkeyed} entries sealed with unkeyed SHA-256 (written before the audit key)`,
    );
  }
  if (result.sealsUnchecked > 0) {
    proved.push(
      `the seals of ${result.sealsUnchecked} entries not checked (AUDIT_KEY is not set)`,
    );
  }
  console.log(`Audit log verified: ${proved.join("; ")}`);
});

/**
 * The audit keys by id: AUDIT_KEY and AUDIT_KEY_PREVIOUS (the dev key with
 * `--dev`); undefined when neither is set. Exits with 2 on a malformed one.
 */
function auditKeysOrExit(): Map<string, AuditSealer> | undefined {
  const sealers = new Map<string, AuditSealer>();
  for (const name of ["AUDIT_KEY", "AUDIT_KEY_PREVIOUS"]) {
    const text = Deno.env.get(name)?.trim() ||
      (dev && name === "AUDIT_KEY" ? DEV_AUDIT_KEY : undefined);
    if (text === undefined) continue;
    const key = base64Key(text);
    if (key === undefined) {
      console.error(`${CANNOT}: ${name} must be 32 bytes, base64-encoded`);
      Deno.exit(2);
    }
    const sealer = createAuditSealer(key);
    sealers.set(sealer.keyId, sealer);
  }
  return sealers.size > 0 ? sealers : undefined;
}

/** The public keys checkpoints must be signed by. Exits with 2 without one. */
function publicKeysOrExit(): string[] {
  const listed = Deno.env.get("AUDIT_PUBLIC_KEY")?.split(",")
    .map((k) => k.trim()).filter((k) => k !== "");
  if (listed && listed.length > 0) return listed;
  const seed = Deno.env.get("AUDIT_SIGNING_KEY")?.trim() ||
    (dev ? DEV_AUDIT_SIGNING_KEY : undefined);
  const bytes = seed === undefined ? undefined : base64Key(seed);
  if (bytes === undefined) {
    console.error(
      `${CANNOT}: --checkpoints needs the public key: set AUDIT_PUBLIC_KEY (deno task audit:public-key prints it) or AUDIT_SIGNING_KEY`,
    );
    Deno.exit(2);
  }
  return [createCheckpointSigner(bytes).publicKey];
}

/** The checkpoints at `source` (a file, or `redis`), checked. */
async function evidenceOrExit(source: string): Promise<CheckedEvidence> {
  let verifier;
  try {
    verifier = createCheckpointVerifier(publicKeysOrExit());
  } catch (error) {
    console.error(`${CANNOT}: AUDIT_PUBLIC_KEY: ${errorSummary(error)}`);
    Deno.exit(2);
  }
  let read: { checkpoints: ReadCheckpoint[]; unreadable: string[] };
  try {
    read = source === "redis"
      ? await readRedis()
      : checkpointsInText(await Deno.readTextFile(source));
  } catch (error) {
    console.error(
      `${CANNOT}: cannot read the checkpoints from ${
        source === "redis" ? "Redis (UPSTASH_REDIS_REST_URL)" : source
      } (${errorSummary(error)})`,
    );
    Deno.exit(2);
  }
  for (const where of read.unreadable) {
    console.error(
      `audit:verify: note: ${where} names audit.checkpoint but is not a checkpoint`,
    );
  }
  console.error(
    `audit:verify: ${read.checkpoints.length} checkpoints read from ${source}`,
  );
  return checkEvidence(read.checkpoints, verifier);
}

async function readRedis() {
  const url = Deno.env.get("UPSTASH_REDIS_REST_URL");
  const token = Deno.env.get("UPSTASH_REDIS_REST_TOKEN");
  if (!url || !token) {
    throw new Error(
      "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set",
    );
  }
  const { createUpstashRedis } = await import(
    "../limits/upstash_rate_limiter.ts"
  );
  return await upstashCheckpointList(createUpstashRedis({ url, token }))
    .readAll();
}
