import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { GENESIS_HASH } from "../../domain/audit.ts";
import {
  auditRowSeal,
  createOrder,
  orderBody,
  SERVER_SET_FIELDS,
  TEST_AUDIT_SEALER,
  withTestContext,
} from "../fixtures/mod.ts";

/** Order lines from rows of id, name, quantity, price and (answered) line total. */
function items(...rows: unknown[][]): Record<string, unknown>[] {
  return rows.map((
    [product_id, product_name, quantity, price, line_total],
  ) => ({
    product_id,
    product_name,
    quantity,
    price,
    ...(line_total !== undefined && { line_total }),
  }));
}

Deno.test("POST /v1/orders creates a pending order with an exact server-computed total", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const response = await ctx.request("POST", "/v1/orders", {
      token,
      body: orderBody({
        items: items(
          ["sku-1", "<b>Mug</b>", 2, 12.5],
          [7, "Tea", 3, "0.3333"],
          ["sku-3", "Cent", 1, 1.005],
        ),
        shipping_address: "<b>1 Main</b> St",
        ...SERVER_SET_FIELDS,
        status: "delivered",
      }),
    });
    assert.equal(response.status, 201);
    const order = await response.json();
    assert.match(
      order.id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(response.headers.get("location"), `/v1/orders/${order.id}`);
    assert.equal(response.headers.get("etag"), '"1"');
    assert.deepEqual(order, {
      id: order.id,
      user_id: 42,
      items: items(
        ["sku-1", "Mug", 2, "12.50", "25.00"],
        [7, "Tea", 3, "0.3333", "1.00"],
        ["sku-3", "Cent", 1, "1.005", "1.01"],
      ),
      // 25 + 0.9999 + 1.005 = 27.0049 → 27.00 (not the sum of rounded lines, 27.01)
      total: "27.00",
      currency: "USD",
      status: "pending",
      shipping_address: "1 Main St",
      version: 1,
      created_at: new Date(ctx.clock.now()).toISOString(),
      updated_at: new Date(ctx.clock.now()).toISOString(),
    });
  }));

Deno.test("POST /v1/orders writes the order.created audit entry as the first link of the order's chain", () =>
  withTestContext(async (ctx) => {
    const order = await createOrder(
      ctx,
      await ctx.token(42, ["fulfillment"]),
      orderBody({ currency: "EUR" }),
    );
    const rows = await ctx.database.db.all<Record<string, unknown>>(
      sql`SELECT * FROM audit_log WHERE order_id = ${order.id}`,
    );
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.action, "order.created");
    assert.equal(row.chain_id, `order:${order.id}`);
    assert.equal(row.chain_seq, 1);
    assert.equal(row.actor_user_id, 42);
    assert.equal(row.actor_roles, '["fulfillment","user"]');
    assert.equal(row.prev_hash, GENESIS_HASH);
    const changes = JSON.parse(String(row.changes));
    assert.deepEqual(changes.status, { from: null, to: "pending" });
    assert.deepEqual(changes.total, { from: null, to: "25.00" });
    assert.deepEqual(changes.currency, { from: null, to: "EUR" });
    assert.equal(row.seal, "hmac-sha256");
    assert.equal(row.key_id, TEST_AUDIT_SEALER.keyId);
    assert.equal(row.hash, auditRowSeal(row));
  }));

Deno.test("POST /v1/orders leaves nothing behind when any part of the atomic write fails", async () => {
  const fixedId = "11111111-1111-4111-8111-111111111111";
  await withTestContext(async (ctx) => {
    // Occupy the first link of the order's chain so the audit insert fails.
    await ctx.database.db.run(sql`INSERT INTO audit_log
    (chain_id, chain_seq, order_id, action, actor_user_id, actor_roles, request_id, at, changes, prev_hash, hash, seal, key_id)
    VALUES (${`order:${fixedId}`}, 1, NULL, 'test', 1, '[]', 'r', 0, '{}', '', '', 'hmac-sha256', 'k')`);
    const response = await ctx.request("POST", "/v1/orders", {
      token: await ctx.token(42),
      body: orderBody(),
    });
    assert.equal(response.status, 500);
    const body = await response.json();
    assert.equal(body.detail, "The server could not complete the request");
    assert.doesNotMatch(
      JSON.stringify(body),
      /SQL|UNIQUE|libsql|audit_log|\.ts/i,
    );
    const [orders] = await ctx.database.db.all<{ n: number }>(
      sql`SELECT count(*) AS n FROM orders`,
    );
    const [items] = await ctx.database.db.all<{ n: number }>(
      sql`SELECT count(*) AS n FROM order_items`,
    );
    assert.equal(orders?.n, 0);
    assert.equal(items?.n, 0);
  }, { newId: () => fixedId });
});

Deno.test("POST /v1/orders answers 400 for empty or too many items and 422 for malformed parts", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const item = { product_id: "a", product_name: "A", quantity: 1, price: 1 };
    const cases: [unknown, number][] = [
      [orderBody({ items: [] }), 400],
      [{ shipping_address: "x" }, 400],
      [orderBody({ items: Array.from({ length: 101 }, () => item) }), 400],
      [orderBody({ items: [{ ...item, quantity: -1 }] }), 422],
      [orderBody({ items: [{ ...item, price: -1 }] }), 422],
      [orderBody({ items: "a" }), 422],
      [orderBody({ shipping_address: "" }), 422],
      [orderBody({ user_id: "42" }), 422],
      [orderBody({ currency: "dollars" }), 422],
      [[orderBody()], 422],
    ];
    for (const [body, status] of cases) {
      const response = await ctx.request("POST", "/v1/orders", { token, body });
      assert.equal(response.status, status, JSON.stringify(body).slice(0, 80));
      assert.equal(
        response.headers.get("content-type"),
        "application/problem+json",
      );
      const problem = await response.json();
      assert.ok(Array.isArray(problem.errors) && problem.errors.length > 0);
      assert.equal(problem.request_id, response.headers.get("x-request-id"));
    }
  }));

Deno.test("POST /v1/orders lets only an admin create an order for another user", () =>
  withTestContext(async (ctx) => {
    const forOther = orderBody({ user_id: 7 });
    const user = await ctx.request("POST", "/v1/orders", {
      token: await ctx.token(42),
      body: forOther,
    });
    assert.equal(user.status, 403);
    const fulfillment = await ctx.request("POST", "/v1/orders", {
      token: await ctx.token(43, ["fulfillment"]),
      body: forOther,
    });
    assert.equal(fulfillment.status, 403);
    const self = await ctx.request("POST", "/v1/orders", {
      token: await ctx.token(42),
      body: orderBody({ user_id: 42 }),
    });
    assert.equal(self.status, 201);
    const admin = await createOrder(
      ctx,
      await ctx.token(1, ["admin"]),
      forOther,
    );
    assert.equal(admin.user_id, 7);
    // Validation comes before ownership: an invalid body for another user is a 422.
    const invalid = await ctx.request("POST", "/v1/orders", {
      token: await ctx.token(42),
      body: orderBody({ user_id: 7, shipping_address: "" }),
    });
    assert.equal(invalid.status, 422);
  }));

Deno.test("GET /v1/orders/:id returns the order to its owner, fulfillment and admins, and 403 to others", () =>
  withTestContext(async (ctx) => {
    const order = await createOrder(ctx, await ctx.token(42));
    for (
      const token of [
        await ctx.token(42),
        await ctx.token(9, ["fulfillment"]),
        await ctx.token(8, ["admin"]),
      ]
    ) {
      const response = await ctx.request("GET", `/v1/orders/${order.id}`, {
        token,
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("etag"), '"1"');
      assert.deepEqual(await response.json(), order);
    }
    const other = await ctx.request("GET", `/v1/orders/${order.id}`, {
      token: await ctx.token(43, ["Admin", "support"]),
    });
    assert.equal(other.status, 403);
    assert.equal((await other.json()).status, 403);
  }));

Deno.test("GET /v1/orders/:id matches ids case-insensitively and answers 404 for unknown or non-UUID ids", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const order = await createOrder(ctx, token);
    const upper = await ctx.request(
      "GET",
      `/v1/orders/${order.id.toUpperCase()}`,
      { token },
    );
    assert.equal(upper.status, 200);
    assert.equal((await upper.json()).id, order.id);
    for (
      const id of [
        crypto.randomUUID(),
        "1",
        "not-a-uuid",
        "' OR 1=1 --",
        "%27%20OR%201%3D1",
      ]
    ) {
      const response = await ctx.request("GET", `/v1/orders/${id}`, { token });
      assert.equal(response.status, 404, id);
      assert.equal(
        response.headers.get("content-type"),
        "application/problem+json",
      );
    }
  }));

Deno.test("GET /v1/orders lists a user's own orders newest first with count, limit and offset", () =>
  withTestContext(async (ctx) => {
    const alice = await ctx.token(42);
    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push(await createOrder(ctx, alice));
      ctx.clock.advance(1000);
    }
    await createOrder(ctx, await ctx.token(43));
    const response = await ctx.request(
      "GET",
      "/v1/orders?limit=2&offset=1&unknown=x",
      { token: alice },
    );
    assert.equal(response.status, 200);
    const page = await response.json();
    assert.equal(page.count, 5);
    assert.equal(page.limit, 2);
    assert.equal(page.offset, 1);
    assert.deepEqual(page.orders.map((o: { id: string }) => o.id), [
      created[3].id,
      created[2].id,
    ]);
    const all = await (await ctx.request("GET", "/v1/orders", { token: alice }))
      .json();
    assert.equal(all.limit, 20);
    assert.equal(all.offset, 0);
    assert.deepEqual(
      all.orders.map((o: { id: string }) => o.id),
      created.map((o) => o.id).reverse(),
    );
    assert.deepEqual(all.orders[0], created[4]);
  }));

Deno.test("GET /v1/orders breaks created_at ties by id, descending", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await createOrder(ctx, token)).id);
    const page = await (await ctx.request("GET", "/v1/orders", { token }))
      .json();
    assert.deepEqual(
      page.orders.map((o: { id: string }) => o.id),
      [...ids].sort().reverse(),
    );
  }));

Deno.test("GET /v1/orders shows fulfillment and admins every order and filters by user and status", () =>
  withTestContext(async (ctx) => {
    await createOrder(ctx, await ctx.token(42));
    await createOrder(ctx, await ctx.token(42));
    await createOrder(ctx, await ctx.token(43));
    for (
      const token of [
        await ctx.token(1, ["admin"]),
        await ctx.token(2, ["fulfillment"]),
      ]
    ) {
      assert.equal(
        (await (await ctx.request("GET", "/v1/orders", { token })).json())
          .count,
        3,
      );
      const filtered =
        await (await ctx.request("GET", "/v1/orders?user_id=43", { token }))
          .json();
      assert.equal(filtered.count, 1);
      assert.equal(filtered.orders[0].user_id, 43);
      const pending =
        await (await ctx.request("GET", "/v1/orders?status=pending", { token }))
          .json();
      assert.equal(pending.count, 3);
      const shipped =
        await (await ctx.request("GET", "/v1/orders?status=shipped", { token }))
          .json();
      assert.equal(shipped.count, 0);
    }
  }));

Deno.test("GET /v1/orders answers 403 when a user filters by another user", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    assert.equal(
      (await ctx.request("GET", "/v1/orders?user_id=43", { token })).status,
      403,
    );
    assert.equal(
      (await ctx.request("GET", "/v1/orders?user_id=42", { token })).status,
      200,
    );
  }));

Deno.test("GET /v1/orders answers 422 for out-of-range or mistyped query parameters", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(1, ["admin"]);
    for (
      const query of [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=1.5",
        "limit=-1",
        "limit=",
        "offset=-1",
        "offset=100001",
        "offset=1e3",
        "status=lost",
        "status=PENDING",
        "user_id=0",
        "user_id=abc",
        "user_id=9007199254740992",
        "user_id=1%20OR%201%3D1",
      ]
    ) {
      const response = await ctx.request("GET", `/v1/orders?${query}`, {
        token,
      });
      assert.equal(response.status, 422, query);
      const problem = await response.json();
      assert.ok(problem.errors.length > 0, query);
    }
    for (
      const query of [
        "limit=100",
        "limit=1",
        "offset=100000",
        "status=cancelled",
      ]
    ) {
      assert.equal(
        (await ctx.request("GET", `/v1/orders?${query}`, { token })).status,
        200,
        query,
      );
    }
  }));

Deno.test("text that looks like SQL is stored and returned as plain data", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const hostile = "x'); DROP TABLE orders; --";
    const order = await createOrder(
      ctx,
      token,
      orderBody({
        items: [{
          product_id: hostile,
          product_name: hostile,
          quantity: 1,
          price: 1,
        }],
        shipping_address: hostile,
      }),
    );
    assert.equal(order.shipping_address, hostile);
    assert.equal(order.items[0].product_id, hostile);
    const read =
      await (await ctx.request("GET", `/v1/orders/${order.id}`, { token }))
        .json();
    assert.deepEqual(read, order);
  }));
