/**
 * Security events: one structured JSON log line each, with stable field
 * names — `event`, `at`, `request_id`, and when known `user_id`, `order_id`,
 * `reason` and `ip_hash` — and a counter per event in the metrics.
 *
 * A line never holds a bearer token, a shipping address, free text from a
 * client, or a raw client address: `ip_hash` is a keyed hash of it
 * (HMAC-SHA256 under a key derived from `IP_HASH_KEY`, or from `JWT_SECRET`
 * when that is unset), so lines from one address can be correlated across
 * instances without the log revealing the address.
 */
import { createHmac } from "node:crypto";
import type { Context } from "hono";
import { MAX_PATH_KEY_LENGTH } from "../domain/errors.ts";
import { REDACTED } from "../error_fields.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "./metrics.ts";
import { clientAddress } from "../routes/middleware/client_address.ts";
import type { AppEnv, SecurityEvents } from "../routes/env.ts";
import {
  SECURITY_EVENT_LEVELS,
  type SecurityEventFields,
  type SecurityEventName,
} from "./security_event_names.ts";
import type { ProblemCode } from "../routes/http/problem.ts";
import { logRequestIds } from "../routes/middleware/request_id.ts";

/** Settings of the security events. */
export interface SecurityEventOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The secret the `ip_hash` key is derived from. */
  readonly ipHashSecret: string;
  /** As for the rate limits: which `X-Forwarded-For` entry is the client. */
  readonly trustedProxies: number;
}

/** Creates the emitter; the `ip_hash` key is derived here, once. */
export function createSecurityEvents(
  options: SecurityEventOptions,
): SecurityEvents {
  const hashAddress = createAddressHasher(options.ipHashSecret);
  return {
    emit(c, event, fields = {}) {
      let ipHash = c.get("ipHash");
      if (ipHash === undefined) {
        ipHash = hashAddress(clientAddress(c, options.trustedProxies));
        c.set("ipHash", ipHash);
      }
      const callerId = c.get("principal")?.userId;
      options.metrics.countSecurityEvent(event);
      options.logger.log(SECURITY_EVENT_LEVELS[event], event, {
        ...logRequestIds(c),
        ...(callerId !== undefined && { user_id: callerId }),
        ...fields,
        ip_hash: ipHash,
      });
    },
  };
}

/** How many hex digits of the HMAC an `ip_hash` keeps (128 bits). */
const IP_HASH_HEX_DIGITS = 32;

/**
 * A keyed hash of client addresses. The HMAC key is itself derived from
 * the secret with HMAC-SHA256 under a fixed label, so the secret (possibly
 * the JWT secret) is never used directly for another purpose.
 */
export function createAddressHasher(
  secret: string,
): (address: string) => string {
  const key = createHmac("sha256", secret).update("orders-api ip_hash v1")
    .digest();
  return (address) =>
    createHmac("sha256", key).update(address).digest("hex").slice(
      0,
      IP_HASH_HEX_DIGITS,
    );
}

/** Emits a security event through the request's emitter. */
export function securityEvent(
  c: Context<AppEnv>,
  event: SecurityEventName,
  fields?: SecurityEventFields,
): void {
  c.get("securityEvents").emit(c, event, fields);
}

const ORDER_PATH =
  /^\/v1\/orders\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:\/|$)/;

/**
 * The security event of a refusal the error mapper answers, if it is one:
 * 403 → `authz.denied`, 404 for a resource → `lookup.miss`, and the
 * refusals of a request's input (400, 413, 415, 422) → `validation.failed`.
 * (400 includes a status rule's refusal, as in the security specification's
 * "high rate of 400/422 errors"). The reason is the problem's `detail`
 * (text of the service's own, never a client's value), for input refusals
 * prefixed with the problem type, and with the invalid fields' paths instead
 * when there are any (as `loggedPath` shows them, at most
 * `MAX_LOGGED_PATHS`). 401 and 429 are logged where they are decided, with
 * their own reasons.
 */
export function problemSecurityEvent(
  c: Context<AppEnv>,
  problem: {
    code: ProblemCode;
    slug: string;
    detail: string;
    paths: readonly string[];
  },
): void {
  const orderId = ORDER_PATH.exec(c.req.path)?.[1]?.toLowerCase();
  const where = orderId === undefined ? {} : { order_id: orderId };
  switch (problem.code) {
    case "forbidden":
      return securityEvent(c, "authz.denied", {
        ...where,
        reason: problem.detail,
      });
    case "account_disabled":
      return securityEvent(c, "authz.denied", { reason: "account disabled" });
    case "not_found":
      return securityEvent(c, "lookup.miss", {
        ...where,
        reason: problem.detail,
      });
    case "bad_request":
    case "validation_failed":
    case "malformed_json":
    case "unsupported_media_type":
    case "payload_too_large":
      return securityEvent(c, "validation.failed", {
        ...where,
        reason: `${problem.slug}: ${
          problem.paths.length > 0 ? loggedPaths(problem.paths) : problem.detail
        }`,
      });
    default:
      return;
  }
}

/** How many paths a `validation.failed` reason lists; the rest are counted. */
const MAX_LOGGED_PATHS = 10;

function loggedPaths(paths: readonly string[]): string {
  const listed = paths.slice(0, MAX_LOGGED_PATHS).map(loggedPath).join(", ");
  const more = paths.length - MAX_LOGGED_PATHS;
  return more > 0 ? `${listed} and ${more} more` : listed;
}

/**
 * A key a log line may show as it is: spelled as the contract's names are,
 * in snake_case (`product_name`) or as a header (`Idempotency-Key`).
 */
const PLAIN_KEY = /^(?:[a-z][a-z0-9_]*|[A-Z][a-z0-9]*(?:-[A-Z][a-z0-9]*)*)$/;

/** A path's keys and indexes (`items`, `[0]`, `price`), between `.`, `[`, `]`. */
const PATH_SEGMENT = /\[\d{1,5}\]|[^.[\]]+/g;

/**
 * A field path as a log line shows it. Its keys are the client's text
 * (`{"<anything>": "\ud800"}` is reported at `<anything>`), and a log line
 * holds no client text: each key that is not a plain name of at most
 * `MAX_PATH_KEY_LENGTH` characters is replaced with `[redacted]`. Tokens
 * (`eyJ…`), addresses, `name=value` pairs and cut keys are never plain, so
 * nothing `scrubSecrets` would catch survives.
 */
function loggedPath(path: string): string {
  return path.replace(
    PATH_SEGMENT,
    (segment) =>
      segment.startsWith("[") ||
        (segment.length <= MAX_PATH_KEY_LENGTH && PLAIN_KEY.test(segment))
        ? segment
        : REDACTED,
  );
}
