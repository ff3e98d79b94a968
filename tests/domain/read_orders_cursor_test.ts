/**
 * The keyset side of `listOrders` (`domain/read_orders.ts`) on the real
 * store: where the next page starts, that it starts there, and whose view
 * a cursor is bound to (`listsEveryOrder`).
 */
import assert from "node:assert/strict";
import type { OrderPosition } from "../../domain/ports.ts";
import { OWNER } from "../fixtures/domain.ts";
import { listOrders, listsEveryOrder } from "../../domain/read_orders.ts";
import { createOrder, withTestContext } from "../fixtures/mod.ts";

Deno.test("listOrders gives the position of the page's last order while an older one matches, none on the last page, and continues after it", () =>
  withTestContext(async (ctx, who) => {
    // Two pairs of orders share a millisecond.
    for (let i = 0; i < 5; i++) {
      await createOrder(ctx, who.owner);
      ctx.clock.advance(i % 2);
    }
    const query = { limit: 2, offset: 0, status: undefined, userId: undefined };
    const deps = { store: ctx.store };
    const seen: string[] = [];
    let after: OrderPosition | undefined;
    const nexts = [];
    do {
      const page = await listOrders(deps, { principal: OWNER, query, after });
      assert.ok(page.orders.length <= 2);
      assert.equal(page.count, 5, "the count ignores the position");
      seen.push(...page.orders.map((order) => order.id));
      const last = page.orders.at(-1)!;
      if (page.next !== undefined) {
        assert.deepEqual(page.next, { createdAt: last.createdAt, id: last.id });
      }
      nexts.push(page.next !== undefined);
      after = page.next;
    } while (after !== undefined);
    assert.deepEqual(nexts, [true, true, false]);
    const all = await listOrders(deps, {
      principal: OWNER,
      query: { ...query, limit: 5 },
    });
    assert.deepEqual(seen, all.orders.map((order) => order.id));
    assert.equal(all.next, undefined, "a full last page has no next");
  }));

Deno.test("listsEveryOrder: fulfillment and admins list every order, users their own", () => {
  assert.equal(listsEveryOrder(OWNER), false);
  assert.equal(
    listsEveryOrder({ userId: 8, roles: ["fulfillment", "user"] }),
    true,
  );
  assert.equal(listsEveryOrder({ userId: 9, roles: ["admin", "user"] }), true);
});
