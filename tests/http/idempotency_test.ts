import assert from "node:assert/strict";
import type { OrderStore } from "../../domain/ports.ts";
import {
  countRows,
  createTestContext,
  orderBody,
  serveApp,
  storeInFlightClaim,
  type TestContext,
} from "../fixtures/mod.ts";

async function post(
  url: string,
  token: string,
  body: unknown,
  key?: string,
): Promise<Response> {
  return await fetch(`${url}/v1/orders`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      ...(key !== undefined && { "Idempotency-Key": key }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function withServer(
  ctx: TestContext,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = serveApp(ctx);
  try {
    await run(server.url);
  } finally {
    await server.close();
    ctx.close();
  }
}

Deno.test("POST /v1/orders replays the original 201 for the same key and the same JSON value", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    const first = await post(url, token, orderBody(), "key-1");
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const original = await first.text();
    // The same JSON value, written differently.
    const reformatted = JSON.stringify(
      Object.fromEntries(Object.entries(orderBody()).reverse()),
      null,
      2,
    );
    const replay = await post(url, token, reformatted, "key-1");
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(await replay.text(), original);
    const { id } = JSON.parse(original);
    assert.equal(replay.headers.get("location"), `/v1/orders/${id}`);
    assert.equal(replay.headers.get("etag"), '"1"');
    assert.equal(await countRows(ctx, "orders"), 1);
    assert.equal(await countRows(ctx, "audit_log"), 1);
  });
});

Deno.test("POST /v1/orders answers 422 when a key is reused with a different body", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    assert.equal((await post(url, token, orderBody(), "key-1")).status, 201);
    const elsewhere = orderBody({ shipping_address: "2 Elm St" });
    const other = await post(url, token, elsewhere, "key-1");
    assert.equal(other.status, 422);
    assert.equal(other.headers.get("content-type"), "application/problem+json");
    assert.equal(await countRows(ctx, "orders"), 1);
  });
});

Deno.test("POST /v1/orders scopes idempotency keys per user", async () => {
  const ctx = await createTestContext();
  await withServer(ctx, async (url) => {
    const alice = await post(
      url,
      await ctx.token(42),
      orderBody(),
      "shared-key",
    );
    const bob = await post(url, await ctx.token(43), orderBody(), "shared-key");
    assert.equal(alice.status, 201);
    assert.equal(bob.status, 201);
    assert.equal(bob.headers.get("idempotent-replayed"), null);
    assert.notEqual((await alice.json()).id, (await bob.json()).id);
    assert.equal(await countRows(ctx, "orders"), 2);
  });
});

Deno.test("POST /v1/orders creates exactly one order for 10 parallel identical requests", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(url, token, orderBody(), "burst")),
    );
    const statuses = responses.map((r) => r.status);
    const bodies = await Promise.all(responses.map((r) => r.json()));
    assert.ok(statuses.every((s) => s === 201 || s === 409), String(statuses));
    const fresh = responses.filter((r) =>
      r.status === 201 && r.headers.get("idempotent-replayed") === null
    );
    assert.equal(fresh.length, 1);
    const ids = new Set(bodies.filter((b) => b.id).map((b) => b.id));
    assert.equal(ids.size, 1);
    assert.equal(await countRows(ctx, "orders"), 1);
  });
});

Deno.test("POST /v1/orders forgets a key after 24 hours and purges it", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    const first = await (await post(url, token, orderBody(), "daily")).json();
    ctx.clock.advance(24 * 60 * 60 * 1000 - 1);
    const replay = await post(url, await ctx.token(42), orderBody(), "daily");
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    await replay.body?.cancel();
    ctx.clock.advance(2);
    const later = await post(url, await ctx.token(42), orderBody(), "daily");
    assert.equal(later.status, 201);
    assert.equal(later.headers.get("idempotent-replayed"), null);
    assert.notEqual((await later.json()).id, first.id);
    assert.equal(await countRows(ctx, "orders"), 2);
    ctx.clock.advance(24 * 60 * 60 * 1000 + 1);
    assert.equal(
      await ctx.store.purgeIdempotencyKeys(
        ctx.clock.now() - 24 * 60 * 60 * 1000,
      ),
      1,
    );
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
  });
});

Deno.test("POST /v1/orders leaves the key free when the first attempt fails", async () => {
  const occupied = "22222222-2222-4222-8222-222222222222";
  let fresh = false;
  const ctx = await createTestContext({
    newId: () => fresh ? crypto.randomUUID() : occupied,
  });
  await ctx.database.client.execute({
    sql:
      `INSERT INTO audit_log (chain_id, chain_seq, order_id, action, actor_user_id,
      actor_roles, request_id, at, changes, prev_hash, hash, seal, key_id)
      VALUES (?, 1, NULL, 'test', 1, '[]', 'r', 0, '{}', '', '', 'hmac-sha256', 'k')`,
    args: [`order:${occupied}`],
  });
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    const noAddress = orderBody({ shipping_address: "" });
    const invalid = await post(url, token, noAddress, "retry-me");
    assert.equal(invalid.status, 422);
    await invalid.body?.cancel();
    const failed = await post(url, token, orderBody(), "retry-me");
    assert.equal(failed.status, 500);
    await failed.body?.cancel();
    fresh = true;
    const retried = await post(url, token, orderBody(), "retry-me");
    assert.equal(retried.status, 201);
    assert.equal(retried.headers.get("idempotent-replayed"), null);
    await retried.body?.cancel();
    assert.equal(await countRows(ctx, "orders"), 1);
  });
});

Deno.test("POST /v1/orders answers 400 for a malformed Idempotency-Key", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    for (const key of ["k".repeat(256), "tab\tkey"]) {
      const response = await post(url, token, orderBody(), key);
      assert.equal(response.status, 400, key);
      await response.body?.cancel();
    }
    assert.equal(await countRows(ctx, "orders"), 0);
  });
});

/**
 * A context whose store holds the first call of `method` until `open()`;
 * the others go through.
 */
async function withHeldCall(
  method: "insertOrder" | "findIdempotencyKey",
  requestTimeoutMs: number,
  run: (
    ctx: TestContext,
    held: { open(): void; started: Promise<void> },
  ) => Promise<void>,
): Promise<void> {
  const base = await createTestContext();
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  let start!: () => void;
  const started = new Promise<void>((resolve) => start = resolve);
  let calls = 0;
  const store = base.store;
  const heldStore: OrderStore = {
    ...store,
    [method]: (...args: unknown[]) => {
      // deno-lint-ignore no-explicit-any
      const call = () => (store[method] as any)(...args);
      if (calls++ > 0) return call();
      start();
      return gate.then(call);
    },
  };
  const ctx = await createTestContext({
    store: heldStore,
    accounts: base.accounts,
    requestTimeoutMs,
  });
  ctx.database.close();
  try {
    await run({ ...ctx, database: base.database }, { open, started });
  } finally {
    base.close();
  }
}

Deno.test("a write that began before the request timeout is answered with what it wrote, never 503", async () => {
  await withHeldCall("insertOrder", 50, async (ctx, held) => {
    const token = await ctx.token(42);
    const server = serveApp(ctx);
    try {
      const first = post(server.url, token, orderBody(), "slow");
      await held.started;
      // Past the request timeout (its timer was armed first, so it fires
      // first): the write in progress is not cut off.
      await new Promise((resolve) => setTimeout(resolve, 100));
      held.open();
      const answered = await first;
      assert.equal(answered.status, 201);
      const order = await answered.json();
      const again = await post(server.url, token, orderBody(), "slow");
      assert.equal(again.status, 201);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal((await again.json()).id, order.id);
      assert.equal(await countRows(ctx, "orders"), 1);
    } finally {
      await server.close();
    }
  });
});

Deno.test("a creation cut off by the request timeout before its write never writes afterwards", async () => {
  await withHeldCall("findIdempotencyKey", 200, async (ctx, held) => {
    const token = await ctx.token(42);
    const server = serveApp(ctx);
    try {
      const first = await post(server.url, token, orderBody(), "cut-off");
      assert.equal(first.status, 503);
      assert.equal(first.headers.get("retry-after"), "1");
      await first.body?.cancel();
      held.open();
      // Requests with one key run one after another in an instance, so the
      // retry runs once the first one's work is over: had it written after
      // its 503, this would be a replay.
      const retried = await post(server.url, token, orderBody(), "cut-off");
      assert.equal(retried.status, 201);
      assert.equal(retried.headers.get("idempotent-replayed"), null);
      await retried.body?.cancel();
      assert.equal(await countRows(ctx, "orders"), 1);
    } finally {
      await server.close();
    }
  });
});

Deno.test("a claim abandoned in flight by a crashed request expires", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  // A request that claimed the key and then died before writing.
  await storeInFlightClaim(ctx, {
    userId: 42,
    key: "crashed",
    body: orderBody(),
  });
  await withServer(ctx, async (url) => {
    const held = await post(url, token, orderBody(), "crashed");
    assert.equal(held.status, 409);
    await held.body?.cancel();
    ctx.clock.advance(60 * 1000 + 1);
    const taken = await post(url, await ctx.token(42), orderBody(), "crashed");
    assert.equal(taken.status, 201);
    await taken.body?.cancel();
    assert.equal(await countRows(ctx, "orders"), 1);
  });
});

Deno.test("an idempotent replay does not count against the order-creation limit", async () => {
  const ctx = await createTestContext({
    limits: { order_creation: { limit: 2, windowMs: 60_000 } },
  });
  const token = await ctx.token(42);
  await withServer(ctx, async (url) => {
    assert.equal((await post(url, token, orderBody(), "a")).status, 201);
    for (let i = 0; i < 5; i++) {
      const replay = await post(url, token, orderBody(), "a");
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      await replay.body?.cancel();
    }
    const second = await post(url, token, orderBody(), "b");
    assert.equal(second.status, 201);
    await second.body?.cancel();
    const third = await post(url, token, orderBody(), "c");
    assert.equal(third.status, 429);
    await third.body?.cancel();
    // The refused request left its key free.
    assert.equal(await countRows(ctx, "idempotency_keys"), 2);
  });
});
