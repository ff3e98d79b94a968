/**
 * Cursor pagination of `GET /v1/orders`: pages follow `next_cursor` (and
 * the `Link: <…>; rel="next"` header) to the end, and a walk returns every
 * order that matched when it began exactly once, in order, whatever is
 * created, changed or cancelled meanwhile. Cursors are bound to the caller,
 * the caller's view and the filters; anything else is a 400, never a 500.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import {
  createCursorCodec,
  type CursorBinding,
  MAX_CURSOR_LENGTH,
} from "../../routes/http/cursor.ts";
import {
  type Callers,
  createOrder,
  expectJson,
  expectProblem,
  type Json,
  TEST_SECRET,
  type TestContext,
  withTestContext,
} from "../fixtures/mod.ts";

/** A listing's path: `/v1/orders` with `params` as its query. */
function listPath(params: Record<string, string | number | undefined>) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) query.set(name, String(value));
  }
  const text = query.toString();
  return text === "" ? "/v1/orders" : `/v1/orders?${text}`;
}

/** A page of the listing, which must answer 200. */
async function listPage(
  ctx: TestContext,
  token: string,
  params: Record<string, string | number | undefined>,
): Promise<{ body: Json; link: string | null }> {
  const response = await ctx.request("GET", listPath(params), { token });
  const body = await expectJson(response, 200);
  return { body, link: response.headers.get("link") };
}

/**
 * Follows `next_cursor` from the first page to the last, with the page
 * size `limits` gives for each page (the last one again when they run
 * out), calling `between` after every page but the last. Returns the ids
 * in the order they came, and each page's `Link` header.
 */
async function walk(
  ctx: TestContext,
  token: string,
  options: {
    filters?: Record<string, string | number | undefined>;
    limits: readonly number[];
    between?: (page: number) => Promise<void>;
  },
): Promise<{ ids: string[]; pages: Json[]; links: (string | null)[] }> {
  const ids: string[] = [];
  const pages: Json[] = [];
  const links: (string | null)[] = [];
  let cursor: string | undefined;
  for (let page = 0;; page++) {
    const limit = options.limits[Math.min(page, options.limits.length - 1)];
    const { body, link } = await listPage(ctx, token, {
      ...options.filters,
      limit,
      cursor,
    });
    pages.push(body);
    links.push(link);
    ids.push(...body.orders.map((order: Json) => order.id));
    if (body.next_cursor === null) return { ids, pages, links };
    assert.ok(page < 1000, "the walk does not end");
    cursor = body.next_cursor;
    await options.between?.(page);
  }
}

/** Every order `token` sees with `filters`, newest first (at most 100). */
async function allIds(
  ctx: TestContext,
  token: string,
  filters: Record<string, string | number | undefined> = {},
): Promise<string[]> {
  const { body } = await listPage(ctx, token, { ...filters, limit: 100 });
  assert.ok(body.count <= 100, "too many orders for one page");
  return body.orders.map((order: Json) => order.id);
}

/** Creates `n` orders as `token`, the clock moving `stepMs` after each. */
async function createOrders(
  ctx: TestContext,
  token: string,
  n: number,
  stepMs: number,
): Promise<Json[]> {
  const created = [];
  for (let i = 0; i < n; i++) {
    created.push(await createOrder(ctx, token));
    ctx.clock.advance(stepMs);
  }
  return created;
}

/** Newest first: `created_at` descending, then `id` descending. */
function newestFirst(orders: readonly Json[]): string[] {
  return [...orders].sort((a, b) =>
    a.created_at === b.created_at
      ? (a.id < b.id ? 1 : -1)
      : (a.created_at < b.created_at ? 1 : -1)
  ).map((order) => order.id);
}

Deno.test("GET /v1/orders pages follow next_cursor to the end, with a Link header on every page but the last", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrders(ctx, who.owner, 7, 1000);
    await createOrder(ctx, who.other);
    const expected = newestFirst(created);

    const first = await listPage(ctx, who.owner, { limit: 3 });
    assert.deepEqual(
      first.body.orders.map((o: Json) => o.id),
      expected.slice(0, 3),
    );
    assert.equal(first.body.count, 7);
    assert.equal(first.body.limit, 3);
    assert.equal(first.body.offset, 0);
    assert.equal(typeof first.body.next_cursor, "string");
    assert.equal(
      first.link,
      `</v1/orders?limit=3&cursor=${first.body.next_cursor}>; rel="next"`,
    );

    // The Link target is the request the cursor stands for.
    const linked = first.link!.match(/^<([^>]+)>; rel="next"$/)![1]!;
    const second = await expectJson(
      await ctx.request("GET", linked, { token: who.owner }),
      200,
    );
    assert.deepEqual(
      second.orders.map((o: Json) => o.id),
      expected.slice(3, 6),
    );
    assert.equal(second.count, 7);
    assert.equal(second.offset, 0);

    const last = await listPage(ctx, who.owner, {
      limit: 3,
      cursor: second.next_cursor,
    });
    assert.deepEqual(
      last.body.orders.map((o: Json) => o.id),
      expected.slice(6),
    );
    assert.equal(last.body.next_cursor, null);
    assert.equal(last.link, null);
    // Orders carry the same fields as without a cursor.
    assert.deepEqual(last.body.orders[0], created[0]);
  }));

Deno.test("GET /v1/orders exposes its Link header to the configured CORS origins", () =>
  withTestContext(async (ctx, who) => {
    await createOrders(ctx, who.owner, 2, 1);
    const response = await ctx.request("GET", "/v1/orders?limit=1", {
      token: who.owner,
      headers: { Origin: "https://shop.example" },
    });
    await expectJson(response, 200);
    assert.match(response.headers.get("link") ?? "", /rel="next"$/);
    const exposed = (response.headers.get("access-control-expose-headers") ??
      "").split(",").map((name) => name.trim().toLowerCase());
    assert.ok(exposed.includes("link"), exposed.join(", "));
  }, { corsOrigins: ["https://shop.example"] }));

Deno.test("GET /v1/orders gives next_cursor null and no Link on a page that ends at the last match, and on an empty listing", () =>
  withTestContext(async (ctx, who) => {
    const empty = await listPage(ctx, who.owner, {});
    assert.deepEqual(empty.body.orders, []);
    assert.equal(empty.body.next_cursor, null);
    assert.equal(empty.link, null);

    await createOrders(ctx, who.owner, 4, 10);
    const walked = await walk(ctx, who.owner, { limits: [2] });
    assert.equal(walked.pages.length, 2, "no empty third page");
    assert.deepEqual(walked.links.map((link) => link !== null), [true, false]);
    const whole = await listPage(ctx, who.owner, { limit: 4 });
    assert.equal(whole.body.next_cursor, null);
    assert.equal(whole.link, null);
  }));

Deno.test("GET /v1/orders lets limit change between pages and keeps status and user_id in the Link", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrders(ctx, who.owner, 9, 500);
    await createOrders(ctx, who.other, 3, 500);
    const expected = newestFirst(created);
    const walked = await walk(ctx, who.admin, {
      filters: { status: "pending", user_id: 42 },
      limits: [4, 1, 2, 100],
    });
    assert.deepEqual(walked.ids, expected);
    assert.deepEqual(walked.pages.map((p) => p.orders.length), [4, 1, 2, 2]);
    const link = walked.links[0]!;
    const url = new URL(link.slice(1, link.indexOf(">")), "http://x");
    assert.equal(url.pathname, "/v1/orders");
    assert.deepEqual([...url.searchParams.keys()], [
      "status",
      "user_id",
      "limit",
      "cursor",
    ]);
    assert.equal(url.searchParams.get("status"), "pending");
    assert.equal(url.searchParams.get("user_id"), "42");
    assert.equal(url.searchParams.get("limit"), "4");
    assert.equal(url.searchParams.get("cursor"), walked.pages[0].next_cursor);
  }));

Deno.test("GET /v1/orders continues an offset page with its cursor, and the Link drops the offset", () =>
  withTestContext(async (ctx, who) => {
    const expected = newestFirst(await createOrders(ctx, who.owner, 6, 100));
    const page = await listPage(ctx, who.owner, { limit: 2, offset: 1 });
    assert.deepEqual(
      page.body.orders.map((o: Json) => o.id),
      expected.slice(1, 3),
    );
    assert.doesNotMatch(page.link!, /offset/);
    const next = await listPage(ctx, who.owner, {
      limit: 2,
      offset: 0,
      cursor: page.body.next_cursor,
    });
    assert.deepEqual(
      next.body.orders.map((o: Json) => o.id),
      expected.slice(3, 5),
    );
  }));

Deno.test("GET /v1/orders cursors break created_at ties by id: orders of one millisecond are each shown once, in order", () =>
  withTestContext(async (ctx, who) => {
    // Three groups of orders sharing a millisecond, one page size that
    // cuts through every group.
    const created = [];
    for (const size of [5, 4, 5]) {
      created.push(...await createOrders(ctx, who.owner, size, 0));
      ctx.clock.advance(1);
    }
    assert.equal(new Set(created.map((o) => o.created_at)).size, 3);
    const expected = newestFirst(created);
    for (const limit of [1, 2, 3, 4, 6]) {
      const walked = await walk(ctx, who.owner, { limits: [limit] });
      assert.deepEqual(walked.ids, expected, `limit ${limit}`);
    }
  }));

Deno.test("GET /v1/orders: a walk returns every order that matched when it began exactly once, in order, while orders are created, changed and cancelled", () =>
  withTestContext(async (ctx, who) => {
    const mine = await createOrders(ctx, who.owner, 10, 1);
    await createOrders(ctx, who.other, 3, 1);
    const before = await allIds(ctx, who.owner);
    assert.deepEqual(before, newestFirst(mine));
    const added: string[] = [];
    const walked = await walk(ctx, who.owner, {
      limits: [3],
      between: async (page) => {
        // Time moves on: new orders are newer than the walk's position.
        ctx.clock.advance(1000);
        added.push((await createOrder(ctx, who.owner)).id);
        await createOrder(ctx, who.other);
        // Cancel one order already shown and one not shown yet; change the
        // address of another one ahead.
        const shown = before[page]!;
        const ahead = before[before.length - 1 - page]!;
        for (const id of [shown, ahead]) {
          await ctx.request("POST", `/v1/orders/${id}/cancel`, {
            token: who.owner,
          });
        }
        await ctx.request("PATCH", `/v1/orders/${before[4 + page]}`, {
          token: who.owner,
          body: { shipping_address: `${page} Moved St` },
        });
        await ctx.request("PATCH", `/v1/orders/${before[5 + page]}`, {
          token: who.fulfillment,
          body: { status: "processing" },
        });
      },
    });
    assert.deepEqual(walked.ids, before);
    assert.ok(added.length >= 3);
    for (const id of added) assert.ok(!walked.ids.includes(id));
    // A new walk starts from the newest: the added orders come first.
    const after = await allIds(ctx, who.owner);
    assert.deepEqual(after, [...[...added].reverse(), ...before]);
  }));

Deno.test("GET /v1/orders: orders created in the very millisecond of a walk's position appear at most once, and the walk still shows its start once each", () =>
  withTestContext(async (ctx, who) => {
    // The clock never moves: every order shares one millisecond, so a new
    // order sorts among the old ones by its random id alone.
    const before = newestFirst(await createOrders(ctx, who.owner, 12, 0));
    const added = new Set<string>();
    const walked = await walk(ctx, who.owner, {
      limits: [2],
      between: async () => {
        for (let i = 0; i < 3; i++) {
          added.add((await createOrder(ctx, who.owner)).id);
        }
      },
    });
    assert.equal(new Set(walked.ids).size, walked.ids.length, "a repeat");
    assert.deepEqual(walked.ids.filter((id) => !added.has(id)), before);
    assert.deepEqual(walked.ids, [...walked.ids].sort().reverse());
  }));

Deno.test("GET /v1/orders: with a status filter, an order that stops matching may drop out of a walk but none appears twice", () =>
  withTestContext(async (ctx, who) => {
    for (const token of [who.owner, who.other]) {
      await createOrders(ctx, token, 6, 3);
    }
    const filters = { status: "pending" };
    const before = await allIds(ctx, who.admin, filters);
    assert.equal(before.length, 12);
    const changed = new Set<string>();
    const walked = await walk(ctx, who.admin, {
      filters,
      limits: [2, 3],
      between: async (page) => {
        ctx.clock.advance(1000);
        await createOrder(ctx, who.owner);
        // Move on one order already shown and one ahead of the walk.
        for (const id of [before[page]!, before[before.length - 1 - page]!]) {
          const moved = await ctx.request("PATCH", `/v1/orders/${id}`, {
            token: who.fulfillment,
            body: { status: "processing" },
          });
          assert.equal(moved.status, 200);
          changed.add(id);
        }
      },
    });
    assert.equal(new Set(walked.ids).size, walked.ids.length, "a repeat");
    // In the order of the start, and only orders of the start.
    const positions = walked.ids.map((id) => before.indexOf(id));
    assert.ok(positions.every((p) => p >= 0), "an order not of the start");
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    // Every order that still matches was shown.
    for (const id of before) {
      if (!changed.has(id)) assert.ok(walked.ids.includes(id), id);
    }
    assert.ok(walked.ids.length < before.length, "nothing dropped out");
  }));

/** One step of the randomised walk below, between two pages. */
type Step =
  | { kind: "create"; mine: boolean; advanceMs: number }
  | { kind: "cancel" | "advance" | "address"; pick: number };

Deno.test("GET /v1/orders: random walks, as owner and as admin with filters, return the orders of their start once each, in order", async () => {
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant("create" as const),
      mine: fc.boolean(),
      advanceMs: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({
      kind: fc.constantFrom(
        "cancel" as const,
        "advance" as const,
        "address" as const,
      ),
      pick: fc.nat(),
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      // Gaps between the first orders (0: the same millisecond).
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 14 }),
      fc.constantFrom<[keyof Callers, Record<string, string | number>]>(
        ["owner", {}],
        ["owner", { status: "pending" }],
        ["owner", { user_id: 42 }],
        ["admin", {}],
        ["admin", { user_id: 42 }],
        ["admin", { status: "pending" }],
        ["fulfillment", { status: "pending", user_id: 42 }],
      ),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.array(step, { maxLength: 3 }), { maxLength: 12 }),
      (gaps, [walker, filters], limits, steps) =>
        withTestContext(async (ctx, who) => {
          for (const gap of gaps) {
            await createOrder(ctx, gap % 2 === 0 ? who.owner : who.other);
            ctx.clock.advance(gap);
          }
          const token = who[walker];
          const before = await allIds(ctx, token, filters);
          const known = await allIds(ctx, who.admin);
          const moved = new Set<string>();
          const walked = await walk(ctx, token, {
            filters,
            limits,
            between: async (page) => {
              for (const action of steps[page] ?? []) {
                if (action.kind === "create") {
                  ctx.clock.advance(action.advanceMs);
                  await createOrder(ctx, action.mine ? who.owner : who.other);
                  continue;
                }
                if (known.length === 0) continue;
                const id = known[action.pick % known.length]!;
                const changed = action.kind === "cancel"
                  ? await ctx.request("POST", `/v1/orders/${id}/cancel`, {
                    token: who.admin,
                  })
                  : action.kind === "advance"
                  ? await ctx.request("PATCH", `/v1/orders/${id}`, {
                    token: who.fulfillment,
                    body: { status: "processing" },
                  })
                  : await ctx.request("PATCH", `/v1/orders/${id}`, {
                    token: who.admin,
                    body: { shipping_address: `${page} Elsewhere` },
                  });
                await changed.body?.cancel();
                if (changed.status === 200 && action.kind !== "address") {
                  moved.add(id);
                }
              }
            },
          });
          assert.equal(new Set(walked.ids).size, walked.ids.length, "a repeat");
          const positions = walked.ids.map((id) => before.indexOf(id));
          assert.ok(
            positions.every((p) => p >= 0),
            "an order not of the start",
          );
          assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
          for (const id of before) {
            if (filters.status === undefined || !moved.has(id)) {
              assert.ok(walked.ids.includes(id), `missed ${id}`);
            }
          }
        }),
    ),
    { seed: 20_261_203, numRuns: 40 },
  );
});

/** A cursor with one character of the part at `part` (0: body, 1: MAC) changed. */
function altered(cursor: string, part: 0 | 1, at: number): string {
  const parts = cursor.split(".");
  const text = parts[part]!;
  const i = at % text.length;
  parts[part] = text.slice(0, i) + (text[i] === "A" ? "B" : "A") +
    text.slice(i + 1);
  return parts.join(".");
}

/** The cursor codec's key, derived as routes/http/cursor.ts derives it. */
function macOver(binding: CursorBinding, body: string): string {
  const key = createHmac("sha256", TEST_SECRET).update("orders-api cursor v1")
    .digest();
  const scope = Object.keys(binding.scope).sort().map((name) => [
    name,
    binding.scope[name],
  ]);
  return createHmac("sha256", key)
    .update(JSON.stringify([binding.kind, binding.userId, scope]))
    .update("\n").update(body).digest().toString("base64url");
}

Deno.test("GET /v1/orders refuses with 400 a cursor altered, issued to another caller or view, or sent with other filters", (t) =>
  withTestContext(async (ctx, who) => {
    await createOrders(ctx, who.owner, 3, 5);
    await createOrders(ctx, who.other, 3, 5);
    const ownerCursor = (await listPage(ctx, who.owner, { limit: 1 })).body
      .next_cursor as string;
    const pendingCursor = (await listPage(ctx, who.owner, {
      limit: 1,
      status: "pending",
    })).body.next_cursor as string;
    const adminCursor = (await listPage(ctx, who.admin, {
      limit: 1,
      user_id: 42,
    })).body.next_cursor as string;
    const ownerAsAdmin = await ctx.token(42, ["admin"]);
    const secondAdmin = await ctx.token(10, ["admin"]);
    const cases: [string, string, Record<string, string | number>][] = [
      ["a changed body", who.owner, { cursor: altered(ownerCursor, 0, 3) }],
      ["a changed MAC", who.owner, { cursor: altered(ownerCursor, 1, 5) }],
      ["a cut MAC", who.owner, { cursor: ownerCursor.slice(0, -2) }],
      ["no MAC", who.owner, { cursor: ownerCursor.split(".")[0]! }],
      ["a third part", who.owner, { cursor: `${ownerCursor}.x` }],
      ["another user's", who.other, { cursor: ownerCursor }],
      ["the same user with other roles", ownerAsAdmin, { cursor: ownerCursor }],
      ["another admin's", secondAdmin, { cursor: adminCursor, user_id: 42 }],
      ["a staff cursor used without staff roles", who.owner, {
        cursor: adminCursor,
        user_id: 42,
      }],
      ["a status the cursor was not made with", who.owner, {
        cursor: ownerCursor,
        status: "pending",
      }],
      ["another status", who.owner, {
        cursor: pendingCursor,
        status: "processing",
      }],
      ["no status where it had one", who.owner, { cursor: pendingCursor }],
      ["a user filter it was not made with", who.owner, {
        cursor: ownerCursor,
        user_id: 42,
      }],
      ["no user filter where it had one", who.admin, { cursor: adminCursor }],
      ["another user filter", who.admin, { cursor: adminCursor, user_id: 7 }],
    ];
    for (const [name, token, params] of cases) {
      await t.step(name, async () => {
        const problem = await expectProblem(
          await ctx.request("GET", listPath(params), { token }),
          400,
          /not one this service issued/,
        );
        assert.deepEqual(problem.errors.map((e: Json) => e.path), ["cursor"]);
      });
    }
    await t.step(
      "the same cursor with its own caller and filters pages on",
      async () => {
        for (
          const [token, params] of [
            [who.owner, { cursor: ownerCursor }],
            [who.owner, { cursor: pendingCursor, status: "pending" }],
            [who.admin, { cursor: adminCursor, user_id: 42, limit: 50 }],
          ] as const
        ) {
          const { body } = await listPage(ctx, token, params);
          assert.equal(body.orders.length, 2);
        }
      },
    );
  }));

Deno.test("GET /v1/orders refuses a cursor with an offset other than 0 with 400, and takes offset=0", () =>
  withTestContext(async (ctx, who) => {
    await createOrders(ctx, who.owner, 3, 5);
    const cursor = (await listPage(ctx, who.owner, { limit: 1 })).body
      .next_cursor;
    const problem = await expectProblem(
      await ctx.request("GET", listPath({ cursor, offset: 1 }), {
        token: who.owner,
      }),
      400,
      /without an offset/,
    );
    assert.deepEqual(problem.errors.map((e: Json) => e.path), ["offset"]);
    // An out-of-range offset is still a 422, like any other parameter.
    await expectProblem(
      await ctx.request("GET", listPath({ cursor, offset: -1 }), {
        token: who.owner,
      }),
      422,
    );
    const { body } = await listPage(ctx, who.owner, { cursor, offset: 0 });
    assert.equal(body.orders.length, 2);
  }));

Deno.test("GET /v1/orders refuses hostile cursors with 400, never a 500", (t) =>
  withTestContext(async (ctx, who) => {
    await createOrders(ctx, who.owner, 3, 5);
    const real = (await listPage(ctx, who.owner, { limit: 1 })).body
      .next_cursor as string;
    const binding: CursorBinding = {
      kind: "orders",
      userId: 42,
      scope: { every_order: false, status: null, user_id: null },
    };
    const codec = createCursorCodec(TEST_SECRET);
    const id = "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10";
    const notJson = Buffer.from("[1, oops").toString("base64url");
    const hostile: [string, string][] = [
      ["empty", ""],
      ["a dot", "."],
      ["dots", "..."],
      ["too long", "a".repeat(MAX_CURSOR_LENGTH + 1)],
      [
        "a real one padded past the limit",
        real + "A".repeat(MAX_CURSOR_LENGTH),
      ],
      ["huge", "x".repeat(100_000)],
      ["not base64", "!!!$$$.***"],
      ["spaces and controls", " \t\u0001.\u007f "],
      ["non-ASCII", "ключ.🔑"],
      ["JSON", '{"createdAt":0,"id":"x"}'],
      ["a JSON array", `[0,"${id}"]`],
      [
        "base64 of a position, no MAC",
        Buffer.from(`[0,"${id}"]`).toString("base64url"),
      ],
      [
        "base64 of a position, a forged MAC",
        `${Buffer.from(`[0,"${id}"]`).toString("base64url")}.${"A".repeat(43)}`,
      ],
      ["SQL", "' OR 1=1 --"],
      ["SQL in both parts", "1) OR (1=1.'; DROP TABLE orders; --"],
      ["a null byte", "\u0000"],
      ["a lone surrogate", "\ud800.\udc00"],
      [
        "another kind's cursor",
        codec.encode({ ...binding, kind: "events" }, [17]),
      ],
      ["a valid MAC over no position", codec.encode(binding, [])],
      ["a valid MAC over a string", codec.encode(binding, ["x"])],
      ["a valid MAC over a number only", codec.encode(binding, [1])],
      ["a valid MAC over swapped parts", codec.encode(binding, [id, 1])],
      ["a valid MAC over a fraction", codec.encode(binding, [1.5, id])],
      ["a valid MAC over a negative time", codec.encode(binding, [-1, id])],
      ["a valid MAC over a huge time", codec.encode(binding, [1e300, id])],
      [
        "a valid MAC over an id that is not a UUID",
        codec.encode(binding, [1, "x' OR '1'='1"]),
      ],
      [
        "a valid MAC over an upper-case id",
        codec.encode(binding, [1, id.toUpperCase()]),
      ],
      ["a valid MAC over three parts", codec.encode(binding, [1, id, 2])],
      [
        "a valid MAC over a body that is not JSON",
        `${notJson}.${macOver(binding, notJson)}`,
      ],
    ];
    for (const [name, cursor] of hostile) {
      await t.step(name, async () => {
        const response = await ctx.request("GET", listPath({ cursor }), {
          token: who.owner,
        });
        const problem = await expectProblem(response, 400);
        assert.deepEqual(problem.errors.map((e: Json) => e.path), ["cursor"]);
        assert.doesNotMatch(JSON.stringify(problem), /SyntaxError|JSON|at /);
      });
    }
    await t.step(
      "a valid MAC over a well-formed position pages on from it",
      async () => {
        const { body } = await listPage(ctx, who.owner, {
          cursor: codec.encode(binding, [ctx.clock.now() + 1, id]),
        });
        assert.equal(body.orders.length, 3);
      },
    );
  }));
