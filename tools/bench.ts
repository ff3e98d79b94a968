/**
 * `deno task bench [--smoke]`: the load benchmark of issue 9.
 *
 * In one run it measures the two limits (a bare `Deno.serve`, and the raw
 * one-order-per-transaction write loop with native prepared statements), then
 * starts the service (`main.ts`) on a new WAL file database, seeds orders for
 * many users through the API, and drives each scenario with wrk: requests/s,
 * p50/p99 latency, errors and the service's peak RSS, each as a ratio to its
 * limit. The service and the limits run on one core, wrk and this harness on
 * another (`taskset`). `--smoke` runs about a second per scenario and exits
 * non-zero if any scenario had an error; it never judges speed.
 *
 * Options: --duration S, --warmup S, --connections N, --users N, --staff N,
 * --orders-per-user N, --only a,b (scenario ids:
 * http, storage, get_by_id, list, create, patch), --allow-missing a,b (a
 * scenario whose every answer is 405 is reported as a missing route, not an
 * error), --profile DIR (the service runs with `--cpu-prof`), --service-flag F
 * (repeatable: an extra `deno run` flag for the service, for example
 * `--service-flag=--v8-flags=--max-semi-space-size=4`), --results DIR, --keep
 * (keep the temporary folder).
 */
import { parseArgs } from "node:util";
import {
  baseEnv,
  type BenchProcess,
  type CorePlan,
  freePort,
  peakRssMb,
  pinSelf,
  planCores,
  processName,
  resetPeakRss,
  startProcess,
  waitUntilReady,
} from "./bench/process.ts";
import {
  type BenchReport,
  type LimitName,
  type LimitResult,
  renderMarkdown,
  renderText,
  type ScenarioResult,
  TARGETS,
} from "./bench/report.ts";
import {
  type BenchTokens,
  mintTokens,
  type SeededOrder,
  seedOrders,
  shuffled,
  writeFixture,
} from "./bench/seed.ts";
import type { StorageLimitResult } from "./bench/storage_limit.ts";
import {
  type RequestKind,
  runWrk,
  wrkAvailable,
  type WrkResult,
} from "./bench/wrk.ts";

/** Every scenario and limit, in the order they run. */
export const SCENARIO_IDS = [
  "http",
  "storage",
  "get_by_id",
  "list",
  "create",
  "patch",
] as const;

type ScenarioId = typeof SCENARIO_IDS[number];

interface Settings {
  smoke: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  users: number;
  staff: number;
  ordersPerUser: number;
  only: Set<ScenarioId>;
  allowMissing: Set<string>;
  profileDir: string | undefined;
  serviceFlags: string[];
  resultsDir: string | undefined;
  keep: boolean;
}

const ROOT = new URL("../", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const BARE_SERVER = new URL("./bench/bare_server.ts", import.meta.url).pathname;
const STORAGE_LIMIT = new URL("./bench/storage_limit.ts", import.meta.url)
  .pathname;

/** The permissions of `deno task start`, so the service runs as deployed. */
const SERVICE_FLAGS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-sys",
];

/** Seeding requests in flight at once. */
const SEED_CONCURRENCY = 32;

/** Generous limits, so that the benchmark measures work rather than 429s. */
const SERVICE_LIMITS = {
  RATE_LIMIT_REQUESTS_PER_MIN: "100000",
  RATE_LIMIT_ORDERS_PER_MIN: "100000",
  RATE_LIMIT_MISSES_PER_MIN: "100000",
  RATE_LIMIT_AUTH_FAILURES_PER_MIN: "100000",
  // Seeding creates many orders per user within minutes; without this they
  // would be held for review and PATCH to processing would answer 409.
  REVIEW_VELOCITY_ORDERS: "100000",
};

function parseSettings(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: {
      smoke: { type: "boolean", default: false },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string", default: "32" },
      users: { type: "string" },
      staff: { type: "string" },
      "orders-per-user": { type: "string", default: "20" },
      only: { type: "string" },
      "allow-missing": { type: "string", default: "" },
      profile: { type: "string" },
      "service-flag": { type: "string", multiple: true, default: [] },
      results: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  const smoke = values.smoke ?? false;
  const number = (text: string | undefined, fallback: number, name: string) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`Invalid --${name}: ${text}`);
    }
    return value;
  };
  const only = new Set<ScenarioId>();
  for (const id of (values.only ?? SCENARIO_IDS.join(",")).split(",")) {
    if (!(SCENARIO_IDS as readonly string[]).includes(id)) {
      throw new Error(
        `Unknown scenario in --only: ${id} (known: ${SCENARIO_IDS.join(", ")})`,
      );
    }
    only.add(id as ScenarioId);
  }
  return {
    smoke,
    durationSeconds: number(values.duration, smoke ? 1 : 10, "duration"),
    warmupSeconds: number(values.warmup, smoke ? 0 : 2, "warmup"),
    connections: number(values.connections, 32, "connections"),
    users: number(values.users, smoke ? 100 : 1000, "users"),
    staff: number(values.staff, smoke ? 10 : 50, "staff"),
    ordersPerUser: number(values["orders-per-user"], 20, "orders-per-user"),
    only,
    allowMissing: new Set(
      (values["allow-missing"] ?? "").split(",").filter((s) => s !== ""),
    ),
    profileDir: values.profile,
    serviceFlags: values["service-flag"] ?? [],
    resultsDir: values.results ??
      (smoke ? undefined : new URL("../bench/results", import.meta.url)
        .pathname),
    keep: values.keep ?? false,
  };
}

function randomSecret(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw));
}

async function measureHttpLimit(
  settings: Settings,
  cores: CorePlan | undefined,
  tmp: string,
  tokens: BenchTokens,
): Promise<LimitResult> {
  const port = freePort();
  const server = startProcess({
    command: [Deno.execPath(), "run", "--allow-net", BARE_SERVER, String(port)],
    env: baseEnv(),
    logPath: `${tmp}/bare_server.log`,
    cwd: ROOT,
    core: cores?.serverCore,
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(server, `${url}/`);
    const fixture = `${tmp}/http.tsv`;
    // The same requests as GET by id, tokens and all; the server ignores them.
    await writeFixture(
      fixture,
      tokens.users.map((token) => [token, crypto.randomUUID()]),
    );
    const run = (seconds: number) =>
      runWrk({
        url,
        kind: "get",
        fixture,
        connections: settings.connections,
        durationSeconds: seconds,
        countStatuses: false,
        keyPrefix: "http",
        core: cores?.loadCore,
      });
    if (settings.warmupSeconds > 0) await run(settings.warmupSeconds);
    await resetPeakRss(server.pid);
    const result = await run(settings.durationSeconds);
    return {
      name: "http",
      title: "limit: bare Deno.serve JSON",
      perSecond: result.requestsPerSecond,
      latencyMs: result.latencyMs,
      errors: result.non2xx + socketErrorCount(result),
      peakRssMb: await peakRssMb(server.pid),
    };
  } finally {
    await server.stop();
  }
}

async function measureStorageLimit(
  settings: Settings,
  cores: CorePlan | undefined,
  databasePath: string,
): Promise<LimitResult> {
  const command = [
    Deno.execPath(),
    "run",
    ...SERVICE_FLAGS,
    STORAGE_LIMIT,
    databasePath,
    String(settings.durationSeconds),
  ];
  const [program, ...args] = cores === undefined
    ? command
    : ["taskset", "-c", String(cores.serverCore), ...command];
  const { code, stdout, stderr } = await new Deno.Command(program!, {
    args,
    cwd: ROOT,
    env: baseEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  if (code !== 0) {
    throw new Error(
      `The storage limit loop failed with exit code ${code}: ${out}${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  const result = JSON.parse(out.split("\n").at(-1) ?? "") as StorageLimitResult;
  return {
    name: "storage",
    title: "limit: raw write loop, 1 order/tx",
    perSecond: result.transactionsPerSecond,
    latencyMs: result.latencyMs,
    errors: 0,
  };
}

function socketErrorCount(result: WrkResult): number {
  const e = result.socketErrors;
  return e.connect + e.read + e.write + e.timeout;
}

interface ServiceRun {
  scenarios: ScenarioResult[];
  seed: BenchReport["seed"];
  peakRssMb: number | undefined;
  service: BenchReport["service"];
}

async function runService(
  settings: Settings,
  cores: CorePlan | undefined,
  tmp: string,
  tokens: BenchTokens,
  secret: string,
): Promise<ServiceRun> {
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
      LOG_LEVEL: "info",
      ...SERVICE_LIMITS,
    },
    logPath: `${tmp}/service.log`,
    cwd: ROOT,
    core: cores?.serverCore,
  });
  let stopped = false;
  try {
    await waitUntilReady(server, `${url}/healthz`);
    const name = await processName(server.pid);
    if (name !== "deno") {
      throw new Error(
        `Expected pid ${server.pid} to be deno itself, found ${name}: peak RSS would be wrong`,
      );
    }

    const seedStart = performance.now();
    const orders = await seedOrders(url, tokens.users, {
      count: settings.users * settings.ordersPerUser,
      concurrency: SEED_CONCURRENCY,
    });
    const seed = {
      users: settings.users,
      staff: settings.staff,
      orders: orders.length,
      seconds: (performance.now() - seedStart) / 1000,
    };
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
    const code = await server.stop(30_000);
    stopped = true;
    if (code !== 0) {
      throw new Error(
        `The service exited with code ${code}: ${await server.logTail()}`,
      );
    }
    return {
      scenarios,
      seed,
      peakRssMb: peak,
      service: {
        database: "embedded libSQL file, WAL",
        synchronous: "NORMAL (db/client.ts)",
        log_level: "info",
        ...(settings.serviceFlags.length > 0 &&
          { extra_flags: settings.serviceFlags.join(" ") }),
        rate_limits: "100000/min (generous)",
      },
    };
  } finally {
    if (!stopped) await server.stop();
  }
}

interface ScenarioContext {
  settings: Settings;
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

const SCENARIOS = {
  get_by_id: { title: "GET /v1/orders/{id}", kind: "get" },
  list: { title: "GET /v1/orders?limit=20", kind: "list" },
  create: { title: "POST /v1/orders", kind: "create" },
  patch: { title: "PATCH /v1/orders/{id}", kind: "patch" },
} as const satisfies Record<string, { title: string; kind: RequestKind }>;

/** Most distinct GET requests wrk keeps prepared. */
const MAX_GET_FIXTURE = 20_000;

async function runScenario(
  id: keyof typeof SCENARIOS,
  ctx: ScenarioContext,
): Promise<ScenarioResult> {
  const { settings, tokens } = ctx;
  const { title, kind } = SCENARIOS[id];
  const fixture = `${ctx.tmp}/${id}.tsv`;
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
      keyPrefix: `${Date.now().toString(36)}-${id}-${phase}`,
      core: ctx.cores?.loadCore,
      createdIdsPath: kind === "create" ? createdIds : undefined,
    });
    if (kind === "patch") rows = rows.slice(result.sent);
    if (kind === "create") {
      const ids = (await Deno.readTextFile(createdIds)).split("\n");
      ctx.patchPool.push(...ids.filter((id) => id !== ""));
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
    log(
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

/** The `cpu` line of /proc/stat: jiffies per state, steal at index 7. */
async function cpuTimes(): Promise<number[]> {
  const stat = await Deno.readTextFile("/proc/stat").catch(() => "");
  return (/^cpu\s+(.+)$/m.exec(stat)?.[1] ?? "").split(/\s+/).map(Number);
}

/** Share of CPU time the hypervisor gave to others since `before`, in %. */
async function stealPercent(before: number[]): Promise<string> {
  const after = await cpuTimes();
  const delta = after.map((v, i) => v - (before[i] ?? 0));
  const total = delta.slice(0, 8).reduce((a, b) => a + b, 0);
  return total > 0 ? ((100 * (delta[7] ?? 0)) / total).toFixed(1) : "unknown";
}

async function machineInfo(
  loadBefore: string,
  timesBefore: number[],
): Promise<Record<string, string | number>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const wrk = await new Deno.Command("wrk", {
    args: ["--version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wrkVersion = new TextDecoder().decode(wrk.stdout).split("\n")[0] ?? "";
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    wrk: /wrk\s+(\S+)/.exec(wrkVersion)?.[1] ?? "unknown",
    // Other work on the machine, or on the host under it, skews every
    // number: the load before the run and the steal during it tell.
    "load average (1 min) before the run": loadBefore,
    "CPU steal during the run (%)": await stealPercent(timesBefore),
  };
}

/** Runs the benchmark; resolves with the report. */
export async function runBenchmark(settings: Settings): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const loadBefore =
    (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ")[0] ??
      "unknown";
  const timesBefore = await cpuTimes();
  if (!(await wrkAvailable())) {
    throw new Error(
      "wrk is not installed: apt-get install wrk (.ci/run installs it)",
    );
  }
  const cores = await planCores();
  if (cores) await pinSelf(cores.loadCore);
  const tmp = await Deno.makeTempDir({ prefix: "orders-bench-" });
  try {
    const secret = randomSecret(48);
    const tokens = await mintTokens(secret, {
      userCount: settings.users,
      staffCount: settings.staff,
      ttlSeconds: 6 * 3600,
    });
    // Each limit is measured before and after the service, and the better
    // run kept: other load on the machine only ever lowers a limit, and on a
    // shared machine it comes and goes.
    const samples: Record<LimitName, LimitResult[]> = { http: [], storage: [] };
    const measureLimits = async (round: string) => {
      if (settings.only.has("http")) {
        log(`measuring the HTTP limit (bare Deno.serve), ${round}`);
        samples.http.push(
          await measureHttpLimit(settings, cores, tmp, tokens),
        );
      }
      if (settings.only.has("storage")) {
        log(`measuring the storage limit (raw write loop), ${round}`);
        samples.storage.push(
          await measureStorageLimit(
            settings,
            cores,
            `${tmp}/storage_limit_${round}.db`,
          ),
        );
      }
    };
    await measureLimits("before");
    const wanted = ["get_by_id", "list", "create", "patch"] as const;
    let service: ServiceRun | undefined;
    if (wanted.some((id) => settings.only.has(id))) {
      log("starting the service, seeding, running the scenarios");
      service = await runService(settings, cores, tmp, tokens, secret);
      await measureLimits("after");
    }
    const limits: BenchReport["limits"] = {};
    for (const name of ["http", "storage"] as const) {
      const runs = samples[name];
      if (runs.length === 0) continue;
      const best = runs.reduce((a, b) => b.perSecond > a.perSecond ? b : a);
      limits[name] = { ...best, samples: runs.map((r) => r.perSecond) };
    }
    const scenarios = (service?.scenarios ?? []).map((s) => {
      const limit = limits[s.limit];
      return limit && limit.perSecond > 0 && !s.missingRoute
        ? { ...s, ratio: s.requestsPerSecond / limit.perSecond }
        : s;
    });
    return {
      startedAt,
      mode: settings.smoke ? "smoke" : "full",
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      machine: await machineInfo(loadBefore, timesBefore),
      pinning: cores ?? null,
      service: service?.service ?? {},
      seed: service?.seed ??
        { users: settings.users, staff: settings.staff, orders: 0, seconds: 0 },
      limits,
      scenarios,
      servicePeakRssMb: service?.peakRssMb,
    };
  } finally {
    if (settings.keep) log(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true });
  }
}

function log(message: string): void {
  console.error(`bench: ${message}`);
}

/** Scenarios and limits that had errors, by title. */
export function failures(report: BenchReport): string[] {
  const failed: string[] = [];
  for (const limit of Object.values(report.limits)) {
    if (limit.errors > 0) failed.push(`${limit.title}: ${limit.errors} errors`);
  }
  for (const s of report.scenarios) {
    if (s.missingRoute) continue;
    if (s.errors > 0) {
      failed.push(
        `${s.title}: ${s.errors} errors, statuses ${
          JSON.stringify(s.statuses)
        }, first bodies ${JSON.stringify(s.errorBodies)}`,
      );
    } else if (s.requests === 0) {
      failed.push(`${s.title}: no request completed`);
    }
  }
  return failed;
}

async function main(): Promise<void> {
  const settings = parseSettings(Deno.args);
  const report = await runBenchmark(settings);
  console.log(renderText(report));
  if (settings.resultsDir !== undefined) {
    await Deno.mkdir(settings.resultsDir, { recursive: true });
    const stamp = report.startedAt.replace(/[:.]/g, "-");
    const json = `${settings.resultsDir}/${stamp}.json`;
    await Deno.writeTextFile(json, JSON.stringify(report, null, 2) + "\n");
    await Deno.writeTextFile(
      `${settings.resultsDir}/latest.md`,
      renderMarkdown(report),
    );
    log(`wrote ${json} and latest.md`);
  }
  const failed = failures(report);
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} scenario(s) had errors:`);
    for (const f of failed) console.error(`  ${f}`);
    if (settings.smoke) Deno.exit(1);
  } else if (settings.smoke) {
    console.error("bench: smoke run completed without errors");
  }
}

if (import.meta.main) await main();
