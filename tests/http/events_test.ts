/**
 * The events feed through the real app: one event per order audit entry,
 * in the same write; who sees which events; cursors; retention; and the
 * property that makes a feed usable, every event exactly once and in commit
 * order while concurrent writers run, on an embedded file shared by two
 * processes and on a libSQL server over HTTP.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { DAY_MS } from "../../domain/order_events.ts";
import { DEFAULT_REVIEW_POLICY } from "../../domain/review.ts";
import { startLibsqlHttpServer } from "../fixtures/libsql_http_server.ts";
import { signToken } from "../../auth/sign_token.ts";
import { openDatabase } from "../../db/client.ts";
import {
  type Callers,
  callers,
  createOrder,
  createTestContext,
  type HttpCall,
  httpClient,
  type Json,
  orderBody,
  serveApp,
  startServer,
  TEST_SECRET,
  type TestContext,
  withDatabaseFile,
  withTestContext,
} from "../fixtures/mod.ts";

async function feed(
  ctx: TestContext,
  token: string,
  query = "",
): Promise<Json> {
  const page = await ctx.call("GET", `/v1/events${query}`, token);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  return page.body;
}

/** Every event `token` sees, following `next_cursor` from the start. */
async function everything(
  ctx: TestContext,
  token: string,
  filters = "",
): Promise<{ events: Json[]; cursor: string }> {
  const events: Json[] = [];
  let page = await feed(ctx, token, `?limit=2${filters}`);
  events.push(...page.events);
  while (page.has_more) {
    page = await feed(
      ctx,
      token,
      `?limit=2${filters}&cursor=${encodeURIComponent(page.next_cursor)}`,
    );
    events.push(...page.events);
  }
  return { events, cursor: page.next_cursor };
}

/** An order taken through every kind of change; returns its id. */
async function orderWithHistory(ctx: TestContext, who: Callers) {
  const { id } = await createOrder(ctx, who.owner);
  const path = `/v1/orders/${id}`;
  assert.equal(
    (await ctx.call("PATCH", path, who.owner, {
      shipping_address: "2 Side St, Springfield",
    })).status,
    200,
  );
  assert.equal(
    (await ctx.call("PATCH", path, who.fulfillment, { status: "processing" }))
      .status,
    200,
  );
  assert.equal(
    (await ctx.call("POST", `${path}/cancel`, who.owner, { reason: "Late" }))
      .status,
    200,
  );
  return id;
}

Deno.test("every change of an order is one event in its write, without personal data", () =>
  withTestContext(async (ctx, who) => {
    const id = await orderWithHistory(ctx, who);
    const { events } = await everything(ctx, who.admin);
    assert.deepEqual(
      events.map((
        e,
      ) => [
        e.type,
        e.data.version,
        e.data.status,
        e.data.previous_status,
        e.data.changed,
      ]),
      [
        ["order.created", 1, "pending", null, []],
        ["order.updated", 2, "pending", "pending", ["shipping_address"]],
        ["order.updated", 3, "processing", "pending", ["status"]],
        ["order.cancelled", 4, "cancelled", "processing", ["status"]],
      ],
    );
    for (const event of events) {
      assert.match(event.id, /^evt_[0-9a-f-]{36}$/);
      assert.deepEqual(Object.keys(event), ["id", "type", "timestamp", "data"]);
      assert.equal(event.data.order_id, id);
      assert.equal(event.data.user_id, 42);
      assert.equal(event.data.total, "25.00");
      assert.equal(event.data.currency, "USD");
    }
    // One event per audit entry, no more, no less, and nothing personal
    // stored with them.
    const audit = await ctx.store.listOrderHistory(id);
    assert.equal(audit.length, events.length);
    const stored = JSON.stringify(
      (await ctx.database.client.execute("SELECT * FROM order_events")).rows,
    );
    assert.doesNotMatch(stored, /Springfield|Side St|Late|enc:v1/);
    // A change that is refused writes no event.
    assert.equal(
      (await ctx.call("PATCH", `/v1/orders/${id}`, who.fulfillment, {
        status: "shipped",
      })).status,
      400,
    );
    assert.equal((await everything(ctx, who.admin)).events.length, 4);
  }));

Deno.test("staff see every event; a user sees their own orders' events, a rejection as a cancellation, no hold", () =>
  withTestContext(async (ctx, who) => {
    const mine = await createOrder(ctx, who.owner);
    const theirs = await createOrder(ctx, who.other);
    // Held by the threshold, then rejected by an admin.
    const held = await ctx.call(
      "POST",
      "/v1/orders",
      who.owner,
      orderBody({
        items: [{
          product_id: "tv",
          product_name: "TV",
          quantity: 1,
          price: "20000.00",
        }],
      }),
    );
    assert.equal(held.status, 201);
    const review = await ctx.call(
      "POST",
      `/v1/orders/${held.body.id}/review`,
      who.admin,
      { decision: "reject", note: "Stolen card" },
    );
    assert.equal(review.status, 200);

    const all = (await everything(ctx, who.admin)).events;
    assert.deepEqual(all.map((e) => e.type), [
      "order.created",
      "order.created",
      "order.created",
      "order.review_rejected",
    ]);
    assert.deepEqual(
      (await everything(ctx, who.fulfillment)).events.map((e) => e.id),
      all.map((e) => e.id),
    );
    const owners = (await everything(ctx, who.owner)).events;
    assert.deepEqual(owners.map((e) => [e.type, e.data.order_id]), [
      ["order.created", mine.id],
      ["order.created", held.body.id],
      ["order.cancelled", held.body.id],
    ]);
    // The same event, by id: its id is the rejection's.
    assert.equal(owners[2].id, all[3].id);
    const byId = await ctx.call("GET", `/v1/events/${all[3].id}`, who.owner);
    assert.equal(byId.status, 200);
    assert.equal(byId.body.type, "order.cancelled");
    assert.equal(
      (await ctx.call("GET", `/v1/events/${all[3].id}`, who.admin)).body.type,
      "order.review_rejected",
    );
    assert.doesNotMatch(JSON.stringify(all), /Stolen card/);
    // Another user's event is 404, like an unknown one.
    const others = all.find((e) => e.data.order_id === theirs.id);
    for (const id of [others.id, "evt_unknown", "x".repeat(300)]) {
      const refused = await ctx.call("GET", `/v1/events/${id}`, who.owner);
      assert.equal(refused.status, 404);
    }
    // Filters: type (as the caller sees it) and order_id.
    assert.deepEqual(
      (await everything(ctx, who.owner, "&type=order.cancelled")).events.map(
        (e) => e.id,
      ),
      [all[3].id],
    );
    assert.deepEqual(
      (await everything(ctx, who.owner, "&type=order.review_rejected"))
        .events,
      [],
    );
    assert.deepEqual(
      (await everything(ctx, who.admin, `&order_id=${theirs.id.toUpperCase()}`))
        .events.map((e) => e.data.order_id),
      [theirs.id],
    );
  }, { reviewPolicy: DEFAULT_REVIEW_POLICY }));

Deno.test("next_cursor returns only later events, and is bound to its caller and filters", () =>
  withTestContext(async (ctx, who) => {
    await createOrder(ctx, who.owner);
    const first = await everything(ctx, who.owner);
    assert.equal(first.events.length, 1);
    const empty = await feed(
      ctx,
      who.owner,
      `?cursor=${encodeURIComponent(first.cursor)}`,
    );
    assert.deepEqual(empty.events, []);
    assert.equal(empty.has_more, false);
    // Others' events move the position on without being shown.
    await createOrder(ctx, who.other);
    const { id } = await createOrder(ctx, who.owner);
    const next = await feed(
      ctx,
      who.owner,
      `?cursor=${encodeURIComponent(empty.next_cursor)}`,
    );
    assert.deepEqual(next.events.map((e: Json) => e.data.order_id), [id]);

    const cursor = encodeURIComponent(first.cursor);
    const tampered = first.cursor.slice(0, -2) +
      (first.cursor.endsWith("AA") ? "BB" : "AA");
    for (
      const [token, query] of [
        [who.other, `?cursor=${cursor}`],
        [who.owner, `?cursor=${cursor}&type=order.created`],
        [who.owner, `?cursor=${cursor}&order_id=${id}`],
        [who.owner, `?cursor=${encodeURIComponent(tampered)}`],
        [who.owner, "?cursor=x"],
        [who.owner, `?cursor=${"A".repeat(10_000)}`],
        [who.owner, `?cursor=${encodeURIComponent("' OR 1=1 --")}`],
        [who.owner, `?cursor=${encodeURIComponent('{"seq":0}')}`],
        [who.owner, `?cursor=${encodeURIComponent("\u00ff\u0000")}`],
      ] as const
    ) {
      const refused = await ctx.call("GET", `/v1/events${query}`, token);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.errors[0].path, "cursor");
    }
    for (
      const query of [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?type=order.lost",
        "?order_id=not-a-uuid",
      ]
    ) {
      const refused = await ctx.call("GET", `/v1/events${query}`, who.owner);
      assert.equal(refused.status, 422, query);
    }
  }));

Deno.test("retention: purged events are gone, and a cursor before them is 410, never a silent skip", () =>
  withTestContext(async (ctx, first) => {
    let who = first;
    await createOrder(ctx, who.owner);
    const start = await everything(ctx, who.admin);
    const oldCursor = encodeURIComponent(
      (await feed(ctx, who.admin, "?limit=1")).next_cursor,
    );
    ctx.clock.advance(31 * DAY_MS);
    // Tokens live a day: the callers sign in again.
    who = await callers(ctx);
    await createOrder(ctx, who.owner);
    const before = (await everything(ctx, who.admin)).events;
    assert.equal(before.length, 2);
    const purged = await ctx.events.purgeEvents(
      ctx.clock.now() - 30 * DAY_MS,
    );
    assert.equal(purged, 1);
    const after = (await everything(ctx, who.admin)).events;
    assert.deepEqual(after.map((e) => e.id), [before[1].id]);
    // The cursor after the last event kept is still good…
    const current = await feed(
      ctx,
      who.admin,
      `?cursor=${encodeURIComponent(start.cursor)}`,
    );
    assert.deepEqual(current.events.map((e: Json) => e.id), [before[1].id]);
    // …one before a purged event is not.
    ctx.clock.advance(31 * DAY_MS);
    who = await callers(ctx);
    await createOrder(ctx, who.owner);
    await ctx.events.purgeEvents(ctx.clock.now() - 30 * DAY_MS);
    const expired = await ctx.call(
      "GET",
      `/v1/events?cursor=${oldCursor}`,
      who.admin,
    );
    assert.equal(expired.status, 410);
    assert.equal(expired.body.type, "urn:orders-api:problem:cursor-expired");
    // The purge keeps the newest event, so the feed still knows where it is.
    assert.equal((await everything(ctx, who.admin)).events.length, 1);
  }));

Deno.test("an erased user's events still verify and hold no address", () =>
  withTestContext(async (ctx, who) => {
    await orderWithHistory(ctx, who);
    const erased = await ctx.request("DELETE", "/v1/users/42/personal-data", {
      token: who.owner,
    });
    assert.equal(erased.status, 204);
    const { events } = await everything(ctx, who.admin);
    assert.equal(events.length, 4);
    assert.doesNotMatch(JSON.stringify(events), /Springfield|Side St/);
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
  }));

/**
 * Concurrent writers through `calls` (one per instance) while a poller
 * follows the feed over real HTTP: the poller sees every event exactly
 * once, in the order of the feed, and every order audit entry has its
 * event. `stored` reads the feed's ids in `seq` order and the number of
 * order audit entries once the writing is over.
 */
async function pollWhileWriting(
  calls: HttpCall[],
  token: (sub: number, roles?: string[]) => Promise<string>,
  stored: () => Promise<{ ids: unknown[]; entries: number }>,
): Promise<void> {
  const admin = await token(9, ["admin"]);
  const tokens = await Promise.all([42, 43, 44].map((sub) => token(sub)));
  const seen: Json[] = [];
  let cursor = "";
  const poll = async () => {
    const page = await calls[0]!(
      "GET",
      `/v1/events?limit=7${cursor && `&cursor=${encodeURIComponent(cursor)}`}`,
      { token: admin },
    );
    assert.equal(page.status, 200, page.text);
    seen.push(...page.body.events);
    cursor = page.body.next_cursor;
    return page.body.has_more as boolean;
  };
  let writing = true;
  const poller = (async () => {
    while (writing) await poll();
  })();
  poller.catch(() => {}); // awaited below, after the writers
  await Promise.all(
    Array.from({ length: 24 }, async (_, i) => {
      const call = calls[i % calls.length]!;
      const token = tokens[i % tokens.length]!;
      const created = await call("POST", "/v1/orders", {
        token,
        body: orderBody(),
      });
      assert.equal(created.status, 201, created.text);
      const path = `/v1/orders/${created.body.id}`;
      const changed = await call("PATCH", path, {
        token,
        body: { shipping_address: `${i} Side St` },
      });
      assert.equal(changed.status, 200, changed.text);
      if (i % 2 === 0) {
        const cancelled = await call("POST", `${path}/cancel`, { token });
        assert.equal(cancelled.status, 200, cancelled.text);
      }
    }),
  );
  writing = false;
  await poller;
  while (await poll());

  const ids = seen.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  const { ids: inOrder, entries } = await stored();
  assert.deepEqual(ids, inOrder, "every event, in commit order");
  assert.equal(ids.length, entries);
  assert.equal(ids.length, 24 * 2 + 12);
}

/** The feed's ids in order and the order audit entries, through `client`. */
async function storedFeed(
  client: TestContext["database"]["client"],
): Promise<{ ids: unknown[]; entries: number }> {
  const rows = await client.execute("SELECT id FROM order_events ORDER BY seq");
  const entries = await client.execute(
    "SELECT count(*) AS n FROM audit_log WHERE order_id IS NOT NULL",
  );
  return {
    ids: rows.rows.map((row) => row.id),
    entries: Number(entries.rows[0]!.n),
  };
}

Deno.test("a poller following next_cursor sees every event once, in commit order, while two processes write to one file", () =>
  withDatabaseFile("orders-events-two-", async (url) => {
    const env = { DATABASE_URL: url, JWT_SECRET: TEST_SECRET };
    const first = await startServer(env, { args: ["--dev"] });
    const second = await startServer(env, { args: ["--dev"] });
    let done = false;
    try {
      await pollWhileWriting(
        [httpClient(first.url), httpClient(second.url)],
        (sub, roles = []) => signToken(TEST_SECRET, { sub, roles }),
        async () => {
          await first.stop();
          await second.stop();
          done = true;
          const database = await openDatabase(url);
          try {
            return await storedFeed(database.client);
          } finally {
            database.close();
          }
        },
      );
    } finally {
      if (!done) {
        await first.stop();
        await second.stop();
      }
    }
  }));

Deno.test("a poller following next_cursor sees every event once, in commit order, on a libSQL server over HTTP", () =>
  withDatabaseFile("orders-events-remote-", async (url) => {
    const database = startLibsqlHttpServer(url.replace(/^file:/, ""));
    try {
      const ctx = await createTestContext({ url: database.url });
      const served = serveApp(ctx);
      try {
        assert.equal(ctx.database.embedded, false);
        await pollWhileWriting(
          [httpClient(served.url)],
          (sub, roles) => ctx.token(sub, roles),
          () => storedFeed(ctx.database.client),
        );
        assert.ok(database.pipelineRequests() > 0);
      } finally {
        await served.close();
        ctx.close();
      }
    } finally {
      await database.close();
    }
  }));
