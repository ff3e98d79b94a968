/**
 * The response bodies as zod schemas. The routes declare them as their
 * responses, so the OpenAPI document is generated from them; `orderJson`,
 * `historyEventJson`, `userEventJson` and `problemResponse` return their
 * types, so the compiler holds the handlers to them; and the tests parse
 * real responses with them.
 *
 * They describe what the server sends; clients must ignore fields they do
 * not know, because new fields may be added (objects are not closed with
 * `additionalProperties: false`). `.openapi("Name")` makes a schema a named
 * component of the document (`#/components/schemas/Name`).
 */
import { z } from "@hono/zod-openapi";
import { MAX_PATH_KEY_LENGTH } from "../../domain/errors.ts";
import {
  ORDER_STATUSES,
  REVIEW_REASONS,
  REVIEW_STATES,
} from "../../domain/order.ts";
import { MAX_ITEMS, MAX_QUANTITY } from "../../domain/order_input.ts";
import { MAX_LIMIT, MAX_OFFSET } from "../../domain/order_query.ts";
import { ROLES, userIdSchema } from "../../domain/principal.ts";

/** A timestamp as the API writes it: ISO 8601 UTC with milliseconds. */
export const timestampSchema = z.string().regex(
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/,
).meta({
  format: "date-time",
  description: "ISO 8601 UTC with milliseconds, set by the server.",
  examples: ["2026-11-28T14:00:00.000Z"],
});

/** An amount of money: a decimal string with exactly 2 fractional digits. */
export const moneySchema = z.string().regex(/^[0-9]+\.[0-9]{2}$/).meta({
  description:
    "A decimal string with 2 fractional digits, computed exactly and rounded half-up.",
  examples: ["25.00"],
});

/** One order line as responses show it. */
export const orderItemSchema = z.object({
  product_id: z.union([z.string().min(1), userIdSchema]).meta({
    description: "Exactly as sent at creation: a string or a positive integer.",
  }),
  product_name: z.string().min(1),
  quantity: z.number().int().min(1).max(MAX_QUANTITY),
  price: z.string().regex(/^[0-9]+\.[0-9]{2,4}$/).meta({
    description: "The unit price, a decimal string with 2–4 fractional digits.",
    examples: ["12.50", "0.3333"],
  }),
  line_total: moneySchema.meta({
    description:
      "`quantity × price` rounded half-up to cents, for display: the order's `total` is the exact sum rounded once, not the sum of the rounded lines.",
  }),
}).openapi("OrderItem");

/** The review of a held order, as admins and fulfillment see it. */
export const orderReviewSchema = z.object({
  state: z.enum(REVIEW_STATES).meta({
    description:
      "`pending` until an admin decides; then `approved` (the order may move on) or `rejected` (the order is cancelled).",
  }),
  reasons: z.array(z.enum(REVIEW_REASONS)).min(1).meta({
    description:
      "Why it was held: `total_threshold` (the total is at least `REVIEW_THRESHOLD`), `velocity` (the owner had already created `REVIEW_VELOCITY_ORDERS` orders themself within 10 minutes).",
  }),
}).meta({
  description:
    "Present only on orders held for review, and only for admins and fulfillment: owners never see it.",
}).openapi("OrderReview");

/** An order (`orderJson`). */
export const orderSchema = z.object({
  id: z.uuid().meta({ description: "A random UUID, assigned by the server." }),
  user_id: userIdSchema.meta({ description: "The owner's user id." }),
  items: z.array(orderItemSchema).min(1).max(MAX_ITEMS),
  total: moneySchema.meta({
    description:
      "The exact sum of `quantity × price` over the items, rounded half-up to cents once.",
  }),
  currency: z.string().regex(/^[A-Z]{3}$/).meta({
    description: "ISO 4217 code.",
    examples: ["USD"],
  }),
  status: z.enum(ORDER_STATUSES).meta({
    description:
      "`pending → processing → shipped → delivered`; `cancelled` from pending or processing. `delivered` and `cancelled` are terminal.",
  }),
  shipping_address: z.string().nullable().meta({
    description:
      "`null` once the owner's personal data was erased (then `personal_data_erased` is `true`).",
  }),
  personal_data_erased: z.literal(true).optional().meta({
    description:
      "Present, and `true`, only on orders whose owner's personal data was erased: `shipping_address` is `null` and can never be read again. Other orders do not carry the field.",
  }),
  version: z.number().int().min(1).meta({
    description:
      "1 at creation, +1 on every change; the `ETag` of the order is this number, quoted.",
  }),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  review: orderReviewSchema.optional(),
}).meta({
  description:
    "An order. `id`, `user_id`, `items`, `total`, `currency` and `created_at` never change after creation.",
}).openapi("Order");

/** A page of the listing (`GET /v1/orders`). */
export const orderListSchema = z.object({
  orders: z.array(orderSchema).meta({
    description: "Newest first (`created_at` descending, then `id`).",
  }),
  limit: z.number().int().min(1).max(MAX_LIMIT),
  offset: z.number().int().min(0).max(MAX_OFFSET),
  count: z.number().int().min(0).meta({
    description:
      "How many orders match the filter for this caller, on all pages.",
  }),
  next_cursor: z.string().nullable().meta({
    description:
      "Where the next page starts: send it back as `cursor` (with the same `status` and `user_id`; any `limit`) for the orders after this page's last one. The response's `Link: <…>; rel=\"next\"` header is that request. `null` when no older order matches. A walk from cursor to cursor returns every order that matched when it began exactly once, in order, whatever is created, changed or cancelled meanwhile (an order whose status stops matching a `status` filter may drop out).",
  }),
}).openapi("OrderList");

/** Any JSON value, always present (`null` stands for none). */
function presentValue(description: string) {
  // The refinement marks the field required in the document: a schema that
  // accepts `undefined` would be documented as optional.
  return z.unknown().refine((value): boolean => value !== undefined).meta({
    description,
  });
}

/** One field's change in a history event. */
const fieldChangeSchema = z.object({
  from: presentValue("The value before; null if none."),
  to: presentValue("The value after."),
});

/** One event of an order's history (`historyEventJson`). */
export const historyEventSchema = z.object({
  seq: z.number().int().min(1).meta({
    description:
      "The event's place in the order's own history, from 1; equal to the order version it produced.",
  }),
  action: z.string().meta({
    description:
      "What happened: `order.created`, `order.updated` (status and/or address), `order.cancelled` (any change that cancels), and, for admins and fulfillment, `order.review_approved` / `order.review_rejected` (an admin's decision on a held order; the owner sees these as `order.updated` / `order.cancelled`). New actions may be added.",
    examples: ["order.created"],
  }),
  actor: z.object({
    user_id: userIdSchema,
    // Read-only: the audit entry's own list is shown as it is, not copied.
    roles: z.array(z.enum(ROLES)).readonly().meta({
      description: "The roles the caller held; every caller is a `user`.",
    }),
  }),
  at: timestampSchema,
  request_id: z.string().meta({
    description: "The `X-Request-Id` of the request that made the change.",
  }),
  changes: z.record(z.string(), fieldChangeSchema).meta({
    description:
      'Each changed field with its old and new value. A creation lists every field from null; a cancellation\'s reason appears as `"cancellation_reason": {"from": null, "to": "…"}`. For admins and fulfillment, a held order\'s creation and a review decision also carry `review` (`{state, reasons}` or null) and a decision\'s note `review_note`; the owner never sees them. Once the owner\'s personal data is erased, address values are null.',
  }),
}).openapi("HistoryEvent");

/** One event of a user's own audit chain, as the export shows it (`userEventJson`). */
// A flat object, not `historyEventSchema.extend(...)`: the document would
// show that as `allOf` with the history event, whose descriptions of
// `seq`, `action` and `changes` do not hold for a user's event.
export const userEventSchema = z.object({
  ...historyEventSchema.shape,
  seq: z.number().int().min(1).meta({
    description:
      "The event's place in the user's own audit chain (`user:<id>`), from 1. That chain also holds admins' account actions, which the export does not show, so numbers may be skipped.",
  }),
  action: z.string().meta({
    description:
      "What happened: `user.personal_data_erased` (the user's data key was destroyed, so every address of theirs reads null from then on). New actions may be added.",
    examples: ["user.personal_data_erased"],
  }),
  request_id: z.string().meta({
    description: "The `X-Request-Id` of the request that did it.",
  }),
  changes: z.record(z.string(), fieldChangeSchema).meta({
    description:
      'For an erasure: `"user_id": {"from": <id>, "to": <id>}` and `"data_key": {"from": "<key id>", "to": null}`, the id of the destroyed key (never the key itself). Never contains an address.',
  }),
}).meta({
  description:
    "An event about the user rather than one order, in the shape of a history event. `actor` is whoever asked: the user themself or an admin.",
}).openapi("UserEvent");

/** An order's history (`GET /v1/orders/{id}/history`). */
export const orderHistorySchema = z.object({
  events: z.array(historyEventSchema).meta({
    description:
      "Oldest first. Only the order's own audit entries: events about the user (erasure, account changes) are in the audit log, not here.",
  }),
}).openapi("OrderHistory");

/** One order in a personal-data export: the order with its history. */
export const exportedOrderSchema = orderSchema.extend({
  history: z.array(historyEventSchema).meta({
    description:
      "The order's history, oldest first, as `GET /v1/orders/{id}/history` shows it to the caller.",
  }),
}).meta({
  description:
    "An order as `GET /v1/orders/{id}` shows it to the caller, with its history.",
}).openapi("ExportedOrder");

/** A user's personal-data export (`GET /v1/users/{user_id}/export`). */
export const personalDataExportSchema = z.object({
  user_id: userIdSchema.meta({ description: "The user the export is about." }),
  exported_at: timestampSchema,
  orders: z.array(exportedOrderSchema).meta({
    description: "Every order of the user, newest first.",
  }),
  events: z.array(userEventSchema).meta({
    description:
      "The events of the user's own audit chain about their personal data, oldest first: each erasure (`user.personal_data_erased`) with its time, actor and request id. Empty until the first erasure; erasing again when nothing is left adds none.",
  }),
}).meta({
  description:
    "Everything the service holds about a user: every order with its history, and the erasures of their personal data (right of access).",
}).openapi("PersonalDataExport");

/** One invalid field of a request. */
const fieldErrorSchema = z.object({
  path: z.string().meta({
    description:
      `Where: a body path such as \`items[0].price\`, a query parameter, or a header name such as \`Idempotency-Key\`. A key longer than ${MAX_PATH_KEY_LENGTH} characters is shown cut to that many, ending in \`…\`.`,
    examples: ["items[0].price"],
  }),
  message: z.string().meta({ examples: ["Must not be negative"] }),
});

/** An RFC 9457 problem (`problemResponse`). */
export const problemSchema = z.object({
  type: z.string().regex(/^urn:orders-api:problem:[a-z-]+$/).meta({
    description:
      "`urn:orders-api:problem:<slug>`; the types are listed in the API description. New types may be added: handle an unknown type by its `status`.",
    examples: ["urn:orders-api:problem:validation-failed"],
  }),
  title: z.string().meta({ examples: ["Validation failed"] }),
  status: z.number().int().min(400).max(599),
  detail: z.string().meta({
    description: "What went wrong with this request, for a person to read.",
  }),
  request_id: z.string().meta({
    description: "Equal to the response's `X-Request-Id`.",
  }),
  errors: z.array(fieldErrorSchema).readonly().optional().meta({
    description: "On 400 and 422: one entry per invalid field.",
  }),
}).meta({
  description:
    "RFC 9457 problem details, sent as `application/problem+json`. Never contains a stack trace, SQL, a file path, a library name or a secret.",
}).openapi("Problem");

/** `GET /healthz`. */
export const healthSchema = z.object({ status: z.literal("ok") }).openapi(
  "Health",
);

/** `GET /readyz` when the database answers. */
export const readinessSchema = z.object({ status: z.literal("ready") })
  .openapi("Readiness");

/** `GET /openapi.json`: an OpenAPI 3.1 document (described loosely). */
export const openApiDocumentSchema = z.object({
  openapi: z.string().regex(/^3\.1\.[0-9]+$/),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
}).meta({ description: "An OpenAPI 3.1 document." }).openapi(
  "OpenApiDocument",
);

/** An order as responses show it (`orderJson`). */
export type OrderJson = z.output<typeof orderSchema>;

/** One event of an order's history as responses show it. */
export type HistoryEventJson = z.output<typeof historyEventSchema>;

/** One event of a user's own audit chain as the export shows it. */
export type UserEventJson = z.output<typeof userEventSchema>;

/** An RFC 9457 problem as responses carry it (`problemResponse`). */
export type ProblemJson = z.output<typeof problemSchema>;
