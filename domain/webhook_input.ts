/**
 * Validation of the webhook endpoints' requests: the bodies of
 * `POST /v1/webhook-endpoints`, `PATCH /v1/webhook-endpoints/{id}` and
 * `POST /v1/events/{id}/resend`, and the query of the attempts log. The
 * rules of a URL are `parseWebhookUrl`'s (./webhook_destination.ts); the
 * same schemas document the API.
 */
import { z } from "zod";
import { DomainError, validated } from "./errors.ts";
import { ORDER_EVENT_TYPES, type OrderEventType } from "./order_events.ts";
import { integerParam } from "./order_query.ts";
import { cleanTextSchema } from "./text.ts";
import {
  MAX_WEBHOOK_URL_LENGTH,
  parseWebhookUrl,
} from "./webhook_destination.ts";
import { MAX_WEBHOOK_DESCRIPTION_LENGTH } from "./webhooks.ts";

/** The most attempts one page of an endpoint's attempts log holds. */
export const MAX_WEBHOOK_ATTEMPT_LIMIT = 100;

/** How many attempts a page holds when `limit` is not given. */
export const DEFAULT_WEBHOOK_ATTEMPT_LIMIT = 50;

/** The fields a change to an endpoint may name. */
export const WEBHOOK_PATCH_FIELDS = [
  "url",
  "event_types",
  "description",
  "enabled",
] as const;

const EVENT_TYPE_MESSAGE = `Must be one of ${ORDER_EVENT_TYPES.join(", ")}`;

const TOO_MANY_TYPES_MESSAGE =
  `Must list each event type at most once: there are ${ORDER_EVENT_TYPES.length}`;

/** Why a change naming none of its fields is refused (422). */
export const EMPTY_WEBHOOK_PATCH_MESSAGE = `Must contain at least one of ${
  WEBHOOK_PATCH_FIELDS.join(", ")
}`;

/** "Required" for a missing value, `message` for one of the wrong type. */
function required(message: string) {
  return (issue: { input: unknown }) =>
    issue.input === undefined ? "Required" : message;
}

/** A webhook URL, checked as `parseWebhookUrl` checks it against `allowHosts`. */
function urlSchema(allowHosts: ReadonlySet<string>) {
  // The documentation sits on the string before the transform (see
  // `cleanTextSchema`); `maxLength` holds for the raw value, which
  // `parseWebhookUrl` measures in code points as JSON Schema does.
  return z.string({ error: required("Must be a string") }).meta({
    format: "uri",
    maxLength: MAX_WEBHOOK_URL_LENGTH,
    description:
      `Where deliveries are sent: an absolute \`https://\` URL of at most ${MAX_WEBHOOK_URL_LENGTH} characters, without user info or fragment, whose host is not \`localhost\` and not an IP address outside the public ranges (in any notation). Hosts listed in \`WEBHOOK_ALLOW_HOSTS\` are exempt, and may use \`http://\`. The host is not resolved at registration; every delivery checks the address it connects to. Returned as the URL parser normalises it.`,
    examples: ["https://hooks.example.com/orders"],
  }).transform((text, ctx) => {
    const checked = parseWebhookUrl(text, allowHosts);
    if (!checked.ok) {
      ctx.addIssue({ code: "custom", message: checked.reason });
      return z.NEVER;
    }
    return checked.url.href;
  });
}

/** Distinct known order event types; empty: every type. */
const eventTypesSchema = z.array(
  z.enum(ORDER_EVENT_TYPES, { error: EVENT_TYPE_MESSAGE }),
  { error: "Must be an array of event types" },
).superRefine((types, ctx) => {
  types.forEach((type, index) => {
    if (types.indexOf(type) !== index) {
      ctx.addIssue({
        code: "custom",
        message: `Must not repeat ${type}`,
        path: [index],
      });
    }
  });
}).meta({
  uniqueItems: true,
  maxItems: ORDER_EVENT_TYPES.length,
  description:
    "The order event types the endpoint receives, each at most once. Absent or empty: every order event type, also those added later (the response then shows `[]`).",
  examples: [["order.created", "order.cancelled"]],
});

const descriptionSchema = cleanTextSchema(MAX_WEBHOOK_DESCRIPTION_LENGTH, {
  description:
    "A note for admins (what the receiver is). `null`, or text that is empty once cleaned, is none.",
  examples: ["Warehouse system"],
}, { optional: true }).nullable();

const enabledSchema = z.boolean({ error: "Must be true or false" }).meta({
  description:
    'Turn deliveries off (`false`: the endpoint shows `disabled_reason` "Disabled by an admin") or on again (`true`: also resets the count of failed deliveries and clears `disabled_reason`). Events committed while it is off are not delivered to it later; resend them.',
});

/** The schemas of one allow list (the one of the configuration, in practice). */
function schemasFor(allowHosts: ReadonlySet<string>) {
  const create = z.object({
    url: urlSchema(allowHosts),
    event_types: eventTypesSchema.optional(),
    description: descriptionSchema.optional(),
  }, { error: "Must be a JSON object" }).meta({
    description:
      "A new webhook endpoint. The server assigns `id` and the secret; every other field (`enabled`, `secret`, …) is ignored: a new endpoint is enabled.",
  });
  const patch = z.object({
    url: urlSchema(allowHosts).optional(),
    event_types: eventTypesSchema.optional(),
    description: descriptionSchema.optional(),
    enabled: enabledSchema.optional(),
  }, { error: "Must be a JSON object" }).meta({
    minProperties: 1,
    description: `A change to an endpoint: at least one of ${
      WEBHOOK_PATCH_FIELDS.map((field) => `\`${field}\``).join(", ")
    } (else 422); every other field is ignored. The secret is changed only by rotating it.`,
  });
  return { create, patch };
}

const SCHEMAS = new WeakMap<
  ReadonlySet<string>,
  ReturnType<typeof schemasFor>
>();

function schemas(allowHosts: ReadonlySet<string>) {
  let found = SCHEMAS.get(allowHosts);
  if (found === undefined) {
    found = schemasFor(allowHosts);
    SCHEMAS.set(allowHosts, found);
  }
  return found;
}

const DOCUMENTED = schemasFor(new Set());

/** The body of `POST /v1/webhook-endpoints`, as documented (no allow list). */
export const createWebhookEndpointSchema = DOCUMENTED.create;

/** The body of `PATCH /v1/webhook-endpoints/{id}`, as documented. */
export const updateWebhookEndpointSchema = DOCUMENTED.patch;

/** A validated registration. */
export interface NewWebhookEndpoint {
  /** As the URL parser normalised it (`URL.href`). */
  readonly url: string;
  /** Empty: every order event type. */
  readonly eventTypes: readonly OrderEventType[];
  readonly description: string | null;
}

/** A validated change: only the fields it names. */
export interface WebhookEndpointPatch {
  readonly url?: string | undefined;
  readonly eventTypes?: readonly OrderEventType[] | undefined;
  readonly description?: string | null | undefined;
  readonly enabled?: boolean | undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Refuses an `event_types` longer than there are types with one error,
 * before zod would list every one of its items.
 */
function refuseLongTypeList(body: unknown, refusal: string): void {
  if (
    isPlainObject(body) && Array.isArray(body.event_types) &&
    body.event_types.length > ORDER_EVENT_TYPES.length
  ) {
    throw new DomainError("validation_failed", refusal, [
      { path: "event_types", message: TOO_MANY_TYPES_MESSAGE },
    ]);
  }
}

/** An empty cleaned description is none. */
function descriptionOf(text: string | null | undefined) {
  return text === undefined ? undefined : text === "" ? null : text;
}

const INVALID_ENDPOINT = "The webhook endpoint is not valid";

/**
 * Validates a registration, with `allowHosts` exempt from the public-address
 * rule, or throws a 422 `DomainError` with one entry per invalid field.
 */
export function parseNewWebhookEndpoint(
  body: unknown,
  allowHosts: ReadonlySet<string>,
): NewWebhookEndpoint {
  refuseLongTypeList(body, INVALID_ENDPOINT);
  const data = validated(schemas(allowHosts).create, body, INVALID_ENDPOINT);
  return {
    url: data.url,
    eventTypes: data.event_types ?? [],
    description: descriptionOf(data.description) ?? null,
  };
}

const INVALID_CHANGE = "The change to the webhook endpoint is not valid";

/**
 * Validates a change: at least one of `WEBHOOK_PATCH_FIELDS`, each valid,
 * or a 422 `DomainError`. Other fields are ignored.
 */
export function parseWebhookEndpointPatch(
  body: unknown,
  allowHosts: ReadonlySet<string>,
): WebhookEndpointPatch {
  refuseLongTypeList(body, INVALID_CHANGE);
  if (
    isPlainObject(body) &&
    WEBHOOK_PATCH_FIELDS.every((field) => body[field] === undefined)
  ) {
    throw new DomainError("validation_failed", INVALID_CHANGE, [
      { path: "body", message: EMPTY_WEBHOOK_PATCH_MESSAGE },
    ]);
  }
  const data = validated(schemas(allowHosts).patch, body, INVALID_CHANGE);
  return {
    url: data.url,
    eventTypes: data.event_types,
    description: descriptionOf(data.description),
    enabled: data.enabled,
  };
}

/** The optional body of `POST /v1/events/{id}/resend`. */
export const resendEventSchema = z.object({
  endpoint_id: z.string({ error: "Must be a string" }).nullable().optional()
    .meta({
      format: "uuid",
      description:
        "The endpoint to deliver to: it must be enabled and subscribed to the event's type (else 409), and exist (else 422; an id that is not a UUID is unknown). Absent or `null`: every enabled endpoint subscribed to the event's type.",
      examples: ["0d9c3b2a-6f1e-4e7d-8c5b-4a3f2e1d0c9b"],
    }),
}, { error: "Must be a JSON object" }).meta({
  description:
    "Optional, like the body itself: without it, the event goes to every enabled endpoint subscribed to its type. Every other field is ignored.",
});

/**
 * Validates a resend request (no body at all is fine): the endpoint id as
 * sent, or undefined for every subscribed endpoint.
 */
export function parseResendEvent(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  const { endpoint_id } = validated(
    resendEventSchema,
    body,
    "The resend request is not valid",
  );
  return endpoint_id ?? undefined;
}

/** The query of `GET /v1/webhook-endpoints/{id}/attempts`; others are ignored. */
export const listWebhookAttemptsQuerySchema = z.object({
  cursor: z.string().optional().meta({
    description:
      "The `next_cursor` of the previous page: the attempts before (older than) its last one. Bound to the caller and the endpoint (400 otherwise).",
  }),
  limit: integerParam(
    1,
    MAX_WEBHOOK_ATTEMPT_LIMIT,
    DEFAULT_WEBHOOK_ATTEMPT_LIMIT,
  ).meta({ description: "How many attempts to return at most." }),
});

/** A validated attempts query. */
export interface ListWebhookAttemptsQuery {
  readonly cursor: string | undefined;
  readonly limit: number;
}

/** Validates the attempts query, or throws a 422 `DomainError`. */
export function parseListWebhookAttemptsQuery(
  query: Record<string, string>,
): ListWebhookAttemptsQuery {
  const { cursor, limit } = validated(
    listWebhookAttemptsQuerySchema,
    query,
    "The query parameters are not valid",
  );
  return { cursor, limit };
}
