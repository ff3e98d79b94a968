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
import { newOrder, normaliseOrderId } from "../domain/order.ts";
import {
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
} from "../domain/order_input.ts";
import { parseListOrdersQuery } from "../domain/order_query.ts";
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

/** The orders sub-app. */
export function ordersRoutes(deps: AppDeps): Hono<AppEnv> {
  const { store, clock } = deps;

  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const principal = c.get("principal");
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
