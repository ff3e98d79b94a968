/**
 * Webhooks in the OpenAPI document: the response bodies of
 * `/v1/webhook-endpoints` and of a resend as zod schemas (the routes
 * declare them, and `routes/webhooks.ts` returns their types), their
 * examples, and the top-level `webhooks` section
 * (`declareWebhookDeliveries`): one `POST` per type of event a receiver is
 * sent, with the signature headers and what each answer does.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { DISABLED_BY_ADMIN } from "../../domain/manage_webhooks.ts";
import {
  EVENT_ID_PREFIX,
  ORDER_EVENT_TYPES,
} from "../../domain/order_events.ts";
import {
  DEFAULT_WEBHOOK_DISABLE_AFTER,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE,
  MAX_RETRY_AFTER_SECONDS,
  RETRY_JITTER,
  WEBHOOK_ATTEMPT_OUTCOMES,
} from "../../domain/webhook_schedule.ts";
import {
  DEFAULT_WEBHOOK_CONCURRENCY,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  MAX_WEBHOOK_DESCRIPTION_LENGTH,
  MAX_WEBHOOK_RESPONSE_BYTES,
  PREVIOUS_SECRET_VALID_MS,
  WEBHOOK_TEST_EVENT_TYPE,
} from "../../domain/webhooks.ts";
import {
  WEBHOOK_SECRET_BYTES,
  WEBHOOK_SECRET_PREFIX,
} from "../../webhooks/signature.ts";
import type { AppEnv } from "../env.ts";
import { eventSchema } from "./event_schemas.ts";
import { timestampSchema } from "./response_schemas.ts";

const HOUR_MS = 3_600_000;

/** The tag of the endpoints' routes and of the deliveries. */
export const WEBHOOKS_TAG = "Webhooks";

/** Every type of event a receiver may be sent. */
export const WEBHOOK_EVENT_TYPES = [
  ...ORDER_EVENT_TYPES,
  WEBHOOK_TEST_EVENT_TYPE,
] as const;

/** How long the previous secret keeps signing, as prose says it. */
export const PREVIOUS_SECRET_HOURS = PREVIOUS_SECRET_VALID_MS / HOUR_MS;

/** Base64 characters of a secret's key, without and with padding. */
const SECRET_CHARACTERS = Math.ceil((WEBHOOK_SECRET_BYTES * 4) / 3);
const SECRET_PADDING = Math.ceil(WEBHOOK_SECRET_BYTES / 3) * 4 -
  SECRET_CHARACTERS;

const secretSchema = z.string().regex(
  new RegExp(
    `^${WEBHOOK_SECRET_PREFIX}[A-Za-z0-9+/]{${SECRET_CHARACTERS}}={${SECRET_PADDING}}$`,
  ),
).meta({
  description:
    `The signing secret: \`${WEBHOOK_SECRET_PREFIX}\` and the base64 of ${WEBHOOK_SECRET_BYTES} random bytes (the HMAC key is those bytes). Shown only in this response: store it now. The service keeps it encrypted.`,
  examples: [`${WEBHOOK_SECRET_PREFIX}${"A".repeat(SECRET_CHARACTERS - 1)}E=`],
});

/** A registered endpoint (`webhookEndpointJson`): never its secret. */
export const webhookEndpointSchema = z.object({
  id: z.uuid().meta({ description: "A random UUID, assigned by the server." }),
  url: z.string().meta({
    format: "uri",
    description: "Where deliveries go, as the URL parser normalised it.",
  }),
  event_types: z.array(z.enum(ORDER_EVENT_TYPES)).meta({
    description:
      "The order event types it receives; empty: every order event type, also those added later.",
  }),
  description: z.string().max(MAX_WEBHOOK_DESCRIPTION_LENGTH).nullable().meta({
    description: "The admins' note, or null.",
  }),
  enabled: z.boolean().meta({
    description:
      "Whether events are delivered to it. Events committed while it is disabled are not delivered later: resend them.",
  }),
  disabled_reason: z.string().nullable().meta({
    description:
      `Why it is disabled: \`${DISABLED_BY_ADMIN}\`, a receiver that answered 410, or the last \`WEBHOOK_DISABLE_AFTER\` (default ${DEFAULT_WEBHOOK_DISABLE_AFTER}) deliveries all failed for good. Null while enabled.`,
    examples: [DISABLED_BY_ADMIN],
  }),
  created_at: timestampSchema,
  updated_at: timestampSchema.meta({
    description:
      "When it last changed: by an admin, or by deliveries (a failure count, a disabling).",
  }),
}).meta({
  description:
    "A webhook endpoint. Its secret is never shown again after its creation or rotation.",
}).openapi("WebhookEndpoint");

/** A new endpoint, with its secret (`POST /v1/webhook-endpoints`). */
export const createdWebhookEndpointSchema = z.object({
  ...webhookEndpointSchema.shape,
  secret: secretSchema,
}).meta({
  description:
    "The new endpoint, enabled, with its signing secret: the only response that shows it (a rotation shows the next one).",
}).openapi("CreatedWebhookEndpoint");

/** Every endpoint (`GET /v1/webhook-endpoints`). */
export const webhookEndpointListSchema = z.object({
  endpoints: z.array(webhookEndpointSchema).meta({
    description: "Oldest first.",
  }),
}).openapi("WebhookEndpointList");

/** A rotated secret (`POST /v1/webhook-endpoints/{id}/rotate-secret`). */
export const webhookSecretSchema = z.object({
  secret: secretSchema.meta({
    description:
      `The new signing secret, shown only here. For ${PREVIOUS_SECRET_HOURS} hours every delivery carries two signatures, by this secret and the previous one; then only this one.`,
  }),
}).openapi("WebhookSecret");

/** One attempt of the log. */
const webhookAttemptSchema = z.object({
  event_id: z.string().startsWith(EVENT_ID_PREFIX).meta({
    description: "The event delivered: its `webhook-id`.",
  }),
  event_type: z.enum(WEBHOOK_EVENT_TYPES),
  attempt: z.number().int().min(1).meta({
    description: "Which attempt of this delivery, from 1.",
  }),
  at: timestampSchema.meta({ description: "When the attempt started." }),
  outcome: z.enum(WEBHOOK_ATTEMPT_OUTCOMES).meta({
    description:
      "`succeeded` (a 2xx in time), `failed` (any other status), `timeout`, `blocked_destination` (the host resolved to a non-public address: nothing was sent), `connection_error` (DNS, TCP or TLS).",
  }),
  response_status: z.number().int().min(100).max(599).nullable().meta({
    description: "The receiver's status; null when none came.",
  }),
  duration_ms: z.number().int().min(0),
}).openapi("WebhookAttempt");

/** A page of the attempts log. */
export const webhookAttemptListSchema = z.object({
  attempts: z.array(webhookAttemptSchema).meta({
    description: "Newest first, at most `limit`.",
  }),
  next_cursor: z.string().nullable().meta({
    description:
      "Pass it as `cursor` for the older attempts after this page's last one; null when there are none. Attempts made meanwhile are newer, so they never shift a walk: start again without a cursor to see them.",
  }),
}).openapi("WebhookAttemptList");

/** What a test or a resend queued (202). */
export const queuedWebhookEventSchema = z.object({
  event_id: z.string().startsWith(EVENT_ID_PREFIX).meta({
    description:
      "The event queued, the `webhook-id` of its deliveries (and the `event_id` of their attempts).",
  }),
  endpoint_ids: z.array(z.uuid()).meta({
    description:
      "The endpoints it was queued for; empty when no enabled endpoint is subscribed to its type (nothing was queued).",
  }),
}).openapi("QueuedWebhookEvent");

/** The `webhook.test` event a test sends. */
export const webhookTestEventSchema = z.object({
  id: z.string().startsWith(EVENT_ID_PREFIX),
  type: z.literal(WEBHOOK_TEST_EVENT_TYPE),
  timestamp: timestampSchema.meta({
    description: "When the test was asked for.",
  }),
  data: z.object({
    endpoint_id: z.uuid().meta({ description: "The endpoint tested." }),
  }),
}).meta({
  description:
    "A test event (`POST /v1/webhook-endpoints/{id}/test`): delivered, signed and retried like an order event, and about no order.",
}).openapi("WebhookTestEvent");

/** An endpoint as responses show it. */
export type WebhookEndpointJson = z.infer<typeof webhookEndpointSchema>;
/** A page of the attempts log as responses show it. */
export type WebhookAttemptListJson = z.infer<typeof webhookAttemptListSchema>;

// ---------------------------------------------------------------------------
// Examples

const EXAMPLE_ENDPOINT_ID = "0d9c3b2a-6f1e-4e7d-8c5b-4a3f2e1d0c9b";

/** An endpoint as the routes show it. */
export const webhookEndpointExample: WebhookEndpointJson = {
  id: EXAMPLE_ENDPOINT_ID,
  url: "https://hooks.example.com/orders",
  event_types: ["order.created", "order.cancelled"],
  description: "Warehouse system",
  enabled: true,
  disabled_reason: null,
  created_at: "2026-11-28T14:00:00.000Z",
  updated_at: "2026-11-28T14:00:00.000Z",
};

/** The same endpoint after an admin disabled it. */
export const disabledWebhookEndpointExample: WebhookEndpointJson = {
  ...webhookEndpointExample,
  enabled: false,
  disabled_reason: DISABLED_BY_ADMIN,
  updated_at: "2026-11-29T09:00:00.000Z",
};

/** A secret of the right form (not a real one). */
export const exampleSecret = `${WEBHOOK_SECRET_PREFIX}${
  "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".padEnd(SECRET_CHARACTERS - 1, "A")
}E=`;

/** The endpoint as its creation answers it. */
export const createdWebhookEndpointExample = {
  ...webhookEndpointExample,
  secret: exampleSecret,
};

/** Request bodies of `POST /v1/webhook-endpoints`. */
export const createWebhookEndpointExamples = {
  some: {
    summary: "Creations and cancellations, with a note",
    value: {
      url: "https://hooks.example.com/orders",
      event_types: ["order.created", "order.cancelled"],
      description: "Warehouse system",
    },
  },
  every: {
    summary: "Every order event type",
    value: { url: "https://erp.example.com/webhooks/orders" },
  },
};

/** Request bodies of `PATCH /v1/webhook-endpoints/{id}`. */
export const updateWebhookEndpointExamples = {
  disable: { summary: "Stop deliveries", value: { enabled: false } },
  enable: {
    summary: "Deliver again (resets the failure count)",
    value: { enabled: true },
  },
  types: {
    summary: "Receive every order event type",
    value: { event_types: [] },
  },
};

/** Request bodies of `POST /v1/events/{id}/resend`. */
export const resendEventExamples = {
  one: {
    summary: "To one endpoint",
    value: { endpoint_id: EXAMPLE_ENDPOINT_ID },
  },
  every: {
    summary: "To every enabled endpoint subscribed to its type",
    value: {},
  },
};

/** A first page of the attempts log: a failure, then its retry. */
export const webhookAttemptListExample = {
  attempts: [
    {
      event_id: `${EVENT_ID_PREFIX}0192f0c4-7b1e-4c8f-9a51-2f6d3e1a9b70`,
      event_type: "order.created" as const,
      attempt: 2,
      at: "2026-11-28T14:00:06.120Z",
      outcome: "succeeded" as const,
      response_status: 200,
      duration_ms: 143,
    },
    {
      event_id: `${EVENT_ID_PREFIX}0192f0c4-7b1e-4c8f-9a51-2f6d3e1a9b70`,
      event_type: "order.created" as const,
      attempt: 1,
      at: "2026-11-28T14:00:00.350Z",
      outcome: "failed" as const,
      response_status: 503,
      duration_ms: 812,
    },
  ],
  next_cursor: null,
};

/** What a test answers. */
export const queuedTestExample = {
  event_id: `${EVENT_ID_PREFIX}7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f`,
  endpoint_ids: [EXAMPLE_ENDPOINT_ID],
};

/** What a resend to every subscribed endpoint answers. */
export const queuedResendExample = {
  event_id: `${EVENT_ID_PREFIX}0192f0c4-7b1e-4c8f-9a51-2f6d3e1a9b70`,
  endpoint_ids: [EXAMPLE_ENDPOINT_ID],
};

// ---------------------------------------------------------------------------
// The `webhooks` section

/** The headers of every delivery (Standard Webhooks 1.0). */
const deliveryHeadersSchema = z.object({
  "webhook-id": z.string().startsWith(EVENT_ID_PREFIX).meta({
    description:
      "The event's id: the same on every attempt and every resend of the event. Deduplicate on it (delivery is at least once).",
  }),
  "webhook-timestamp": z.string().regex(/^[0-9]+$/).meta({
    description:
      "When this attempt was signed, in Unix seconds. Refuse a timestamp too far from your clock (replays).",
  }),
  "webhook-signature": z.string().meta({
    description:
      `\`v1,\` and the base64 HMAC-SHA256 of \`<webhook-id>.<webhook-timestamp>.<body>\`, keyed with the base64-decoded part of the secret after \`${WEBHOOK_SECRET_PREFIX}\`. For ${PREVIOUS_SECRET_HOURS} hours after a rotation, two signatures separated by a space (new secret, then previous): accept the request if any one verifies. Compare in constant time, over the body's exact bytes.`,
  }),
});

/** The operation id of a delivery: `order.review_approved` → `orderReviewApprovedWebhook`. */
function deliveryOperationId(type: string): string {
  return type.split(/[._]/).map((part, i) =>
    i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)
  ).join("") + "Webhook";
}

const RETRY_AFTER = {
  "Retry-After": {
    description:
      `Seconds before the next attempt (at most ${MAX_RETRY_AFTER_SECONDS}); the next attempt is then at least that far off.`,
    schema: { type: "integer" as const, minimum: 0 },
  },
};

/** What each answer of a receiver does, as every delivery documents it. */
const DELIVERY_RESPONSES = {
  "2XX": {
    description:
      `Delivered: any 2xx answered within \`WEBHOOK_TIMEOUT_MS\` (default ${DEFAULT_WEBHOOK_TIMEOUT_MS} ms). The body is read up to ${MAX_WEBHOOK_RESPONSE_BYTES} bytes and dropped.`,
  },
  "410": {
    description:
      "Gone: the endpoint is disabled at once, and nothing more is delivered to it until an admin enables it.",
  },
  "429": {
    description:
      "Too many requests: a failed attempt, retried no sooner than `Retry-After` says.",
    headers: RETRY_AFTER,
  },
  "503": {
    description:
      "Unavailable: a failed attempt, retried no sooner than `Retry-After` says.",
    headers: RETRY_AFTER,
  },
  default: {
    description:
      `Any other answer (a 3xx, never followed; a 4xx or 5xx), no answer within \`WEBHOOK_TIMEOUT_MS\`, or no connection fails the attempt. Retries follow \`WEBHOOK_RETRY_SCHEDULE\` (default ${
        DEFAULT_WEBHOOK_RETRY_SCHEDULE.join(", ")
      } seconds after the end of the previous attempt, each ±${
        RETRY_JITTER * 100
      } %); after the last the delivery has failed for good, and an endpoint whose last \`WEBHOOK_DISABLE_AFTER\` (default ${DEFAULT_WEBHOOK_DISABLE_AFTER}) deliveries failed for good is disabled.`,
  },
};

/** What a delivery of `type` is, for its description. */
function deliveryDescription(type: (typeof WEBHOOK_EVENT_TYPES)[number]) {
  const what = type === WEBHOOK_TEST_EVENT_TYPE
    ? "A test event an admin asked for (`POST /v1/webhook-endpoints/{id}/test`), to that endpoint only"
    : `The event \`${type}\`, sent to every enabled endpoint subscribed to it when it is committed (and again on a resend), exactly as \`GET /v1/events/{id}\` shows it`;
  return `${what}. Signed per Standard Webhooks 1.0; delivered at least once, and for one endpoint the events of one order in the order they happened (the next is sent once the previous one succeeded or failed for good). At most \`WEBHOOK_CONCURRENCY\` (default ${DEFAULT_WEBHOOK_CONCURRENCY}) attempts are in flight per endpoint; redirects are never followed, and the host is resolved before every attempt and refused (\`blocked_destination\`) when it is not a public address.`;
}

/**
 * Declares every delivery in the app's document, under `webhooks` (one
 * entry per event type, named after it). Called once, on the root app.
 */
export function declareWebhookDeliveries(app: OpenAPIHono<AppEnv>): void {
  for (const type of WEBHOOK_EVENT_TYPES) {
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      operationId: deliveryOperationId(type),
      tags: [WEBHOOKS_TAG],
      summary: type === WEBHOOK_TEST_EVENT_TYPE
        ? "A test event"
        : `An order event: ${type}`,
      description: deliveryDescription(type),
      // A receiver authenticates the signature, not a bearer token.
      security: [],
      request: {
        headers: deliveryHeadersSchema,
        body: {
          required: true,
          content: {
            "application/json": {
              schema: type === WEBHOOK_TEST_EVENT_TYPE
                ? webhookTestEventSchema
                : eventSchema,
            },
          },
        },
      },
      responses: DELIVERY_RESPONSES,
    });
  }
}
