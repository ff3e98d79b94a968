/**
 * `deno task bench --remote`: the service as it runs at the edge (`main.ts`
 * without FFI, a libSQL server over HTTP, Upstash rate limits), each request
 * sent alone. Both stores answer after a configured delay, to stand for a
 * far region. For each scenario and cache state it reports the database and
 * Redis requests per request and the sequential round trips: how much the
 * median latency grows from no delay to the configured one, in delays.
 *
 * The cache states (issue 24): `warm`, the user's requests back to back;
 * `idle`, the user back after longer than every per-user cache keeps them
 * (the account state's 5 s, the data key's 30 s; a token the instance has
 * not verified yet), made instant by running the service's cache clock
 * ahead (`ORDERS_HARNESS_CACHE_CLOCK`, service.ts); `fresh`, the first
 * request of an instance just started, its one-time work done.
 *
 * The libSQL server and the Upstash bridge are the test suite's own
 * (`tests/fixtures/`), so this mode needs `redis-server`.
 */
import { signToken } from "../../auth/sign_token.ts";
import { type RunningServer, startServer } from "../../tests/fixtures/mod.ts";
import { startLibsqlHttpServer } from "../../tests/fixtures/libsql_http_server.ts";
import { startUpstashBridge } from "../../tests/fixtures/upstash_bridge.ts";
import { progress } from "./process.ts";
import { SERVICE_LIMITS } from "./service_run.ts";
import { randomSecret } from "./seed.ts";

/** How warm the instance's caches are for the measured request's user. */
export type CacheState = "warm" | "idle" | "fresh";

/** Every cache state, in the report's order. */
export const CACHE_STATES: readonly CacheState[] = ["warm", "idle", "fresh"];

/** Options of a remote run. */
export interface RemoteSettings {
  /** The delay of every database and Redis answer, in milliseconds. */
  readonly delayMs: number;
  /** Measured requests per scenario, cache state and delay. */
  readonly requests: number;
  /** The cache states to measure; all by default. */
  readonly states?: readonly CacheState[];
}

/** One scenario's numbers in one cache state. */
export interface RemoteScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly state: CacheState;
  /** The most sequential round trips allowed (issues 14 and 24). */
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

/** Who sends a request: the claims of their token. */
interface Caller {
  readonly sub: number;
  readonly roles?: readonly string[];
}

/** A request the scenario sends, built fresh for each measured request. */
interface Step {
  method: string;
  path: string;
  caller: Caller;
  body?: string;
  headers?: Record<string, string>;
  /** The status that makes the answer count (anything else stops the run). */
  expect: number;
}

interface Scenario {
  id: string;
  title: string;
  /** The most sequential round trips issues 14 and 24 allow it. */
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
  let server: RunningServer | undefined;
  try {
    const env = { DATABASE_URL: database.url, DATABASE_AUTH_TOKEN: DB_TOKEN };
    await migrate(env);
    const secret = randomSecret(48);
    const start = () =>
      startServer({
        ...env,
        // A fulfillment user changes orders in every scenario and state.
        ...SERVICE_LIMITS,
        JWT_SECRET: secret,
        UPSTASH_REDIS_REST_URL: bridge.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
        // No endpoint is registered: the webhook dispatcher looks once at
        // start-up, and its next look must not fall among the requests
        // counted; nor may a checkpoint of the audit log.
        WEBHOOK_POLL_MS: "3600000",
        AUDIT_CHECKPOINT_SECONDS: "86400",
        ORDERS_HARNESS_CACHE_CLOCK: "SIGUSR1",
      }, {
        denoFlags: ["--allow-net", "--allow-env", "--allow-read", "--deny-ffi"],
      });
    server = await start();
    const running = () => server!;
    // Tokens by caller and variant: a warm user presents the same token
    // every time, an idle or fresh one a token this instance never saw.
    const tokens = new Map<string, Promise<string>>();
    let variant = 0;
    const tokenFor = (caller: Caller, fresh = 0) => {
      const key = `${caller.sub}/${caller.roles?.join(",")}/${fresh}`;
      let token = tokens.get(key);
      if (token === undefined) {
        token = signToken(secret, {
          sub: caller.sub,
          ...(caller.roles && { roles: caller.roles }),
          ttlSeconds: 3600 - fresh,
        });
        tokens.set(key, token);
      }
      return token;
    };
    const send = async (step: Omit<Step, "expect">, fresh = 0) =>
      fetch(`${running().url}${step.path}`, {
        method: step.method,
        headers: {
          authorization: `Bearer ${await tokenFor(step.caller, fresh)}`,
          ...(step.body !== undefined &&
            { "content-type": "application/json" }),
          ...step.headers,
        },
        ...(step.body !== undefined && { body: step.body }),
      });
    const call = async (step: Step, fresh = 0): Promise<string> => {
      const response = await send(step, fresh);
      const text = await response.text();
      if (response.status !== step.expect) {
        throw new Error(
          `${step.method} ${step.path}: ${response.status} ${text}`,
        );
      }
      return text;
    };
    /** Runs the service's cache clock past every per-user cache. */
    const idleUsers = async () => {
      const advanced = () =>
        running().output().split('"event":"harness.cache_clock_advanced"')
          .length;
      const before = advanced();
      running().signal("SIGUSR1");
      while (advanced() === before) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    /** Replaces the instance with one just started. */
    const restart = async () => {
      await running().stop();
      server = await start();
    };
    const scenarios = buildScenarios(call);
    const results: RemoteScenarioResult[] = [];
    for (const state of settings.states ?? CACHE_STATES) {
      for (const scenario of scenarios) {
        progress(`remote (${state}): ${scenario.title}`);
        const measure = async (delayMs: number) => {
          const times: number[] = [];
          let databaseRequests = 0;
          let redisRequests = 0;
          // Round 0 warms the scenario's code path; it is not counted. A
          // fresh instance has nothing warm, by definition.
          for (let n = state === "fresh" ? 1 : 0; n <= settings.requests; n++) {
            database.setDelay(0);
            bridge.setDelay(0);
            const step = await scenario.prepare(n);
            if (state === "idle") await idleUsers();
            if (state === "fresh") await restart();
            const fresh = state === "warm" ? 0 : ++variant;
            await tokenFor(step.caller, fresh);
            database.setDelay(delayMs);
            bridge.setDelay(delayMs);
            const db0 = database.pipelineRequests();
            const redis0 = bridge.requests();
            const started = performance.now();
            await call(step, fresh);
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
          state,
          target: scenario.target,
          baseMs: base.median,
          delayedMs: delayed.median,
          sequentialTrips: (delayed.median - base.median) / settings.delayMs,
          databaseRequests: delayed.databaseRequests,
          redisRequests: delayed.redisRequests,
        });
      }
    }
    database.setDelay(0);
    bridge.setDelay(0);
    return {
      startedAt,
      delayMs: settings.delayMs,
      requests: settings.requests,
      scenarios: results,
    };
  } finally {
    await server?.stop();
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
 * limit belongs to a user of its own (a first order is a new user's).
 */
function buildScenarios(
  call: (step: Step) => Promise<string>,
): Scenario[] {
  let nextUser = 1;
  const newUser = (): Caller => ({ sub: nextUser++ });
  const fulfillment: Caller = { sub: 1_000_001, roles: ["fulfillment"] };
  const creation = (caller: Caller, headers: Record<string, string> = {}) => ({
    method: "POST",
    path: "/v1/orders",
    caller,
    body: ORDER,
    headers,
    expect: 201,
  });
  const createFor = async (caller: Caller): Promise<string> =>
    JSON.parse(await call(creation(caller))).id;
  /** A user with one order already (so a data key) and warm caches. */
  const warmUser = async () => {
    const caller = newUser();
    return { caller, orderId: await createFor(caller) };
  };
  /**
   * A read by a user of its own (so no scenario's requests use up another's
   * per-user limit), who has one order; `path` is given its id.
   */
  const read = (path: (reader: Caller, orderId: string) => string) => {
    let reader: Promise<{ caller: Caller; orderId: string }> | undefined;
    return async () => {
      reader ??= warmUser();
      const { caller, orderId } = await reader;
      return {
        method: "GET",
        path: path(caller, orderId),
        caller,
        expect: 200,
      };
    };
  };
  return [
    {
      id: "get_by_id",
      target: 1,
      title: "GET one order by id",
      prepare: read((_, id) => `/v1/orders/${id}`),
    },
    {
      id: "list",
      target: 1,
      title: "GET list ?limit=20",
      prepare: read(() => "/v1/orders?limit=20"),
    },
    {
      id: "history",
      target: 1,
      title: "GET history",
      prepare: read((_, id) => `/v1/orders/${id}/history`),
    },
    {
      id: "export",
      target: 1,
      title: "GET export of one's personal data",
      prepare: read((reader) => `/v1/users/${reader.sub}/export`),
    },
    {
      id: "events",
      target: 1,
      title: "GET events feed",
      prepare: read(() => "/v1/events?limit=20"),
    },
    {
      id: "create",
      target: 2,
      title: "POST order",
      prepare: async () => creation((await warmUser()).caller),
    },
    {
      id: "create_keyed",
      target: 2,
      title: "POST order with Idempotency-Key",
      prepare: async () =>
        creation((await warmUser()).caller, {
          "Idempotency-Key": crypto.randomUUID(),
        }),
    },
    {
      id: "first_order",
      target: 2,
      title: "POST a user's first order",
      prepare: async () => {
        const caller = newUser();
        // Warms the account cache without creating anything.
        await call({
          method: "GET",
          path: "/v1/orders",
          caller,
          expect: 200,
        });
        return creation(caller);
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
          caller: fulfillment,
          expect: 200,
        });
        return {
          method: "PATCH",
          path: `/v1/orders/${orderId}`,
          caller: fulfillment,
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
        const { caller, orderId } = await warmUser();
        return {
          method: "POST",
          path: `/v1/orders/${orderId}/cancel`,
          caller,
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

/** The report as a Markdown table, one row per scenario and cache state. */
export function renderRemoteReport(report: RemoteReport): string {
  const lines = [
    `Remote mode, ${report.startedAt}: every database and Redis answer delayed by ${report.delayMs} ms; ${report.requests} sequential requests per scenario and cache state (warm: back to back; idle: the user back after every per-user cache expired; fresh: the first request of an instance just started); medians.`,
    "",
    "| scenario | cache state | sequential round trips | target | database requests | Redis requests | latency, no delay | latency, delayed |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of report.scenarios) {
    lines.push(
      `| ${s.title} | ${s.state} | ${
        s.sequentialTrips.toFixed(1)
      } | ≤ ${s.target} | ${s.databaseRequests.toFixed(1)} | ${
        s.redisRequests.toFixed(1)
      } | ${s.baseMs.toFixed(1)} ms | ${s.delayedMs.toFixed(1)} ms |`,
    );
  }
  return lines.join("\n") + "\n";
}
