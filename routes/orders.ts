/**
 * `/v1/orders`: create, list and read orders; update and cancel them; decide
 * the review of held ones; read their history.
 */
import { type Context, Hono } from "hono";
import {
  type AppliedOrderChange,
  applyOrderChangeWithOutcome,
  jitteredBackoff,
  type OrderChangeDeps,
} from "../domain/apply_order_change.ts";
import {
  createOrder,
  type CreateOrderOutcome,
} from "../domain/create_order.ts";
import { DomainError } from "../domain/errors.ts";
import { parseIdempotencyKey } from "../domain/idempotency.ts";
import { createKeyedQueue } from "../domain/keyed_queue.ts";
import { normaliseOrderId, type Order } from "../domain/order.ts";
import type { OrderChange } from "../domain/order_change.ts";
import { parseCancelOrder, parseOrderPatch } from "../domain/order_input.ts";
import { parseListOrdersQuery } from "../domain/order_query.ts";
import {
  assertAllowed,
  assertCanReadOrder,
  decideOrderAction,
  listingScope,
} from "../domain/policy.ts";
import { parseReviewDecision } from "../domain/review.ts";
import type { Metrics } from "../monitoring/metrics.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { parseIfMatch } from "./if_match.ts";
import { readJsonBody } from "./json_body.ts";
import {
  historyEventJson,
  orderEtag,
  orderJson,
  orderView,
} from "./order_json.ts";
import { userRateLimitStep } from "./rate_limit.ts";
import { securityEvent } from "./security_events.ts";

/** The orders sub-app. */
export function ordersRoutes(
  deps: AppDeps,
  parts: { metrics: Metrics },
): Hono<AppEnv> {
  const { metrics } = parts;
  const { store, clock } = deps;
  const limitOrderCreation = userRateLimitStep(deps, "order_creation");
  // This app's changes to one order wait for each other instead of racing.
  const orderChanges: OrderChangeDeps = {
    store,
    clock,
    queue: createKeyedQueue(),
    backoff: jitteredBackoff,
  };

  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const principal = c.get("principal");
      const idempotencyKey = parseIdempotencyKey(
        c.req.header("idempotency-key"),
      );
      const body = await readJsonBody(c);
      const view = orderView(principal);
      const outcome = await createOrder(deps, {
        principal,
        requestId: c.get("requestId"),
        body,
        idempotencyKey,
        countCreation: async () => {
          await limitOrderCreation(c);
        },
        render: (order) => JSON.stringify(orderJson(order, view)),
      });
      if (outcome.kind === "created") recordCreated(c, metrics, outcome.order);
      return createdResponse(c, outcome);
    })
    .get("/", async (c) => {
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
      });
    })
    .get("/:id", async (c) => {
      const id = normaliseOrderId(c.req.param("id"));
      const order = id === undefined ? undefined : await store.findOrder(id);
      if (!order) throw new DomainError("not_found", "No such order");
      const principal = c.get("principal");
      assertCanReadOrder(principal, order);
      c.header("ETag", orderEtag(order));
      return c.json(orderJson(order, orderView(principal)));
    })
    .patch(
      "/:id",
      (c) => changeOrder(c, async () => parseOrderPatch(await readJsonBody(c))),
    )
    .post("/:id/cancel", (c) =>
      changeOrder(
        c,
        async () => parseCancelOrder(await readJsonBody(c, { optional: true })),
      ))
    .post("/:id/review", (c) =>
      changeOrder(c, async () => ({
        review: parseReviewDecision(await readJsonBody(c)),
      })))
    .get("/:id/history", async (c) => {
      const id = normaliseOrderId(c.req.param("id"));
      const order = id === undefined ? undefined : await store.findOrder(id);
      if (!order) throw new DomainError("not_found", "No such order");
      assertAllowed(
        decideOrderAction(c.get("principal"), order, { kind: "read_history" }),
      );
      const entries = await store.listOrderHistory(order.id);
      const view = orderView(c.get("principal"));
      return c.json({
        events: entries.map((entry) => historyEventJson(entry, view)),
      });
    });

  /**
   * Applies a change (update, cancellation or review decision) and answers
   * with the order; a change that happened is counted and logged.
   */
  async function changeOrder(
    c: Context<AppEnv>,
    readChange: () => Promise<OrderChange>,
  ): Promise<Response> {
    const principal = c.get("principal");
    const outcome = await applyOrderChangeWithOutcome(orderChanges, {
      orderId: normaliseOrderId(c.req.param("id") ?? ""),
      principal,
      requestId: c.get("requestId"),
      expectedVersions: parseIfMatch(c.req.header("if-match")),
      readChange,
    });
    recordChanged(c, metrics, outcome);
    c.header("ETag", orderEtag(outcome.order));
    return c.json(orderJson(outcome.order, orderView(principal)));
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

/** The 201 of a created or replayed order, from its serialised body. */
function createdResponse(
  c: Context<AppEnv>,
  outcome: CreateOrderOutcome,
): Response {
  const { id, version } = JSON.parse(outcome.body) as {
    id: string;
    version: number;
  };
  c.header("Location", `/v1/orders/${id}`);
  c.header("ETag", orderEtag({ version }));
  c.header("Content-Type", "application/json");
  if (outcome.kind === "replayed") c.header("Idempotent-Replayed", "true");
  return c.body(outcome.body, outcome.status as 201);
}
