/**
 * Cursor pagination of `GET /v1/orders` in remote mode: the app over a
 * libSQL server speaking Hrana over HTTP (`tests/fixtures/libsql_http_server.ts`),
 * as `@libsql/client/web` reaches Turso, so the keyset SQL and its
 * arguments (a millisecond time and an id) are proven over the wire too.
 */
import assert from "node:assert/strict";
import { startLibsqlHttpServer } from "../fixtures/libsql_http_server.ts";
import {
  createOrder,
  expectJson,
  expectProblem,
  type Json,
  type TestContext,
  withTestContext,
} from "../fixtures/mod.ts";

/** Follows `next_cursor` to the end, running `between` after each page. */
async function walk(
  ctx: TestContext,
  token: string,
  query: string,
  between: (page: number) => Promise<void>,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0;; page++) {
    const path = `/v1/orders?${query}${
      cursor === null ? "" : `&cursor=${cursor}`
    }`;
    const response = await ctx.request("GET", path, { token });
    const body = await expectJson(response, 200);
    ids.push(...body.orders.map((order: Json) => order.id));
    cursor = body.next_cursor;
    assert.equal(response.headers.has("link"), cursor !== null);
    if (cursor === null) return ids;
    await between(page);
  }
}

Deno.test("remote mode: a cursor walk over libSQL HTTP returns every order of its start once, in order, ties included, while orders change", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orders-remote-cursor-" });
  const server = startLibsqlHttpServer(`${dir}/remote.db`);
  try {
    await withTestContext(async (ctx, who) => {
      // Groups of orders sharing a millisecond, two owners.
      for (let group = 0; group < 4; group++) {
        for (let i = 0; i < 3; i++) {
          await createOrder(ctx, i === 2 ? who.other : who.owner);
        }
        ctx.clock.advance(1);
      }
      const all = async (token: string, query: string) =>
        (await expectJson(
          await ctx.request("GET", `/v1/orders?limit=100&${query}`, { token }),
          200,
        )).orders.map((order: Json) => order.id) as string[];

      const mine = await all(who.owner, "");
      assert.equal(mine.length, 8);
      const before = server.pipelineRequests();
      const walked = await walk(ctx, who.owner, "limit=3", async (page) => {
        ctx.clock.advance(1000);
        await createOrder(ctx, who.owner);
        const cancelled = await ctx.request(
          "POST",
          `/v1/orders/${mine[mine.length - 1 - page]}/cancel`,
          { token: who.owner },
        );
        assert.equal(cancelled.status, 200);
      });
      assert.deepEqual(walked, mine);
      assert.ok(server.pipelineRequests() > before, "the walk went over HTTP");

      // An admin's walk of one user's pending orders: the cancelled ones
      // are gone from the start; one more is moved on during the walk.
      const pending = await all(who.admin, "status=pending&user_id=42");
      const moved = pending[pending.length - 1]!;
      const filtered = await walk(
        ctx,
        who.admin,
        "status=pending&user_id=42&limit=2",
        async (page) => {
          if (page !== 0) return;
          const response = await ctx.request("PATCH", `/v1/orders/${moved}`, {
            token: who.fulfillment,
            body: { status: "processing" },
          });
          assert.equal(response.status, 200);
        },
      );
      assert.deepEqual(filtered, pending.filter((id) => id !== moved));

      // A cursor made for other filters is refused.
      const first = await expectJson(
        await ctx.request("GET", "/v1/orders?limit=1", { token: who.admin }),
        200,
      );
      await expectProblem(
        await ctx.request(
          "GET",
          `/v1/orders?status=pending&cursor=${first.next_cursor}`,
          { token: who.admin },
        ),
        400,
      );
    }, { url: server.url });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
