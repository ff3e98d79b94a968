/**
 * What routes share in the OpenAPI document (`#/components`): the request
 * parameters and response headers they name, the responses every route of
 * a kind gives (401, 429, 500, 503; 413 and 415 with a body), and the
 * bearer scheme. Routes refer to them by `$ref`; `registerSharedComponents`
 * puts them in the app's registry once.
 */
import { AUDIT_ENTRY_HEADER } from "../../audit/receipts.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { unauthenticated } from "../middleware/authenticate.ts";
import {
  BODY_TOO_LARGE,
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_BODY_BYTES,
  TIMED_OUT,
  TIMED_OUT_GUARANTEE,
} from "../middleware/hygiene.ts";
import { NOT_JSON_MEDIA_TYPE } from "../http/json_body.ts";
import { INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE } from "../http/problem.ts";
import { rateLimitedMessage } from "../middleware/rate_limit.ts";
import {
  type Example,
  exampleNextCursor,
  problemExample,
  refusalExample,
} from "./examples.ts";
import {
  REQUEST_ID_PATTERN,
  SERVER_REQUEST_ID_HEADER,
} from "../middleware/request_id.ts";
import {
  CLAIM_TTL_MS,
  IDEMPOTENCY_KEY_PATTERN,
  MAX_KEY_LENGTH,
  REPLAY_WINDOW_MS,
} from "../../domain/idempotency.ts";

const HOUR_MS = 3_600_000;

/** The document's components, as the generator types them (OpenAPI 3.1). */
type Components = NonNullable<
  ReturnType<OpenAPIHono["getOpenAPI31Document"]>["components"]
>;
type ParameterObject = NonNullable<Components["parameters"]>[string];
type HeaderObject = NonNullable<Components["headers"]>[string];
type ResponseObject = NonNullable<Components["responses"]>[string];
type SecuritySchemeObject = NonNullable<Components["securitySchemes"]>[string];
type ContentObject = NonNullable<
  Extract<ResponseObject, { description: string }>["content"]
>;

/** A `$ref` to a component. */
export interface Ref {
  readonly $ref: string;
}

/** The request headers and path parameters routes share. */
const PARAMETER_OBJECTS = {
  UserId: {
    name: "user_id",
    in: "path",
    required: true,
    description:
      "A user id: a positive integer up to 9007199254740991, written with ASCII digits only. Anything else is answered 404, like an unknown order id.",
    schema: { type: "integer", minimum: 1, maximum: 9007199254740991 },
    example: 42,
  },
  OrderId: {
    name: "id",
    in: "path",
    required: true,
    description:
      "The order's id, matched case-insensitively. An id that is not a UUID is answered 404, like an unknown one.",
    schema: { type: "string", format: "uuid" },
    example: "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10",
  },
  IdempotencyKey: {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    description:
      `Makes the creation safe to retry: 1–${MAX_KEY_LENGTH} printable ASCII characters (else 400), scoped to the caller; a random UUID per order attempt is a good key. The first request with a key is executed; a retry with the same key and the same JSON body (whatever its formatting) within ${
        REPLAY_WINDOW_MS / HOUR_MS
      } h returns the original 201 with \`Idempotent-Replayed: true\` and creates nothing; the same key with another body is 422. A retry sent while the first request runs waits for it and is answered as its replay (never told to wait), and of requests with one key exactly one creates the order. 409 is answered only for an in-flight claim left by an earlier version of the service, until it expires (${
        CLAIM_TTL_MS / 1000
      } s). Only a 201 is kept: a failed attempt leaves the key free. Only a request that creates an order counts against the creation limit: a replay or a refusal does not.`,
    schema: { type: "string", pattern: IDEMPOTENCY_KEY_PATTERN.source },
  },
  IfMatch: {
    name: "If-Match",
    in: "header",
    required: false,
    description:
      'The `ETag` of the version the change is meant for, such as `"3"` (or a list of tags, or `*` for any version). Any other current version answers 412 and nothing changes. Weak tags (`W/"3"`) never match; a value that is not a list of entity tags is 400.',
    schema: { type: "string" },
  },
  XRequestId: {
    name: "X-Request-Id",
    in: "header",
    required: false,
    description:
      `Your id for this request (such as \`checkout-7f3a9c\`), echoed in the response, the problem's \`request_id\` and the logs, for correlation; it need not be unique. Audit entries (an order's history) record the service's own id of the request, which the response then carries in \`${SERVER_REQUEST_ID_HEADER}\`. A value that does not match the pattern is replaced by a new id.`,
    schema: { type: "string", pattern: REQUEST_ID_PATTERN.source },
  },
} satisfies Record<string, ParameterObject>;

/** A shared parameter, by name. */
export type ParameterName = keyof typeof PARAMETER_OBJECTS;

/** `$ref`s to the shared parameters, for a route's `parameters`. */
export const PARAMETERS = Object.fromEntries(
  Object.keys(PARAMETER_OBJECTS).map((name) => [
    name,
    { $ref: `#/components/parameters/${name}` },
  ]),
) as Record<ParameterName, Ref>;

function integerHeader(description: string, minimum = 0): HeaderObject {
  return { description, schema: { type: "integer", minimum } };
}

/** The response headers routes share, by their name in the document. */
const HEADER_OBJECTS = {
  XRequestId: {
    description:
      `The request's id: the one sent, if well formed, else a new one (the service's own, as audit entries record it). Equal to a problem's \`request_id\`. When the one sent was kept, the response also carries \`${SERVER_REQUEST_ID_HEADER}\`: the service's own id.`,
    required: true,
    schema: { type: "string", pattern: REQUEST_ID_PATTERN.source },
  },
  ETag: {
    description:
      'The order\'s `version`, quoted (`"3"`). Send it in `If-Match` to change exactly this version.',
    required: true,
    schema: { type: "string", pattern: '^"[1-9][0-9]*"$' },
    example: '"1"',
  },
  Location: {
    description: "The new order's URL.",
    required: true,
    schema: { type: "string", format: "uri-reference" },
    example: "/v1/orders/5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10",
  },
  AuditEntry: {
    description:
      "The receipt of the audit entry this change wrote: its position in the order's chain (the version it produced) and its hash, `<chain seq>;<hash>` (64 hex digits, HMAC-SHA256 under the service's audit key). Keep it as evidence of what the service acknowledged: `deno task audit:verify` finds any later change to that entry. Absent on an `Idempotent-Replayed` answer (the first answer carried it).",
    schema: { type: "string", pattern: "^[1-9][0-9]*;[0-9a-f]{64}$" },
    example:
      "2;9f2c3d4b5a6978e1f0c2d3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
  },
  IdempotentReplayed: {
    description:
      "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`; absent otherwise.",
    schema: { type: "string", enum: ["true"] },
  },
  Link: {
    description:
      "The next page (RFC 8288): the same request, without `offset`, with the page's `next_cursor` as `cursor`. Absent on the last page.",
    schema: { type: "string" },
    example:
      `</v1/orders?status=pending&limit=20&cursor=${exampleNextCursor}>; rel="next"`,
  },
  RateLimitLimit: integerHeader(
    "How many requests the limit allows per 60 s window. Absent when the rate-limit store could not answer.",
    1,
  ),
  RateLimitRemaining: integerHeader(
    "How many requests the limit still allows now.",
  ),
  RateLimitReset: integerHeader(
    "Whole seconds until the window frees a request (an upper bound with the Redis backend).",
  ),
  RetryAfter: {
    description: "Whole seconds to wait before retrying.",
    required: true,
    schema: { type: "integer", minimum: 1 },
  },
  WWWAuthenticate: {
    description:
      'The bearer challenge (RFC 6750), with `error="invalid_token"` whenever a token was presented.',
    required: true,
    schema: { type: "string" },
    example: 'Bearer realm="orders", error="invalid_token"',
  },
} satisfies Record<string, HeaderObject>;

/** A shared response header, by its component name. */
export type HeaderName = keyof typeof HEADER_OBJECTS;

/** The HTTP name of each shared header. */
const HEADER_NAMES: Record<HeaderName, string> = {
  XRequestId: "X-Request-Id",
  ETag: "ETag",
  Location: "Location",
  IdempotentReplayed: "Idempotent-Replayed",
  AuditEntry: AUDIT_ENTRY_HEADER,
  Link: "Link",
  RateLimitLimit: "RateLimit-Limit",
  RateLimitRemaining: "RateLimit-Remaining",
  RateLimitReset: "RateLimit-Reset",
  RetryAfter: "Retry-After",
  WWWAuthenticate: "WWW-Authenticate",
};

/** The `RateLimit-*` headers of the per-user request limit. */
export const RATE_LIMIT_HEADERS = [
  "RateLimitLimit",
  "RateLimitRemaining",
  "RateLimitReset",
] as const satisfies readonly HeaderName[];

/** A response's `headers`: `$ref`s to shared headers, by HTTP name. */
export function headerRefs(names: readonly HeaderName[]): Record<string, Ref> {
  return Object.fromEntries(
    names.map((name) => [
      HEADER_NAMES[name],
      { $ref: `#/components/headers/${name}` },
    ]),
  );
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(
    /^-|-$/g,
    "",
  );
}

/** Examples keyed by a slug of their summary, as a media type holds them. */
export function namedExamples(
  examples: readonly Example[],
): Record<string, Example> {
  const named: Record<string, Example> = {};
  for (const example of examples) {
    let key = slug(example.summary);
    for (let n = 2; key in named; n++) key = `${slug(example.summary)}-${n}`;
    named[key] = example;
  }
  return named;
}

/** A problem+json content of the `Problem` schema, for shared responses. */
function problemContent(examples: readonly Example[]): ContentObject {
  return {
    "application/problem+json": {
      schema: { $ref: "#/components/schemas/Problem" },
      examples: namedExamples(examples),
    },
  };
}

/** The responses every route of a kind shares. */
const RESPONSE_OBJECTS = {
  Unauthenticated: {
    description:
      "No valid bearer token (see the Authentication section). Counts against the per-address limit on failed authentication.",
    headers: headerRefs(["WWWAuthenticate", "XRequestId"]),
    content: problemContent([
      refusalExample("No Authorization header", () => {
        throw unauthenticated(false);
      }),
      refusalExample("An invalid or expired token", () => {
        throw unauthenticated(true);
      }),
    ]),
  },
  RateLimited: {
    description:
      "A rate limit is used up: every request of the user, order creations, single-order look-ups ending in 403/404, or failed authentications from this address. `detail` names the limit; retry after `Retry-After` seconds.",
    headers: headerRefs(["RetryAfter", ...RATE_LIMIT_HEADERS, "XRequestId"]),
    content: problemContent([problemExample(
      "rate_limited",
      "Too many orders created",
      rateLimitedMessage("order_creation", "46"),
    )]),
  },
  PayloadTooLarge: {
    description:
      `The body is over ${MAX_BODY_BYTES} bytes. A declared \`Content-Length\` over it is refused before authentication: this 413 comes before a 401, and is not counted as a failed authentication. A body without \`Content-Length\` is counted while it is read, after authentication.`,
    headers: headerRefs(["XRequestId"]),
    content: problemContent([problemExample(
      "payload_too_large",
      `A body over ${MAX_BODY_BYTES} bytes`,
      BODY_TOO_LARGE,
    )]),
  },
  UnsupportedMediaType: {
    description: "A body whose `Content-Type` is missing or not JSON.",
    headers: headerRefs(["XRequestId"]),
    content: problemContent([problemExample(
      "unsupported_media_type",
      "Not JSON",
      NOT_JSON_MEDIA_TYPE,
    )]),
  },
  InternalError: {
    description:
      "An unexpected error. It reveals nothing; the server logs it with the request id.",
    headers: headerRefs(["XRequestId"]),
    content: problemContent([problemExample(
      "internal",
      "Unexpected error",
      INTERNAL_ERROR,
    )]),
  },
  Unavailable: {
    description: `The request ran over ${
      DEFAULT_REQUEST_TIMEOUT_MS / 1000
    } s (\`timeout\`): ${TIMED_OUT_GUARANTEE.toLowerCase()}, so it can be retried as is. Or the rate-limit store is down and the service fails closed (\`unavailable\`).`,
    headers: headerRefs(["RetryAfter", "XRequestId"]),
    content: problemContent([
      problemExample("timeout", "The request took too long", TIMED_OUT),
      problemExample(
        "unavailable",
        "Rate-limit store down, failing closed",
        TEMPORARILY_UNAVAILABLE,
      ),
    ]),
  },
} satisfies Record<string, ResponseObject>;

/** A shared response, by name. */
export type SharedResponseName = keyof typeof RESPONSE_OBJECTS;

/** A `$ref` to a shared response. */
export function sharedResponse(name: SharedResponseName): Ref {
  return { $ref: `#/components/responses/${name}` };
}

/** The bearer-JWT scheme every `/v1` route requires. */
const BEARER_AUTH = {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
  description:
    "A JWT signed with HS256 (or ES256/RS256 when the server has a public key), with `sub` (positive integer user id) and `exp` (at most 24 h ahead); optional `roles` (`admin`, `fulfillment`), `nbf`, `iat`, `iss`, `aud`. Verified locally; every failure is 401.",
} satisfies SecuritySchemeObject;

/** Puts the shared parameters, headers, responses and scheme in `registry`. */
export function registerSharedComponents(
  registry: OpenAPIHono["openAPIRegistry"],
): void {
  registry.registerComponent("securitySchemes", "bearerAuth", BEARER_AUTH);
  for (const [name, parameter] of Object.entries(PARAMETER_OBJECTS)) {
    registry.registerComponent("parameters", name, parameter);
  }
  for (const [name, header] of Object.entries(HEADER_OBJECTS)) {
    registry.registerComponent("headers", name, header);
  }
  for (const [name, response] of Object.entries(RESPONSE_OBJECTS)) {
    registry.registerComponent("responses", name, response);
  }
}
