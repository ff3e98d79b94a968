/**
 * The account-state cache: how stale an entry may be, forgetting on
 * demand, and its bound on entries and TTL.
 */
import assert from "node:assert/strict";
import {
  createAccountStateCache,
  MAX_ACCOUNT_STATE_STALENESS_MS,
} from "../../auth/account_state_cache.ts";
import type { AccountState } from "../../domain/account.ts";
import { accountState } from "../fixtures/domain.ts";
import { testClock } from "../fixtures/mod.ts";

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
  stored.state = accountState({ disabledAt: 1 });
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
  state = accountState({ disabledAt: 1 });
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
  state = accountState({ disabledAt: 2 });
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
