/**
 * The service under test: `main.ts` on a new WAL file database, seeded
 * through its API, then each scenario driven with wrk.
 */
import {
  baseEnv,
  type BenchProcess,
  type CorePlan,
  freePort,
  peakRssMb,
  processName,
  progress,
  resetPeakRss,
  startProcess,
  waitUntilReady,
} from "./process.ts";
import { type BenchReport, type ScenarioResult, TARGETS } from "./report.ts";
import {
  type BenchTokens,
  randomSecret,
  type SeededOrder,
  seedOrders,
  shuffled,
  writeFixture,
} from "./seed.ts";
import type { BenchSettings } from "./settings.ts";
import { ROOT, SERVICE_FLAGS } from "./limits.ts";
import { type RequestKind, runWrk, socketErrorCount } from "./wrk.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Seeding requests in flight at once. */
const SEED_CONCURRENCY = 32;

/** Generous limits, so that the benchmark measures work rather than 429s. */
export const SERVICE_LIMITS = {
  RATE_LIMIT_REQUESTS_PER_MIN: "100000",
  RATE_LIMIT_ORDERS_PER_MIN: "100000",
  RATE_LIMIT_MISSES_PER_MIN: "100000",
  RATE_LIMIT_AUTH_FAILURES_PER_MIN: "100000",
  // Seeding creates many orders per user within minutes; without this they
  // would be held for review and PATCH to processing would answer 409.
  REVIEW_VELOCITY_ORDERS: "100000",
};

/** What the service part of a run measured. */
export interface ServiceRun {
  scenarios: ScenarioResult[];
  seed: BenchReport["seed"];
  peakRssMb: number | undefined;
  service: BenchReport["service"];
}

/** A started service under test. */
export interface BenchService {
  /** Base URL, for example `http://127.0.0.1:8123`. */
  url: string;
  server: BenchProcess;
  /** `performance.now()` when the service was spawned. */
  spawnedAt: number;
}

/** How the service is started beyond the run's settings. */
export interface StartServiceOptions {
  /** Variables added to (or overriding) the service's environment. */
  env?: Record<string, string>;
}

/**
 * Starts `main.ts` on a new WAL file database in `tmp`, pinned to the
 * service's core, and waits until it answers `/healthz`.
 */
export async function startBenchService(
  settings: BenchSettings,
  cores: CorePlan | undefined,
  tmp: string,
  secret: string,
  options: StartServiceOptions = {},
): Promise<BenchService> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const profileFlags = settings.profileDir === undefined
    ? []
    : ["--cpu-prof", `--cpu-prof-dir=${settings.profileDir}`];
  const spawnedAt = performance.now();
  const server = startProcess({
    command: [
      Deno.execPath(),
      "run",
      ...SERVICE_FLAGS,
      ...profileFlags,
      ...settings.serviceFlags,
      MAIN,
    ],
    env: {
      ...baseEnv(),
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: `file:${tmp}/orders.db`,
      JWT_SECRET: secret,
      PII_ENCRYPTION_KEY: randomSecret(32),
      AUDIT_KEY: randomSecret(32),
      AUDIT_SIGNING_KEY: randomSecret(32),
      LOG_LEVEL: "info",
      ...SERVICE_LIMITS,
      ...options.env,
    },
    logPath: `${tmp}/service.log`,
    cwd: ROOT,
    core: cores?.serverCore,
  });
  try {
    await waitUntilReady(server, `${url}/healthz`);
    const name = await processName(server.pid);
    if (name !== "deno") {
      throw new Error(
        `Expected pid ${server.pid} to be deno itself, found ${name}: peak RSS would be wrong`,
      );
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url, server, spawnedAt };
}

/** Stops the service; throws with its log's tail if it did not exit cleanly. */
export async function stopBenchService(service: BenchService): Promise<void> {
  const code = await service.server.stop(30_000);
  if (code !== 0) {
    throw new Error(
      `The service exited with code ${code}: ${await service.server.logTail()}`,
    );
  }
}

/** Seeds `users × ordersPerUser` orders through the API. */
export async function seedBenchOrders(
  settings: BenchSettings,
  url: string,
  tokens: BenchTokens,
): Promise<{ orders: SeededOrder[]; seed: BenchReport["seed"] }> {
  const seedStart = performance.now();
  const orders = await seedOrders(url, tokens.users, {
    count: settings.users * settings.ordersPerUser,
    concurrency: SEED_CONCURRENCY,
  });
  return {
    orders,
    seed: {
      users: settings.users,
      staff: settings.staff,
      orders: orders.length,
      seconds: (performance.now() - seedStart) / 1000,
    },
  };
}

/** How the service of a run was set up, for the report's footnotes. */
export function serviceDescription(
  settings: BenchSettings,
): BenchReport["service"] {
  return {
    database: "embedded libSQL file, WAL",
    synchronous: "NORMAL (db/client.ts)",
    log_level: "info",
    ...(settings.serviceFlags.length > 0 &&
      { extra_flags: settings.serviceFlags.join(" ") }),
    rate_limits: "100000/min (generous)",
  };
}

/** Starts the service, seeds it and runs the selected scenarios. */
export async function runService(
  settings: BenchSettings,
  cores: CorePlan | undefined,
  tmp: string,
  tokens: BenchTokens,
  secret: string,
): Promise<ServiceRun> {
  const service = await startBenchService(settings, cores, tmp, secret);
  const { url, server, spawnedAt } = service;
  let stopped = false;
  try {
    const { orders, seed } = await seedBenchOrders(settings, url, tokens);
    let peak = await peakRssMb(server.pid);

    // PATCH moves each order forward once: seeded orders first, then those
    // the POST scenario created, so the pool grows with creation speed.
    const patchPool = orders.map((o) => o.id);
    const scenarios: ScenarioResult[] = [];
    for (const id of ["get_by_id", "list", "create", "patch"] as const) {
      if (!settings.only.has(id)) continue;
      const result = await runScenario(id, {
        settings,
        cores,
        tmp,
        url,
        server,
        spawnedAt,
        tokens,
        orders,
        patchPool,
      });
      scenarios.push(result);
      if (result.peakRssMb !== undefined) {
        peak = Math.max(peak ?? 0, result.peakRssMb);
      }
    }
    stopped = true;
    await stopBenchService(service);
    return {
      scenarios,
      seed,
      peakRssMb: peak,
      service: serviceDescription(settings),
    };
  } finally {
    if (!stopped) await server.stop();
  }
}

/** What a scenario run needs from its service run. */
export interface ScenarioContext {
  settings: BenchSettings;
  cores: CorePlan | undefined;
  tmp: string;
  url: string;
  server: BenchProcess;
  /** `performance.now()` when the service was spawned. */
  spawnedAt: number;
  tokens: BenchTokens;
  orders: SeededOrder[];
  /** Ids of pending orders not yet patched; create runs add to it. */
  patchPool: string[];
}

/** The service scenarios: title and what wrk sends. */
export const SCENARIOS = {
  get_by_id: { title: "GET /v1/orders/{id}", kind: "get" },
  list: { title: "GET /v1/orders?limit=20", kind: "list" },
  create: { title: "POST /v1/orders", kind: "create" },
  patch: { title: "PATCH /v1/orders/{id}", kind: "patch" },
} as const satisfies Record<string, { title: string; kind: RequestKind }>;

/** Most distinct GET requests wrk keeps prepared. */
const MAX_GET_FIXTURE = 20_000;

/**
 * Runs one scenario (warm-up, then the measured run) with wrk. `label`
 * tells runs of the same scenario apart in Idempotency-Keys and fixtures.
 */
export async function runScenario(
  id: keyof typeof SCENARIOS,
  ctx: ScenarioContext,
  label = "",
): Promise<ScenarioResult> {
  const { settings, tokens } = ctx;
  const { title, kind } = SCENARIOS[id];
  const fixture = `${ctx.tmp}/${id}${label}.tsv`;
  // Each order is patched once: every wrk run starts after the last one.
  let rows: string[][];
  switch (kind) {
    case "get":
      rows = shuffled(ctx.orders, 1).slice(0, MAX_GET_FIXTURE).map((o) => [
        tokens.users[o.owner]!,
        o.id,
      ]);
      break;
    case "list":
    case "create":
      rows = shuffled(tokens.users, 2).map((token) => [token]);
      break;
    case "patch":
      rows = shuffled(ctx.patchPool, 3).map((orderId, i) => [
        tokens.fulfillment[i % tokens.fulfillment.length]!,
        orderId,
      ]);
      break;
  }
  const createdIds = `${ctx.tmp}/created_ids.txt`;
  const run = async (seconds: number, phase: string) => {
    await writeFixture(fixture, rows);
    const result = await runWrk({
      url: ctx.url,
      kind,
      fixture,
      connections: settings.connections,
      durationSeconds: seconds,
      countStatuses: true,
      keyPrefix: `${Date.now().toString(36)}-${id}${label}-${phase}`,
      core: ctx.cores?.loadCore,
      createdIdsPath: kind === "create" ? createdIds : undefined,
    });
    if (kind === "patch") {
      // Patched orders leave the pool, so a later run of this scenario
      // (the webhooks mode runs it several times) changes fresh orders.
      const used = new Set(rows.slice(0, result.sent).map((r) => r[1]));
      const left = ctx.patchPool.filter((id) => !used.has(id));
      ctx.patchPool.length = 0;
      for (const id of left) ctx.patchPool.push(id);
      rows = rows.slice(result.sent);
    }
    if (kind === "create") {
      const ids = (await Deno.readTextFile(createdIds)).split("\n");
      for (const id of ids) if (id !== "") ctx.patchPool.push(id);
    }
    return result;
  };
  await resetPeakRss(ctx.server.pid);
  if (settings.warmupSeconds > 0) await run(settings.warmupSeconds, "warmup");
  const poolAtStart = rows.length;
  const fromMs = performance.now() - ctx.spawnedAt;
  const result = await run(settings.durationSeconds, "run");
  const toMs = performance.now() - ctx.spawnedAt;
  if (settings.profileDir !== undefined) {
    // The profile starts with the process: these bounds (trimmed for the
    // start-up offset and wrk's own start and stop) select this scenario.
    progress(
      `profile window of ${id}: --from-ms ${Math.round(fromMs + 500)} --to-ms ${
        Math.round(toMs - 500)
      }`,
    );
  }
  const statuses = Object.keys(result.statuses);
  const missingRoute = settings.allowMissing.has(id) &&
    result.requests > 0 && statuses.length === 1 && statuses[0] === "405" &&
    socketErrorCount(result) === 0;
  return {
    id,
    title,
    connections: settings.connections,
    requests: result.requests,
    seconds: result.seconds,
    requestsPerSecond: result.requestsPerSecond,
    latencyMs: result.latencyMs,
    errors: result.non2xx + socketErrorCount(result),
    non2xx: result.non2xx,
    socketErrors: result.socketErrors,
    statuses: result.statuses,
    errorBodies: result.errorBodies,
    overrun: result.overrun,
    ...(kind === "patch" && { poolSize: poolAtStart }),
    missingRoute,
    peakRssMb: await peakRssMb(ctx.server.pid),
    serviceTimeMs: { from: fromMs, to: toMs },
    limit: id === "get_by_id" || id === "list" ? "http" : "storage",
    target: TARGETS[id]!,
  };
}
