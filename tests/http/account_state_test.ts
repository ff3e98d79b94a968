/**
 * Account state through the real app on real databases: disabling,
 * enabling and revoking tokens, how soon every instance honours it, and
 * the admin endpoints' refusals and audit chain.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { importHmacKey } from "../../auth/token_verifier.ts";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import type { AccountStore } from "../../domain/ports.ts";
import { MINUTE_MS } from "../../limits/rate_limiter.ts";
import {
  createTestContext,
  expectProblem,
  type Json,
  soundAuditLog,
  TEST_AUDIT_KEYS,
  TEST_SECRET,
  type TestContext,
  withTestContext,
  withTwoInstances,
} from "../fixtures/mod.ts";

const USER = 42;
const ADMIN = 9;

async function status(
  ctx: TestContext,
  method: string,
  path: string,
  token: string,
  remoteAddress?: string,
): Promise<number> {
  const response = await ctx.request(method, path, {
    token,
    ...(remoteAddress !== undefined && { remoteAddress }),
  });
  await response.body?.cancel();
  return response.status;
}

async function admin(
  ctx: TestContext,
  action: "disable" | "enable" | "revoke-tokens",
  userId: number | string = USER,
): Promise<void> {
  const token = await ctx.token(ADMIN, ["admin"]);
  const response = await ctx.request(
    "POST",
    `/v1/admin/users/${userId}/${action}`,
    { token },
  );
  assert.equal(response.status, 204, await response.text());
}

Deno.test("a disabled user is refused on every instance within 5 s, and served again after enable", () =>
  withTwoInstances(async (a, b) => {
    const userOnA = await a.token(USER);
    const userOnB = await b.token(USER);
    // Instance B has read (and cached) the account as enabled.
    assert.equal(await status(b, "GET", "/v1/orders", userOnB), 200);

    await admin(a, "disable");
    // The instance that served the admin refuses at once.
    const refused = await a.request("GET", "/v1/orders", { token: userOnA });
    const problem = await expectProblem(refused, 403);
    assert.equal(problem.type, "urn:orders-api:problem:account-disabled");

    // B may still serve from its cache, but never for 5 s or more.
    b.clock.advance(4_999);
    assert.equal(await status(b, "GET", "/v1/orders", userOnB), 200);
    b.clock.advance(1);
    assert.equal(await status(b, "GET", "/v1/orders", userOnB), 403);
    // Every route, any method, after authentication.
    assert.equal(await status(b, "POST", "/v1/orders", userOnB), 403);

    await admin(a, "enable");
    assert.equal(await status(a, "GET", "/v1/orders", userOnA), 200);
    b.clock.advance(5_000);
    assert.equal(await status(b, "GET", "/v1/orders", userOnB), 200);
  }));

Deno.test("account state is read from the database once per 5 s per user, not per request", async () => {
  const base = await createTestContext();
  let reads = 0;
  const counting: AccountStore = {
    ...base.accounts,
    findAccount(userId) {
      reads++;
      return base.accounts.findAccount(userId);
    },
  };
  const ctx = await createTestContext({ accounts: counting });
  try {
    const token = await ctx.token(USER);
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () => status(ctx, "GET", "/v1/orders", token)),
    );
    assert.deepEqual(statuses, Array(10).fill(200));
    assert.equal(reads, 1, "concurrent requests share one read");
    ctx.clock.advance(4_999);
    assert.equal(await status(ctx, "GET", "/v1/orders", token), 200);
    assert.equal(reads, 1);
    ctx.clock.advance(1);
    assert.equal(await status(ctx, "GET", "/v1/orders", token), 200);
    assert.equal(reads, 2);
    // Another user is another entry.
    assert.equal(
      await status(ctx, "GET", "/v1/orders", await ctx.token(USER + 1)),
      200,
    );
    assert.equal(reads, 3);
  } finally {
    ctx.close();
    base.close();
  }
});

/**
 * A token for `sub` whose `iat` claim is exactly `iat`, fractions included
 * (none when undefined).
 */
async function tokenIssuedAt(
  ctx: TestContext,
  sub: number,
  iat: number | undefined,
) {
  const now = Math.floor(ctx.clock.now() / 1000);
  return await new SignJWT({
    sub: String(sub),
    ...(iat !== undefined && { iat }),
  })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(now + 3600)
    .sign(await importHmacKey(TEST_SECRET, ["sign"]));
}

Deno.test("revoked tokens are refused with 401 while tokens issued after the revocation second are served", () =>
  withTwoInstances(async (a, b) => {
    const before = await a.token(USER);
    const noIat = await tokenIssuedAt(a, USER, undefined);
    assert.equal(await status(a, "GET", "/v1/orders", before), 200);
    assert.equal(await status(a, "GET", "/v1/orders", noIat), 200);

    a.clock.advance(400); // the revocation falls in the token's second
    b.clock.advance(400);
    const sameSecond = await a.token(USER);
    // Instance B reads (and caches) the account just before the revocation.
    assert.equal(await status(b, "GET", "/v1/orders", before), 200);
    await admin(a, "revoke-tokens");

    for (const token of [before, sameSecond, noIat]) {
      const response = await a.request("GET", "/v1/orders", { token });
      assert.equal(response.status, 401);
      assert.equal(
        response.headers.get("www-authenticate"),
        'Bearer realm="orders", error="invalid_token"',
      );
      const problem: Json = await response.json();
      assert.equal(problem.type, "urn:orders-api:problem:unauthenticated");
    }
    // Another instance refuses within 5 s.
    b.clock.advance(4_999);
    assert.equal(await status(b, "GET", "/v1/orders", before), 200);
    b.clock.advance(1);
    assert.equal(await status(b, "GET", "/v1/orders", before), 401);

    // A token issued in a later second is served, everywhere.
    a.clock.advance(600);
    const after = await a.token(USER);
    assert.equal(await status(a, "GET", "/v1/orders", after), 200);
    assert.equal(await status(b, "GET", "/v1/orders", after), 200);
    // Other users' tokens are untouched.
    assert.equal(
      await status(a, "GET", "/v1/orders", await a.token(USER + 1)),
      200,
    );
  }));

Deno.test("a token whose fractional iat falls in the revocation's second is refused with 401", () =>
  withTestContext(async (ctx) => {
    ctx.clock.advance(400);
    const second = Math.floor(ctx.clock.now() / 1000);
    const fractional = await tokenIssuedAt(ctx, USER, second + 0.999);
    assert.equal(await status(ctx, "GET", "/v1/orders", fractional), 200);
    await admin(ctx, "revoke-tokens");
    assert.equal(await status(ctx, "GET", "/v1/orders", fractional), 401);
    // The next second, fractional or not, is after the revocation.
    ctx.clock.advance(600);
    for (const iat of [second + 1, second + 1.5]) {
      assert.equal(
        await status(
          ctx,
          "GET",
          "/v1/orders",
          await tokenIssuedAt(ctx, USER, iat),
        ),
        200,
        `iat ${iat}`,
      );
    }
  }));

Deno.test("a revoked token's 401 does not count as failed authentication for the per-address limit", () =>
  withTestContext(async (ctx) => {
    const address = "198.51.100.7";
    const revoked = await ctx.token(USER);
    await admin(ctx, "revoke-tokens");
    for (let i = 0; i < 5; i++) {
      assert.equal(
        await status(ctx, "GET", "/v1/orders", revoked, address),
        401,
      );
    }
    // The address still has its whole budget for real failures.
    assert.equal(await status(ctx, "GET", "/v1/orders", "bad", address), 401);
    assert.equal(await status(ctx, "GET", "/v1/orders", "bad", address), 401);
    assert.equal(await status(ctx, "GET", "/v1/orders", "bad", address), 429);
    const failures = ctx.logs.filter((l) => l.event === "auth.failed");
    assert.equal(
      failures.filter((l) => l.reason === "token revoked").length,
      5,
    );
  }, {
    limits: { auth_failures: { limit: 2, windowMs: MINUTE_MS } },
  }));

Deno.test("order of checks: revoked token 401, then disabled account 403, then the rate limit 429", () =>
  withTestContext(async (ctx) => {
    const old = await ctx.token(USER);
    assert.equal(await status(ctx, "GET", "/v1/orders", old), 200);
    assert.equal(await status(ctx, "GET", "/v1/orders", old), 200);
    assert.equal(await status(ctx, "GET", "/v1/orders", old), 429);
    await admin(ctx, "disable");
    // Disabled comes before the rate limit: 403, not 429.
    assert.equal(await status(ctx, "GET", "/v1/orders", old), 403);
    await admin(ctx, "revoke-tokens");
    // A revoked token is an authentication failure: 401 before 403.
    assert.equal(await status(ctx, "GET", "/v1/orders", old), 401);
    ctx.clock.advance(1000);
    assert.equal(
      await status(ctx, "GET", "/v1/orders", await ctx.token(USER)),
      403,
    );
  }, {
    limits: { requests: { limit: 2, windowMs: MINUTE_MS } },
  }));

Deno.test("admin account endpoints: admins only, user ids that are positive integers, 204", (t) =>
  withTestContext(async (ctx) => {
    const tokens = {
      user: await ctx.token(USER),
      fulfillment: await ctx.token(8, ["fulfillment"]),
      admin: await ctx.token(ADMIN, ["admin"]),
    };
    for (const action of ["disable", "enable", "revoke-tokens"]) {
      await t.step(`${action}: non-admins 403, bad user ids 404`, async () => {
        const path = `/v1/admin/users/${USER}/${action}`;
        assert.equal(await status(ctx, "POST", path, tokens.user), 403);
        assert.equal(await status(ctx, "POST", path, tokens.fulfillment), 403);
        for (const bad of ["0", "-1", "abc", "1.5", "9007199254740992", "01"]) {
          const badPath = `/v1/admin/users/${bad}/${action}`;
          assert.equal(await status(ctx, "POST", badPath, tokens.admin), 404);
          assert.equal(await status(ctx, "POST", badPath, tokens.user), 404);
        }
        assert.equal(
          await status(ctx, "GET", path, tokens.admin),
          405,
          "only POST",
        );
      });
    }
    const metrics = "/v1/admin/metrics";
    assert.equal(await status(ctx, "GET", metrics, tokens.user), 403);
    assert.equal(await status(ctx, "GET", metrics, tokens.fulfillment), 403);
    assert.equal(await status(ctx, "GET", metrics, tokens.admin), 200);
    // Nothing was written by the refusals.
    assert.equal(await ctx.accounts.findAccount(USER), undefined);
  }));

Deno.test("each account action that changes something is one audit entry in the user's hash chain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orders-accounts-audit-" });
  const ctx = await createTestContext({ url: `file:${dir}/orders.db` });
  try {
    await admin(ctx, "disable");
    ctx.clock.advance(1000);
    await admin(ctx, "disable"); // already disabled: no change
    await admin(ctx, "revoke-tokens");
    await admin(ctx, "revoke-tokens"); // the same second: no change
    ctx.clock.advance(1000);
    await admin(ctx, "enable");
    await admin(ctx, "enable"); // already enabled: no change
    await admin(ctx, "enable", USER + 1); // never disabled: no change

    const rows = (await ctx.database.client.execute(
      "SELECT chain_id, chain_seq, order_id, action, actor_user_id, changes FROM audit_log ORDER BY seq",
    )).rows.map((row) => ({ ...row }));
    const start = ctx.clock.now() - 2000;
    assert.deepEqual(rows, [
      {
        chain_id: `user:${USER}`,
        chain_seq: 1,
        order_id: null,
        action: "account.disabled",
        actor_user_id: ADMIN,
        changes: JSON.stringify({
          disabled_at: { from: null, to: new Date(start).toISOString() },
        }),
      },
      {
        chain_id: `user:${USER}`,
        chain_seq: 2,
        order_id: null,
        action: "account.tokens_revoked",
        actor_user_id: ADMIN,
        changes: JSON.stringify({
          tokens_revoked_before: {
            from: null,
            to: new Date(start + 1000).toISOString(),
          },
        }),
      },
      {
        chain_id: `user:${USER}`,
        chain_seq: 3,
        order_id: null,
        action: "account.enabled",
        actor_user_id: ADMIN,
        changes: JSON.stringify({
          disabled_at: { from: new Date(start).toISOString(), to: null },
        }),
      },
    ]);
    const account = await ctx.accounts.findAccount(USER);
    assert.deepEqual(account, {
      userId: USER,
      disabledAt: null,
      tokensRevokedBefore: Math.floor((start + 1000) / 1000),
      updatedAt: start + 2000,
    });

    const verified = await verifyAuditLog(ctx.database.db, {
      keys: TEST_AUDIT_KEYS,
    });
    assert.deepEqual(verified, soundAuditLog({ chains: 1, entries: 3 }));
  } finally {
    ctx.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("concurrent admin actions on one account all land, one after the other, in one unbroken chain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orders-accounts-race-" });
  const ctx = await createTestContext({ url: `file:${dir}/orders.db` });
  try {
    const token = await ctx.token(ADMIN, ["admin"]);
    const actions = ["disable", "revoke-tokens", "enable", "revoke-tokens"];
    const statuses = await Promise.all(
      actions.map((action, i) =>
        status(ctx, "POST", `/v1/admin/users/${USER + i}/${action}`, token)
      ).concat(
        actions.map((action) =>
          status(ctx, "POST", `/v1/admin/users/${USER}/${action}`, token)
        ),
      ),
    );
    assert.ok(statuses.every((s) => s === 204), String(statuses));
    const verified = await verifyAuditLog(ctx.database.db);
    assert.equal(verified.broken, undefined);
  } finally {
    ctx.close();
    await Deno.remove(dir, { recursive: true });
  }
});
