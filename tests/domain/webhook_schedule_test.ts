/**
 * The retry schedule and the meaning of an attempt, against the contract's
 * "Delivery" rules. Expected numbers are written out from the contract, not
 * derived from the code under test.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AttemptResult,
  type AttemptVerdict,
  classifyAttempt,
  DEFAULT_WEBHOOK_DISABLE_AFTER,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE,
  endpointDisabledAfter,
  MAX_RETRY_AFTER_SECONDS,
  MAX_RETRY_DELAY_SECONDS,
  MAX_RETRY_SCHEDULE_LENGTH,
  maxAttempts,
  nextAttemptAt,
  parseRetryAfter,
  parseRetrySchedule,
  WEBHOOK_ATTEMPT_OUTCOMES,
} from "../../domain/webhook_schedule.ts";

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** 2026-11-28T14:00:00Z, a Saturday. */
const NOW = Date.UTC(2026, 10, 28, 14, 0, 0);
/** The largest double below 1: `Math.random()` can return no more. */
const ALMOST_ONE = 1 - 2 ** -53;

function middle(): number {
  return 0.5;
}

Deno.test("the default schedule is the contract's: 8 attempts over about 27 hours", () => {
  assert.deepEqual(
    [...DEFAULT_WEBHOOK_RETRY_SCHEDULE],
    [5, 300, 1800, 7200, 18000, 36000, 36000],
  );
  assert.ok(Object.isFrozen(DEFAULT_WEBHOOK_RETRY_SCHEDULE));
  assert.equal(maxAttempts(DEFAULT_WEBHOOK_RETRY_SCHEDULE), 8);
  // Walk a delivery that fails every time, with no jitter.
  const starts = [NOW];
  let at: number | undefined = NOW;
  for (let attempt = 1; at !== undefined; attempt++) {
    at = nextAttemptAt({
      attempt,
      endedAt: at,
      schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE,
      random: middle,
    });
    if (at !== undefined) starts.push(at);
  }
  assert.equal(starts.length, 8);
  const span = starts.at(-1)! - NOW;
  assert.equal(span, 99_305 * SECOND); // 27 h 35 min 5 s
  assert.ok(span > 27 * HOUR && span < 28 * HOUR);
  // With every delay 10 % shorter or longer, still "about 27 hours".
  assert.ok(span * 0.9 > 24 * HOUR && span * 1.1 < 31 * HOUR);
});

Deno.test("nextAttemptAt spreads each delay from -10 % at random()=0 to just under +10 % as random()→1", async (t) => {
  const endedAt = NOW + 123;
  for (const [index, seconds] of DEFAULT_WEBHOOK_RETRY_SCHEDULE.entries()) {
    const attempt = index + 1;
    await t.step(`after attempt ${attempt} (${seconds} s)`, () => {
      const at = (random: number) =>
        nextAttemptAt({
          attempt,
          endedAt,
          schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE,
          random: () => random,
        });
      assert.equal(at(0), endedAt + seconds * 900);
      assert.equal(at(0.5), endedAt + seconds * 1000);
      assert.equal(at(ALMOST_ONE), endedAt + seconds * 1100 - 1);
      assert.equal(at(0.25), endedAt + seconds * 950);
    });
  }
});

Deno.test("nextAttemptAt refuses a random() outside [0, 1)", async (t) => {
  for (const value of [1, -0.01, 1.5, NaN, Infinity]) {
    await t.step(String(value), () => {
      assert.throws(
        () =>
          nextAttemptAt({
            attempt: 1,
            endedAt: NOW,
            schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE,
            random: () => value,
          }),
        /random\(\) must return a number in \[0, 1\)/,
      );
    });
  }
});

Deno.test("Retry-After puts the next attempt later, never earlier, and at most 24 h off", async (t) => {
  const schedule = DEFAULT_WEBHOOK_RETRY_SCHEDULE;
  const cases: [string, number, number | undefined, number, number][] = [
    // name, attempt, Retry-After, random, expected delay (ms)
    [
      "longer than 5 s ± 10 %: Retry-After wins, unjittered",
      1,
      60,
      0.99,
      60 * SECOND,
    ],
    ["just above the jittered delay", 1, 6, 0.5, 6 * SECOND],
    ["shorter than 1800 s: the schedule wins", 3, 60, 0, 1620 * SECOND],
    ["shorter than the jittered delay", 3, 1700, ALMOST_ONE, 1980 * SECOND - 1],
    ["between low and high jitter: the larger", 3, 1900, 0, 1900 * SECOND],
    ["0: the schedule", 2, 0, 0, 270 * SECOND],
    ["negative: the schedule", 2, -30, 0, 270 * SECOND],
    ["3 days: capped at 24 h", 1, 3 * 86_400, 0.5, DAY],
    ["exactly 24 h", 7, 86_400, 0.5, DAY],
    ["Infinity: capped at 24 h", 2, Infinity, 0.5, DAY],
    ["fractional seconds round up to the ms", 1, 30.0004, 0.5, 30_001],
    ["absent: the schedule", 4, undefined, 0.5, 7200 * SECOND],
  ];
  for (const [name, attempt, retryAfterSeconds, random, delay] of cases) {
    await t.step(name, () => {
      assert.equal(
        nextAttemptAt({
          attempt,
          endedAt: NOW,
          schedule,
          random: () => random,
          retryAfterSeconds,
        }),
        NOW + delay,
      );
    });
  }
  await t.step("a scheduled delay above 24 h is kept, not capped", () => {
    assert.equal(
      nextAttemptAt({
        attempt: 1,
        endedAt: NOW,
        schedule: [200_000],
        random: middle,
        retryAfterSeconds: 86_400,
      }),
      NOW + 200_000 * SECOND,
    );
  });
  await t.step("NaN is a bug, not a delay", () => {
    assert.throws(
      () =>
        nextAttemptAt({
          attempt: 1,
          endedAt: NOW,
          schedule,
          random: middle,
          retryAfterSeconds: NaN,
        }),
      /Invalid Retry-After/,
    );
  });
});

Deno.test("the last attempt has no next one, whatever Retry-After says", async (t) => {
  const schedule = DEFAULT_WEBHOOK_RETRY_SCHEDULE;
  await t.step("attempt 7 of 8 still has a next", () => {
    assert.equal(
      nextAttemptAt({ attempt: 7, endedAt: NOW, schedule, random: middle }),
      NOW + 36_000 * SECOND,
    );
  });
  for (const attempt of [8, 9, 100]) {
    await t.step(`attempt ${attempt}`, () => {
      assert.equal(
        nextAttemptAt({
          attempt,
          endedAt: NOW,
          schedule,
          random: middle,
          retryAfterSeconds: 60,
        }),
        undefined,
      );
    });
  }
  await t.step("a one-delay schedule gives two attempts", () => {
    const short = parseRetrySchedule("60");
    assert.equal(maxAttempts(short), 2);
    assert.equal(
      nextAttemptAt({
        attempt: 1,
        endedAt: NOW,
        schedule: short,
        random: middle,
      }),
      NOW + 60 * SECOND,
    );
    assert.equal(
      nextAttemptAt({
        attempt: 2,
        endedAt: NOW,
        schedule: short,
        random: middle,
      }),
      undefined,
    );
  });
  await t.step("an empty schedule gives one attempt", () => {
    assert.equal(maxAttempts([]), 1);
    assert.equal(
      nextAttemptAt({ attempt: 1, endedAt: NOW, schedule: [], random: middle }),
      undefined,
    );
  });
});

Deno.test("nextAttemptAt refuses attempt numbers that are not 1, 2, 3, …", async (t) => {
  for (const attempt of [0, -1, 1.5, NaN, Infinity]) {
    await t.step(String(attempt), () => {
      assert.throws(
        () =>
          nextAttemptAt({
            attempt,
            endedAt: NOW,
            schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE,
            random: middle,
          }),
        /^RangeError: Invalid attempt number: /,
      );
    });
  }
  await t.step("a non-finite end", () => {
    assert.throws(
      () =>
        nextAttemptAt({
          attempt: 1,
          endedAt: NaN,
          schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE,
          random: middle,
        }),
      /Invalid attempt end/,
    );
  });
});

Deno.test("parseRetrySchedule reads comma-separated whole seconds", async (t) => {
  const cases: [string, number[]][] = [
    ["5,300,1800,7200,18000,36000,36000", [...DEFAULT_WEBHOOK_RETRY_SCHEDULE]],
    ["60", [60]],
    [" 5 , 10 ", [5, 10]],
    ["1,1,1", [1, 1, 1]],
    ["007", [7]],
    [String(MAX_RETRY_DELAY_SECONDS), [MAX_RETRY_DELAY_SECONDS]],
    [Array(MAX_RETRY_SCHEDULE_LENGTH).fill("1").join(","), Array(50).fill(1)],
  ];
  for (const [text, expected] of cases) {
    await t.step(JSON.stringify(text.slice(0, 40)), () => {
      const schedule = parseRetrySchedule(text);
      assert.deepEqual([...schedule], expected);
      assert.ok(Object.isFrozen(schedule));
    });
  }
});

Deno.test("parseRetrySchedule refuses anything but 1 to 50 whole seconds from 1 to 7 days", async (t) => {
  const cases: [string, string][] = [
    ["", '""'],
    ["  ", '""'],
    ["5,,10", '""'],
    ["5,", '""'],
    [",5", '""'],
    ["0", '"0"'],
    ["5,0", '"0"'],
    ["-5", '"-5"'],
    ["1.5", '"1.5"'],
    ["5;10", '"5;10"'],
    ["5 10", '"5 10"'],
    ["abc", '"abc"'],
    ["1e3", '"1e3"'],
    ["+5", '"+5"'],
    ["0x10", '"0x10"'],
    ["5s", '"5s"'],
    [String(MAX_RETRY_DELAY_SECONDS + 1), '"604801"'],
    ["99999999999999999999", '"99999999999999999999"'],
    ["x".repeat(100), `"${"x".repeat(20)}"`],
  ];
  for (const [text, quoted] of cases) {
    await t.step(JSON.stringify(text.slice(0, 30)), () => {
      assert.throws(() => parseRetrySchedule(text), (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.equal(
          error.message,
          `WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds from 1 to 604800, such as 5,300,1800: ${quoted} is not`,
        );
        return true;
      });
    });
  }
  await t.step("51 delays", () => {
    assert.throws(
      () => parseRetrySchedule(Array(51).fill("1").join(",")),
      /^RangeError: WEBHOOK_RETRY_SCHEDULE must be .*: it holds 51 delays, more than 50$/,
    );
  });
});

Deno.test("parseRetryAfter reads delay-seconds, caps at 24 h and floors at 0", async (t) => {
  const cases: [string | null, number | undefined][] = [
    ["120", 120],
    [" 120 ", 120],
    ["0", 0],
    ["007", 7],
    ["-5", 0],
    ["-0", 0],
    ["86400", 86_400],
    ["86401", MAX_RETRY_AFTER_SECONDS],
    ["99999999999999999999999", MAX_RETRY_AFTER_SECONDS],
    [null, undefined],
    ["", undefined],
    ["   ", undefined],
    ["1.5", undefined],
    ["+5", undefined],
    ["120s", undefined],
    ["5, 10", undefined],
    ["soon", undefined],
    ["0x10", undefined],
    ["1e3", undefined],
    ["--5", undefined],
  ];
  for (const [header, expected] of cases) {
    await t.step(JSON.stringify(header), () => {
      assert.equal(parseRetryAfter(header, NOW), expected);
    });
  }
});

Deno.test("parseRetryAfter reads the three HTTP-date forms as seconds from now", async (t) => {
  const cases: [string, string, number, number | undefined][] = [
    // name, header, now, expected
    ["IMF-fixdate", "Sat, 28 Nov 2026 14:02:00 GMT", NOW, 120],
    ["RFC 850", "Saturday, 28-Nov-26 14:02:00 GMT", NOW, 120],
    ["asctime", "Sat Nov 28 14:02:00 2026", NOW, 120],
    [
      "asctime padding a two-digit day",
      "Mon Nov  30 00:00:00 2026",
      NOW,
      undefined,
    ],
    ["asctime, space-padded day", "Mon Dec  7 14:00:00 2026", NOW, 86_400],
    [
      "rounded up to the second",
      "Sat, 28 Nov 2026 14:02:00 GMT",
      NOW + 500,
      120,
    ],
    ["exactly now", "Sat, 28 Nov 2026 14:00:00 GMT", NOW, 0],
    ["in the past: 0", "Sun, 06 Nov 1994 08:49:37 GMT", NOW, 0],
    ["two days ahead: 24 h", "Mon, 30 Nov 2026 14:00:00 GMT", NOW, 86_400],
    ["a leap second", "Sat, 28 Nov 2026 14:00:60 GMT", NOW, 59],
    [
      "RFC 850 year 76 is 2076 (50 years ahead)",
      "Monday, 30-Nov-76 00:00:00 GMT",
      NOW,
      86_400,
    ],
    [
      "RFC 850 year 77 is 1977 (not 51 years ahead)",
      "Monday, 30-Nov-77 00:00:00 GMT",
      NOW,
      0,
    ],
    ["the weekday is not checked", "Mon, 28 Nov 2026 14:02:00 GMT", NOW, 120],
    ["31 February", "Wed, 31 Feb 2026 10:00:00 GMT", NOW, undefined],
    ["hour 24", "Sat, 28 Nov 2026 24:00:00 GMT", NOW, undefined],
    ["minute 60", "Sat, 28 Nov 2026 14:60:00 GMT", NOW, undefined],
    ["an unknown month", "Sat, 28 Nvm 2026 14:02:00 GMT", NOW, undefined],
    ["lower case", "sat, 28 nov 2026 14:02:00 gmt", NOW, undefined],
    ["UTC instead of GMT", "Sat, 28 Nov 2026 14:02:00 UTC", NOW, undefined],
    ["an offset", "Sat, 28 Nov 2026 14:02:00 +0000", NOW, undefined],
    ["ISO 8601", "2026-11-28T14:02:00Z", NOW, undefined],
    ["a date without a time", "Sat, 28 Nov 2026", NOW, undefined],
    ["what Date.parse would accept", "Nov 28 2026 14:02", NOW, undefined],
    ["a one-digit IMF day", "Sat, 8 Nov 2026 14:02:00 GMT", NOW, undefined],
  ];
  for (const [name, header, now, expected] of cases) {
    await t.step(name, () => {
      assert.equal(parseRetryAfter(header, now), expected);
    });
  }
});

/** The verdict for a status alone, written out from the contract. */
function expectedForStatus(status: number): AttemptVerdict {
  return {
    outcome: status >= 200 && status < 300 ? "succeeded" : "failed",
    disableEndpoint: status === 410,
    retryAfterApplies: status === 429 || status === 503,
  };
}

Deno.test("classifyAttempt: 2xx succeeds, 3xx 4xx 5xx fail, 410 disables, 429/503 honour Retry-After", async (t) => {
  const succeeded = {
    outcome: "succeeded",
    disableEndpoint: false,
    retryAfterApplies: false,
  } as const;
  const failed = { ...succeeded, outcome: "failed" } as const;
  const cases: [number, AttemptVerdict][] = [
    [200, succeeded],
    [201, succeeded],
    [202, succeeded],
    [204, succeeded],
    [299, succeeded],
    [101, failed],
    [199, failed],
    [300, failed],
    [301, failed],
    [302, failed],
    [304, failed],
    [307, failed],
    [308, failed],
    [400, failed],
    [401, failed],
    [403, failed],
    [404, failed],
    [408, failed],
    [409, failed],
    [410, { ...failed, disableEndpoint: true }],
    [413, failed],
    [422, failed],
    [429, { ...failed, retryAfterApplies: true }],
    [500, failed],
    [502, failed],
    [503, { ...failed, retryAfterApplies: true }],
    [504, failed],
    [599, failed],
  ];
  for (const [status, expected] of cases) {
    await t.step(String(status), () => {
      assert.deepEqual(classifyAttempt({ status }), expected);
      assert.deepEqual(
        classifyAttempt({
          status,
          timedOut: false,
          connectionError: false,
          blocked: false,
        }),
        expected,
      );
    });
  }
  await t.step("every status from 100 to 599", () => {
    for (let status = 100; status <= 599; status++) {
      assert.deepEqual(classifyAttempt({ status }), expectedForStatus(status));
    }
  });
});

Deno.test("classifyAttempt: a refused address, a timeout and a connection error outrank any status", async (t) => {
  const quiet = { disableEndpoint: false, retryAfterApplies: false };
  const cases: [string, AttemptResult, string][] = [
    ["refused address", { blocked: true }, "blocked_destination"],
    ["timeout", { timedOut: true }, "timeout"],
    ["connection error", { connectionError: true }, "connection_error"],
    [
      "timeout after a 200's headers",
      { status: 200, timedOut: true },
      "timeout",
    ],
    ["connection reset with a 410", {
      status: 410,
      connectionError: true,
    }, "connection_error"],
    [
      "refused and timed out",
      { blocked: true, timedOut: true },
      "blocked_destination",
    ],
    [
      "timed out and reset",
      { timedOut: true, connectionError: true },
      "timeout",
    ],
    [
      "refused with a 503",
      { blocked: true, status: 503 },
      "blocked_destination",
    ],
  ];
  for (const [name, result, outcome] of cases) {
    await t.step(name, () => {
      assert.deepEqual(classifyAttempt(result), { outcome, ...quiet });
    });
  }
  await t.step("every outcome of the attempts log is reachable", () => {
    const seen = new Set(
      [{ status: 200 }, { status: 500 }, ...cases.map(([, r]) => r)].map((r) =>
        classifyAttempt(r).outcome
      ),
    );
    assert.deepEqual([...seen].sort(), [...WEBHOOK_ATTEMPT_OUTCOMES].sort());
  });
});

Deno.test("classifyAttempt refuses an attempt with nothing to classify or an impossible status", async (t) => {
  const cases: [string, AttemptResult, RegExp][] = [
    ["nothing", {}, /neither a status nor a failure/],
    ["all flags false", {
      timedOut: false,
      connectionError: false,
      blocked: false,
    }, /neither a status nor a failure/],
    ["status 99", { status: 99 }, /Invalid HTTP status: 99/],
    ["status 600", { status: 600 }, /Invalid HTTP status: 600/],
    ["status 200.5", { status: 200.5 }, /Invalid HTTP status/],
    ["status NaN", { status: NaN }, /Invalid HTTP status/],
  ];
  for (const [name, result, expected] of cases) {
    await t.step(name, () => {
      assert.throws(() => classifyAttempt(result), expected);
    });
  }
});

Deno.test("a 503 with Retry-After: 3600 after attempt 2 waits the hour, not 300 s", () => {
  const verdict = classifyAttempt({ status: 503 });
  assert.equal(verdict.retryAfterApplies, true);
  const retryAfterSeconds = parseRetryAfter("3600", NOW);
  assert.equal(
    nextAttemptAt({
      attempt: 2,
      endedAt: NOW,
      schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE,
      random: () => ALMOST_ONE,
      retryAfterSeconds,
    }),
    NOW + HOUR,
  );
});

Deno.test("endpointDisabledAfter: disabled once the last `limit` deliveries all failed", async (t) => {
  assert.equal(DEFAULT_WEBHOOK_DISABLE_AFTER, 10);
  await t.step("default 10", () => {
    for (let count = 0; count <= 9; count++) {
      assert.equal(endpointDisabledAfter(count), false, `${count}`);
    }
    assert.equal(endpointDisabledAfter(10), true);
    assert.equal(endpointDisabledAfter(11), true);
  });
  await t.step("limit 1", () => {
    assert.equal(endpointDisabledAfter(0, 1), false);
    assert.equal(endpointDisabledAfter(1, 1), true);
  });
  await t.step("limit 3", () => {
    assert.equal(endpointDisabledAfter(2, 3), false);
    assert.equal(endpointDisabledAfter(3, 3), true);
  });
  await t.step("invalid limits and counts", () => {
    for (const limit of [0, -1, 1.5, NaN]) {
      assert.throws(
        () => endpointDisabledAfter(5, limit),
        /Invalid failed-delivery limit/,
      );
    }
    for (const count of [-1, 0.5, NaN]) {
      assert.throws(
        () => endpointDisabledAfter(count),
        /Invalid failed-delivery count/,
      );
    }
  });
});

/** A fixed seed: the same cases on every run. */
const PROPERTY_SETTINGS = { seed: 20_261_128, numRuns: 2_000 };

const scheduleArbitrary = fc.array(
  fc.integer({ min: 1, max: MAX_RETRY_DELAY_SECONDS }),
  { minLength: 0, maxLength: 10 },
);
const randomArbitrary = fc.double({
  min: 0,
  max: 1,
  maxExcluded: true,
  noNaN: true,
});

Deno.test("property: the next attempt is within ±10 % of the schedule, or at Retry-After, and never before the end", () => {
  fc.assert(
    fc.property(
      scheduleArbitrary,
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 0, max: 4_102_444_800_000 }), // up to 2100
      randomArbitrary,
      fc.option(fc.integer({ min: -1000, max: 3 * 86_400 }), {
        nil: undefined,
      }),
      (schedule, attempt, endedAt, random, retryAfterSeconds) => {
        const next = nextAttemptAt({
          attempt,
          endedAt,
          schedule,
          random: () => random,
          retryAfterSeconds,
        });
        if (attempt > schedule.length) {
          assert.equal(next, undefined);
          return;
        }
        assert.ok(next !== undefined);
        assert.ok(Number.isInteger(next));
        assert.ok(next > endedAt, "after the end of the attempt");
        const delay = next - endedAt;
        const base = schedule[attempt - 1]! * 1000;
        const inJitter = delay * 10 >= base * 9 && delay * 10 < base * 11;
        if (retryAfterSeconds === undefined || retryAfterSeconds <= 0) {
          assert.ok(inJitter, `${delay} ms is not within ±10 % of ${base} ms`);
          return;
        }
        const floor = Math.min(retryAfterSeconds, 86_400) * 1000;
        assert.ok(delay >= floor, "not before Retry-After");
        assert.ok(inJitter || delay === floor, "the schedule or Retry-After");
        assert.ok(delay <= Math.max(base * 1.1, DAY));
      },
    ),
    PROPERTY_SETTINGS,
  );
});

Deno.test("property: a larger random() never gives an earlier attempt", () => {
  fc.assert(
    fc.property(
      scheduleArbitrary.filter((schedule) => schedule.length > 0),
      fc.nat(),
      randomArbitrary,
      randomArbitrary,
      (schedule, index, a, b) => {
        const attempt = (index % schedule.length) + 1;
        const [low, high] = a <= b ? [a, b] : [b, a];
        const at = (random: number) =>
          nextAttemptAt({
            attempt,
            endedAt: NOW,
            schedule,
            random: () => random,
          })!;
        assert.ok(at(low) <= at(high));
      },
    ),
    PROPERTY_SETTINGS,
  );
});

Deno.test("property: parseRetrySchedule reads back any schedule it accepts", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: MAX_RETRY_DELAY_SECONDS }), {
        minLength: 1,
        maxLength: MAX_RETRY_SCHEDULE_LENGTH,
      }),
      (schedule) => {
        assert.deepEqual([...parseRetrySchedule(schedule.join(","))], schedule);
        assert.deepEqual(
          [...parseRetrySchedule(schedule.join(" , "))],
          schedule,
        );
      },
    ),
    PROPERTY_SETTINGS,
  );
});
