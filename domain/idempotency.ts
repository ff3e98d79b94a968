/**
 * Idempotent order creation: which keys are well formed, how a request body
 * is fingerprinted, and what a stored key record means for a new request.
 */
import { sha256Hex } from "./audit.ts";
import { DomainError } from "./errors.ts";

/** How long a completed key replays its response. */
export const REPLAY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * How long a claim may stay in flight before another request may take the
 * key over: longer than the request timeout, so only a crashed request's
 * claim ever expires.
 */
export const CLAIM_TTL_MS = 60 * 1000;

/** The longest `Idempotency-Key`. */
export const MAX_KEY_LENGTH = 255;

/** A well-formed `Idempotency-Key`: printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = new RegExp(
  `^[\\x20-\\x7E]{1,${MAX_KEY_LENGTH}}$`,
);

const KEY_RULE = `1 to ${MAX_KEY_LENGTH} printable ASCII characters`;

/** Checks an `Idempotency-Key` header value: 1–255 printable ASCII characters. */
export function parseIdempotencyKey(
  value: string | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw new DomainError(
      "bad_request",
      `Idempotency-Key must be ${KEY_RULE}`,
      [{ path: "Idempotency-Key", message: `Must be ${KEY_RULE}` }],
    );
  }
  return value;
}

/** JSON with object keys sorted at every level, so equal values have equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value).sort().map((key) =>
      `${JSON.stringify(key)}:${
        canonicalJson((value as Record<string, unknown>)[key])
      }`
    );
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The fingerprint of a request body: the same JSON value, whatever its formatting. */
export function requestFingerprint(body: unknown): Promise<string> {
  return sha256Hex(canonicalJson(body));
}

/**
 * Where a key stands: claimed by a request still in flight, or completed
 * with the response it replays.
 */
export const KEY_STATES = ["in_flight", "completed"] as const;

/** An idempotency key's state. */
export type KeyState = typeof KEY_STATES[number];

/** A stored key record, as far as a new request needs to know. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly state: KeyState;
  readonly responseStatus: number | null;
  readonly responseBody: string | null;
  readonly createdAt: number;
}

/** What to do with a request whose key is already held by another request. */
export type KeyHeld =
  | { kind: "replay"; status: number; body: string }
  | { kind: "mismatch" }
  | { kind: "in_flight" };

/**
 * Decides the answer to a request whose key is held: a different body is a
 * mismatch (422), a completed key replays its response, and a claim still in
 * flight is a conflict (409).
 */
export function keyHeldOutcome(
  record: IdempotencyRecord,
  fingerprint: string,
): KeyHeld {
  if (record.fingerprint !== fingerprint) return { kind: "mismatch" };
  if (
    record.state === "completed" && record.responseStatus !== null &&
    record.responseBody !== null
  ) {
    return {
      kind: "replay",
      status: record.responseStatus,
      body: record.responseBody,
    };
  }
  return { kind: "in_flight" };
}
