/**
 * The rate limits end to end: `main.ts` as a subprocess, configured only
 * through its environment, over real HTTP (so the client address comes
 * from the real connection).
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import { startServer } from "../fixtures/mod.ts";
import { redisTest, startUpstashBridge } from "../fixtures/upstash_bridge.ts";
import { awayFromWindowEdge } from "../fixtures/mod.ts";

const SECRET = "e2e-rate-limit-secret-0123456789-abcdefghijklmnop";

function baseEnv(): Record<string, string> {
  return { JWT_SECRET: SECRET, DATABASE_URL: ":memory:" };
}

async function statuses(
  url: string,
  count: number,
  init: RequestInit,
): Promise<Response[]> {
  const responses = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, init);
    await response.body?.cancel();
    responses.push(response);
  }
  return responses;
}

Deno.test("main.ts with in-memory limits: limits come from the environment and count per connection address", async () => {
  const server = await startServer({
    ...baseEnv(),
    RATE_LIMIT_REQUESTS_PER_MIN: "2",
    RATE_LIMIT_AUTH_FAILURES_PER_MIN: "2",
  });
  try {
    assert.match(
      server.output(),
      /"event":"ratelimit.configured".*"backend":"memory"/,
    );
    await awayFromWindowEdge(60_000);
    // Without TRUST_PROXY a forged X-Forwarded-For changes nothing: all
    // three come from 127.0.0.1.
    const failures = [];
    for (const forwarded of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
      const [response] = await statuses(`${server.url}/v1/orders`, 1, {
        headers: {
          Authorization: "Bearer bad",
          "X-Forwarded-For": forwarded,
        },
      });
      failures.push(response?.status);
    }
    assert.deepEqual(failures, [401, 401, 429]);

    const token = await signToken(SECRET, { sub: 7 });
    const served = await statuses(`${server.url}/v1/orders`, 3, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.deepEqual(served.map((r) => r.status), [200, 200, 429]);
    assert.equal(served[0]?.headers.get("ratelimit-limit"), "2");
    assert.equal(served[0]?.headers.get("ratelimit-remaining"), "1");
    assert.ok(Number(served[2]?.headers.get("retry-after")) >= 1);
  } finally {
    await server.stop();
  }
});

Deno.test("main.ts refuses to start with only one of the Upstash settings", async () => {
  await assert.rejects(
    startServer({ ...baseEnv(), UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }),
    /UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together/,
  );
});

redisTest(
  "main.ts with Upstash settings limits through Redis, and serves when Redis stops",
  async () => {
    await using bridge = await startUpstashBridge();
    const server = await startServer({
      ...baseEnv(),
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: bridge.token,
      RATE_LIMIT_REQUESTS_PER_MIN: "2",
    });
    try {
      assert.match(
        server.output(),
        /"event":"ratelimit.configured".*"backend":"upstash"/,
      );
      await awayFromWindowEdge(60_000);
      const token = await signToken(SECRET, { sub: 7 });
      const init = { headers: { Authorization: `Bearer ${token}` } };
      const served = await statuses(`${server.url}/v1/orders`, 3, init);
      assert.deepEqual(served.map((r) => r.status), [200, 200, 429]);
      assert.ok(bridge.commands.includes("EVALSHA"));

      await bridge.stopRedis();
      const other = await signToken(SECRET, { sub: 8 });
      const [open] = await statuses(`${server.url}/v1/orders`, 1, {
        headers: { Authorization: `Bearer ${other}` },
      });
      assert.equal(open?.status, 200);
      assert.match(server.output(), /"event":"ratelimit.degraded"/);
    } finally {
      await server.stop();
      await bridge.idle();
    }
  },
);
