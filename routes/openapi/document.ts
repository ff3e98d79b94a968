/**
 * The OpenAPI 3.1 document, built from the endpoint table (`OPERATIONS`)
 * and the same zod schemas the handlers validate with, converted by zod's
 * own `z.toJSONSchema` (OpenAPI 3.1 schemas are JSON Schema 2020-12).
 */
import { z } from "zod";
import { MAX_BODY_BYTES } from "../hygiene.ts";
import { type ProblemCode, problemTypes } from "../problem.ts";
import { type Example, problemExample } from "./examples.ts";
import {
  type HeaderName,
  OPERATIONS,
  type OperationSpec,
  type ParameterName,
  type ResponseSpec,
  SCHEMAS,
} from "./operations.ts";

/** An OpenAPI document, as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & {
  paths: Record<string, Record<string, unknown>>;
};

type JsonObject = Record<string, unknown>;

const SCHEMA_REF = "#/components/schemas/";

/** When each problem type is answered; the compiler asks for every new one. */
const PROBLEM_CASES: Record<ProblemCode, string> = {
  bad_request:
    "A request the contract refuses outright: no items or more than 100, a `status` outside the five, a move the lifecycle does not allow, a malformed `Idempotency-Key` or `If-Match`.",
  malformed_json:
    "The body is not valid JSON or not UTF-8, or a required body is missing.",
  unauthenticated:
    "No bearer token, another scheme, or a token that is malformed, badly signed, expired, not yet valid, for another issuer or audience, or without a positive integer `sub`.",
  forbidden:
    "The caller may not see this order or make this change, may not manage this user's personal data, or is not an admin on an admin route (see the roles table).",
  account_disabled:
    "An admin disabled the caller's account; every request is refused until it is enabled again.",
  not_found:
    "No such order (an id that is not a UUID is unknown), a `user_id` that is not a positive integer, or no such route.",
  method_not_allowed:
    "The route exists but not with this method; `Allow` lists the methods.",
  conflict:
    "An `Idempotency-Key` still in flight, a change that lost 5 races in a row (retry), an order held for review that may not move to `processing` yet, a review decision on an order that is not held or already decided, or an erasure while an order still needs its address.",
  version_mismatch: "`If-Match` does not name the order's current version.",
  payload_too_large: `The body is over ${MAX_BODY_BYTES} bytes.`,
  unsupported_media_type: "A body whose `Content-Type` is missing or not JSON.",
  validation_failed:
    "Invalid fields (one `errors` entry each), a total over 1000000000.00, or an `Idempotency-Key` reused with another body.",
  rate_limited:
    "A rate limit is used up; `Retry-After` says when to retry, `detail` which limit.",
  internal: "An unexpected error; it reveals nothing and is logged.",
  unavailable:
    "Not ready (`/readyz`), or the rate-limit store is down and the service is set to fail closed.",
  timeout:
    "The request ran longer than 10 s; retry (with the same `Idempotency-Key` for a creation).",
};

const DESCRIPTION = `
An orders API for storefronts and mobile apps. This document is generated
from the zod schemas that validate the requests, so it describes exactly
what the server accepts.

**Try it here:** run \`deno task dev\` (it prints a user token and an admin
token), press **Authorize** below and paste a token, then open
\`POST /v1/orders\`, press **Try it out** and **Execute**.

## Authentication

Every \`/v1\` route needs \`Authorization: Bearer <JWT>\`, verified locally:
HS256 with the server's secret (ES256 or RS256 with a configured public key).
Required claims: \`sub\` (the user id, a positive integer up to
9007199254740991, as a number or a decimal string) and \`exp\` (at most 24 h
ahead); \`nbf\` and \`iat\` are honoured (30 s clock tolerance), \`iss\` and
\`aud\` are checked when the server is configured with them. \`roles\` may
hold \`"admin"\` and \`"fulfillment"\`; every caller is a \`user\`, and rights
add up. With \`deno task dev\`, the server prints a user token and an admin
token; \`deno task token --sub 42 --roles fulfillment\` mints more. In
\`/docs\`, press **Authorize** and paste a token (it is kept in the page
only, never stored).

| action | owner | another user | fulfillment | admin |
|---|---|---|---|---|
| create an order | for self | — | for self | for anyone |
| list orders | own only | 403 with another's \`user_id\` | all | all |
| read an order | yes | 403 | yes | yes |
| cancel | pending/processing | 403 | 403 | pending/processing |
| move the status forward | 403 | 403 | one step | one step |
| change the address | pending/processing | 403 | 403 | pending/processing |
| read the history | yes | 403 | 403 | yes |
| decide a held order's review | 403 | 403 | 403 | yes |
| export or erase personal data (\`/v1/users/{user_id}\`) | own | 403 | own only | anyone's |
| disable, enable, revoke tokens; metrics (\`/v1/admin\`) | 403 | 403 | 403 | yes |

An admin can disable an account (every request of that user is then 403
\`account-disabled\`) and revoke a user's tokens (401 for every token issued
up to then); both take effect within 5 s on every instance.

## Conventions

- JSON in and out, \`snake_case\` fields. Timestamps are ISO 8601 UTC with
  milliseconds, set by the server. Order ids are random UUIDs.
- Money is a decimal string in responses (\`"25.00"\`); a price may be sent as
  a JSON number or a decimal string. Totals are computed exactly and rounded
  half-up to cents once.
- Unknown request fields and query parameters are ignored. Responses may gain
  fields: ignore the ones you do not know.
- Every response carries \`X-Request-Id\` (yours, if it matches
  \`^[A-Za-z0-9._-]{1,64}$\`, else a new one) and \`Cache-Control: no-store\`.
- Single-order responses carry \`ETag: "<version>"\`; send it back in
  \`If-Match\` to change exactly that version (412 otherwise).
- \`POST /v1/orders\` accepts an \`Idempotency-Key\`: retries with the same
  key and body within 24 h replay the first 201 instead of creating another
  order.
- Rate limits (per minute, by default): 120 requests per user, 10 order
  creations per user, 20 single-order look-ups ending in 403/404 per user, 30
  failed authentications per client address. A refusal is 429 with
  \`Retry-After\` and \`RateLimit-Limit\`/\`-Remaining\`/\`-Reset\` (whole
  seconds); other responses after authentication carry the \`RateLimit-*\`
  headers of the per-user request limit.
- Bodies are limited to ${MAX_BODY_BYTES} bytes (413); a body must be
  \`application/json\` (415). Requests running over 10 s are answered 503.

## Errors

Every error is \`application/problem+json\` (RFC 9457) with \`type\`,
\`title\`, \`status\`, \`detail\`, \`request_id\` (equal to \`X-Request-Id\`)
and, on 400/422, \`errors: [{path, message}]\`, one entry per invalid field.
Unknown routes answer 404 and known routes with another method 405 (with
\`Allow\`), also as problems. Order of checks: authentication (401), the
account state (403 \`account-disabled\`, on every \`/v1\` route), rate limits
(429), validation (400/422), existence (404), rights (403), business rules
(400/409/412).

| type | status | when |
|---|---|---|
${
  problemTypes().map((problem) =>
    `| \`${problem.type}\` | ${problem.status} | ${
      PROBLEM_CASES[problem.code]
    } |`
  ).join("\n")
}

New problem types may be added: handle an unknown \`type\` by its \`status\`.

## Decisions where the contract is silent

- A \`POST\` or \`PATCH\` without a body, or with an empty one, is malformed
  JSON (400); \`POST /v1/orders/{id}/cancel\` alone takes no body.
- A malformed \`X-Request-Id\` is replaced, not refused.
- \`Cache-Control: no-store\` is on every response, not only authenticated ones.
- \`POST /v1/orders/{id}/cancel\` and \`POST /v1/orders/{id}/review\` honour
  \`If-Match\` like \`PATCH\`.
- A \`user_id\` path segment that is not a positive integer is 404 for every
  caller, before the caller's rights are checked, as an order id that is not a
  UUID.
- The review of a held order is shown to admins and fulfillment only; the
  owner sees neither \`review\` nor the review fields and actions of the
  history.
- Request schemas state only constraints that hold for the raw value: text
  fields are cleaned (HTML tags stripped, trimmed) before their length is
  checked, so their maximum lengths are in the descriptions, not in
  \`maxLength\`.
`.trim();

/** The request headers and path parameters routes share. */
const PARAMETERS: Record<ParameterName | "XRequestId", JsonObject> = {
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
      "Makes the creation safe to retry: 1–255 printable ASCII characters (else 400), scoped to the caller; a random UUID per order attempt is a good key. The first request with a key is executed; a retry with the same key and the same JSON body (whatever its formatting) within 24 h returns the original 201 with `Idempotent-Replayed: true` and creates nothing; the same key with another body is 422; a retry while the first is still running is 409. Only a 201 is kept: a failed attempt leaves the key free. A replay does not count against the creation limit.",
    schema: { type: "string", pattern: "^[\\x20-\\x7E]{1,255}$" },
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
      "Your id for this request (such as `checkout-7f3a9c`), echoed in the response, the problem's `request_id`, the logs and the audit log. A value that does not match the pattern is replaced by a new id.",
    schema: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
  },
};

function integerHeader(description: string, minimum = 0): JsonObject {
  return { description, schema: { type: "integer", minimum } };
}

/** The response headers routes share. */
const HEADERS: Record<
  | HeaderName
  | "XRequestId"
  | "RateLimitLimit"
  | "RateLimitRemaining"
  | "RateLimitReset"
  | "RetryAfter"
  | "WWWAuthenticate",
  JsonObject
> = {
  XRequestId: {
    description:
      "The request's id: the one sent, if well formed, else a new one. Equal to a problem's `request_id`.",
    required: true,
    schema: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
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
  IdempotentReplayed: {
    description:
      "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`; absent otherwise.",
    schema: { type: "string", enum: ["true"] },
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
    ...integerHeader("Whole seconds to wait before retrying.", 1),
    required: true,
  },
  WWWAuthenticate: {
    description:
      'The bearer challenge (RFC 6750), with `error="invalid_token"` whenever a token was presented.',
    required: true,
    schema: { type: "string" },
    example: 'Bearer realm="orders", error="invalid_token"',
  },
};

const RATE_LIMIT_HEADERS = [
  "RateLimitLimit",
  "RateLimitRemaining",
  "RateLimitReset",
] as const;

function headerRefs(names: readonly string[]): JsonObject {
  const headers: JsonObject = {};
  for (const name of names) {
    headers[headerName(name)] = { $ref: `#/components/headers/${name}` };
  }
  return headers;
}

/** `RateLimitReset` → `RateLimit-Reset`, `ETag` → `ETag`. */
function headerName(name: string): string {
  const special: Record<string, string> = {
    ETag: "ETag",
    XRequestId: "X-Request-Id",
    WWWAuthenticate: "WWW-Authenticate",
    RateLimitLimit: "RateLimit-Limit",
    RateLimitRemaining: "RateLimit-Remaining",
    RateLimitReset: "RateLimit-Reset",
  };
  return special[name] ?? name.replace(/(?<=[a-z])(?=[A-Z])/g, "-");
}

function problemContent(examples: readonly Example[]): JsonObject {
  const named: Record<string, Example> = {};
  for (const example of examples) {
    let key = slug(example.summary);
    for (let n = 2; key in named; n++) key = `${slug(example.summary)}-${n}`;
    named[key] = example;
  }
  return {
    "application/problem+json": {
      schema: { $ref: `${SCHEMA_REF}Problem` },
      examples: named,
    },
  };
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(
    /^-|-$/g,
    "",
  );
}

/** Responses every route of a kind shares (`#/components/responses`). */
const SHARED_RESPONSES: Record<string, JsonObject> = {
  Unauthenticated: {
    description:
      "No valid bearer token (see the Authentication section). Counts against the per-address limit on failed authentication.",
    headers: headerRefs(["WWWAuthenticate", "XRequestId"]),
    content: problemContent([
      problemExample(
        "unauthenticated",
        "No Authorization header",
        "A bearer token is required",
      ),
      problemExample(
        "unauthenticated",
        "An invalid or expired token",
        "The bearer token is invalid or expired",
      ),
    ]),
  },
  RateLimited: {
    description:
      "A rate limit is used up: every request of the user, order creations, single-order look-ups ending in 403/404, or failed authentications from this address. `detail` names the limit; retry after `Retry-After` seconds.",
    headers: headerRefs(["RetryAfter", ...RATE_LIMIT_HEADERS, "XRequestId"]),
    content: problemContent([problemExample(
      "rate_limited",
      "Too many orders created",
      "Too many orders created: retry after 46 s",
    )]),
  },
  PayloadTooLarge: {
    description:
      `The body is over ${MAX_BODY_BYTES} bytes, whether declared by \`Content-Length\` or counted while reading.`,
    headers: headerRefs(["XRequestId"]),
    content: problemContent([problemExample(
      "payload_too_large",
      "A body over 64 KiB",
      `The request body is larger than ${MAX_BODY_BYTES} bytes`,
    )]),
  },
  UnsupportedMediaType: {
    description: "A body whose `Content-Type` is missing or not JSON.",
    headers: headerRefs(["XRequestId"]),
    content: problemContent([problemExample(
      "unsupported_media_type",
      "Not JSON",
      "The request body must be application/json",
    )]),
  },
  InternalError: {
    description:
      "An unexpected error. It reveals nothing; the server logs it with the request id.",
    headers: headerRefs(["XRequestId"]),
    content: problemContent([problemExample(
      "internal",
      "Unexpected error",
      "The server could not complete the request",
    )]),
  },
  Unavailable: {
    description:
      "The request ran over 10 s (`timeout`; a creation retried with the same `Idempotency-Key` never creates a second order), or the rate-limit store is down and the service fails closed (`unavailable`).",
    headers: headerRefs(["RetryAfter", "XRequestId"]),
    content: problemContent([
      problemExample(
        "timeout",
        "The request took too long",
        "The request took too long; retry it (with the same Idempotency-Key for a creation)",
      ),
      problemExample(
        "unavailable",
        "Rate-limit store down, failing closed",
        "The service is temporarily unavailable: retry shortly",
      ),
    ]),
  },
};

function responseObject(
  operation: OperationSpec,
  status: number,
  spec: ResponseSpec,
): JsonObject {
  const rateLimited = operation.authenticated && status < 500;
  const headers = headerRefs([
    ...(spec.headers ?? []),
    ...(rateLimited ? RATE_LIMIT_HEADERS : []),
    "XRequestId",
  ]);
  // The `RateLimit-*` headers are absent when the store cannot answer.
  const response: JsonObject = { description: spec.description, headers };
  if (spec.json) {
    response.content = {
      "application/json": {
        schema: { $ref: SCHEMA_REF + spec.json.schema },
        ...(spec.json.examples && { examples: spec.json.examples }),
      },
    };
  } else if (spec.problems) {
    response.content = problemContent(spec.problems);
  } else if (spec.html) {
    response.content = { "text/html": { schema: { type: "string" } } };
  } else if (spec.text) {
    response.content = {
      [spec.text.mediaType]: {
        schema: { type: "string" },
        example: spec.text.example,
      },
    };
  }
  return response;
}

function queryParameters(schema: z.ZodObject): JsonObject[] {
  const json = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: "query",
      required: json.required?.includes(name) ?? false,
      ...(description !== undefined && { description }),
      schema: propertySchema,
    };
  });
}

const accountDisabled = problemExample(
  "account_disabled",
  "The caller's account is disabled",
  "This account is disabled: contact support",
);

/**
 * The operation's responses with the `account-disabled` case of 403, which
 * every authenticated route answers (right after authentication).
 */
function withAccountDisabled(
  responses: Record<number, ResponseSpec>,
): Record<number, ResponseSpec> {
  const own = responses[403];
  return {
    ...responses,
    403: {
      description: own
        ? `${own.description} Or the caller's account is disabled (\`account-disabled\`).`
        : "The caller's account is disabled (`account-disabled`).",
      problems: [...(own?.problems ?? []), accountDisabled],
    },
  };
}

function operationObject(operation: OperationSpec): JsonObject {
  const responses: JsonObject = {};
  const specs = operation.authenticated
    ? withAccountDisabled(operation.responses)
    : operation.responses;
  for (const [status, spec] of Object.entries(specs)) {
    responses[status] = responseObject(operation, Number(status), spec);
  }
  const shared: Record<number, string> = {
    ...(operation.authenticated && {
      401: "Unauthenticated",
      429: "RateLimited",
      500: "InternalError",
      503: "Unavailable",
    }),
    ...(operation.requestBody && {
      413: "PayloadTooLarge",
      415: "UnsupportedMediaType",
    }),
  };
  for (const [status, name] of Object.entries(shared)) {
    responses[status] ??= { $ref: `#/components/responses/${name}` };
  }
  const sorted = Object.fromEntries(
    Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)),
  );
  const body = operation.requestBody;
  return {
    operationId: operation.operationId,
    tags: [operation.tag],
    summary: operation.summary,
    description: operation.description,
    ...(!operation.authenticated && { security: [] }),
    parameters: [
      ...(operation.parameters ?? []).map((name) => ({
        $ref: `#/components/parameters/${name}`,
      })),
      ...(operation.query ? queryParameters(operation.query) : []),
      { $ref: "#/components/parameters/XRequestId" },
    ],
    ...(body && {
      requestBody: {
        required: body.required,
        ...(body.description !== undefined &&
          { description: body.description }),
        content: {
          "application/json": {
            schema: { $ref: SCHEMA_REF + body.schema },
            examples: body.examples,
          },
        },
      },
    }),
    responses: sorted,
  };
}

/**
 * The named schemas, converted by zod as their input (what a client sends;
 * response schemas have no transforms, so input and output agree).
 */
function componentSchemas(): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(SCHEMAS)) {
    registry.add(schema, { id });
  }
  const converted = z.toJSONSchema(registry, {
    io: "input",
    unrepresentable: "any",
    uri: (id) => SCHEMA_REF + id,
  }) as { schemas: Record<string, JsonObject> };
  const schemas: Record<string, JsonObject> = {};
  for (const [id, schema] of Object.entries(converted.schemas)) {
    // Standalone-document keys: inside an OpenAPI document the dialect is
    // the document's, and the component's name is its identity.
    const { $schema: _dialect, $id: _id, ...rest } = schema;
    schemas[id] = rest;
  }
  return schemas;
}

/** Builds the OpenAPI 3.1 document of every endpoint in `OPERATIONS`. */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of OPERATIONS) {
    (paths[operation.path] ??= {})[operation.method] = operationObject(
      operation,
    );
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Orders API",
      version: "1.0.0",
      summary:
        "Orders for storefronts and mobile apps: exact totals, owner-only access, versioned updates, an audited history.",
      description: DESCRIPTION,
    },
    servers: [{ url: "/", description: "The server this document came from" }],
    security: [{ bearerAuth: [] }],
    tags: [
      {
        name: "Orders",
        description:
          "Create, list, read, change and cancel orders; decide on orders held for review; read their history.",
      },
      {
        name: "Users",
        description:
          "A user's personal data: export it (right of access) and erase it (right to erasure).",
      },
      {
        name: "Admin",
        description:
          "Incident response (disable and enable accounts, revoke tokens) and metrics; admins only.",
      },
      {
        name: "Health",
        description: "Liveness and readiness; no authentication.",
      },
      {
        name: "Documentation",
        description: "This document and its viewer; no authentication.",
      },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "A JWT signed with HS256 (or ES256/RS256 when the server has a public key), with `sub` (positive integer user id) and `exp` (at most 24 h ahead); optional `roles` (`admin`, `fulfillment`), `nbf`, `iat`, `iss`, `aud`. Verified locally; every failure is 401.",
        },
      },
      schemas: componentSchemas(),
      parameters: PARAMETERS,
      headers: HEADERS,
      responses: SHARED_RESPONSES,
    },
  };
}
