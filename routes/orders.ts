/**
 * `/v1/orders`: create, list and read orders; update and cancel them; decide
 * the review of held ones; read their history.
 */
import { Hono } from "hono";
import {
  type AppliedOrderChange,
  applyOrderChangeWithOutcome,
  jitteredBackoff,
  type OrderChangeDeps,
} from "../domain/apply_order_change.ts";
import { orderCreatedEntry } from "../domain/audit.ts";
import { DomainError } from "../domain/errors.ts";
import { createKeyedQueue } from "../domain/keyed_queue.ts";
import {
  CLAIM_TTL_MS,
  type KeyHeld,
  keyHeldOutcome,
  parseIdempotencyKey,
  REPLAY_WINDOW_MS,
  requestFingerprint,
} from "../domain/idempotency.ts";
import { newOrder, normaliseOrderId, type Order } from "../domain/order.ts";
import type { KeyClaim } from "../domain/ports.ts";
import type { OrderChange } from "../domain/order_change.ts";
import {
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
} from "../domain/order_input.ts";
import { parseListOrdersQuery } from "../domain/order_query.ts";
import type { Context } from "hono";
import {
  assertAllowed,
  assertCanReadOrder,
  decideOrderAction,
  listingScope,
  orderOwnerFor,
} from "../domain/policy.ts";
import {
  parseReviewDecision,
  reviewHoldFor,
  VELOCITY_WINDOW_MS,
} from "../domain/review.ts";
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
      const key = parseIdempotencyKey(c.req.header("idempotency-key"));
      const body = await readJsonBody(c);
      const now = clock.now();
      const claim = key === undefined ? undefined : {
        userId: principal.userId,
        key,
        fingerprint: await requestFingerprint(body),
        claimToken: deps.newId(),
        now,
      };
      if (claim) {
        const held = await store.claimIdempotencyKey(claim, {
          replayCutoff: now - REPLAY_WINDOW_MS,
          claimCutoff: now - CLAIM_TTL_MS,
        });
        if (held) {
          return answerHeldKey(c, keyHeldOutcome(held, claim.fingerprint));
        }
      }
      try {
        // The contract's order: rate limit, validation, ownership. A replay
        // (answered above) never counts against the creation limit.
        await limitOrderCreation(c);
        const input = parseNewOrder(body);
        const draft = newOrder(input, {
          id: deps.newId(),
          userId: orderOwnerFor(principal, input.userId),
          now,
          createdBy: principal.userId,
        });
        const { order, responseBody } = await writeNewOrder(
          c,
          draft,
          claim,
        );
        recordCreated(c, metrics, order);
        return createdResponse(c, 201, responseBody);
      } catch (error) {
        // Only a 201 is stored: a failed first attempt leaves the key free.
        if (claim) {
          await store.releaseIdempotencyKey(
            claim.userId,
            claim.key,
            claim.claimToken,
          )
            .catch(() => {});
        }
        throw error;
      }
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
   * Decides the review hold of a new order and writes it with its audit
   * entry (and the key's completion). Unless the order is already held for
   * velocity, the write re-checks the velocity count in its transaction, so
   * concurrent creations cannot all slip under it; when that check fails,
   * the order is held and written again.
   */
  async function writeNewOrder(
    c: Context<AppEnv>,
    draft: Order,
    claim: KeyClaim | undefined,
  ): Promise<{ order: Order; responseBody: string }> {
    const principal = c.get("principal");
    const { userId } = draft;
    const policy = deps.reviewPolicy;
    // The velocity rule counts only orders users create for themselves.
    const selfCreated = userId === principal.userId;
    const since = draft.createdAt - VELOCITY_WINDOW_MS;
    let recent = selfCreated
      ? await store.countOwnOrdersSince(userId, since)
      : undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const review = reviewHoldFor(draft, recent, policy);
      const order: Order = review ? { ...draft, review } : draft;
      const entry = orderCreatedEntry(order, principal, c.get("requestId"));
      const responseBody = JSON.stringify(
        orderJson(order, orderView(principal)),
      );
      const guard = selfCreated && !review?.reasons.includes("velocity")
        ? { userId, since, below: policy.velocityOrders }
        : undefined;
      const written = await store.insertOrder(
        order,
        entry,
        claim && { ...claim, responseBody },
        guard,
      );
      if (written) return { order, responseBody };
      if (guard === undefined) break;
      // The guard or the key claim failed: the count tells which.
      recent = await store.countOwnOrdersSince(userId, since);
      if (recent < policy.velocityOrders) break;
    }
    throw new DomainError(
      "conflict",
      "Another request took over this Idempotency-Key: retry the request",
    );
  }

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

/** A 201 for a created order, from its serialised body. */
function createdResponse(
  c: Context<AppEnv>,
  status: number,
  body: string,
  replayed = false,
): Response {
  const { id, version } = JSON.parse(body) as { id: string; version: number };
  c.header("Location", `/v1/orders/${id}`);
  c.header("ETag", orderEtag({ version }));
  c.header("Content-Type", "application/json");
  if (replayed) c.header("Idempotent-Replayed", "true");
  return c.body(body, status as 201);
}

/** The answer to a request whose Idempotency-Key another request holds. */
function answerHeldKey(c: Context<AppEnv>, outcome: KeyHeld): Response {
  switch (outcome.kind) {
    case "replay":
      return createdResponse(c, outcome.status, outcome.body, true);
    case "mismatch":
      throw new DomainError(
        "validation_failed",
        "This Idempotency-Key was used with a different request body",
        [{
          path: "Idempotency-Key",
          message: "Already used with a different request body",
        }],
      );
    case "in_flight":
      throw new DomainError(
        "conflict",
        "A request with this Idempotency-Key is still in progress: retry later",
      );
  }
}
