/**
 * `GET /v1/users/{user_id}/export` and `DELETE /v1/users/{user_id}/personal-data`:
 * who may call them, the 409 while an order still needs its address, what
 * an erasure keeps and destroys, its own audit event, and `audit:verify`
 * passing afterwards.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import {
  countRows,
  createOrder,
  expectJson,
  getJson,
  type Json,
  orderBody,
  type TestContext,
  withTestContext,
} from "../fixtures/mod.ts";

const ADDRESS = "1 Main St, Springfield";

function patch(
  ctx: TestContext,
  id: string,
  token: string,
  body: unknown,
): Promise<Response> {
  return ctx.request("PATCH", `/v1/orders/${id}`, { token, body });
}

function erase(
  ctx: TestContext,
  userId: number | string,
  token: string,
  requestId?: string,
): Promise<Response> {
  return ctx.request("DELETE", `/v1/users/${userId}/personal-data`, {
    token,
    ...(requestId !== undefined && { headers: { "X-Request-Id": requestId } }),
  });
}

/** Cancels an order as `token`, so nothing it holds stops an erasure. */
async function cancel(
  ctx: TestContext,
  id: string,
  token: string,
  reason?: string,
): Promise<void> {
  const response = await ctx.request("POST", `/v1/orders/${id}/cancel`, {
    token,
    ...(reason !== undefined && { body: { reason } }),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

/** The `events` of user 42's export, as `token` reads it. */
async function exportedEvents(ctx: TestContext, token: string): Promise<Json> {
  return (await getJson(ctx, "/v1/users/42/export", token)).events;
}

/** User 42's data key and its wrapped form, read before it is destroyed. */
async function liveKeyOf42(
  ctx: TestContext,
): Promise<{ keyId: string; wrappedKey: string }> {
  const [row] = (await ctx.database.client.execute(
    "SELECT key_id, wrapped_key FROM user_keys WHERE user_id = 42 AND destroyed_at IS NULL",
  )).rows;
  assert.ok(row, "user 42 has a live key");
  return { keyId: String(row.key_id), wrappedKey: String(row.wrapped_key) };
}

/**
 * Erases user 42's data as `token` under `requestId`, asserting the 204, and
 * returns the export's events that must show it: one erasure event, with
 * the service's own id of the request.
 */
async function eraseUser42(
  ctx: TestContext,
  token: string,
  event: { seq: number; actor: Json; requestId: string; keyId: string },
): Promise<Json[]> {
  const at = new Date(ctx.clock.now()).toISOString();
  const response = await erase(ctx, 42, token, event.requestId);
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("x-request-id"), event.requestId);
  return [{
    seq: event.seq,
    action: "user.personal_data_erased",
    actor: event.actor,
    at,
    request_id: response.headers.get("x-server-request-id"),
    changes: {
      user_id: { from: 42, to: 42 },
      data_key: { from: event.keyId, to: null },
    },
  }];
}

Deno.test("GET /v1/users/:id/export returns every order of the user with its history", () =>
  withTestContext(async (ctx, { owner, admin }) => {
    const first = await createOrder(ctx, owner);
    ctx.clock.advance(1000);
    const second = await createOrder(ctx, owner, {
      shipping_address: "2 Side St",
    });
    await expectJson(
      await patch(ctx, first.id, owner, { shipping_address: "3 New Rd" }),
      200,
    );
    await createOrder(ctx, await ctx.token(43));
    ctx.clock.advance(5000);

    for (const token of [owner, admin]) {
      const response = await ctx.request("GET", "/v1/users/42/export", {
        token,
      });
      assert.equal(response.headers.get("cache-control"), "no-store");
      const body = await expectJson(response, 200);
      assert.deepEqual(Object.keys(body), [
        "user_id",
        "exported_at",
        "orders",
        "events",
      ]);
      assert.deepEqual(body.events, [], "no erasure, no event");
      assert.equal(body.user_id, 42);
      assert.equal(body.exported_at, new Date(ctx.clock.now()).toISOString());
      // Newest first, as the listing orders them; each order as GET shows
      // it, plus its history as GET …/history shows it.
      assert.deepEqual(
        body.orders.map((o: Json) => o.id),
        [second.id, first.id],
      );
      for (const { history, ...order } of body.orders) {
        const path = `/v1/orders/${order.id}`;
        assert.deepEqual(order, await getJson(ctx, path, owner));
        const { events } = await getJson(ctx, `${path}/history`, owner);
        assert.deepEqual(history, events);
      }
      assert.equal(body.orders[1].shipping_address, "3 New Rd");
      assert.equal(body.orders[1].history.length, 2);
    }
    const logged = ctx.logs.filter((l) => l.event === "personal_data.exported");
    assert.deepEqual(
      logged.map((l) => [l.user_id, l.actor_user_id, l.orders]),
      [
        [42, 42, 2],
        [42, 9, 2],
      ],
    );

    const empty = await getJson(
      ctx,
      "/v1/users/77/export",
      await ctx.token(77),
    );
    assert.deepEqual(empty.orders, []);
  }));

Deno.test("export and erasure: only the user themself or an admin; a malformed user id is 404", (t) =>
  withTestContext(async (ctx, { owner, admin }) => {
    const cases: [string, string, string | number, number][] = [
      ["another user", await ctx.token(43), 42, 403],
      ["fulfillment", await ctx.token(8, ["fulfillment"]), 42, 403],
      ["fulfillment for themself", await ctx.token(42, ["fulfillment"]), 42, 0],
      ["an unknown role", await ctx.token(43, ["Admin", "root"]), 42, 403],
      ["the user", owner, 42, 0],
      ["an admin", admin, 42, 0],
      ["an admin, for a user without orders", admin, 5, 0],
      ...["0", "-1", "abc", "1.5", "042", "1e3", "9007199254740992", "٤٢"].map(
        (id): [string, string, string, number] => [`id ${id}`, owner, id, 404],
      ),
    ];
    for (const [name, token, userId, status] of cases) {
      await t.step(name, async () => {
        const exported = await ctx.request(
          "GET",
          `/v1/users/${encodeURIComponent(userId)}/export`,
          { token },
        );
        const erased = await erase(ctx, encodeURIComponent(userId), token);
        assert.equal(exported.status, status || 200);
        assert.equal(erased.status, status || 204);
        if (status) {
          for (const response of [exported, erased]) {
            assert.equal(
              response.headers.get("content-type"),
              "application/problem+json",
            );
            const problem = await response.json();
            assert.equal(problem.status, status);
          }
        } else {
          await exported.body?.cancel();
          assert.equal(await erased.text(), "");
        }
      });
    }
    await t.step("without a token: 401", async () => {
      for (
        const [method, path] of [
          ["GET", "/v1/users/42/export"],
          ["DELETE", "/v1/users/42/personal-data"],
        ]
      ) {
        const response = await ctx.request(method!, path!);
        assert.equal(response.status, 401);
        await response.body?.cancel();
      }
    });
  }));

Deno.test("DELETE /v1/users/:id/personal-data answers 409 while an order is pending, processing or shipped", () =>
  withTestContext(async (ctx, { owner, admin }) => {
    const order = await createOrder(ctx, owner);
    for (const next of ["processing", "shipped", "delivered"]) {
      const before = await countRows(ctx, "audit_log");
      const refused = await expectJson(await erase(ctx, 42, admin), 409);
      assert.match(refused.detail, /still pending, processing or shipped/);
      assert.equal(
        await countRows(ctx, "audit_log"),
        before,
        "nothing written",
      );
      await expectJson(
        await patch(ctx, order.id, admin, { status: next }),
        200,
      );
    }
    assert.equal(
      (await getJson(ctx, `/v1/orders/${order.id}`, owner)).shipping_address,
      ADDRESS,
      "the 409s destroyed nothing",
    );
    assert.equal((await erase(ctx, 42, owner)).status, 204);
  }));

Deno.test("after an erasure the orders keep their financial record and read shipping_address null", () =>
  withTestContext(async (ctx, { owner, admin }) => {
    const idempotent = { "Idempotency-Key": "before-erasure" };
    const delivered = await createOrder(ctx, owner, {}, idempotent);
    await patch(ctx, delivered.id, owner, { shipping_address: "2 Side St" });
    for (const status of ["processing", "shipped", "delivered"]) {
      await patch(ctx, delivered.id, admin, { status });
    }
    const cancelled = await createOrder(ctx, owner, {
      shipping_address: "9 X",
    });
    await cancel(ctx, cancelled.id, owner, "too slow");
    const untouched = await createOrder(ctx, await ctx.token(43));
    const order = (id: string, token = owner) =>
      getJson(ctx, `/v1/orders/${id}`, token);
    const history = (id: string) =>
      getJson(ctx, `/v1/orders/${id}/history`, admin);
    const before = {
      orders: [await order(delivered.id), await order(cancelled.id)],
      histories: [await history(delivered.id), await history(cancelled.id)],
    };
    assert.ok(!("personal_data_erased" in before.orders[0]));

    ctx.clock.advance(60_000);
    assert.equal((await erase(ctx, 42, owner)).status, 204);

    for (const [index, id] of [delivered.id, cancelled.id].entries()) {
      const after = await order(id);
      const { shipping_address: _, ...kept } = before.orders[index];
      assert.deepEqual(after, {
        ...kept,
        shipping_address: null,
        personal_data_erased: true,
      });
      // The same events, with every personal value (address, cancellation
      // reason) null.
      const events = (await history(id)).events;
      const expected = before.histories[index].events.map((event: Json) => {
        const changes = { ...event.changes };
        for (const field of ["shipping_address", "cancellation_reason"]) {
          if (changes[field]) changes[field] = { from: null, to: null };
        }
        return { ...event, changes };
      });
      assert.deepEqual(events, expected);
    }
    assert.deepEqual(
      before.histories[1].events[1].changes.cancellation_reason,
      { from: null, to: "too slow" },
    );
    assert.deepEqual(
      (await history(cancelled.id)).events[1].changes.cancellation_reason,
      { from: null, to: null },
    );
    const list = await getJson(ctx, "/v1/orders", owner);
    assert.deepEqual(
      list.orders.map((
        o: Json,
      ) => [o.shipping_address, o.personal_data_erased]),
      [[null, true], [null, true]],
    );
    const exported = await getJson(ctx, "/v1/users/42/export", owner);
    assert.deepEqual(
      exported.orders.map((o: Json) => o.history[0].changes.shipping_address),
      [{ from: null, to: null }, { from: null, to: null }],
    );
    // Another user's data is untouched.
    assert.equal((await order(untouched.id, admin)).shipping_address, ADDRESS);
    // A replay of the stored 201 shows the erased address too.
    const replay = await ctx.request("POST", "/v1/orders", {
      token: owner,
      body: orderBody(),
      headers: idempotent,
    });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    const replayed = await expectJson(replay, 201);
    assert.equal(replayed.id, delivered.id);
    assert.equal(replayed.shipping_address, null);
    assert.equal(replayed.personal_data_erased, true);
    // Changes to the erased (terminal) orders are refused as before, cleanly.
    for (
      const [id, body] of [
        [delivered.id, { shipping_address: "New St" }],
        [delivered.id, { status: "cancelled" }],
        [cancelled.id, { shipping_address: "New St", status: "processing" }],
      ] as const
    ) {
      const refused = await expectJson(await patch(ctx, id, admin, body), 400);
      assert.ok(!JSON.stringify(refused).includes("Side St"));
    }
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
  }));

Deno.test("the erasure is an audit event in the user's own chain; erasing again changes nothing", () =>
  withTestContext(async (ctx, { owner, admin }) => {
    const order = await createOrder(ctx, owner);
    await cancel(ctx, order.id, owner);
    const key = await liveKeyOf42(ctx);
    ctx.clock.advance(1000);
    const erased = await erase(ctx, 42, admin, "erase-42");
    assert.equal(erased.status, 204);
    const rows = await ctx.database.client.execute(
      `SELECT chain_seq, order_id, action, actor_user_id, actor_roles,
         request_id, at, changes FROM audit_log WHERE chain_id = 'user:42'`,
    );
    assert.deepEqual(rows.rows.map((row) => ({ ...row })), [{
      chain_seq: 1,
      order_id: null,
      action: "user.personal_data_erased",
      actor_user_id: 9,
      actor_roles: '["admin","user"]',
      request_id: erased.headers.get("x-server-request-id"),
      at: ctx.clock.now(),
      changes: JSON.stringify({
        user_id: { from: 42, to: 42 },
        data_key: { from: key.keyId, to: null },
      }),
    }]);
    const keys = await ctx.database.client.execute(
      "SELECT wrapped_key, destroyed_at FROM user_keys WHERE user_id = 42",
    );
    assert.deepEqual(keys.rows.map((r) => ({ ...r })), [{
      wrapped_key: null,
      destroyed_at: ctx.clock.now(),
    }]);

    const entries = await countRows(ctx, "audit_log");
    assert.equal((await erase(ctx, 42, owner)).status, 204);
    assert.equal(
      await countRows(ctx, "audit_log"),
      entries,
      "erasing again writes nothing",
    );
    assert.deepEqual(
      ctx.logs.filter((l) => l.event === "personal_data.erased").map((l) =>
        l.outcome
      ),
      ["erased", "unchanged"],
    );
    // A user who never had a key has nothing to erase: 204, no event.
    assert.equal((await erase(ctx, 77, await ctx.token(77))).status, 204);
    assert.equal(await countRows(ctx, "audit_log"), entries);
    const verified = await verifyAuditLog(ctx.database.db);
    assert.equal(verified.broken, undefined);
    assert.equal(verified.chains, 2);
  }));

Deno.test("GET /v1/users/:id/export shows the user's own erasure as one user.personal_data_erased event, to the user and to an admin", () =>
  withTestContext(async (ctx, { owner, admin }) => {
    const order = await createOrder(ctx, owner);
    await cancel(ctx, order.id, owner, "too slow");
    const key = await liveKeyOf42(ctx);
    assert.deepEqual(await exportedEvents(ctx, owner), []);

    ctx.clock.advance(60_000);
    const expected = await eraseUser42(ctx, owner, {
      seq: 1,
      actor: { user_id: 42, roles: ["user"] },
      requestId: "erase-by-owner",
      keyId: key.keyId,
    });
    ctx.clock.advance(1000);
    for (const token of [owner, admin]) {
      const events = await exportedEvents(ctx, token);
      assert.deepEqual(events, expected);
      // The key's id names which key was destroyed; the key itself, wrapped
      // or not, and the address never appear.
      const text = JSON.stringify(events);
      assert.ok(!text.includes(key.wrappedKey.split(".")[1]!));
      assert.ok(!text.includes(ADDRESS) && !text.includes("too slow"));
    }

    // Erasing again changes nothing, so no second event.
    ctx.clock.advance(1000);
    assert.equal((await erase(ctx, 42, admin)).status, 204);
    assert.equal((await erase(ctx, 42, owner)).status, 204);
    for (const token of [owner, admin]) {
      assert.deepEqual(await exportedEvents(ctx, token), expected);
    }
    // Another user's export does not show it.
    assert.deepEqual(
      (await getJson(ctx, "/v1/users/43/export", admin)).events,
      [],
    );
  }));

Deno.test("GET /v1/users/:id/export names the admin who erased the user's data as the event's actor, and shows no account actions", () =>
  withTestContext(async (ctx, { owner, admin }) => {
    const order = await createOrder(ctx, owner);
    await cancel(ctx, order.id, owner);
    const key = await liveKeyOf42(ctx);
    // Admin actions on the account share the user's chain (seq 1 and 2);
    // they are incident response, not part of the export.
    for (const action of ["disable", "enable"]) {
      const done = await ctx.request(
        "POST",
        `/v1/admin/users/42/${action}`,
        { token: admin },
      );
      assert.equal(done.status, 204);
    }

    ctx.clock.advance(5000);
    const expected = await eraseUser42(ctx, admin, {
      seq: 3,
      actor: { user_id: 9, roles: ["admin", "user"] },
      requestId: "erase-by-admin",
      keyId: key.keyId,
    });
    ctx.clock.advance(1000);
    for (const token of [owner, admin]) {
      assert.deepEqual(await exportedEvents(ctx, token), expected);
    }
    assert.equal((await erase(ctx, 42, owner)).status, 204);
    assert.deepEqual(await exportedEvents(ctx, owner), expected);
  }));

Deno.test("orders created after an erasure get a new data key and read normally", () =>
  withTestContext(async (ctx, { owner }) => {
    const old = await createOrder(ctx, owner);
    await cancel(ctx, old.id, owner);
    assert.equal((await erase(ctx, 42, owner)).status, 204);
    ctx.clock.advance(1000);
    const fresh = await createOrder(ctx, owner, {
      shipping_address: "5 New St",
    });
    assert.equal(fresh.shipping_address, "5 New St");
    assert.ok(!("personal_data_erased" in fresh));
    const updated = await expectJson(
      await patch(ctx, fresh.id, owner, { shipping_address: "6 Newer St" }),
      200,
    );
    assert.equal(updated.shipping_address, "6 Newer St");
    const exported = await getJson(ctx, "/v1/users/42/export", owner);
    assert.deepEqual(
      exported.orders.map((o: Json) => [o.id, o.shipping_address]),
      [[fresh.id, "6 Newer St"], [old.id, null]],
    );
    const keys = await ctx.database.client.execute(
      "SELECT destroyed_at IS NULL AS live FROM user_keys WHERE user_id = 42 ORDER BY created_at, live",
    );
    assert.deepEqual(keys.rows.map((r) => r.live), [0, 1]);

    // Erasing again destroys the new key too: a second event in the chain.
    await cancel(ctx, fresh.id, owner);
    assert.equal((await erase(ctx, 42, owner)).status, 204);
    const chain = await ctx.database.client.execute(
      "SELECT chain_seq FROM audit_log WHERE chain_id = 'user:42' ORDER BY chain_seq",
    );
    assert.deepEqual(chain.rows.map((r) => r.chain_seq), [1, 2]);
    assert.equal(
      (await getJson(ctx, `/v1/orders/${fresh.id}`, owner)).shipping_address,
      null,
    );
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
  }));

Deno.test("audit:verify finds a data key destroyed without its erasure entry", () =>
  withTestContext(async (ctx, { owner }) => {
    const order = await createOrder(ctx, owner);
    await cancel(ctx, order.id, owner);
    await createOrder(ctx, await ctx.token(43));
    assert.equal((await erase(ctx, 42, owner)).status, 204);
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
    // Behind the service's back: user 43's key destroyed, no entry.
    await ctx.database.client.execute(
      "UPDATE user_keys SET wrapped_key = NULL, destroyed_at = 1 WHERE user_id = 43",
    );
    const { broken } = await verifyAuditLog(ctx.database.db);
    assert.equal(broken?.chainId, "user:43");
    assert.equal(broken?.chainSeq, 1);
    assert.match(
      broken?.reason ?? "",
      /destroyed without a user\.personal_data_erased entry/,
    );
  }));
