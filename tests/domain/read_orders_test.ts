/**
 * Reading orders (`readOrder`, `listOrders`, `readOrderHistory`) on the
 * real store (encrypting, over an in-memory libSQL database with the real
 * migrations): who may read what, what a listing shows each caller, and
 * what is read before anything is decided.
 */
import assert from "node:assert/strict";
import { NO_SUCH_ORDER } from "../../domain/apply_order_change.ts";
import { NOT_YOUR_ORDER } from "../../domain/policy.ts";
import type { OrderStore } from "../../domain/ports.ts";
import {
  listOrders,
  readOrder,
  readOrderHistory,
} from "../../domain/read_orders.ts";
import { ADMIN, FULFILLMENT, OTHER, OWNER } from "../fixtures/domain.ts";
import {
  cancelAsOwner,
  placeOrder,
  recordingCalls,
  rejectsWithDomainError,
  withTestContext,
} from "../fixtures/mod.ts";

/** The store, recording the name of each read into `reads`. */
function recording(store: OrderStore, reads: string[]): OrderStore {
  return recordingCalls(store, [
    "findOrder",
    "findOrderWithHistory",
    "listOrderHistory",
    "listOrders",
  ], reads);
}

Deno.test("readOrder gives the order to its owner, fulfillment and admins, and refuses other users with forbidden", (t) =>
  withTestContext(async (ctx) => {
    const order = await placeOrder(ctx, OWNER);
    const deps = { store: ctx.store };
    const readers = { owner: OWNER, fulfillment: FULFILLMENT, admin: ADMIN };
    for (const [who, principal] of Object.entries(readers)) {
      await t.step(`${who} reads it`, async () => {
        const read = await readOrder(deps, { orderId: order.id, principal });
        assert.equal(read.id, order.id);
        assert.equal(read.userId, OWNER.userId);
        assert.equal(read.shippingAddress, order.shippingAddress);
      });
    }
    await t.step("another user is refused", async () => {
      await rejectsWithDomainError(
        readOrder(deps, { orderId: order.id, principal: OTHER }),
        "forbidden",
        NOT_YOUR_ORDER,
      );
    });
  }));

Deno.test("readOrder and readOrderHistory refuse an unknown id, and an id that is not a UUID, with not_found", (t) =>
  withTestContext(async (ctx) => {
    const cases = [
      ["readOrder", readOrder, "findOrder"],
      ["readOrderHistory", readOrderHistory, "findOrderWithHistory"],
    ] as const;
    for (const [name, read, lookUp] of cases) {
      await t.step(name, async () => {
        const reads: string[] = [];
        const deps = { store: recording(ctx.store, reads) };
        for (const orderId of [crypto.randomUUID(), undefined]) {
          await rejectsWithDomainError(
            read(deps, { orderId, principal: ADMIN }),
            "not_found",
            NO_SUCH_ORDER,
          );
        }
        assert.deepEqual(reads, [lookUp], "no look-up without an id");
      });
    }
  }));

Deno.test("readOrder reads the order before awaiting admitted and decides nothing until it settles", () =>
  withTestContext(async (ctx) => {
    const order = await placeOrder(ctx, OWNER);
    const events: string[] = [];
    const deps = { store: recording(ctx.store, events) };
    const refused = new Error("rate limited");
    const admitted = (refusal?: Error) => () => {
      events.push("admitted");
      return refusal ? Promise.reject(refusal) : Promise.resolve();
    };
    // The verdict's refusal wins over what the order would have answered.
    for (const orderId of [order.id, crypto.randomUUID(), undefined]) {
      await assert.rejects(
        readOrder(deps, {
          orderId,
          principal: OTHER,
          admitted: admitted(refused),
        }),
        (error) => error === refused,
      );
    }
    assert.deepEqual(events, [
      "findOrder",
      "admitted",
      "findOrder",
      "admitted",
      "admitted",
    ]);
    events.length = 0;
    const read = await readOrder(deps, {
      orderId: order.id,
      principal: OWNER,
      admitted: admitted(),
    });
    assert.equal(read.id, order.id);
    assert.deepEqual(events, ["findOrder", "admitted"]);
  }));

Deno.test("listOrders shows users their own orders only and refuses a filter naming another user", () =>
  withTestContext(async (ctx) => {
    const first = await placeOrder(ctx, OWNER);
    await placeOrder(ctx, OTHER);
    const second = await placeOrder(ctx, OWNER);
    const deps = { store: ctx.store };
    const query = { limit: 20, offset: 0, status: undefined };
    for (const userId of [undefined, OWNER.userId]) {
      const listing = await listOrders(deps, {
        principal: OWNER,
        query: { ...query, userId },
      });
      assert.deepEqual(listing.orders.map((o) => o.id), [second.id, first.id]);
      assert.equal(listing.count, 2);
    }
    await rejectsWithDomainError(
      listOrders(deps, {
        principal: OWNER,
        query: { ...query, userId: OTHER.userId },
      }),
      "forbidden",
      "You may list only your own orders",
    );
  }));

Deno.test("listOrders shows fulfillment and admins every order, or one user's when they filter", () =>
  withTestContext(async (ctx) => {
    const mine = await placeOrder(ctx, OWNER);
    const theirs = await placeOrder(ctx, OTHER);
    const deps = { store: ctx.store };
    const query = { limit: 20, offset: 0, status: undefined };
    for (const principal of [FULFILLMENT, ADMIN]) {
      const all = await listOrders(deps, {
        principal,
        query: { ...query, userId: undefined },
      });
      assert.deepEqual(all.orders.map((o) => o.id), [theirs.id, mine.id]);
      assert.equal(all.count, 2);
      const filtered = await listOrders(deps, {
        principal,
        query: { ...query, userId: OTHER.userId },
      });
      assert.deepEqual(filtered.orders.map((o) => o.id), [theirs.id]);
      assert.equal(filtered.count, 1);
    }
  }));

Deno.test("listOrders returns the page the query asks for, with its limit, offset and the count of all matches", () =>
  withTestContext(async (ctx) => {
    const orders = [];
    for (let i = 0; i < 5; i++) orders.push(await placeOrder(ctx, OWNER));
    const cancelled = orders[1]!;
    await cancelAsOwner(ctx, cancelled);
    const deps = { store: ctx.store };
    const page = await listOrders(deps, {
      principal: OWNER,
      query: { limit: 2, offset: 1, status: undefined, userId: undefined },
    });
    assert.deepEqual(
      page.orders.map((o) => o.id),
      [orders[3]!.id, orders[2]!.id],
    );
    assert.equal(page.limit, 2);
    assert.equal(page.offset, 1);
    assert.equal(page.count, 5);
    const byStatus = await listOrders(deps, {
      principal: OWNER,
      query: { limit: 20, offset: 0, status: "cancelled", userId: undefined },
    });
    assert.deepEqual(byStatus.orders.map((o) => o.id), [cancelled.id]);
    assert.equal(byStatus.count, 1);
  }));

Deno.test("readOrderHistory gives the owner and admins the order's entries, oldest first, in one read", () =>
  withTestContext(async (ctx) => {
    const order = await placeOrder(ctx, OWNER);
    await cancelAsOwner(ctx, order, "Changed my mind");
    for (const principal of [OWNER, ADMIN]) {
      const reads: string[] = [];
      const deps = { store: recording(ctx.store, reads) };
      const found = await readOrderHistory(deps, {
        orderId: order.id,
        principal,
      });
      assert.equal(found.order.id, order.id);
      assert.equal(found.order.status, "cancelled");
      assert.deepEqual(
        found.history.map((entry) => [entry.chainSeq, entry.action]),
        [[1, "order.created"], [2, "order.cancelled"]],
      );
      assert.deepEqual(reads, ["findOrderWithHistory"]);
    }
  }));

Deno.test("readOrderHistory refuses fulfillment and other users with forbidden", () =>
  withTestContext(async (ctx) => {
    const order = await placeOrder(ctx, OWNER);
    const deps = { store: ctx.store };
    await rejectsWithDomainError(
      readOrderHistory(deps, { orderId: order.id, principal: FULFILLMENT }),
      "forbidden",
      "Only the owner or an admin may read an order's history",
    );
    await rejectsWithDomainError(
      readOrderHistory(deps, { orderId: order.id, principal: OTHER }),
      "forbidden",
      NOT_YOUR_ORDER,
    );
  }));
