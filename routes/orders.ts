/**
 * `/v1/orders`: create, list and read orders; update and cancel them; decide
 * the review of held ones; read their history. Each route is declared with
 * its parameters, body and responses, next to its handler: the OpenAPI
 * document is generated from these declarations.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type AppliedOrderChange,
  applyOrderChangeWithOutcome,
  jitteredBackoff,
  MAX_CHANGE_ATTEMPTS,
  NO_SUCH_ORDER,
  type OrderChangeDeps,
} from "../domain/apply_order_change.ts";
import {
  createOrder,
  type CreateOrderDeps,
  type CreateOrderOutcome,
  KEY_IN_FLIGHT,
  KEY_REUSED,
  KEY_REUSED_FIELD,
} from "../domain/create_order.ts";
import { DomainError } from "../domain/errors.ts";
import { parseIdempotencyKey } from "../domain/idempotency.ts";
import { createKeyedQueue } from "../domain/keyed_queue.ts";
import { normaliseOrderId, type Order } from "../domain/order.ts";
import type { OrderChange } from "../domain/order_change.ts";
import {
  cancelOrderSchema,
  createOrderSchema,
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
  updateOrderSchema,
} from "../domain/order_input.ts";
import {
  listOrdersQuerySchema,
  parseListOrdersQuery,
} from "../domain/order_query.ts";
import {
  assertAdmin,
  assertAllowed,
  assertCanReadOrder,
  decideOrderAction,
  listingScope,
  orderOwnerFor,
} from "../domain/policy.ts";
import {
  parseReviewDecision,
  planReviewDecision,
  reviewDecisionSchema,
} from "../domain/review.ts";
import type { Metrics } from "../monitoring/metrics.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { beginWrite } from "./middleware/hygiene.ts";
import { parseIfMatch } from "./http/if_match.ts";
import { readJsonBody } from "./http/json_body.ts";
import { PARAMETERS } from "./openapi/components.ts";
import { documented, jsonText, named } from "./openapi/documented.ts";
import {
  approvedOrderExample,
  cancelledOrderExample,
  cancelOrderExamples,
  createOrderExamples,
  erasedOrderExample,
  EXAMPLE_CALLERS,
  EXAMPLE_ORDER,
  heldOrderExample,
  invalidIfMatch,
  lostRaces,
  malformedJson,
  notYourOrder,
  orderExample,
  orderHistoryExample,
  orderListExample,
  orderNotFound,
  problemExample,
  processingOrderExample,
  refusalExample,
  rejectedOrderExample,
  reviewDecisionExamples,
  reviewedOrderHistoryExample,
  staleVersion,
  updateOrderExamples,
} from "./openapi/examples.ts";
import { authenticated, json, problems } from "./openapi/responses.ts";
import {
  historyEventJson,
  orderEtag,
  orderJson,
  orderTextFor,
  type OrderView,
  orderView,
  STORED_VIEW,
} from "./http/order_json.ts";
import {
  admitted,
  keepOrderCreation,
  orderCreationStep,
} from "./middleware/rate_limit.ts";
import {
  orderHistorySchema,
  type OrderJson,
  orderListSchema,
  orderSchema,
} from "./openapi/response_schemas.ts";
import { securityEvent } from "../monitoring/security_events.ts";

/** The request bodies, as named schemas of the document. */
const CreateOrderRequest = named(createOrderSchema, "CreateOrderRequest");
const UpdateOrderRequest = named(updateOrderSchema, "UpdateOrderRequest");
const CancelOrderRequest = named(cancelOrderSchema, "CancelOrderRequest");
const ReviewDecisionRequest = named(
  reviewDecisionSchema,
  "ReviewDecisionRequest",
);

const ORDER_CHANGE_NOTES =
  "Order of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), existence (404; an id that is not a UUID is unknown), the caller's right to see the order (403), `If-Match` (412, before anything about the body, even its media type), the body (415, 400 malformed JSON, 400/422 validation), the caller's right to make the change (403), then the business rules (400, 409). A change bumps `version`, sets `updated_at` and appends one audit entry, in one atomic write; without `If-Match` a concurrent change is never lost: changes to one order queue within an instance, and a race lost to another instance re-checks the rules against the newer version (409 only after " +
  MAX_CHANGE_ATTEMPTS + " lost races in a row, nothing written).";

const ETAG_NOTE =
  'Send `If-Match: "<version>"` (the `ETag` of the order you read) to apply the change to that version only: any other current version answers 412 and nothing changes. On 412, re-read the order, re-apply your intent to it, and send again with the new `ETag`.';

/** The held example order, as a review finds it. */
const HELD_ORDER: Order = {
  ...EXAMPLE_ORDER,
  review: { state: "pending", reasons: ["velocity"] },
};

const NO_SUCH_ORDER_RESPONSE = problems(
  "No such order, or an id that is not a UUID.",
  [orderNotFound],
);

const STALE_VERSION_RESPONSE = problems(
  "`If-Match` does not name the current version.",
  [staleVersion],
);

/**
 * The refusals the routes below show as examples, as the domain's own
 * parsers and policy give them (computed once, not per app).
 */
const REFUSED = {
  noItems: refusalExample("No items", () =>
    parseNewOrder({
      items: [],
      shipping_address: "1 Main St, Springfield",
    })),
  malformedKey: refusalExample(
    "A malformed Idempotency-Key",
    () => parseIdempotencyKey("\u00e9"),
  ),
  orderForAnother: refusalExample(
    "Ordering for another user without the admin role",
    () => orderOwnerFor(EXAMPLE_CALLERS.owner, 43),
  ),
  invalidOrder: refusalExample("Invalid fields", () =>
    parseNewOrder({
      items: [{
        product_id: "sku-1",
        product_name: "Mug",
        quantity: 0,
        price: "12.50001",
      }],
      shipping_address: "",
    })),
  listAnother: refusalExample(
    "Listing another user's orders",
    () => listingScope(EXAMPLE_CALLERS.owner, 43),
  ),
  limitOutOfRange: refusalExample(
    "limit out of range",
    () => parseListOrdersQuery({ limit: "0" }),
  ),
  unknownStatus: refusalExample(
    "Not one of the five statuses",
    () => parseOrderPatch({ status: "lost" }),
  ),
  illegalMove: refusalExample(
    "A move the lifecycle does not allow",
    () =>
      assertAllowed(
        decideOrderAction(EXAMPLE_CALLERS.fulfillment, EXAMPLE_ORDER, {
          kind: "set_status",
          to: "shipped",
        }),
      ),
  ),
  heldForReview: refusalExample(
    "Held for review",
    () =>
      assertAllowed(
        decideOrderAction(EXAMPLE_CALLERS.fulfillment, HELD_ORDER, {
          kind: "set_status",
          to: "processing",
        }),
      ),
  ),
  emptyAddress: refusalExample(
    "An empty address",
    () => parseOrderPatch({ shipping_address: "" }),
  ),
  alreadyShipped: refusalExample(
    "Already shipped",
    () =>
      assertAllowed(
        decideOrderAction(
          EXAMPLE_CALLERS.owner,
          { ...EXAMPLE_ORDER, status: "shipped" },
          { kind: "set_status", to: "cancelled" },
        ),
      ),
  ),
  longReason: refusalExample(
    "A reason that is too long",
    () => parseCancelOrder({ reason: "x".repeat(501) }),
  ),
  notAdminDeciding: refusalExample(
    "Fulfillment or the owner deciding",
    () => assertAdmin(EXAMPLE_CALLERS.fulfillment, "decide_review"),
  ),
  notHeld: refusalExample(
    "Not held for review",
    () =>
      planReviewDecision(EXAMPLE_ORDER, { decision: "approve" }, {
        principal: EXAMPLE_CALLERS.admin,
        requestId: "review-0042",
        now: EXAMPLE_ORDER.updatedAt,
      }),
  ),
  alreadyDecided: refusalExample("Already decided", () =>
    planReviewDecision(
      {
        ...HELD_ORDER,
        review: { state: "approved", reasons: ["velocity"] },
      },
      { decision: "approve" },
      {
        principal: EXAMPLE_CALLERS.admin,
        requestId: "review-0042",
        now: EXAMPLE_ORDER.updatedAt,
      },
    )),
  unknownDecision: refusalExample(
    "An unknown decision",
    () => parseReviewDecision({ decision: "maybe" }),
  ),
  historyForbidden: refusalExample(
    "Not the owner, not an admin",
    () =>
      assertAllowed(
        decideOrderAction(EXAMPLE_CALLERS.fulfillment, EXAMPLE_ORDER, {
          kind: "read_history",
        }),
      ),
  ),
};

/** The orders sub-app. */
export function ordersRoutes(
  deps: AppDeps,
  parts: { metrics: Metrics },
): OpenAPIHono<AppEnv> {
  const { metrics } = parts;
  const { store, clock } = deps;
  const limitOrderCreation = orderCreationStep(deps);
  // This app's requests with one user and Idempotency-Key wait for each
  // other, so a retry is answered from the first one's record.
  const creations: CreateOrderDeps = { ...deps, queue: createKeyedQueue() };
  // This app's changes to one order wait for each other instead of racing.
  const orderChanges: OrderChangeDeps = {
    store,
    clock,
    queue: createKeyedQueue(),
    backoff: jitteredBackoff,
  };
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "post",
    path: "/",
    operationId: "createOrder",
    tags: ["Orders"],
    summary: "Create an order",
    description:
      "Creates a `pending` order for the caller (an admin may name any `user_id`). The server computes `total` exactly from the lines (half-up to cents, once) and ignores any other field. The creation is written to the audit log in the same atomic write.\n\nWith an `Idempotency-Key`, a retry by the same user with the same key and the same JSON body within 24 h returns the original 201 with `Idempotent-Replayed: true` and creates nothing; see the header's description.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limit on all requests (429), media type (415), JSON (400), the `Idempotency-Key` (400 malformed, replay, 409 for an in-flight claim of an earlier version, 422 other body), the creation limit (429), validation (400 for the item count, else 422), ownership (403).",
    parameters: [PARAMETERS.IdempotencyKey],
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: CreateOrderRequest,
            examples: createOrderExamples,
          },
        },
      },
    },
    responses: authenticated({
      201: json(
        "The new order, or (with `Idempotent-Replayed: true`) the stored answer to an earlier request with the same `Idempotency-Key`.",
        orderSchema,
        {
          examples: {
            created: { summary: "A new order", value: orderExample },
          },
          headers: ["Location", "ETag", "IdempotentReplayed"],
        },
      ),
      400: problems(
        "`items` missing, empty or over 100 lines; a malformed `Idempotency-Key`; or a body that is not JSON.",
        [
          REFUSED.noItems,
          REFUSED.malformedKey,
          malformedJson,
        ],
      ),
      403: problems(
        "`user_id` names another user and the caller is not an admin.",
        [REFUSED.orderForAnother],
      ),
      409: problems(
        "The `Idempotency-Key` is held by an in-flight claim that an earlier version of the service made (such claims expire after 60 s): retry a little later.",
        [problemExample(
          "conflict",
          "The first request with this key is still running",
          KEY_IN_FLIGHT,
        )],
      ),
      422: problems(
        "Any other invalid field (one `errors` entry each), a total over 1000000000.00, or an `Idempotency-Key` already used with a different body.",
        [
          REFUSED.invalidOrder,
          problemExample(
            "validation_failed",
            "The key was used with another body",
            KEY_REUSED,
            [{ path: "Idempotency-Key", message: KEY_REUSED_FIELD }],
          ),
        ],
      ),
    }, { body: true }),
  }, async (c) => {
    const principal = c.get("principal");
    const idempotencyKey = parseIdempotencyKey(
      c.req.header("idempotency-key"),
    );
    const body = await readJsonBody(c);
    const outcome = await createOrder(creations, {
      principal,
      requestId: c.get("serverRequestId"),
      body,
      idempotencyKey,
      countCreation: () => limitOrderCreation(c),
      render: (order) => JSON.stringify(orderJson(order, STORED_VIEW)),
      admitted: () => admitted(c),
      beginWrite: () => beginWrite(c),
    });
    if (outcome.kind === "created") {
      keepOrderCreation(c);
      recordCreated(c, metrics, outcome.order);
    }
    return createdResponse(c, outcome, orderView(principal));
  });

  documented(app, {
    method: "get",
    path: "/",
    operationId: "listOrders",
    tags: ["Orders"],
    summary: "List orders",
    description:
      "Newest first (`created_at` descending, then `id` descending). A user sees only their own orders; fulfillment and admin see all and may filter by `user_id`. Unknown query parameters are ignored.",
    request: { query: listOrdersQuerySchema },
    responses: authenticated({
      200: json("One page of the orders the caller may see.", orderListSchema, {
        examples: { page: { summary: "One order", value: orderListExample } },
      }),
      403: problems("A user's `user_id` filter names another user.", [
        REFUSED.listAnother,
      ]),
      422: problems(
        "A query parameter out of range or of the wrong type (one `errors` entry each).",
        [REFUSED.limitOutOfRange],
      ),
    }),
  }, async (c) => {
    const principal = c.get("principal");
    const query = parseListOrdersQuery(c.req.query());
    const userId = listingScope(principal, query.userId);
    const page = await store.listOrders({ ...query, userId });
    const view = orderView(principal);
    return c.json({
      orders: page.orders.map((order) => orderJson(order, view)),
      limit: query.limit,
      offset: query.offset,
      count: page.count,
    }, 200);
  });

  documented(app, {
    method: "get",
    path: "/{id}",
    operationId: "getOrder",
    tags: ["Orders"],
    summary: "Read an order",
    description:
      "The order with its `ETag`. Owner, fulfillment and admin. Ids match case-insensitively. Look-ups of single orders that end in 403 or 404 count against a per-user limit (20 a minute by default); over it, every request for a single order is 429 for a while.",
    parameters: [PARAMETERS.OrderId],
    responses: authenticated({
      200: json("The order.", orderSchema, {
        examples: {
          order: { summary: "An order", value: orderExample },
          held: {
            summary: "A held order, as admins and fulfillment see it",
            value: heldOrderExample,
          },
          erased: {
            summary: "An order whose owner's personal data was erased",
            value: erasedOrderExample,
          },
        },
        headers: ["ETag"],
      }),
      403: problems("Another user's order.", [notYourOrder]),
      404: NO_SUCH_ORDER_RESPONSE,
    }),
  }, async (c) => {
    const id = normaliseOrderId(c.req.param("id"));
    const order = id === undefined ? undefined : await store.findOrder(id);
    await admitted(c); // read ahead (`readsAhead`), decided after the verdict
    if (!order) throw new DomainError("not_found", NO_SUCH_ORDER);
    const principal = c.get("principal");
    assertCanReadOrder(principal, order);
    c.header("ETag", orderEtag(order));
    return c.json(orderJson(order, orderView(principal)), 200);
  });

  documented(app, {
    method: "patch",
    path: "/{id}",
    operationId: "updateOrder",
    tags: ["Orders"],
    summary: "Change an order's status or address",
    description:
      "Moves the status one step forward (fulfillment, admin; an order held for review moves to `processing` only once an admin approved it, else 409), cancels (owner, admin; while pending or processing, held or not), or changes the shipping address (owner, admin; while pending or processing). With both fields, both are checked against the current status and applied as one new version. A body with neither field, or with the current values, answers 200 with the order unchanged (no new version, no audit entry).\n\n" +
      ETAG_NOTE + "\n\n" + ORDER_CHANGE_NOTES,
    parameters: [PARAMETERS.OrderId, PARAMETERS.IfMatch],
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: UpdateOrderRequest,
            examples: updateOrderExamples,
          },
        },
      },
    },
    responses: authenticated({
      200: json(
        "The order after the change (or unchanged, for a no-op).",
        orderSchema,
        {
          examples: {
            processing: {
              summary: "Moved to processing",
              value: processingOrderExample,
            },
          },
          headers: ["ETag"],
        },
      ),
      400: problems(
        "A `status` outside the five; a move the lifecycle does not allow (skipping, backward, anything on a delivered or cancelled order); an address change after `processing`; a malformed `If-Match`; or a body that is not JSON.",
        [
          REFUSED.unknownStatus,
          REFUSED.illegalMove,
          invalidIfMatch,
          malformedJson,
        ],
      ),
      403: problems(
        "The caller may not see the order, or may not make this change (a user moving the status, fulfillment changing the address or cancelling).",
        [notYourOrder],
      ),
      404: NO_SUCH_ORDER_RESPONSE,
      409: problems(
        "The order is held for review and may not move to `processing` until an admin approves it (`POST /v1/orders/{id}/review`); or concurrent changes won 5 races in a row (nothing was written and the request can be retried as is).",
        [
          REFUSED.heldForReview,
          lostRaces,
        ],
      ),
      412: STALE_VERSION_RESPONSE,
      422: problems(
        "An invalid `shipping_address`, or a body that is not a JSON object.",
        [REFUSED.emptyAddress],
      ),
    }, { body: true }),
  }, (c) => changeOrder(c, async () => parseOrderPatch(await readJsonBody(c))));

  documented(app, {
    method: "post",
    path: "/{id}/cancel",
    operationId: "cancelOrder",
    tags: ["Orders"],
    summary: "Cancel an order",
    description:
      'The same as `PATCH` with `{"status": "cancelled"}`, plus an optional reason kept in the audit entry. Owner and admin, while the order is pending or processing. The body is optional: no body, an empty body, or `{"reason": "…"}`.\n\n' +
      ETAG_NOTE + "\n\n" + ORDER_CHANGE_NOTES,
    parameters: [PARAMETERS.OrderId, PARAMETERS.IfMatch],
    request: {
      body: {
        required: false,
        content: {
          "application/json": {
            schema: CancelOrderRequest,
            examples: cancelOrderExamples,
          },
        },
      },
    },
    responses: authenticated({
      200: json("The cancelled order.", orderSchema, {
        examples: {
          cancelled: {
            summary: "A cancelled order",
            value: cancelledOrderExample,
          },
        },
        headers: ["ETag"],
      }),
      400: problems(
        "The order is shipped, delivered or already cancelled; a malformed `If-Match`; or a body that is not JSON.",
        [
          REFUSED.alreadyShipped,
          invalidIfMatch,
          malformedJson,
        ],
      ),
      403: problems(
        "Another user's order, or a caller whose only rights are fulfillment's.",
        [notYourOrder],
      ),
      404: NO_SUCH_ORDER_RESPONSE,
      409: problems(
        "Concurrent changes won 5 races in a row; nothing was written.",
        [lostRaces],
      ),
      412: STALE_VERSION_RESPONSE,
      422: problems(
        "A `reason` that is not a string or is over 500 characters, or a body that is not a JSON object.",
        [REFUSED.longReason],
      ),
    }, { body: true }),
  }, (c) =>
    changeOrder(
      c,
      async () => parseCancelOrder(await readJsonBody(c, { optional: true })),
    ));

  documented(app, {
    method: "post",
    path: "/{id}/review",
    operationId: "reviewOrder",
    tags: ["Orders"],
    summary: "Decide on an order held for review",
    description:
      "An admin's decision on an order held for review (`review.state: pending`): `approve` releases it (it may then move to `processing`), `reject` also cancels it. The decision and its note are kept in the audit entry (`order.review_approved` / `order.review_rejected`). Orders are held at creation when their total is at least `REVIEW_THRESHOLD` (`total_threshold`) or their owner already created `REVIEW_VELOCITY_ORDERS` orders themself within 10 minutes (`velocity`).\n\n" +
      ETAG_NOTE + "\n\n" + ORDER_CHANGE_NOTES,
    parameters: [PARAMETERS.OrderId, PARAMETERS.IfMatch],
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: ReviewDecisionRequest,
            examples: reviewDecisionExamples,
          },
        },
      },
    },
    responses: authenticated({
      200: json(
        "The order after the decision: `review.state` is `approved`, or `rejected` with the order cancelled.",
        orderSchema,
        {
          examples: {
            approved: { summary: "Approved", value: approvedOrderExample },
            rejected: {
              summary: "Rejected, and so cancelled",
              value: rejectedOrderExample,
            },
          },
          headers: ["ETag"],
        },
      ),
      400: problems("A malformed `If-Match`, or a body that is not JSON.", [
        invalidIfMatch,
        malformedJson,
      ]),
      403: problems(
        "The caller is not an admin (or may not even see the order).",
        [
          REFUSED.notAdminDeciding,
          notYourOrder,
        ],
      ),
      404: NO_SUCH_ORDER_RESPONSE,
      409: problems(
        "The order is not held for review, its review is already decided, or it was cancelled meanwhile; or concurrent changes won 5 races in a row (nothing was written).",
        [
          REFUSED.notHeld,
          REFUSED.alreadyDecided,
          lostRaces,
        ],
      ),
      412: STALE_VERSION_RESPONSE,
      422: problems(
        "A `decision` other than `approve` or `reject`, a `note` that is not a string or is over 500 characters, or a body that is not a JSON object.",
        [REFUSED.unknownDecision],
      ),
    }, { body: true }),
  }, (c) =>
    changeOrder(c, async () => ({
      review: parseReviewDecision(await readJsonBody(c)),
    })));

  documented(app, {
    method: "get",
    path: "/{id}/history",
    operationId: "getOrderHistory",
    tags: ["Orders"],
    summary: "Read an order's history",
    description:
      "The order's audit entries, oldest first: who changed what, when, and in which request. Owner and admin (not fulfillment). An admin also sees review fields and decisions (`order.review_approved`, `order.review_rejected`); the owner sees a decision as the `order.updated` or `order.cancelled` it amounts to, without its note. Events of the user's own audit chain (erasure, account changes) are not part of an order's history.",
    parameters: [PARAMETERS.OrderId],
    responses: authenticated({
      200: json("The events.", orderHistorySchema, {
        examples: {
          cancelled: {
            summary: "Created, moved on, cancelled with a reason",
            value: orderHistoryExample,
          },
          reviewed: {
            summary: "Held at creation, approved by an admin (admin's view)",
            value: reviewedOrderHistoryExample,
          },
        },
      }),
      403: problems("Another user's order, or a fulfillment caller.", [
        REFUSED.historyForbidden,
      ]),
      404: NO_SUCH_ORDER_RESPONSE,
    }),
  }, async (c) => {
    const id = normaliseOrderId(c.req.param("id"));
    // The entries are read with the order, and shown only if it may be read.
    const found = id === undefined
      ? undefined
      : await store.findOrderWithHistory(id);
    if (!found) throw new DomainError("not_found", NO_SUCH_ORDER);
    assertAllowed(
      decideOrderAction(c.get("principal"), found.order, {
        kind: "read_history",
      }),
    );
    const entries = found.history;
    const view = orderView(c.get("principal"));
    return c.json({
      events: entries.map((entry) => historyEventJson(entry, view)),
    }, 200);
  });

  return app;

  /**
   * Applies a change (update, cancellation or review decision) and answers
   * with the order; a change that happened is counted and logged.
   */
  async function changeOrder(
    c: Context<AppEnv>,
    readChange: () => Promise<OrderChange>,
  ) {
    const principal = c.get("principal");
    const outcome = await applyOrderChangeWithOutcome(orderChanges, {
      orderId: normaliseOrderId(c.req.param("id") ?? ""),
      principal,
      requestId: c.get("serverRequestId"),
      expectedVersions: parseIfMatch(c.req.header("if-match")),
      readChange,
      admitted: () => admitted(c),
      beginWrite: () => beginWrite(c),
    });
    recordChanged(c, metrics, outcome);
    c.header("ETag", orderEtag(outcome.order));
    return c.json(orderJson(outcome.order, orderView(principal)), 200);
  }
}

/** Counts a new order and logs `order.held` when it is held. */
function recordCreated(c: Context<AppEnv>, metrics: Metrics, order: Order) {
  metrics.countOrderCreated(order.totalCents);
  if (order.review) {
    metrics.countOrderHeld();
    securityEvent(c, "order.held", {
      order_id: order.id,
      reason: order.review.reasons.join(","),
    });
  }
}

/** Counts and logs a change of status (`order.cancelled`, `order.status_changed`). */
function recordChanged(
  c: Context<AppEnv>,
  metrics: Metrics,
  outcome: AppliedOrderChange,
) {
  const { order, previous } = outcome;
  if (previous === undefined || previous.status === order.status) return;
  if (order.status === "cancelled") {
    metrics.countOrderCancelled();
    securityEvent(c, "order.cancelled", {
      order_id: order.id,
      reason: order.review?.state === "rejected" &&
          previous.review?.state === "pending"
        ? "review rejected"
        : `${previous.status} -> cancelled`,
    });
  } else {
    securityEvent(c, "order.status_changed", {
      order_id: order.id,
      reason: `${previous.status} -> ${order.status}`,
    });
  }
}

/**
 * The 201 of a created or replayed order, from its serialised body (the
 * text `render` wrote from `orderJson`, or its stored copy on a replay) as
 * the caller's `view` shows it.
 */
function createdResponse(
  c: Context<AppEnv>,
  outcome: CreateOrderOutcome,
  view: OrderView,
) {
  const body = orderTextFor(outcome.body, view);
  const { id, version } = JSON.parse(body) as {
    id: string;
    version: number;
  };
  c.header("Location", `/v1/orders/${id}`);
  c.header("ETag", orderEtag({ version }));
  c.header("Content-Type", "application/json");
  if (outcome.kind === "replayed") c.header("Idempotent-Replayed", "true");
  return jsonText<OrderJson, 201>(c, body, outcome.status as 201);
}
