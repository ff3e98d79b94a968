/**
 * Realistic examples for the OpenAPI document, and the problem examples
 * more than one route shows. The tests run every request example through
 * the real parsers and every response example through the response
 * schemas, and the linter checks them against the document.
 *
 * A problem example's `detail` is never written here: it is the constant
 * the code throws, or the refusal the code itself returns when asked
 * (`refusalExample`), so the document cannot drift from the messages.
 */
import {
  MAX_CHANGE_ATTEMPTS,
  NO_SUCH_ORDER,
  orderKeptChangingMessage,
  versionMismatchMessage,
} from "../../domain/apply_order_change.ts";
import { DomainError, type FieldError } from "../../domain/errors.ts";
import type { Order } from "../../domain/order.ts";
import { NOT_YOUR_ORDER } from "../../domain/policy.ts";
import type { Principal } from "../../domain/principal.ts";
import { parseListOrdersQuery } from "../../domain/order_query.ts";
import { createCursorCodec } from "../http/cursor.ts";
import { parseIfMatch } from "../http/if_match.ts";
import { NOT_VALID_JSON } from "../http/json_body.ts";
import { pathUserId } from "../http/path_user_id.ts";
import { HttpProblem, type ProblemCode, problemType } from "../http/problem.ts";

/** An OpenAPI Example Object. */
export interface Example {
  summary: string;
  description?: string;
  value: unknown;
}

const ORDER_ID = "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10";
const CREATED_AT = "2026-11-28T14:00:00.000Z";

/** The example order's lines, as its owner sent them. */
const EXAMPLE_LINES = [
  { product_id: "sku-1", product_name: "Mug", quantity: 2, price: "12.50" },
  { product_id: 1042, product_name: "Coaster", quantity: 3, price: "0.3333" },
] as const;

/** A new order, as `POST /v1/orders` answers it. */
export const orderExample = {
  id: ORDER_ID,
  user_id: 42,
  items: [
    { ...EXAMPLE_LINES[0], line_total: "25.00" },
    { ...EXAMPLE_LINES[1], line_total: "1.00" },
  ],
  total: "26.00",
  currency: "USD",
  status: "pending",
  shipping_address: "1 Main St, Springfield",
  version: 1,
  created_at: CREATED_AT,
  updated_at: CREATED_AT,
};

/** The same order after fulfillment started it and its owner cancelled it. */
export const cancelledOrderExample = {
  ...orderExample,
  status: "cancelled",
  version: 3,
  updated_at: "2026-11-28T15:30:00.000Z",
};

/** The order after fulfillment moved it on. */
export const processingOrderExample = {
  ...orderExample,
  status: "processing",
  version: 2,
  updated_at: "2026-11-28T15:00:00.000Z",
};

/**
 * The order held for review at creation (the owner had already created 5
 * orders within 10 minutes), as admins and fulfillment see it.
 */
export const heldOrderExample = {
  ...orderExample,
  review: { state: "pending", reasons: ["velocity"] },
};

/** The held order after an admin's decision: rejecting also cancels. */
function decidedOrderExample(state: "approved" | "rejected") {
  return {
    ...orderExample,
    ...(state === "rejected" && { status: "cancelled" }),
    version: 2,
    updated_at: "2026-11-28T14:20:00.000Z",
    review: { state, reasons: [...heldOrderExample.review.reasons] },
  };
}

/** The held order after an admin approved it. */
export const approvedOrderExample = decidedOrderExample("approved");

/** The held order after an admin rejected it, and so cancelled it. */
export const rejectedOrderExample = decidedOrderExample("rejected");

/** A delivered order whose owner's personal data was erased since. */
export const erasedOrderExample = {
  ...orderExample,
  status: "delivered",
  shipping_address: null,
  personal_data_erased: true,
  version: 4,
  updated_at: "2026-11-30T09:00:00.000Z",
};

/** Request bodies of `POST /v1/orders`. */
export const createOrderExamples: Record<string, Example> = {
  basic: {
    summary: "Two lines, prices as a string and as a number",
    value: {
      items: [EXAMPLE_LINES[0], { ...EXAMPLE_LINES[1], price: 0.3333 }],
      shipping_address: "1 Main St, Springfield",
    },
  },
  forAnotherUser: {
    summary: "An admin ordering for user 42, in euros",
    value: {
      items: [{
        product_id: "sku-9",
        product_name: "Teapot",
        quantity: 1,
        price: "39.90",
      }],
      shipping_address: "12 Rue de la Paix, Paris",
      user_id: 42,
      currency: "EUR",
    },
  },
};

/** Request bodies of `PATCH /v1/orders/{id}`. */
export const updateOrderExamples: Record<string, Example> = {
  advance: {
    summary: "Fulfillment moves the order one step forward",
    value: { status: "processing" },
  },
  address: {
    summary: "The owner changes the address while it is pending",
    value: { shipping_address: "2 Side St, Springfield" },
  },
};

/** Request bodies of `POST /v1/orders/{id}/cancel`. */
export const cancelOrderExamples: Record<string, Example> = {
  reason: {
    summary: "With a reason, kept in the audit log",
    value: { reason: "Ordered the wrong size" },
  },
  empty: {
    summary: "Without a reason (no body at all is fine too)",
    value: {},
  },
};

/** Request bodies of `POST /v1/orders/{id}/review`. */
export const reviewDecisionExamples: Record<string, Example> = {
  approve: {
    summary: "Release the order, with a note for the audit log",
    value: {
      decision: "approve",
      note: "Customer confirmed the order by phone",
    },
  },
  reject: {
    summary: "Reject (and so cancel) the order",
    value: { decision: "reject", note: "Card reported stolen" },
  },
};

/** The codec and binding of the examples' cursors (a key of their own). */
const EXAMPLE_CURSORS = createCursorCodec("examples only");
const EXAMPLE_CURSOR_BINDING = { kind: "orders", userId: 42, scope: {} };

/**
 * A cursor as the listing makes one: the position of the example order
 * (its `created_at` and `id`).
 */
export const exampleNextCursor = EXAMPLE_CURSORS.encode(
  EXAMPLE_CURSOR_BINDING,
  [Date.parse(CREATED_AT), ORDER_ID],
);

/** A page of the listing: the last one, so without a next cursor. */
export const orderListExample = {
  orders: [processingOrderExample],
  limit: 20,
  offset: 0,
  count: 1,
  next_cursor: null,
};

/** A first page of one order, with an older order after it. */
export const orderListFirstPageExample = {
  orders: [processingOrderExample],
  limit: 1,
  offset: 0,
  count: 2,
  next_cursor: exampleNextCursor,
};

/** The listing's 400 for a cursor issued to another caller. */
export const invalidCursorExample = refusalExample(
  "A cursor issued to another caller (or altered, or for other filters)",
  () =>
    EXAMPLE_CURSORS.decode(
      { ...EXAMPLE_CURSOR_BINDING, userId: 43 },
      exampleNextCursor,
    ),
);

/** The listing's 400 for a cursor sent with an offset. */
export const cursorWithOffsetExample = refusalExample(
  "A cursor with an offset",
  () => parseListOrdersQuery({ cursor: exampleNextCursor, offset: "20" }),
);

/** The history of the cancelled example order. */
export const orderHistoryExample = {
  events: [
    {
      seq: 1,
      action: "order.created",
      actor: { user_id: 42, roles: ["user"] },
      at: CREATED_AT,
      request_id: "9f1c2a7e-3b4d-4e5f-8a6b-7c8d9e0f1a2b",
      changes: {
        user_id: { from: null, to: 42 },
        status: { from: null, to: "pending" },
        items: { from: null, to: EXAMPLE_LINES },
        total: { from: null, to: "26.00" },
        currency: { from: null, to: "USD" },
        shipping_address: { from: null, to: "1 Main St, Springfield" },
      },
    },
    {
      seq: 2,
      action: "order.updated",
      actor: { user_id: 7, roles: ["fulfillment", "user"] },
      at: "2026-11-28T15:00:00.000Z",
      request_id: "pick-list-0042",
      changes: { status: { from: "pending", to: "processing" } },
    },
    {
      seq: 3,
      action: "order.cancelled",
      actor: { user_id: 42, roles: ["user"] },
      at: "2026-11-28T15:30:00.000Z",
      request_id: "0d4e5f6a-7b8c-4d9e-a0f1-b2c3d4e5f6a7",
      changes: {
        status: { from: "processing", to: "cancelled" },
        cancellation_reason: { from: null, to: "Ordered the wrong size" },
      },
    },
  ],
};

/** The history of the held example order after its approval, as an admin reads it. */
export const reviewedOrderHistoryExample = {
  events: [
    {
      ...orderHistoryExample.events[0]!,
      changes: {
        ...orderHistoryExample.events[0]!.changes,
        review: {
          from: null,
          to: { state: "pending", reasons: ["velocity"] },
        },
      },
    },
    {
      seq: 2,
      action: "order.review_approved",
      actor: { user_id: 1, roles: ["admin", "user"] },
      at: "2026-11-28T14:20:00.000Z",
      request_id: "review-0042",
      changes: {
        review: {
          from: { state: "pending", reasons: ["velocity"] },
          to: { state: "approved", reasons: ["velocity"] },
        },
        review_note: {
          from: null,
          to: "Customer confirmed the order by phone",
        },
      },
    },
  ],
};

/** The export of user 42, who has the cancelled example order. */
export const personalDataExportExample = {
  user_id: 42,
  exported_at: "2026-11-30T10:00:00.000Z",
  orders: [{ ...cancelledOrderExample, history: orderHistoryExample.events }],
  events: [],
};

/**
 * The export of user 42 after an admin erased their personal data: the
 * order's address values read null, and the erasure is an event.
 */
export const erasedPersonalDataExportExample = {
  user_id: 42,
  exported_at: "2026-11-30T10:00:00.000Z",
  orders: [{
    ...cancelledOrderExample,
    shipping_address: null,
    personal_data_erased: true,
    history: orderHistoryExample.events.map((event) => ({
      ...event,
      changes: Object.fromEntries(
        Object.entries(event.changes).map(([field, change]) => [
          field,
          field === "shipping_address" || field === "cancellation_reason"
            ? { from: null, to: null }
            : change,
        ]),
      ),
    })),
  }],
  events: [{
    seq: 1,
    action: "user.personal_data_erased",
    actor: { user_id: 1, roles: ["admin", "user"] },
    at: "2026-11-30T09:30:00.000Z",
    request_id: "erase-0042",
    changes: {
      user_id: { from: 42, to: 42 },
      data_key: { from: "0f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f", to: null },
    },
  }],
};

/** `GET /v1/admin/metrics` on an instance that served a few requests. */
export const metricsExample =
  `# HELP orders_http_responses_total HTTP responses by status class.
# TYPE orders_http_responses_total counter
orders_http_responses_total{class="2xx"} 1520
orders_http_responses_total{class="3xx"} 0
orders_http_responses_total{class="4xx"} 37
orders_http_responses_total{class="5xx"} 0
# HELP orders_security_events_total Security events logged, by event name.
# TYPE orders_security_events_total counter
orders_security_events_total{event="account.disabled"} 0
orders_security_events_total{event="account.enabled"} 0
orders_security_events_total{event="auth.failed"} 12
orders_security_events_total{event="authz.denied"} 3
orders_security_events_total{event="lookup.miss"} 5
orders_security_events_total{event="order.cancelled"} 4
orders_security_events_total{event="order.held"} 1
orders_security_events_total{event="order.status_changed"} 40
orders_security_events_total{event="ratelimit.exceeded"} 0
orders_security_events_total{event="tokens.revoked"} 0
orders_security_events_total{event="validation.failed"} 17
# HELP orders_created_total Orders created.
# TYPE orders_created_total counter
orders_created_total 96
# HELP orders_cancelled_total Orders cancelled.
# TYPE orders_cancelled_total counter
orders_cancelled_total 4
# HELP orders_held_total Orders held for review at creation.
# TYPE orders_held_total counter
orders_held_total 1
# HELP orders_value Totals of created orders (exact decimal sum, any currency); sum / count is the average order value.
# TYPE orders_value summary
orders_value_sum 2496.00
orders_value_count 96
`;

/** A problem response example, built from the same table as real ones. */
export function problemExample(
  code: ProblemCode,
  summary: string,
  detail: string,
  errors?: readonly FieldError[],
): Example {
  const { type, title, status } = problemType(code);
  return {
    summary,
    value: {
      type,
      title,
      status,
      detail,
      request_id: "3f6c1a0e-5d2b-4f7e-9a41-0c8e2b7d9f15",
      ...(errors && errors.length > 0 && { errors }),
    },
  };
}

/**
 * The problem example of the refusal `refuse` throws: its code, detail and
 * field errors are the code's own (a parser given a bad body, a policy
 * asked about a forbidden action).
 */
export function refusalExample(
  summary: string,
  refuse: () => unknown,
): Example {
  try {
    refuse();
  } catch (error) {
    if (error instanceof DomainError) {
      return problemExample(error.code, summary, error.message, error.errors);
    }
    if (error instanceof HttpProblem) {
      return problemExample(error.code, summary, error.message);
    }
    throw error;
  }
  throw new Error(`The example "${summary}" is not refused`);
}

/** The example order as the domain holds it, to ask the policy about it. */
export const EXAMPLE_ORDER: Order = {
  id: ORDER_ID,
  userId: 42,
  items: [],
  totalCents: 2600n,
  currency: "USD",
  status: "pending",
  shippingAddress: "1 Main St, Springfield",
  version: 1,
  createdAt: Date.parse(CREATED_AT),
  updatedAt: Date.parse(CREATED_AT),
};

/** Callers of the examples: the owner of the example order and others. */
export const EXAMPLE_CALLERS = {
  owner: { userId: 42, roles: ["user"] },
  other: { userId: 43, roles: ["user"] },
  fulfillment: { userId: 7, roles: ["fulfillment", "user"] },
  admin: { userId: 1, roles: ["admin", "user"] },
} as const satisfies Record<string, Principal>;

/** A body that is not JSON (every route with a body). */
export const malformedJson = problemExample(
  "malformed_json",
  "The body is not valid JSON",
  NOT_VALID_JSON,
);

/** An unknown order id (every route under `/v1/orders/{id}`). */
export const orderNotFound = problemExample(
  "not_found",
  "No such order (or an id that is not a UUID)",
  NO_SUCH_ORDER,
);

/** Another user's order. */
export const notYourOrder = problemExample(
  "forbidden",
  "Another user's order",
  NOT_YOUR_ORDER,
);

/** An `If-Match` naming another version. */
export const staleVersion = problemExample(
  "version_mismatch",
  "If-Match names another version",
  versionMismatchMessage(ORDER_ID),
);

/** An `If-Match` that is not a list of entity tags. */
export const invalidIfMatch = refusalExample(
  "An If-Match that is not a list of entity tags",
  () => parseIfMatch("3"),
);

/** A change that lost every race to concurrent ones. */
export const lostRaces = problemExample(
  "conflict",
  `Lost ${MAX_CHANGE_ATTEMPTS} races in a row to concurrent changes`,
  orderKeptChangingMessage(ORDER_ID),
);

/** A `user_id` path segment that names no user. */
export const noSuchUser = refusalExample(
  "A user_id that is not a positive integer",
  () => pathUserId("4x2"),
);
