/**
 * Issue 24 with a rate-limit store in another process (Upstash): the
 * account state read on a cache miss travels with the limits' call and
 * its refusals still win, and a list is read while the store judges only
 * when this instance's memory of the user allows: the room its last
 * verdict left, or one probe when nothing is known.
 */
import assert from "node:assert/strict";
import {
  MINUTE_MS,
  type RateLimiters,
  type RateLimitName,
} from "../../limits/rate_limiter.ts";
import {
  createUpstashRateLimiters,
  createUpstashRedis,
} from "../../limits/upstash_rate_limiter.ts";
import {
  awayFromWindowEdge,
  createOrder,
  createTestContext,
  expectProblem,
  PERMISSIVE_RATE_LIMIT,
  type TestContext,
} from "../fixtures/mod.ts";
import { redisTest, startUpstashBridge } from "../fixtures/upstash_bridge.ts";

const HOUR_MS = 3_600_000;
const ADMIN = 9;

/** A test context whose limits live in Redis behind the Upstash bridge. */
async function withUpstash(
  limits: Partial<Record<RateLimitName, number>>,
  fn: (
    ctx: TestContext,
    bridge: Awaited<ReturnType<typeof startUpstashBridge>>,
    limiters: RateLimiters,
  ) => Promise<void>,
): Promise<void> {
  await using bridge = await startUpstashBridge();
  await awayFromWindowEdge(HOUR_MS);
  const rule = (name: RateLimitName) =>
    limits[name] === undefined
      ? PERMISSIVE_RATE_LIMIT
      : { limit: limits[name], windowMs: HOUR_MS };
  const limiters = createUpstashRateLimiters(createUpstashRedis(bridge), {
    requests: rule("requests"),
    order_creation: rule("order_creation"),
    lookup_misses: rule("lookup_misses"),
    auth_failures: rule("auth_failures"),
  });
  const ctx = await createTestContext({
    rateLimits: { limiters, failClosed: false, trustedProxies: 0 },
  });
  try {
    await fn(ctx, bridge, limiters);
  } finally {
    ctx.close();
    await bridge.idle();
  }
}

/** Counts the store's reads of order lists from now on. */
function countListReads(ctx: TestContext): () => number {
  const store = ctx.store as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  const listOrders = store.listOrders!;
  let reads = 0;
  store.listOrders = (...args) => {
    reads++;
    return listOrders.apply(ctx.store, args);
  };
  return () => reads;
}

async function adminAction(
  ctx: TestContext,
  action: "disable" | "enable" | "revoke-tokens",
  userId: number,
): Promise<void> {
  const response = await ctx.request(
    "POST",
    `/v1/admin/users/${userId}/${action}`,
    { token: await ctx.token(ADMIN, ["admin"]) },
  );
  assert.equal(response.status, 204, await response.text());
}

redisTest(
  "an account read on a cache miss goes with the limits' call: a disabled account's change is 403 and writes nothing, a revoked token is 401",
  () =>
    withUpstash({}, async (ctx, bridge) => {
      const alice = await ctx.token(1);
      const { id } = await createOrder(ctx, alice);
      // Loads the look-up limit's script into this new Redis.
      const read = await ctx.request("GET", `/v1/orders/${id}`, {
        token: alice,
      });
      assert.equal(read.status, 200);
      await read.body?.cancel();
      let accountReads = 0;
      const accounts = ctx.accounts as unknown as Record<
        string,
        (...args: unknown[]) => unknown
      >;
      const findAccount = accounts.findAccount!;
      accounts.findAccount = (...args) => {
        if (args[0] === 1) accountReads++; // not the admin's own
        return findAccount.apply(ctx.accounts, args);
      };
      // The admin's instance forgets the account: the next request misses.
      await adminAction(ctx, "disable", 1);
      const redisBefore = bridge.requests();
      const refused = await ctx.request("PATCH", `/v1/orders/${id}`, {
        token: alice,
        body: { shipping_address: "2 Side St" },
      });
      const problem = await expectProblem(refused, 403);
      assert.equal(problem.type, "urn:orders-api:problem:account-disabled");
      // Both were asked; the account's refusal won, and nothing was written.
      assert.equal(accountReads, 1);
      assert.equal(bridge.requests() - redisBefore, 1);
      assert.equal((await ctx.store.findOrder(id))?.version, 1);
      // Cached now: refused before the limits are asked.
      const again = await ctx.request("GET", "/v1/orders", { token: alice });
      await expectProblem(again, 403);
      assert.equal(bridge.requests() - redisBefore, 1);

      await adminAction(ctx, "enable", 1);
      await adminAction(ctx, "revoke-tokens", 1);
      const revoked = await ctx.request("GET", `/v1/orders/${id}`, {
        token: alice,
      });
      await expectProblem(revoked, 401);
      assert.equal(accountReads, 2);
    }),
);

redisTest(
  "a list is read while the store judges only when the last verdict left room, and a request without room that is refused reads nothing",
  () =>
    withUpstash({ requests: 4 }, async (ctx, bridge) => {
      const alice = await ctx.token(1);
      await createOrder(ctx, alice); // 3 left in the window
      const store = ctx.store as unknown as Record<
        string,
        (...args: unknown[]) => unknown
      >;
      const listOrders = store.listOrders!;
      /** For each list read: whether the store's verdict had come. */
      const reads: boolean[] = [];
      let judged = false;
      store.listOrders = (...args) => {
        reads.push(judged);
        return listOrders.apply(ctx.store, args);
      };
      const list = async () => {
        judged = false;
        const pending = ctx.request("GET", "/v1/orders", { token: alice });
        // The verdict comes once the bridge answered the request's call
        // (after its delay): not before the bridge is idle again.
        const before = bridge.requests();
        const watch = (async () => {
          while (bridge.requests() === before) {
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
          await bridge.idle();
          judged = true;
        })();
        const response = await pending;
        await watch;
        await response.body?.cancel();
        return response.status;
      };
      bridge.setDelay(100);
      // The creation's verdict left room (3): each list is read ahead of
      // its verdict (2, 1, then 0 left); then no room: the next one waits,
      // is refused, and reads nothing.
      assert.deepEqual(
        [await list(), await list(), await list(), await list()],
        [200, 200, 200, 429],
      );
      assert.deepEqual(reads, [false, false, false]);
      bridge.setDelay(0);
    }),
);

redisTest(
  "concurrent lists read ahead no more than the last verdict left room for, and the one refused reads nothing",
  () =>
    withUpstash({ requests: 3 }, async (ctx) => {
      const alice = await ctx.token(1);
      await createOrder(ctx, alice); // 2 left in the window
      const reads = countListReads(ctx);
      const responses = await Promise.all(
        Array.from(
          { length: 3 },
          () => ctx.request("GET", "/v1/orders", { token: alice }),
        ),
      );
      await Promise.all(responses.map((r) => r.body?.cancel()));
      assert.deepEqual(responses.map((r) => r.status).sort(), [200, 200, 429]);
      // Two ran ahead on the creation's room; the third waited, was refused.
      assert.equal(reads(), 2);
    }),
);

redisTest(
  "with nothing known of a user, one list is read ahead as a probe while the others wait; after a refusal none is read ahead for a minute",
  () =>
    withUpstash({ requests: 3 }, async (ctx, _bridge, limiters) => {
      const alice = await ctx.token(1);
      // Another instance used up the user's window; this one knows nothing.
      for (let i = 0; i < 3; i++) await limiters.requests.limit("1");
      const reads = countListReads(ctx);
      const lists = async (count: number) => {
        const responses = await Promise.all(
          Array.from(
            { length: count },
            () => ctx.request("GET", "/v1/orders", { token: alice }),
          ),
        );
        await Promise.all(responses.map((r) => r.body?.cancel()));
        return responses.map((r) => r.status);
      };
      assert.deepEqual(await lists(3), [429, 429, 429]);
      assert.equal(reads(), 1, "the probe only");
      // The refusal is remembered for a minute, and each refusal since:
      // nothing runs ahead of its verdict.
      ctx.clock.advance(MINUTE_MS - 1);
      assert.deepEqual(await lists(2), [429, 429]);
      assert.equal(reads(), 1);
      // A minute after the last refusal, nothing is known again: one probe.
      ctx.clock.advance(MINUTE_MS);
      assert.deepEqual(await lists(2), [429, 429]);
      assert.equal(reads(), 2);
    }),
);
