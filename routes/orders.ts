/**
 * `/v1/orders`: create, list and read orders; update and cancel them; read
 * their history.
 */
import { Hono } from "hono";
import { applyOrderChange } from "../domain/apply_order_change.ts";
import {
  GENESIS_HASH,
  orderChainId,
  orderCreatedEntry,
  sealAuditEntry,
} from "../domain/audit.ts";
import { DomainError } from "../domain/errors.ts";
import {
  CLAIM_TTL_MS,
  type KeyHeld,
  keyHeldOutcome,
  parseIdempotencyKey,
  REPLAY_WINDOW_MS,
  requestFingerprint,
} from "../domain/idempotency.ts";
import { newOrder, normaliseOrderId } from "../domain/order.ts";
import {
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
} from "../domain/order_input.ts";
import { parseListOrdersQuery } from "../domain/order_query.ts";
import type { Context } from "hono";
import {
  assertAllowed,
  canReadOrder,
  decideOrderAction,
  listingScope,
  orderOwnerFor,
} from "../domain/policy.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { parseIfMatch } from "./if_match.ts";
import { readJsonBody } from "./json_body.ts";
import { historyEventJson, orderEtag, orderJson } from "./order_json.ts";
import { userRateLimitStep } from "./rate_limit.ts";

/** The orders sub-app. */
export function ordersRoutes(deps: AppDeps): Hono<AppEnv> {
  const { store, clock } = deps;
  const limitOrderCreation = userRateLimitStep(deps, "order_creation");

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
        const order = newOrder(input, {
          id: deps.newId(),
          userId: orderOwnerFor(principal, input.userId),
          now,
        });
        const entry = await sealAuditEntry(
          orderCreatedEntry(order, principal, c.get("requestId")),
          {
            chainId: orderChainId(order.id),
            chainSeq: 1,
            prevHash: GENESIS_HASH,
          },
        );
        const responseBody = JSON.stringify(orderJson(order));
        const written = await store.insertOrder(
          order,
          entry,
          claim && { ...claim, responseBody },
        );
        if (!written) {
          throw new DomainError(
            "conflict",
            "Another request took over this Idempotency-Key: retry the request",
          );
        }
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
      const query = parseListOrdersQuery(c.req.query());
      const userId = listingScope(c.get("principal"), query.userId);
      const page = await store.listOrders({ ...query, userId });
      return c.json({
        orders: page.orders.map(orderJson),
        limit: query.limit,
        offset: query.offset,
        count: page.count,
      });
    })
    .get("/:id", async (c) => {
      const id = normaliseOrderId(c.req.param("id"));
      const order = id === undefined ? undefined : await store.findOrder(id);
      if (!order) throw new DomainError("not_found", "No such order");
      if (!canReadOrder(c.get("principal"), order)) {
        throw new DomainError(
          "forbidden",
          "This order belongs to another user",
        );
      }
      c.header("ETag", orderEtag(order));
      return c.json(orderJson(order));
    })
    .patch("/:id", async (c) => {
      const order = await applyOrderChange(deps, {
        orderId: normaliseOrderId(c.req.param("id")),
        principal: c.get("principal"),
        requestId: c.get("requestId"),
        expectedVersions: parseIfMatch(c.req.header("if-match")),
        readChange: async () => parseOrderPatch(await readJsonBody(c)),
      });
      c.header("ETag", orderEtag(order));
      return c.json(orderJson(order));
    })
    .post("/:id/cancel", async (c) => {
      const order = await applyOrderChange(deps, {
        orderId: normaliseOrderId(c.req.param("id")),
        principal: c.get("principal"),
        requestId: c.get("requestId"),
        expectedVersions: parseIfMatch(c.req.header("if-match")),
        readChange: async () =>
          parseCancelOrder(await readJsonBody(c, { optional: true })),
      });
      c.header("ETag", orderEtag(order));
      return c.json(orderJson(order));
    })
    .get("/:id/history", async (c) => {
      const id = normaliseOrderId(c.req.param("id"));
      const order = id === undefined ? undefined : await store.findOrder(id);
      if (!order) throw new DomainError("not_found", "No such order");
      assertAllowed(
        decideOrderAction(c.get("principal"), order, { kind: "read_history" }),
      );
      const entries = await store.listOrderHistory(order.id);
      return c.json({ events: entries.map(historyEventJson) });
    });
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
