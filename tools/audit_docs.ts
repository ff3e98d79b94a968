/**
 * The block of docs/audit.md that restates the code, written by
 * `deno task docs:generate` (tools/docs_generate.ts): the `AUDIT_*`
 * settings, with the numbers the configuration enforces.
 */
import { AUDIT_KEY_BYTES } from "../audit/keys.ts";
import {
  DEFAULT_CHECKPOINT_SECONDS,
  MAX_CHECKPOINT_HEADS,
  MAX_CHECKPOINT_SECONDS,
} from "../domain/audit_checkpoint.ts";

/** The `AUDIT_*` variables and what each is. */
export function auditSettingsTable(): string {
  const rows: [string, string][] = [
    [
      "AUDIT_KEY",
      `${AUDIT_KEY_BYTES} random bytes, base64 (\`openssl rand -base64 ${AUDIT_KEY_BYTES}\`): seals new entries. Required by \`deno task start\``,
    ],
    [
      "AUDIT_KEY_PREVIOUS",
      "the key being replaced: verifies entries it sealed, never seals",
    ],
    [
      "AUDIT_SIGNING_KEY",
      `${AUDIT_KEY_BYTES} random bytes, base64: the Ed25519 seed checkpoints are signed with. Required by \`deno task start\``,
    ],
    [
      "AUDIT_CHECKPOINT_SECONDS",
      `seconds between checkpoints (1 to ${MAX_CHECKPOINT_SECONDS}, default ${DEFAULT_CHECKPOINT_SECONDS}); a checkpoint lists at most ${MAX_CHECKPOINT_HEADS} moved heads, the root witnesses the rest`,
    ],
    [
      "AUDIT_PUBLIC_KEY",
      "for `audit:verify` only: the public key(s), comma-separated, base64",
    ],
  ];
  return [
    "| variable | what |",
    "|---|---|",
    ...rows.map(([name, what]) => `| \`${name}\` | ${what} |`),
  ].join("\n");
}
