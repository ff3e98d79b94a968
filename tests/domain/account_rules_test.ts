/**
 * The pure account rules, the account-state cache, and applying an admin
 * action when another one races it.
 */
import assert from "node:assert/strict";
import {
  createAccountStateCache,
  MAX_ACCOUNT_STATE_STALENESS_MS,
} from "../../auth/account_state_cache.ts";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import {
  accountRefusal,
  type AccountState,
  planAccountAction,
} from "../../domain/account.ts";
import { applyAccountAction } from "../../domain/apply_account_action.ts";
import type { AccountStore } from "../../domain/ports.ts";
import type { Principal } from "../../domain/principal.ts";
import { createTestContext, testClock } from "../fixtures/mod.ts";

const ADMIN: Principal = { userId: 9, roles: ["admin", "user"] };

function account(overrides: Partial<AccountState> = {}): AccountState {
  return {
    userId: 42,
    disabledAt: null,
    tokensRevokedBefore: null,
    updatedAt: 0,
    ...overrides,
  };
}

Deno.test("accountRefusal: tokens issued at or before the revocation second, or without iat, are revoked", async (t) => {
  const revoked = account({ tokensRevokedBefore: 1000 });
  const cases: [
    string,
    AccountState | undefined,
    number | undefined,
    string | undefined,
  ][] = [
    ["no state", undefined, 5, undefined],
    ["nothing set", account(), undefined, undefined],
    ["iat before the second", revoked, 999, "tokens_revoked"],
    ["iat in the second", revoked, 1000, "tokens_revoked"],
    ["iat a fraction into the second", revoked, 1000.999, "tokens_revoked"],
    ["iat after the second", revoked, 1001, undefined],
    ["iat a fraction into the next second", revoked, 1001.5, undefined],
    ["no iat", revoked, undefined, "tokens_revoked"],
    ["disabled", account({ disabledAt: 1 }), 1001, "disabled"],
    [
      "revoked and disabled: the 401 first",
      account({ disabledAt: 1, tokensRevokedBefore: 1000 }),
      1000,
      "tokens_revoked",
    ],
    [
      "a later token of a disabled account",
      account({ disabledAt: 1, tokensRevokedBefore: 1000 }),
      1001,
      "disabled",
    ],
  ];
  for (const [name, state, iat, expected] of cases) {
    await t.step(name, () => {
      assert.equal(accountRefusal(state, iat), expected);
    });
  }
});

Deno.test("planAccountAction changes only what differs and records it", () => {
  const context = { userId: 42, actor: ADMIN, requestId: "r1", now: 1_500 };
  assert.deepEqual(planAccountAction(undefined, "enable", context), {
    changed: false,
  });
  const disabled = planAccountAction(undefined, "disable", context);
  assert.ok(disabled.changed);
  assert.deepEqual(
    disabled.account,
    account({
      disabledAt: 1_500,
      updatedAt: 1_500,
    }),
  );
  assert.equal(disabled.draft.action, "account.disabled");
  assert.equal(disabled.draft.orderId, null);
  assert.deepEqual(disabled.draft.changes, {
    disabled_at: { from: null, to: "1970-01-01T00:00:01.500Z" },
  });
  assert.deepEqual(
    planAccountAction(disabled.account, "disable", context),
    { changed: false },
  );
  const revoked = planAccountAction(disabled.account, "revoke_tokens", {
    ...context,
    now: 2_999,
  });
  assert.ok(revoked.changed);
  assert.equal(revoked.account.tokensRevokedBefore, 2);
  assert.equal(revoked.account.disabledAt, 1_500);
  assert.equal(revoked.draft.action, "account.tokens_revoked");
  // Within the same second a second revocation changes nothing.
  assert.deepEqual(
    planAccountAction(revoked.account, "revoke_tokens", {
      ...context,
      now: 2_000,
    }),
    { changed: false },
  );
});

Deno.test("the account-state cache bounds staleness by the start of the read", async () => {
  const clock = testClock(0);
  const stored: { state: AccountState | undefined } = { state: undefined };
  let release: (() => void) | undefined;
  let reads = 0;
  const cache = createAccountStateCache({
    now: clock.now,
    async load() {
      reads++;
      const seen = stored.state;
      if (release === undefined) {
        await new Promise<void>((resolve) => release = resolve);
      }
      return seen;
    },
  });
  // A slow read begins at 0 and ends at 3000.
  const first = cache.get(42);
  const joined = cache.get(42);
  clock.advance(3000);
  release?.();
  assert.equal(await first, undefined);
  assert.equal(await joined, undefined);
  assert.equal(reads, 1);
  // Its entry expires 5 s after the read began, not after it ended.
  stored.state = account({ disabledAt: 1 });
  clock.advance(MAX_ACCOUNT_STATE_STALENESS_MS - 3000 - 1);
  assert.equal(await cache.get(42), undefined);
  clock.advance(1);
  assert.deepEqual(await cache.get(42), stored.state);
  assert.equal(reads, 2);
});

Deno.test("the account-state cache forgets on demand, also a read begun before", async () => {
  const clock = testClock(0);
  let state: AccountState | undefined;
  let gate: Promise<void> = Promise.resolve();
  const cache = createAccountStateCache({
    now: clock.now,
    async load() {
      const seen = state;
      await gate;
      return seen;
    },
  });
  assert.equal(await cache.get(42), undefined);
  state = account({ disabledAt: 1 });
  assert.equal(await cache.get(42), undefined, "cached");
  cache.forget(42);
  assert.deepEqual(await cache.get(42), state);

  // A read that saw the old state, still in flight when forgotten, does
  // not fill the cache.
  cache.forget(42);
  let open!: () => void;
  gate = new Promise((resolve) => open = resolve);
  state = undefined;
  const stale = cache.get(42);
  state = account({ disabledAt: 2 });
  cache.forget(42);
  gate = Promise.resolve();
  const fresh = await cache.get(42);
  open();
  assert.equal(await stale, undefined);
  assert.deepEqual(fresh, state);
  assert.deepEqual(await cache.get(42), state);
});

Deno.test("the account-state cache keeps at most maxEntries users and refuses a TTL over 5 s", async () => {
  const clock = testClock(0);
  let reads = 0;
  const cache = createAccountStateCache({
    now: clock.now,
    maxEntries: 3,
    load: () => {
      reads++;
      return Promise.resolve(undefined);
    },
  });
  for (const id of [1, 2, 3, 4]) await cache.get(id);
  assert.equal(cache.size, 3);
  await cache.get(4);
  assert.equal(reads, 4, "4 is cached");
  await cache.get(1);
  assert.equal(reads, 5, "1 was dropped as the oldest");
  assert.equal(cache.size, 3);

  assert.throws(
    () =>
      createAccountStateCache({
        now: clock.now,
        ttlMs: MAX_ACCOUNT_STATE_STALENESS_MS + 1,
        load: () => Promise.resolve(undefined),
      }),
    RangeError,
  );
});

Deno.test("applyAccountAction plans again after losing the chain position to another action", async () => {
  const ctx = await createTestContext();
  try {
    let interfered = false;
    const racing: AccountStore = {
      ...ctx.accounts,
      async writeAccount(state, entry) {
        if (!interfered) {
          interfered = true;
          // Another admin disables the account first.
          await applyAccountAction(
            { accounts: ctx.accounts, clock: ctx.clock },
            {
              userId: 42,
              action: "disable",
              principal: { userId: 10, roles: ["admin", "user"] },
              requestId: "other",
            },
          );
        }
        return await ctx.accounts.writeAccount(state, entry);
      },
    };
    const result = await applyAccountAction(
      { accounts: racing, clock: ctx.clock },
      { userId: 42, action: "revoke_tokens", principal: ADMIN, requestId: "r" },
    );
    assert.ok(result);
    assert.notEqual(result.disabledAt, null, "kept the other admin's change");
    assert.equal(
      result.tokensRevokedBefore,
      Math.floor(ctx.clock.now() / 1000),
    );
    const verified = await verifyAuditLog(ctx.database.db);
    assert.deepEqual(verified, { chains: 1, entries: 2, broken: undefined });

    await assert.rejects(
      applyAccountAction({ accounts: ctx.accounts, clock: ctx.clock }, {
        userId: 42,
        action: "enable",
        principal: { userId: 8, roles: ["fulfillment", "user"] },
        requestId: "r",
      }),
      /Only an admin/,
    );
  } finally {
    ctx.close();
  }
});
