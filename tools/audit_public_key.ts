/**
 * `deno task audit:public-key`: prints the public key of AUDIT_SIGNING_KEY
 * (base64 of its 32 raw bytes), the one thing an auditor needs to check
 * the audit checkpoints (`AUDIT_PUBLIC_KEY` of `audit:verify`). With
 * `--dev`, or without AUDIT_SIGNING_KEY, it uses the public dev-only key
 * and says so on stderr.
 */
import { base64Key, createCheckpointSigner } from "../audit/keys.ts";
import { DEV_AUDIT_SIGNING_KEY } from "../config.ts";

const given = Deno.env.get("AUDIT_SIGNING_KEY")?.trim() || undefined;
if (given === undefined) {
  console.error(
    "AUDIT_SIGNING_KEY is not set: the public key of the public dev-only signing key",
  );
}
const seed = base64Key(given ?? DEV_AUDIT_SIGNING_KEY);
if (seed === undefined) {
  console.error(
    "Cannot print the public key: AUDIT_SIGNING_KEY must be 32 bytes, base64-encoded",
  );
  Deno.exit(2);
}
console.log(createCheckpointSigner(seed).publicKey);
