/**
 * `deno task bench --remote`: the service as it runs at the edge (`main.ts`
 * without FFI, a libSQL server over HTTP, Upstash rate limits), each request
 * sent alone, caches warm. Both stores answer after a configured delay, to
 * stand for a far region. For each scenario it reports the database and
 * Redis requests per request and the sequential round trips: how much the
 * median latency grows from no delay to the configured one, in delays.
 *
 * The libSQL server and the Upstash bridge are the test suite's own
 * (`tests/fixtures/`), so this mode needs `redis-server`.
 */
import { signToken } from "../../auth/sign_token.ts";
import { startServer } from "../../tests/fixtures/mod.ts";
import { startLibsqlHttpServer } from "../../tests/fixtures/libsql_http_server.ts";
import { startUpstashBridge } from "../../tests/fixtures/upstash_bridge.ts";
import { progress } from "./process.ts";
import { randomSecret } from "./seed.ts";

/** Options of a remote run. */
export interface RemoteSettings {
  /** The delay of every database and Redis answer, in milliseconds. */
  readonly delayMs: number;
  /** Measured requests per scenario and delay. */
  readonly requests: number;
}

/** One scenario's numbers. */
export interface RemoteScenarioResult {
  readonly id: string;
  readonly title: string;
  /** The most sequential round trips allowed (issue 14). */
  readonly target: number;
  /** Median latency with no delay, in milliseconds. */
  readonly baseMs: number;
  /** Median latency with the delay, in milliseconds. */
  readonly delayedMs: number;
  /** (delayed − base) / delay: the round trips a request waits for in turn. */
  readonly sequentialTrips: number;
  /** Database (`/v2/pipeline`) requests per request. */
  readonly databaseRequests: number;
  /** Upstash REST requests per request. */
  readonly redisRequests: number;
}

/** A remote run's report. */
export interface RemoteReport {
  readonly startedAt: string;
  readonly delayMs: number;
  readonly requests: number;
  readonly scenarios: RemoteScenarioResult[];
}

const DB_TOKEN = "bench-remote-database-token";

const ORDER = JSON.stringify({
  items: [
    { product_id: "sku-1", product_name: "Mug", quantity: 2, price: "12.50" },
  ],
  shipping_address: "1 Main St, Springfield",
});

/** A request the scenario sends, built fresh for each measured request. */
interface Step {
  method: string;
  path: string;
  token: string;
  body?: string;
  headers?: Record<string, string>;
  /** The status that makes the answer count (anything else stops the run). */
  expect: number;
}

interface Scenario {
  id: string;
  title: string;
  /** The most sequential round trips issue 14 allows it. */
  target: number;
  /**
   * The request to measure for round `n`, after any requests that prepare
   * it (sent first, not measured: they also warm the caches it needs).
   */
  prepare(n: number): Promise<Step>;
}

/** Runs the remote benchmark. */
export async function runRemoteBenchmark(
  settings: RemoteSettings,
): Promise<RemoteReport> {
  const startedAt = new Date().toISOString();
  const dir = await Deno.makeTempDir({ prefix: "orders-bench-remote-" });
  const database = startLibsqlHttpServer(`${dir}/remote.db`, {
    authToken: DB_TOKEN,
  });
  await using bridge = await startUpstashBridge();
  try {
    const env = { DATABASE_URL: database.url, DATABASE_AUTH_TOKEN: DB_TOKEN };
    await migrate(env);
    const secret = randomSecret(48);
    const server = await startServer({
      ...env,
      JWT_SECRET: secret,
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: bridge.token,
      // No endpoint is registered: the webhook dispatcher looks once at
      // start-up, and its next look must not fall among the requests counted.
      WEBHOOK_POLL_MS: "3600000",
    }, {
      denoFlags: ["--allow-net", "--allow-env", "--allow-read", "--deny-ffi"],
    });
    try {
      const send = (step: Omit<Step, "expect">) =>
        fetch(`${server.url}${step.path}`, {
          method: step.method,
          headers: {
            authorization: `Bearer ${step.token}`,
            ...(step.body !== undefined &&
              { "content-type": "application/json" }),
            ...step.headers,
          },
          ...(step.body !== undefined && { body: step.body }),
        });
      const call = async (step: Step): Promise<string> => {
        const response = await send(step);
        const text = await response.text();
        if (response.status !== step.expect) {
          throw new Error(
            `${step.method} ${step.path}: ${response.status} ${text}`,
          );
        }
        return text;
      };
      const scenarios = await buildScenarios(secret, call);
      const results: RemoteScenarioResult[] = [];
      for (const scenario of scenarios) {
        progress(`remote: ${scenario.title}`);
        const measure = async (delayMs: number) => {
          database.setDelay(delayMs);
          bridge.setDelay(delayMs);
          const times: number[] = [];
          let databaseRequests = 0;
          let redisRequests = 0;
          // Round 0 warms the scenario's code path; it is not counted.
          for (let n = 0; n <= settings.requests; n++) {
            const step = await scenario.prepare(n);
            const db0 = database.pipelineRequests();
            const redis0 = bridge.requests();
            const started = performance.now();
            await call(step);
            const elapsed = performance.now() - started;
            await bridge.idle();
            if (n === 0) continue;
            times.push(elapsed);
            databaseRequests += database.pipelineRequests() - db0;
            redisRequests += bridge.requests() - redis0;
          }
          return {
            median: median(times),
            databaseRequests: databaseRequests / settings.requests,
            redisRequests: redisRequests / settings.requests,
          };
        };
        const base = await measure(0);
        const delayed = await measure(settings.delayMs);
        results.push({
          id: scenario.id,
          title: scenario.title,
          target: scenario.target,
          baseMs: base.median,
          delayedMs: delayed.median,
          sequentialTrips: (delayed.median - base.median) / settings.delayMs,
          databaseRequests: delayed.databaseRequests,
          redisRequests: delayed.redisRequests,
        });
      }
      return {
        startedAt,
        delayMs: settings.delayMs,
        requests: settings.requests,
        scenarios: results,
      };
    } finally {
      await server.stop();
    }
  } finally {
    await database.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function migrate(env: Record<string, string>): Promise<void> {
  const migrated = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      new URL("../db_migrate.ts", import.meta.url).pathname,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!migrated.success) {
    throw new Error(
      `db:migrate failed: ${new TextDecoder().decode(migrated.stderr)}`,
    );
  }
}

/**
 * The scenarios. Every measured request that counts against the creation
 * limit belongs to a user of its own, so the default limits never refuse.
 */
async function buildScenarios(
  secret: string,
  call: (step: Step) => Promise<string>,
): Promise<Scenario[]> {
  let nextUser = 1;
  const newUser = () => signToken(secret, { sub: nextUser++ });
  const fulfillment = await signToken(secret, {
    sub: 1_000_001,
    roles: ["fulfillment"],
  });
  const creation = (token: string, headers: Record<string, string> = {}) => ({
    method: "POST",
    path: "/v1/orders",
    token,
    body: ORDER,
    headers,
    expect: 201,
  });
  const createFor = async (token: string): Promise<string> =>
    JSON.parse(await call(creation(token))).id;
  const reader = await newUser();
  const readId = await createFor(reader);
  /** A user with one order already (so a data key) and warm caches. */
  const warmUser = async () => {
    const token = await newUser();
    return { token, orderId: await createFor(token) };
  };
  return [
    {
      id: "get_by_id",
      target: 1,
      title: "GET one order by id",
      prepare: () =>
        Promise.resolve({
          method: "GET",
          path: `/v1/orders/${readId}`,
          token: reader,
          expect: 200,
        }),
    },
    {
      id: "list",
      target: 1,
      title: "GET list ?limit=20",
      prepare: () =>
        Promise.resolve({
          method: "GET",
          path: "/v1/orders?limit=20",
          token: reader,
          expect: 200,
        }),
    },
    {
      id: "history",
      target: 1,
      title: "GET history",
      prepare: () =>
        Promise.resolve({
          method: "GET",
          path: `/v1/orders/${readId}/history`,
          token: reader,
          expect: 200,
        }),
    },
    {
      id: "create",
      target: 2,
      title: "POST order",
      prepare: async () => creation((await warmUser()).token),
    },
    {
      id: "create_keyed",
      target: 2,
      title: "POST order with Idempotency-Key",
      prepare: async () =>
        creation((await warmUser()).token, {
          "Idempotency-Key": crypto.randomUUID(),
        }),
    },
    {
      id: "first_order",
      target: 2,
      title: "POST a user's first order",
      prepare: async () => {
        const token = await newUser();
        // Warms the account cache without creating anything.
        await call({ method: "GET", path: "/v1/orders", token, expect: 200 });
        return creation(token);
      },
    },
    {
      id: "patch",
      target: 2,
      title: "PATCH status",
      prepare: async () => {
        const { orderId } = await warmUser();
        await call({
          method: "GET",
          path: `/v1/orders/${orderId}`,
          token: fulfillment,
          expect: 200,
        });
        return {
          method: "PATCH",
          path: `/v1/orders/${orderId}`,
          token: fulfillment,
          body: JSON.stringify({ status: "processing" }),
          expect: 200,
        };
      },
    },
    {
      id: "cancel",
      target: 2,
      title: "POST cancel",
      prepare: async () => {
        const { token, orderId } = await warmUser();
        return {
          method: "POST",
          path: `/v1/orders/${orderId}/cancel`,
          token,
          body: JSON.stringify({ reason: "Changed my mind" }),
          expect: 200,
        };
      },
    },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[mid]!
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The report as a Markdown table. */
export function renderRemoteReport(report: RemoteReport): string {
  const lines = [
    `Remote mode, ${report.startedAt}: every database and Redis answer delayed by ${report.delayMs} ms; ${report.requests} sequential requests per scenario, caches warm; medians.`,
    "",
    "| scenario | sequential round trips | target | database requests | Redis requests | latency, no delay | latency, delayed |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of report.scenarios) {
    lines.push(
      `| ${s.title} | ${s.sequentialTrips.toFixed(1)} | ≤ ${s.target} | ${
        s.databaseRequests.toFixed(1)
      } | ${s.redisRequests.toFixed(1)} | ${s.baseMs.toFixed(1)} ms | ${
        s.delayedMs.toFixed(1)
      } ms |`,
    );
  }
  return lines.join("\n") + "\n";
}
