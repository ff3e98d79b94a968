/**
 * The rate-limit settings of the environment, and the client address they
 * key failed authentication on.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { ConfigError, loadConfig } from "../../config.ts";
import { DEFAULT_RATE_LIMIT_RULES } from "../../limits/rate_limiter.ts";
import {
  clientAddress,
  UNKNOWN_ADDRESS,
} from "../../routes/middleware/client_address.ts";
import type { AppEnv } from "../../routes/env.ts";

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

Deno.test("clientAddress trusts X-Forwarded-For only as far as TRUST_PROXY hops", async (t) => {
  const cases: [string, {
    peer?: string;
    forwarded?: string;
    hops: number;
    expected: string;
  }][] = [
    ["peer without proxies", {
      peer: "198.51.100.7",
      hops: 0,
      expected: "198.51.100.7",
    }],
    ["header ignored without proxies", {
      peer: "198.51.100.7",
      forwarded: "192.0.2.1",
      hops: 0,
      expected: "198.51.100.7",
    }],
    ["one proxy: the rightmost entry", {
      peer: "10.0.0.2",
      forwarded: "203.0.113.50, 192.0.2.1",
      hops: 1,
      expected: "192.0.2.1",
    }],
    ["two proxies: the second from the right", {
      peer: "10.0.0.2",
      forwarded: "203.0.113.50, 192.0.2.1, 10.0.0.1",
      hops: 2,
      expected: "192.0.2.1",
    }],
    ["fewer entries than proxies: the leftmost", {
      peer: "10.0.0.2",
      forwarded: "192.0.2.1",
      hops: 3,
      expected: "192.0.2.1",
    }],
    ["no header behind a proxy: the peer", {
      peer: "10.0.0.2",
      hops: 1,
      expected: "10.0.0.2",
    }],
    ["not an address: the peer", {
      peer: "10.0.0.2",
      forwarded: "<script>",
      hops: 1,
      expected: "10.0.0.2",
    }],
    ["IPv6: its /64, lower case", {
      peer: "10.0.0.2",
      forwarded: "2001:DB8::1",
      hops: 1,
      expected: "2001:db8::/64",
    }],
    ["no connection info (in-process requests)", {
      hops: 0,
      expected: UNKNOWN_ADDRESS,
    }],
  ];
  for (const [name, { peer, forwarded, hops, expected }] of cases) {
    await t.step(name, async () => {
      const app = new Hono<AppEnv>().get(
        "/",
        (c) => c.text(clientAddress(c, hops)),
      );
      const env = peer === undefined
        ? undefined
        : { remoteAddr: { transport: "tcp", hostname: peer, port: 1 } };
      const response = await app.request("/", {
        headers: forwarded === undefined
          ? {}
          : { "X-Forwarded-For": forwarded },
      }, env);
      assert.equal(await response.text(), expected);
    });
  }
});
