/**
 * `/v1/orders`: create, list and read orders.
 */
import { Hono } from "hono";
import {
  GENESIS_HASH,
  orderChainId,
  orderCreatedEntry,
  sealAuditEntry,
} from "../domain/audit.ts";
import { DomainError } from "../domain/errors.ts";
import { newOrder, normaliseOrderId } from "../domain/order.ts";
import { parseNewOrder } from "../domain/order_input.ts";
import { parseListOrdersQuery } from "../domain/order_query.ts";
import { canReadOrder, listingScope, orderOwnerFor } from "../domain/policy.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { readJsonBody } from "./json_body.ts";
import { orderEtag, orderJson } from "./order_json.ts";
import { userRateLimitStep } from "./rate_limit.ts";

/** The orders sub-app. */
export function ordersRoutes(deps: AppDeps): Hono<AppEnv> {
  const { store, clock } = deps;
  const limitOrderCreation = userRateLimitStep(deps, "order_creation");

  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const principal = c.get("principal");
      // After authentication, before validation. An idempotent replay must
      // not count: keep this step after the replay check.
      await limitOrderCreation(c);
      const input = parseNewOrder(await readJsonBody(c));
      const order = newOrder(input, {
        id: deps.newId(),
        userId: orderOwnerFor(principal, input.userId),
        now: clock.now(),
      });
      const entry = await sealAuditEntry(
        orderCreatedEntry(order, principal, c.get("requestId")),
        {
          chainId: orderChainId(order.id),
          chainSeq: 1,
          prevHash: GENESIS_HASH,
        },
      );
      await store.insertOrder(order, entry);
      c.header("Location", `/v1/orders/${order.id}`);
      c.header("ETag", orderEtag(order));
      return c.json(orderJson(order), 201);
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
    });
}
