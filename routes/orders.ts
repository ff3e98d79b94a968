/**
 * `/v1/orders`: create, list and read orders; update and cancel them; decide
 * the review of held ones; read their history. Each route is declared with
 * its parameters, body and responses, next to its handler: the OpenAPI
 * document is generated from these declarations.
 */
import { AUDIT_ENTRY_HEADER, auditEntryHeader } from "../audit/receipts.ts";
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  applyOrderChangeWithOutcome,
  jitteredBackoff,
  MAX_CHANGE_ATTEMPTS,
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
import {
  parseIdempotencyKey,
  REPLAY_WINDOW_MS,
} from "../domain/idempotency.ts";
import { createKeyedQueue } from "../domain/keyed_queue.ts";
import { normaliseOrderId } from "../domain/order.ts";
import type { OrderChange } from "../domain/order_change.ts";
import {
  cancelOrderSchema,
  createOrderSchema,
  parseCancelOrder,
  parseOrderPatch,
  updateOrderSchema,
} from "../domain/order_input.ts";
import {
  type ListOrdersQuery,
  listOrdersQuerySchema,
  parseListOrdersQuery,
} from "../domain/order_query.ts";
import type { OrderPosition } from "../domain/ports.ts";
import type { Principal } from "../domain/principal.ts";
import {
  listOrders,
  listsEveryOrder,
  readOrder,
  readOrderHistory,
} from "../domain/read_orders.ts";
import { parseReviewDecision, reviewDecisionSchema } from "../domain/review.ts";
import type { Metrics } from "../monitoring/metrics.ts";
import { createOrderRecording } from "../monitoring/order_recording.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { beginWrite } from "./middleware/hygiene.ts";
import {
  createCursorCodec,
  type CursorCodec,
  invalidCursor,
} from "./http/cursor.ts";
import { parseIfMatch } from "./http/if_match.ts";
import { readJsonBody } from "./http/json_body.ts";
import { PARAMETERS } from "./openapi/components.ts";
import { documented, jsonText, named } from "./openapi/documented.ts";
import {
  approvedOrderExample,
  cancelledOrderExample,
  cancelOrderExamples,
  createOrderExamples,
  cursorWithOffsetExample,
  erasedOrderExample,
  type Example,
  heldOrderExample,
  invalidCursorExample,
  invalidIfMatch,
  lostRaces,
  malformedJson,
  notYourOrder,
  orderExample,
  orderHistoryExample,
  orderListExample,
  orderListFirstPageExample,
  orderNotFound,
  problemExample,
  processingOrderExample,
  rejectedOrderExample,
  reviewDecisionExamples,
  reviewedOrderHistoryExample,
  staleVersion,
  updateOrderExamples,
} from "./openapi/examples.ts";
import { ORDER_REFUSALS } from "./openapi/order_examples.ts";
import { authenticated, json, problems } from "./openapi/responses.ts";
import {
  orderEtag,
  orderHistoryJson,
  orderJson,
  orderListJson,
  orderTextFor,
  type OrderView,
  orderView,
  STORED_VIEW,
} from "./http/order_json.ts";
import {
  admitted,
  afterAdmission,
  keepOrderCreation,
  orderCreationStep,
} from "./middleware/rate_limit.ts";
import {
  orderHistorySchema,
  type OrderJson,
  orderListSchema,
  orderSchema,
} from "./openapi/response_schemas.ts";
import { DEFAULT_RATE_LIMIT_RULES } from "../limits/rate_limiter.ts";
import {
  CREATE_ORDER_CHECKS,
  describeChecks,
  ORDER_CHANGE_CHECKS,
  orderOfChecks,
  READ_ORDER_CHECKS,
} from "./http/checks.ts";

/** The request bodies, as named schemas of the document. */
const CreateOrderRequest = named(createOrderSchema, "CreateOrderRequest");
const UpdateOrderRequest = named(updateOrderSchema, "UpdateOrderRequest");
const CancelOrderRequest = named(cancelOrderSchema, "CancelOrderRequest");
const ReviewDecisionRequest = named(
  reviewDecisionSchema,
  "ReviewDecisionRequest",
);

const ORDER_CHANGE_NOTES = `Order of checks without \`If-Match\`: ${
  describeChecks(ORDER_CHANGE_CHECKS.withoutIfMatch)
}. With \`If-Match\`: ${
  describeChecks(ORDER_CHANGE_CHECKS.withIfMatch)
}. A change bumps \`version\`, sets \`updated_at\` and appends one audit entry, in one atomic write; without \`If-Match\` a concurrent change is never lost: changes to one order queue within an instance, and a race lost to another instance re-checks the rules against the newer version (409 only after ${MAX_CHANGE_ATTEMPTS} lost races in a row, nothing written). The body is read in full before the change waits its turn, so a body that is slow to arrive holds up no other change.`;

/** The 409 of a change that kept losing races, as the responses say it. */
const LOST_RACES =
  `concurrent changes won ${MAX_CHANGE_ATTEMPTS} races in a row (nothing was written and the request can be retried as is)`;

const ETAG_NOTE =
  'Send `If-Match: "<version>"` (the `ETag` of the order you read) to apply the change to that version only: any other current version answers 412 and nothing changes. On 412, re-read the order, re-apply your intent to it, and send again with the new `ETag`.';

const NO_SUCH_ORDER_RESPONSE = problems(
  "No such order, or an id that is not a UUID.",
  [orderNotFound],
);

const STALE_VERSION_RESPONSE = problems(
  "`If-Match` does not name the current version.",
  [staleVersion],
);

/** A route's JSON request body of `schema`, with its examples; required unless told. */
function jsonBody<S extends z.ZodType>(
  schema: S,
  examples: Record<string, Example>,
  options: { required?: boolean } = {},
) {
  return {
    body: {
      required: options.required ?? true,
      content: { "application/json": { schema, examples } },
    },
  };
}

/** The orders sub-app. */
export function ordersRoutes(
  deps: AppDeps,
  parts: { metrics: Metrics },
): OpenAPIHono<AppEnv> {
  const { store, clock } = deps;
  const recording = createOrderRecording(parts.metrics);
  const cursors = createCursorCodec(deps.cursorSecret);
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
      `Creates a \`pending\` order for the caller (an admin may name any \`user_id\`). The server computes \`total\` exactly from the lines (half-up to cents, once) and ignores any other field. The creation is written to the audit log in the same atomic write.\n\nWith an \`Idempotency-Key\`, a retry by the same user with the same key and the same JSON body within ${
        REPLAY_WINDOW_MS / 3_600_000
      } h returns the original 201 with \`Idempotent-Replayed: true\` and creates nothing; see the header's description.\n\n${
        orderOfChecks(CREATE_ORDER_CHECKS)
      }`,
    parameters: [PARAMETERS.IdempotencyKey],
    request: jsonBody(CreateOrderRequest, createOrderExamples),
    responses: authenticated({
      201: json(
        "The new order, or (with `Idempotent-Replayed: true`) the stored answer to an earlier request with the same `Idempotency-Key`.",
        orderSchema,
        {
          examples: {
            created: { summary: "A new order", value: orderExample },
          },
          headers: ["Location", "ETag", "IdempotentReplayed", "AuditEntry"],
        },
      ),
      400: problems(
        "`items` missing, empty or over 100 lines; a malformed `Idempotency-Key`; or a body that is not JSON.",
        [
          ORDER_REFUSALS.noItems,
          ORDER_REFUSALS.malformedKey,
          malformedJson,
        ],
      ),
      403: problems(
        "`user_id` names another user and the caller is not an admin.",
        [ORDER_REFUSALS.orderForAnother],
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
          ORDER_REFUSALS.invalidOrder,
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
      recording.recordCreated(c, outcome.order);
    }
    setAuditEntry(c);
    return createdResponse(c, outcome, orderView(principal));
  });

  documented(app, {
    method: "get",
    path: "/",
    operationId: "listOrders",
    tags: ["Orders"],
    summary: "List orders",
    description:
      'Newest first (`created_at` descending, then `id` descending). A user sees only their own orders; fulfillment and admin see all and may filter by `user_id`. Unknown query parameters are ignored.\n\nTwo ways to page: `offset` (kept for existing clients; orders created meanwhile shift later pages, so one may be skipped or shown twice), or `next_cursor` (every page carries it, and the `Link: <…>; rel="next"` header unless it is the last): a walk from cursor to cursor returns every order that matched when it began exactly once, in order, whatever is created, changed or cancelled meanwhile; orders created later are newer than its position and do not appear. Cursors do not expire, but they are bound to the caller and to `status` and `user_id` (400 otherwise); `limit` may change from page to page.',
    request: { query: listOrdersQuerySchema },
    responses: authenticated({
      200: json("One page of the orders the caller may see.", orderListSchema, {
        examples: {
          page: { summary: "One order", value: orderListExample },
          firstPage: {
            summary: "A first page, with the cursor of the next",
            value: orderListFirstPageExample,
          },
        },
        headers: ["Link"],
      }),
      400: problems(
        "A `cursor` that was altered, issued to another caller or made with other `status` or `user_id` filters; or a cursor with an `offset` other than 0.",
        [invalidCursorExample, cursorWithOffsetExample],
      ),
      403: problems("A user's `user_id` filter names another user.", [
        ORDER_REFUSALS.listAnother,
      ]),
      422: problems(
        "A query parameter out of range or of the wrong type (one `errors` entry each).",
        [ORDER_REFUSALS.limitOutOfRange],
      ),
    }),
  }, async (c) => {
    const principal = c.get("principal");
    // Read ahead only with room (`readsAheadWithRoom`), decided after the
    // verdict.
    const { query, cursor, listing } = await afterAdmission(c, async () => {
      const query = parseListOrdersQuery(c.req.query());
      const cursor = listingCursor(cursors, principal, query);
      const listing = await listOrders(deps, {
        principal,
        query,
        after: cursor.after,
      });
      return { query, cursor, listing };
    });
    const nextCursor = listing.next && cursor.encode(listing.next);
    if (nextCursor !== undefined) {
      c.header("Link", nextPageLink(query, nextCursor));
    }
    return c.json(
      orderListJson(listing, orderView(principal), { nextCursor }),
      200,
    );
  });

  documented(app, {
    method: "get",
    path: "/{id}",
    operationId: "getOrder",
    tags: ["Orders"],
    summary: "Read an order",
    description:
      `The order with its \`ETag\`. Owner, fulfillment and admin. Ids match case-insensitively. Look-ups of single orders that end in 403 or 404 count against a per-user limit (${DEFAULT_RATE_LIMIT_RULES.lookup_misses.limit} a minute by default); over it, every request for a single order is 429 for a while.\n\n${
        orderOfChecks(READ_ORDER_CHECKS)
      }`,
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
    const principal = c.get("principal");
    const order = await readOrder(deps, {
      orderId: normaliseOrderId(c.req.param("id")),
      principal,
      // Read ahead (`readsAhead`), decided after the verdict.
      admitted: () => admitted(c),
    });
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
    request: jsonBody(UpdateOrderRequest, updateOrderExamples),
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
          headers: ["ETag", "AuditEntry"],
        },
      ),
      400: problems(
        "A `status` outside the five; a move the lifecycle does not allow (skipping, backward, anything on a delivered or cancelled order); an address change after `processing`; a malformed `If-Match`; or a body that is not JSON.",
        [
          ORDER_REFUSALS.unknownStatus,
          ORDER_REFUSALS.illegalMove,
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
        `The order is held for review and may not move to \`processing\` until an admin approves it (\`POST /v1/orders/{id}/review\`); or ${LOST_RACES}.`,
        [
          ORDER_REFUSALS.heldForReview,
          lostRaces,
        ],
      ),
      412: STALE_VERSION_RESPONSE,
      422: problems(
        "An invalid `shipping_address`, or a body that is not a JSON object.",
        [ORDER_REFUSALS.emptyAddress],
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
    request: jsonBody(CancelOrderRequest, cancelOrderExamples, {
      required: false,
    }),
    responses: authenticated({
      200: json("The cancelled order.", orderSchema, {
        examples: {
          cancelled: {
            summary: "A cancelled order",
            value: cancelledOrderExample,
          },
        },
        headers: ["ETag", "AuditEntry"],
      }),
      400: problems(
        "The order is shipped, delivered or already cancelled; a malformed `If-Match`; or a body that is not JSON.",
        [
          ORDER_REFUSALS.alreadyShipped,
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
        `Lost races: ${LOST_RACES}.`,
        [lostRaces],
      ),
      412: STALE_VERSION_RESPONSE,
      422: problems(
        "A `reason` that is not a string or is over 500 characters, or a body that is not a JSON object.",
        [ORDER_REFUSALS.longReason],
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
    request: jsonBody(ReviewDecisionRequest, reviewDecisionExamples),
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
          headers: ["ETag", "AuditEntry"],
        },
      ),
      400: problems("A malformed `If-Match`, or a body that is not JSON.", [
        invalidIfMatch,
        malformedJson,
      ]),
      403: problems(
        "The caller is not an admin (or may not even see the order).",
        [
          ORDER_REFUSALS.notAdminDeciding,
          notYourOrder,
        ],
      ),
      404: NO_SUCH_ORDER_RESPONSE,
      409: problems(
        `The order is not held for review, its review is already decided, or it was cancelled meanwhile; or ${LOST_RACES}.`,
        [
          ORDER_REFUSALS.notHeld,
          ORDER_REFUSALS.alreadyDecided,
          lostRaces,
        ],
      ),
      412: STALE_VERSION_RESPONSE,
      422: problems(
        "A `decision` other than `approve` or `reject`, a `note` that is not a string or is over 500 characters, or a body that is not a JSON object.",
        [ORDER_REFUSALS.unknownDecision],
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
        ORDER_REFUSALS.historyForbidden,
      ]),
      404: NO_SUCH_ORDER_RESPONSE,
    }),
  }, async (c) => {
    const principal = c.get("principal");
    const { history } = await afterAdmission(
      c,
      async () =>
        await readOrderHistory(deps, {
          orderId: normaliseOrderId(c.req.param("id")),
          principal,
        }),
    );
    return c.json(orderHistoryJson(history, orderView(principal)), 200);
  });

  return app;

  /**
   * Sets `Audit-Entry` to the receipt of the entry this request's change
   * wrote, if it wrote one (a replay or an unchanged order did not).
   */
  function setAuditEntry(c: Context<AppEnv>): void {
    const receipt = deps.auditReceipts?.take(c.get("serverRequestId"));
    if (receipt) c.header(AUDIT_ENTRY_HEADER, auditEntryHeader(receipt));
  }

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
    recording.recordChanged(c, outcome);
    setAuditEntry(c);
    c.header("ETag", orderEtag(outcome.order));
    return c.json(orderJson(outcome.order, orderView(principal)), 200);
  }
}

/** The listing's cursors for one request: the position it continues from, and the next. */
interface ListingCursor {
  /** The position of the request's `cursor`; undefined without one. */
  readonly after: OrderPosition | undefined;
  /** A cursor for `position`, for this caller and these filters. */
  encode(position: OrderPosition): string;
}

/**
 * The listing's cursors for `query` as `principal` sends it: bound to the
 * caller, to whether they see every order or only their own, and to the
 * `status` and `user_id` filters (not to `limit`). The request's `cursor`
 * is read here: one made for anything else, or holding anything but a
 * position, is a 400.
 */
function listingCursor(
  codec: CursorCodec,
  principal: Principal,
  query: ListOrdersQuery,
): ListingCursor {
  const binding = {
    kind: "orders",
    userId: principal.userId,
    scope: {
      every_order: listsEveryOrder(principal),
      status: query.status ?? null,
      user_id: query.userId ?? null,
    },
  };
  return {
    after: query.cursor === undefined
      ? undefined
      : orderPosition(codec.decode(binding, query.cursor)),
    encode: (position) =>
      codec.encode(binding, [position.createdAt, position.id]),
  };
}

/** A cursor's position as the listing wrote it: `[created_at, id]`. */
function orderPosition(parts: readonly (string | number)[]): OrderPosition {
  const [createdAt, id, ...rest] = parts;
  if (
    rest.length > 0 || typeof createdAt !== "number" ||
    !Number.isSafeInteger(createdAt) || createdAt < 0 ||
    typeof id !== "string" || normaliseOrderId(id) !== id
  ) {
    throw invalidCursor();
  }
  return { createdAt, id };
}

/**
 * The `Link` header of the next page (RFC 8288): the request's filters and
 * limit, without `offset`, with the next cursor.
 */
function nextPageLink(query: ListOrdersQuery, cursor: string): string {
  const next = new URLSearchParams();
  if (query.status !== undefined) next.set("status", query.status);
  if (query.userId !== undefined) next.set("user_id", String(query.userId));
  next.set("limit", String(query.limit));
  next.set("cursor", cursor);
  return `</v1/orders?${next}>; rel="next"`;
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
