import assert from "node:assert/strict";
import {
  ConfigError,
  DEV_AUDIT_KEY,
  DEV_AUDIT_SIGNING_KEY,
  DEV_JWT_SECRET,
  DEV_PII_ENCRYPTION_KEY,
  loadConfig,
} from "../config.ts";
import { DEFAULT_RATE_LIMIT_RULES } from "../limits/rate_limiter.ts";
import {
  DEFAULT_CHECKPOINT_SECONDS,
  MAX_CHECKPOINT_SECONDS,
} from "../domain/audit_checkpoint.ts";

const REAL_SECRET = "a-real-secret-that-is-long-enough-for-hs256!";
const REAL_PII_KEY = btoa("a-real-32-byte-pii-master-key!!!");
const OLD_PII_KEY = btoa("an-older-32-byte-pii-master-key!");
const REAL_AUDIT_KEY = btoa("a-real-32-byte-audit-key-0000001");
const OLD_AUDIT_KEY = btoa("an-older-32-byte-audit-key-00001");
const REAL_SIGNING_KEY = btoa("a-real-32-byte-signing-seed-0001");
/** The secrets `start` demands. */
const REAL = {
  JWT_SECRET: REAL_SECRET,
  PII_ENCRYPTION_KEY: REAL_PII_KEY,
  AUDIT_KEY: REAL_AUDIT_KEY,
  AUDIT_SIGNING_KEY: REAL_SIGNING_KEY,
};

Deno.test("start refuses a missing JWT_SECRET with a clear message", () => {
  assert.throws(() => loadConfig({}, "start"), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /JWT_SECRET is required/);
    return true;
  });
});

Deno.test("start refuses a JWT_SECRET shorter than 32 bytes", () => {
  assert.throws(
    () => loadConfig({ JWT_SECRET: "x".repeat(31) }, "start"),
    /at least 32 bytes/,
  );
  // 11 three-byte characters are 33 bytes: long enough.
  assert.equal(
    loadConfig({ ...REAL, JWT_SECRET: "€".repeat(11) }, "start").jwtSecret,
    "€".repeat(11),
  );
});

Deno.test("start refuses the dev-only secret", () => {
  assert.throws(
    () => loadConfig({ JWT_SECRET: DEV_JWT_SECRET }, "start"),
    /dev-only/,
  );
});

Deno.test("dev falls back to the dev-only secret and loopback", () => {
  const config = loadConfig({}, "dev");
  assert.equal(config.jwtSecret, DEV_JWT_SECRET);
  assert.equal(config.host, "127.0.0.1");
});

Deno.test("loadConfig applies the documented defaults", () => {
  const config = loadConfig(REAL, "start");
  assert.equal(config.port, 8000);
  assert.equal(config.databaseUrl, "file:./data/orders.db");
  assert.equal(config.jwtMaxTtlSeconds, 86400);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.logLevel, "info");
});

Deno.test("loadConfig reads CORS_ORIGINS as a comma-separated list", () => {
  const config = loadConfig(
    {
      ...REAL,
      CORS_ORIGINS: "https://a.example, https://b.example,",
    },
    "start",
  );
  assert.deepEqual(config.corsOrigins, [
    "https://a.example",
    "https://b.example",
  ]);
});

Deno.test("loadConfig refuses malformed numbers and levels without echoing secrets", () => {
  assert.throws(
    () => loadConfig({ ...REAL, PORT: "eighty" }, "start"),
    /PORT/,
  );
  assert.throws(
    () => loadConfig({ ...REAL, LOG_LEVEL: "loud" }, "start"),
    /LOG_LEVEL/,
  );
  assert.throws(
    () => loadConfig({ ...REAL, PORT: "x" }, "start"),
    (error: Error) => !error.message.includes(REAL_SECRET),
  );
});

Deno.test("start requires a real 32-byte PII_ENCRYPTION_KEY and never echoes one", async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["missing", {}, /PII_ENCRYPTION_KEY is required/],
    ["blank", { PII_ENCRYPTION_KEY: " " }, /PII_ENCRYPTION_KEY is required/],
    ["not base64", { PII_ENCRYPTION_KEY: "not base64!" }, /32 bytes/],
    ["31 bytes", { PII_ENCRYPTION_KEY: btoa("x".repeat(31)) }, /32 bytes/],
    ["33 bytes", { PII_ENCRYPTION_KEY: btoa("x".repeat(33)) }, /32 bytes/],
    [
      "the dev key",
      { PII_ENCRYPTION_KEY: DEV_PII_ENCRYPTION_KEY },
      /public dev-only key/,
    ],
    [
      "a malformed previous key",
      { PII_ENCRYPTION_KEY: REAL_PII_KEY, PII_ENCRYPTION_KEY_PREVIOUS: "x" },
      /PII_ENCRYPTION_KEY_PREVIOUS must be 32 bytes/,
    ],
    [
      "a previous key equal to the current one",
      {
        PII_ENCRYPTION_KEY: REAL_PII_KEY,
        PII_ENCRYPTION_KEY_PREVIOUS: ` ${REAL_PII_KEY}`,
      },
      /same key/,
    ],
  ];
  for (const [name, env, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => loadConfig({ JWT_SECRET: REAL_SECRET, ...env }, "start"),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          for (const value of Object.values(env)) {
            if (value.trim().length > 3) {
              assert.ok(!error.message.includes(value.trim()));
            }
          }
          return true;
        },
      );
    });
  }
});

Deno.test("PII master keys: dev falls back to the dev key; start takes a current and a previous one", () => {
  assert.deepEqual(loadConfig({}, "dev").piiKeys, {
    current: DEV_PII_ENCRYPTION_KEY,
    previous: undefined,
  });
  assert.deepEqual(
    loadConfig({ ...REAL, PII_ENCRYPTION_KEY_PREVIOUS: OLD_PII_KEY }, "start")
      .piiKeys,
    { current: REAL_PII_KEY, previous: OLD_PII_KEY },
  );
  // Rotating away from the dev key is allowed: it may be the previous one.
  assert.equal(
    loadConfig(
      { ...REAL, PII_ENCRYPTION_KEY_PREVIOUS: DEV_PII_ENCRYPTION_KEY },
      "start",
    ).piiKeys.previous,
    DEV_PII_ENCRYPTION_KEY,
  );
});

Deno.test("start requires a real AUDIT_KEY and AUDIT_SIGNING_KEY and never echoes one; dev falls back to the dev keys", async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["a missing audit key", { AUDIT_KEY: "" }, /AUDIT_KEY is required/],
    [
      "a missing signing key",
      { AUDIT_SIGNING_KEY: " " },
      /AUDIT_SIGNING_KEY is required/,
    ],
    ["a short audit key", { AUDIT_KEY: btoa("x".repeat(31)) }, /32 bytes/],
    ["the dev audit key", { AUDIT_KEY: DEV_AUDIT_KEY }, /public dev-only key/],
    [
      "the dev signing key",
      { AUDIT_SIGNING_KEY: DEV_AUDIT_SIGNING_KEY },
      /AUDIT_SIGNING_KEY is the public dev-only key/,
    ],
    [
      "a previous key equal to the current one",
      { AUDIT_KEY_PREVIOUS: REAL_AUDIT_KEY },
      /AUDIT_KEY_PREVIOUS is the same key as AUDIT_KEY/,
    ],
    [
      "a malformed previous key",
      { AUDIT_KEY_PREVIOUS: "x" },
      /AUDIT_KEY_PREVIOUS must be 32 bytes/,
    ],
    [
      "a checkpoint interval beyond a day",
      { AUDIT_CHECKPOINT_SECONDS: String(MAX_CHECKPOINT_SECONDS + 1) },
      new RegExp(
        `AUDIT_CHECKPOINT_SECONDS must be an integer from 1 to ${MAX_CHECKPOINT_SECONDS}`,
      ),
    ],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, () => {
      assert.throws(() => loadConfig({ ...REAL, ...env }, "start"), (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, expected);
        for (const value of Object.values(env)) {
          if (value.trim().length > 8) {
            assert.ok(!error.message.includes(value), "echoes no key");
          }
        }
        return true;
      });
    });
  }
  const config = loadConfig(
    { ...REAL, AUDIT_KEY_PREVIOUS: OLD_AUDIT_KEY },
    "start",
  );
  assert.deepEqual(config.auditKeys, {
    current: REAL_AUDIT_KEY,
    previous: OLD_AUDIT_KEY,
    signing: REAL_SIGNING_KEY,
  });
  assert.equal(config.auditCheckpointSeconds, DEFAULT_CHECKPOINT_SECONDS);
  assert.deepEqual(loadConfig({}, "dev").auditKeys, {
    current: DEV_AUDIT_KEY,
    previous: undefined,
    signing: DEV_AUDIT_SIGNING_KEY,
  });
});

Deno.test("loadConfig reads the review policy exactly and defaults to 10000.00 and 5", () => {
  const defaults = loadConfig(REAL, "start");
  assert.deepEqual(defaults.reviewPolicy, {
    thresholdCents: 1_000_000n,
    velocityOrders: 5,
  });
  const set = loadConfig({
    ...REAL,
    REVIEW_THRESHOLD: "2500.5",
    REVIEW_VELOCITY_ORDERS: "12",
  }, "start");
  assert.deepEqual(set.reviewPolicy, {
    thresholdCents: 250_050n,
    velocityOrders: 12,
  });
  for (
    const bad of ["-1", "1e4", "10000.001", "ten", "1000000000.01", "0x10"]
  ) {
    assert.throws(
      () => loadConfig({ ...REAL, REVIEW_THRESHOLD: bad }, "start"),
      /REVIEW_THRESHOLD/,
      bad,
    );
  }
  for (const bad of ["-1", "2.5", "many"]) {
    assert.throws(
      () =>
        loadConfig(
          { ...REAL, REVIEW_VELOCITY_ORDERS: bad },
          "start",
        ),
      /REVIEW_VELOCITY_ORDERS/,
      bad,
    );
  }
});

Deno.test("the ip_hash secret is IP_HASH_KEY when set (at least 32 bytes), else JWT_SECRET", () => {
  assert.equal(
    loadConfig(REAL, "start").ipHashSecret,
    REAL_SECRET,
  );
  const key = "k".repeat(32);
  assert.equal(
    loadConfig({ ...REAL, IP_HASH_KEY: key }, "start")
      .ipHashSecret,
    key,
  );
  assert.throws(
    () => loadConfig({ ...REAL, IP_HASH_KEY: "tiny-key" }, "start"),
    (error: Error) =>
      /IP_HASH_KEY is too short/.test(error.message) &&
      !error.message.includes("tiny-key"),
  );
});

Deno.test("rate-limit settings default to the contract's limits, in-memory, fail-open, no proxy", () => {
  const config = loadConfig({}, "dev");
  assert.deepEqual(config.rateLimits, DEFAULT_RATE_LIMIT_RULES);
  assert.deepEqual(
    Object.values(config.rateLimits).map((r) => [r.limit, r.windowMs]),
    [[120, 60_000], [10, 60_000], [20, 60_000], [30, 60_000]],
  );
  assert.equal(config.upstash, undefined);
  assert.equal(config.rateLimitFailClosed, false);
  assert.equal(config.trustProxy, 0);
});

Deno.test("rate-limit settings are read from the environment", () => {
  const config = loadConfig({
    UPSTASH_REDIS_REST_URL: "https://eu1-example.upstash.io",
    UPSTASH_REDIS_REST_TOKEN: "secret-token",
    RATE_LIMIT_REQUESTS_PER_MIN: "600",
    RATE_LIMIT_ORDERS_PER_MIN: "3",
    RATE_LIMIT_MISSES_PER_MIN: "5",
    RATE_LIMIT_AUTH_FAILURES_PER_MIN: "7",
    RATE_LIMIT_FAIL_CLOSED: "1",
    TRUST_PROXY: "2",
  }, "dev");
  assert.deepEqual(config.upstash, {
    url: "https://eu1-example.upstash.io",
    token: "secret-token",
  });
  assert.deepEqual(
    Object.values(config.rateLimits).map((r) => r.limit),
    [600, 3, 5, 7],
  );
  assert.equal(config.rateLimitFailClosed, true);
  assert.equal(config.trustProxy, 2);
});

Deno.test("invalid rate-limit settings stop the start with a message naming them", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ RATE_LIMIT_REQUESTS_PER_MIN: "0" }, /RATE_LIMIT_REQUESTS_PER_MIN/],
    [{ RATE_LIMIT_ORDERS_PER_MIN: "ten" }, /RATE_LIMIT_ORDERS_PER_MIN/],
    [
      { RATE_LIMIT_FAIL_CLOSED: "yes" },
      /RATE_LIMIT_FAIL_CLOSED must be 0 or 1/,
    ],
    [{ TRUST_PROXY: "true" }, /TRUST_PROXY must be an integer from 0 to 10/],
    [
      { UPSTASH_REDIS_REST_URL: "redis://x", UPSTASH_REDIS_REST_TOKEN: "t" },
      /UPSTASH_REDIS_REST_URL must be an http\(s\) URL/,
    ],
    [
      { UPSTASH_REDIS_REST_TOKEN: "t" },
      /UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together/,
    ],
  ];
  for (const [env, message] of cases) {
    await t.step(JSON.stringify(env), () => {
      assert.throws(() => loadConfig(env, "dev"), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /secret-token/);
        return true;
      });
    });
  }
});
