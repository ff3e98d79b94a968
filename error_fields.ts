/**
 * What a log line says about an error: its name, message and code, and those
 * of its innermost cause (libSQL and `fetch` put the useful part there), with
 * secrets scrubbed from every message. Responses never carry any of it.
 */
import type { LogFields } from "./logger.ts";

/** What replaces a secret in a log line. */
export const REDACTED = "[redacted]";

/** Messages are cut to this many characters, after scrubbing. */
const MAX_MESSAGE_LENGTH = 500;

/** How deep `cause` chains are followed (they may be cyclic). */
const MAX_CAUSE_DEPTH = 5;

/** Names of settings and parameters whose value is a secret. */
const SECRET_NAME =
  "auth_?token|access_?token|refresh_?token|id_?token|api_?key|token|password|passwd|secret|jwt";

const SCRUBBERS: readonly [RegExp, string][] = [
  // The user and password of a URL: `libsql://user:pass@host` (also a
  // token alone: `https://token@host`).
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, `$1${REDACTED}@`],
  // `Authorization: Bearer …`, `Basic …`.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // Anything shaped like a JWT (Turso's auth tokens are JWTs).
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // `?authToken=…`, `authToken: "…"`, `"password":"…"`, `DATABASE_AUTH_TOKEN=…`.
  [
    new RegExp(
      `(?<![A-Za-z0-9])((?:${SECRET_NAME})["']?\\s*[:=]\\s*["']?)[^\\s"'&,;(){}<>#\\[\\]]+`,
      "gi",
    ),
    `$1${REDACTED}`,
  ],
  // drizzle's `Failed query: …\nparams: …` carries the statement's values,
  // which may be personal data.
  [/(\bparams: )\S[\s\S]*$/, `$1${REDACTED}`],
];

/**
 * `text` without the secrets a log line must never hold: credentials in
 * URLs, bearer tokens and JWTs, values of `authToken`/`token`/`password`-like
 * settings, and the values drizzle appends to a failed query.
 */
export function scrubSecrets(text: string): string {
  let scrubbed = text;
  for (const [pattern, replacement] of SCRUBBERS) {
    scrubbed = scrubbed.replace(pattern, replacement);
  }
  return scrubbed;
}

/**
 * Log fields describing `error`: `error_name`, `error_message`,
 * `error_code` (when it has one), and `error_cause_name`,
 * `error_cause_message`, `error_cause_code` for its innermost cause (when it
 * has one). Messages are scrubbed and cut to 500 characters.
 */
export function errorFields(error: unknown): LogFields {
  const fields = describe("error", error);
  const cause = innermostCause(error);
  return cause === undefined
    ? fields
    : { ...fields, ...describe("error_cause", cause) };
}

/** One line about `error` for a log's `reason`: its innermost message, scrubbed. */
export function errorSummary(error: unknown): string {
  return messageOf(innermostCause(error) ?? error);
}

function describe(prefix: string, value: unknown): LogFields {
  const fields: LogFields = {
    [`${prefix}_name`]: value instanceof Error ? value.name : typeof value,
    [`${prefix}_message`]: messageOf(value),
  };
  const code = codeOf(value);
  if (code !== undefined) fields[`${prefix}_code`] = code;
  return fields;
}

function messageOf(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  const scrubbed = scrubSecrets(text);
  return scrubbed.length > MAX_MESSAGE_LENGTH
    ? `${scrubbed.slice(0, MAX_MESSAGE_LENGTH)}…`
    : scrubbed;
}

function codeOf(value: unknown): string | number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const code = (value as { code?: unknown }).code;
  if (typeof code === "number") return code;
  if (typeof code === "string") return scrubSecrets(code).slice(0, 64);
  return undefined;
}

/** The last link of `error`'s `cause` chain, or undefined without a cause. */
function innermostCause(error: unknown): unknown {
  const seen = new Set<unknown>([error]);
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (!(current instanceof Error) || current.cause == null) break;
    if (seen.has(current.cause)) break;
    current = current.cause;
    seen.add(current);
  }
  return current === error ? undefined : current;
}
