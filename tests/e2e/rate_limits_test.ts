/**
 * The rate limits end to end: `main.ts` as a subprocess, configured only
 * through its environment, over real HTTP (so the client address comes
 * from the real connection).
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import {
  awayFromWindowEdge,
  type RunningServer,
  startServer,
  withServer,
} from "../fixtures/mod.ts";
import { redisTest, startUpstashBridge } from "../fixtures/upstash_bridge.ts";

const SECRET = "e2e-rate-limit-secret-0123456789-abcdefghijklmnop";

function baseEnv(): Record<string, string> {
  return { JWT_SECRET: SECRET, DATABASE_URL: ":memory:" };
}

/**
 * Runs `fn` against `main.ts` started with `env` over the base settings,
 * once it said it limits through `backend`, away from a window's edge.
 */
function withLimitedServer(
  env: Record<string, string>,
  backend: "memory" | "upstash",
  fn: (server: RunningServer) => Promise<void>,
): Promise<void> {
  return withServer({ ...baseEnv(), ...env }, async (server) => {
    assert.match(
      server.output(),
      new RegExp(`"event":"ratelimit.configured".*"backend":"${backend}"`),
    );
    await awayFromWindowEdge(60_000);
    await fn(server);
  });
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

Deno.test("main.ts with in-memory limits: limits come from the environment and count per connection address", () =>
  withLimitedServer(
    {
      RATE_LIMIT_REQUESTS_PER_MIN: "2",
      RATE_LIMIT_AUTH_FAILURES_PER_MIN: "2",
    },
    "memory",
    async (server) => {
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
    },
  ));

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
    try {
      await withLimitedServer(
        {
          UPSTASH_REDIS_REST_URL: bridge.url,
          UPSTASH_REDIS_REST_TOKEN: bridge.token,
          RATE_LIMIT_REQUESTS_PER_MIN: "2",
        },
        "upstash",
        async (server) => {
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
        },
      );
    } finally {
      await bridge.idle();
    }
  },
);
