/**
 * Standard Webhooks 1.0 signing: every delivery carries `webhook-id`,
 * `webhook-timestamp` and `webhook-signature`, the last being `v1,` and the
 * base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`, keyed with the secret's
 * bytes. During a secret rotation a delivery carries one signature per
 * secret, separated by spaces, so a receiver holding either verifies it.
 */
import { createHmac, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";

/** The prefix of every webhook secret. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** How many random bytes a new secret holds. */
export const WEBHOOK_SECRET_BYTES = 32;

/**
 * The key lengths accepted, in bytes: the Standard Webhooks specification's
 * recommended range, which holds our 32-byte secrets and the 24-byte secret
 * of its published test vector.
 */
export const WEBHOOK_SECRET_MIN_BYTES = 24;
/** The longest key accepted, in bytes (see `WEBHOOK_SECRET_MIN_BYTES`). */
export const WEBHOOK_SECRET_MAX_BYTES = 64;

/** The version tag of an HMAC-SHA256 signature. */
const SIGNATURE_VERSION = "v1";

/** Canonical base64 with padding: what `Buffer` writes, and nothing it skips. */
const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * From here on a timestamp is almost surely milliseconds passed by mistake
 * (10^11 seconds is the year 5138), which receivers would reject as far in
 * the future.
 */
const MILLISECONDS_LIKELY = 100_000_000_000;

/** What a header value may hold without quoting: visible ASCII. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/** What one delivery signs. */
export interface WebhookMessage {
  /** The event id, sent as `webhook-id`: the same on every attempt. */
  readonly id: string;
  /** Unix seconds of this attempt, sent as `webhook-timestamp`. */
  readonly timestamp: number;
  /** The request body exactly as sent; its UTF-8 bytes are signed. */
  readonly body: string;
}

/** The headers of one delivery. */
export interface WebhookHeaders {
  readonly "content-type": "application/json";
  readonly "webhook-id": string;
  readonly "webhook-timestamp": string;
  readonly "webhook-signature": string;
}

/** A new secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX +
    randomBytes(WEBHOOK_SECRET_BYTES).toString("base64");
}

/**
 * The key of a secret: the base64-decoded part after `whsec_`. Throws when
 * the secret is not of that form; the message never contains the secret.
 */
export function parseWebhookSecret(secret: string): Uint8Array {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new TypeError(
      `Invalid webhook secret: it must start with "${WEBHOOK_SECRET_PREFIX}"`,
    );
  }
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (encoded === "" || !BASE64.test(encoded)) {
    throw new TypeError(
      `Invalid webhook secret: the part after "${WEBHOOK_SECRET_PREFIX}" must be padded base64`,
    );
  }
  const key = Buffer.from(encoded, "base64");
  if (
    key.length < WEBHOOK_SECRET_MIN_BYTES ||
    key.length > WEBHOOK_SECRET_MAX_BYTES
  ) {
    throw new RangeError(
      `Invalid webhook secret: its key must be ${WEBHOOK_SECRET_MIN_BYTES} to ${WEBHOOK_SECRET_MAX_BYTES} bytes, not ${key.length}`,
    );
  }
  return new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` over
 * `<id>.<timestamp>.<body>` for each secret, in the order given (during a
 * rotation: the new one, then the old one), separated by spaces.
 */
export function signWebhook(
  message: WebhookMessage,
  secrets: readonly string[],
): string {
  if (secrets.length === 0) {
    throw new RangeError("Cannot sign a webhook: no secret given");
  }
  if (
    !Number.isSafeInteger(message.timestamp) || message.timestamp < 0 ||
    message.timestamp >= MILLISECONDS_LIKELY
  ) {
    throw new RangeError(
      `Cannot sign a webhook: the timestamp must be whole Unix seconds, not ${message.timestamp}`,
    );
  }
  if (!HEADER_TOKEN.test(message.id)) {
    throw new RangeError(
      "Cannot sign a webhook: the id must be printable ASCII without spaces, as it travels in a header",
    );
  }
  const signed = `${message.id}.${message.timestamp}.${message.body}`;
  return secrets.map((secret) => {
    const mac = createHmac("sha256", parseWebhookSecret(secret))
      .update(signed, "utf8")
      .digest("base64");
    return `${SIGNATURE_VERSION},${mac}`;
  }).join(" ");
}

/**
 * The headers of one delivery attempt: JSON content type, the event id,
 * the attempt's Unix seconds and a signature per secret.
 */
export function webhookHeaders(
  message: WebhookMessage,
  secrets: readonly string[],
): WebhookHeaders {
  return {
    "content-type": "application/json",
    "webhook-id": message.id,
    "webhook-timestamp": String(message.timestamp),
    "webhook-signature": signWebhook(message, secrets),
  };
}
