/**
 * The in-memory sliding window: exact counts, exact reset times, and
 * bounded memory.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createMemoryRateLimiter } from "../../limits/memory_rate_limiter.ts";
import { testClock } from "../fixtures/mod.ts";

const MINUTE = 60_000;

Deno.test("memory limiter allows exactly `limit` requests per identifier, then refuses", async () => {
  const clock = testClock();
  const limiter = createMemoryRateLimiter({ limit: 3, windowMs: MINUTE }, {
    now: clock.now,
  });
  const verdicts = [];
  for (let i = 0; i < 4; i++) verdicts.push(await limiter.limit("a"));
  assert.deepEqual(verdicts.map((v) => v.success), [true, true, true, false]);
  assert.deepEqual(verdicts.map((v) => v.remaining), [2, 1, 0, 0]);
  assert.ok(verdicts.every((v) => v.limit === 3));
  // Another identifier has its own window.
  assert.equal((await limiter.limit("b")).remaining, 2);
  // A refused request is not counted, and peek counts nothing.
  assert.equal((await limiter.peek("a")).remaining, 0);
  assert.equal((await limiter.peek("a")).success, false);
  assert.equal((await limiter.peek("c")).remaining, 3);
  assert.equal((await limiter.peek("c")).resetMs, 0);
});

Deno.test("memory limiter's refund takes back one counted request, and never goes below none", async () => {
  const clock = testClock();
  const limiter = createMemoryRateLimiter({ limit: 2, windowMs: MINUTE }, {
    now: clock.now,
  });
  await limiter.limit("a");
  await limiter.limit("a");
  assert.equal((await limiter.limit("a")).success, false);
  await limiter.refund("a");
  assert.equal((await limiter.peek("a")).remaining, 1);
  assert.equal((await limiter.limit("a")).success, true);
  await limiter.refund("b");
  assert.equal((await limiter.peek("b")).remaining, 2);
  await limiter.limit("c");
  await limiter.refund("c");
  await limiter.refund("c");
  assert.equal((await limiter.peek("c")).remaining, 2);
});

Deno.test("memory limiter reports when the window frees a request, to the millisecond", async () => {
  const clock = testClock(Date.parse("2026-11-28T14:00:15.000Z"));
  const limiter = createMemoryRateLimiter({ limit: 2, windowMs: MINUTE }, {
    now: clock.now,
  });
  await limiter.limit("a");
  await limiter.limit("a");
  const refused = await limiter.limit("a");
  assert.equal(refused.success, false);
  // Both requests sit in the window ending 14:01:00; from then on they are
  // weighted down, and one counts less than a whole request 1 ms later.
  assert.equal(refused.resetMs, 45_001);
  clock.advance(45_000);
  assert.equal((await limiter.limit("a")).success, false);
  clock.advance(1);
  const freed = await limiter.limit("a");
  assert.equal(freed.success, true);
  // The previous window (2 requests) now weighs floor(2 * 59999/60000) = 1.
  assert.equal(freed.remaining, 0);
});

Deno.test("memory limiter forgets an identifier once both of its windows have passed", async () => {
  const clock = testClock();
  const limiter = createMemoryRateLimiter({ limit: 1, windowMs: MINUTE }, {
    now: clock.now,
  });
  await limiter.limit("a");
  assert.equal((await limiter.limit("a")).success, false);
  clock.advance(2 * MINUTE);
  const again = await limiter.limit("a");
  assert.equal(again.success, true);
  assert.equal(again.remaining, 0);
});

Deno.test("memory limiter's reset is exactly the first moment a request is freed", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1000, max: 10_000 }),
      fc.array(fc.integer({ min: 0, max: 4000 }), {
        minLength: 1,
        maxLength: 30,
      }),
      async (limit, windowMs, gaps) => {
        const clock = testClock(1_800_000_000_000);
        const limiter = createMemoryRateLimiter({ limit, windowMs }, {
          now: clock.now,
        });
        for (const gap of gaps) {
          clock.advance(gap);
          const verdict = await limiter.limit("k");
          assert.ok(verdict.resetMs >= 1);
          // Used now, after this call, and the same without counting.
          const used = limit - verdict.remaining;
          const target = verdict.success ? used : limit;
          const start = clock.now();
          const usedAt = async (at: number) => {
            clock.set(at);
            const state = await limiter.peek("k");
            return limit - state.remaining;
          };
          assert.ok(await usedAt(start + verdict.resetMs - 1) >= target);
          assert.ok(await usedAt(start + verdict.resetMs) < target);
          clock.set(start);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("memory limiter never allows more than `limit` requests in one fixed window", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 10 }),
      fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 60 }),
      async (limit, gaps) => {
        const windowMs = 10_000;
        const clock = testClock(1_800_000_000_000);
        const limiter = createMemoryRateLimiter({ limit, windowMs }, {
          now: clock.now,
        });
        const allowedPerWindow = new Map<number, number>();
        for (const gap of gaps) {
          clock.advance(gap);
          if ((await limiter.limit("k")).success) {
            const window = Math.floor(clock.now() / windowMs);
            allowedPerWindow.set(
              window,
              (allowedPerWindow.get(window) ?? 0) + 1,
            );
          }
        }
        for (const count of allowedPerWindow.values()) {
          assert.ok(count <= limit);
        }
      },
    ),
  );
});

Deno.test("memory limiter stays bounded: 100k distinct users over ten minutes keep at most two windows of them", async () => {
  const clock = testClock();
  const limiter = createMemoryRateLimiter({ limit: 5, windowMs: MINUTE }, {
    now: clock.now,
  });
  const users = 100_000;
  const perWindow = users / 10;
  let largest = 0;
  for (let user = 0; user < users; user++) {
    await limiter.limit(`user-${user}`);
    clock.advance(MINUTE / perWindow);
    largest = Math.max(largest, limiter.size);
  }
  // Keys expire: an identifier is kept for its window and the next one only
  // (plus one sweep interval), never for the whole run.
  assert.ok(largest <= 3 * perWindow, `kept ${largest} identifiers`);
  clock.advance(3 * MINUTE);
  await limiter.limit("late");
  assert.equal(limiter.size, 1);
});

Deno.test("memory limiter never keeps more than maxKeys identifiers, dropping the least recently seen", async () => {
  const clock = testClock();
  const limiter = createMemoryRateLimiter({ limit: 1, windowMs: MINUTE }, {
    now: clock.now,
    maxKeys: 1000,
  });
  await limiter.limit("kept");
  for (let user = 0; user < 100_000; user++) {
    // Refused, but seen: an identifier still hammering is not dropped.
    if (user % 500 === 0) await limiter.limit("kept");
    await limiter.limit(`user-${user}`);
    assert.ok(limiter.size <= 1000);
  }
  assert.equal(limiter.size, 1000);
  assert.equal((await limiter.peek("kept")).success, false);
  assert.equal((await limiter.peek("user-0")).success, true);
});
