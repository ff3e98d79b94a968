/**
 * `deno task bench --webhooks`: what webhooks cost the writes, and how fast
 * they arrive (issue 23).
 *
 * 1. Throughput: the service (started with `WEBHOOK_ALLOW_HOSTS=127.0.0.1`)
 *    is seeded, then the create and patch scenarios run with no endpoint
 *    registered and with one endpoint pointing at a healthy local receiver
 *    (a `Deno.serve` answering 204 in this harness, so on the harness's
 *    core), `--rounds` times, alternating which goes first (ABBA) so the
 *    database's growth and the machine's drift do not favour one side.
 *    After each run with the endpoint the harness waits until the outbox is
 *    empty (`orders_webhook_deliveries_pending` in `/v1/admin/metrics`):
 *    deliveries left over would otherwise be paid for by the next run.
 *    Besides the rate, each run reads the service's CPU time (user +
 *    system, `/proc/<pid>/stat`) and its responses
 *    (`orders_http_responses_total`) from just before the warm-up: at the
 *    end of the run (CPU per request under full load, the inverse of the
 *    rate but not moved by other work taking the service's core) and, with
 *    the endpoint, again when the outbox is empty (every delivery paid
 *    for; the part after the run, per delivery, is the dispatcher's own
 *    cost).
 * 2. Delivery latency: with the endpoint registered, `--latency-orders`
 *    orders are created one at a time, at most one every `--latency-pace-ms`;
 *    for each, the time its 201 reached the harness and the time the
 *    receiver got its `order.created` delivery (matched on
 *    `data.order_id`), both on this process's clock.
 */
import { signToken } from "../../auth/sign_token.ts";
import { startRun } from "./machine.ts";
import { type CorePlan, peakRssMb, progress } from "./process.ts";
import {
  type BenchReport,
  markdownTable,
  type ScenarioResult,
  textTable,
} from "./report.ts";
import {
  type BenchTokens,
  mintTokens,
  ORDER_BODY,
  randomSecret,
} from "./seed.ts";
import {
  type BenchService,
  runScenario,
  type ScenarioContext,
  SCENARIOS,
  seedBenchOrders,
  serviceDescription,
  startBenchService,
  stopBenchService,
} from "./service_run.ts";
import type { BenchSettings } from "./settings.ts";

/** The scenarios measured without and with an endpoint. */
const WEBHOOK_SCENARIOS = ["create", "patch"] as const;

/** The write scenarios this mode measures. */
export type WebhookScenarioId = typeof WEBHOOK_SCENARIOS[number];

/** Whether an endpoint was registered during a run. */
export type EndpointState = "none" | "one";

/** The issue's budget: throughput with one endpoint ≥ this × without. */
export const THROUGHPUT_BUDGET = 0.9;

/** The issue's target for the median delivery latency, in ms. */
export const LATENCY_TARGET_P50_MS = 1000;

/** The user id of the admin that registers the endpoint, far from the others. */
const ADMIN_ID = 2_000_001;

/** How often the outbox's backlog is read while waiting for it to empty. */
const DRAIN_POLL_MS = 100;

/** One measured run of a scenario. */
export interface WebhookRun {
  round: number;
  endpoint: EndpointState;
  scenario: ScenarioResult;
  /** Deliveries still waiting when the run ended (one endpoint only). */
  pendingAtEnd?: number | undefined;
  /** How long the outbox took to empty after the run, in seconds. */
  drainSeconds?: number | undefined;
  /** False when the outbox was not empty within the wait. */
  drained?: boolean | undefined;
  /**
   * The service's CPU time per 1000 responses, in ms, from the warm-up to
   * the end of the run (with the endpoint: until the outbox was empty).
   */
  cpuMsPer1000?: number | undefined;
  /**
   * The same until the end of the run only: under full load the inverse of
   * the rate, but unmoved by other work taking the service's core.
   */
  runCpuMsPer1000?: number | undefined;
  /**
   * The service's CPU time per 1000 deliveries while the outbox emptied
   * after the run (the dispatcher's own cost), in ms.
   */
  drainCpuMsPer1000?: number | undefined;
}

/** One scenario's runs side by side: medians of its rounds. */
export interface WebhookComparison {
  id: WebhookScenarioId;
  title: string;
  none: { requestsPerSecond: number[]; p50Ms: number; p99Ms: number };
  one: { requestsPerSecond: number[]; p50Ms: number; p99Ms: number };
  /** Median rate with one endpoint / median rate with none. */
  ratio: number;
  /** Median CPU ms per 1000 responses until the outbox was empty. */
  cpuMsPer1000: { none: number; one: number };
  /** Median CPU ms per 1000 responses during the runs. */
  runCpuMsPer1000: { none: number; one: number };
  /**
   * `runCpuMsPer1000` none / one: the rate ratio as CPU time per request
   * says it, which other work on the machine does not move.
   */
  cpuRatio: number;
}

/** Delivery latency with a healthy receiver. */
export interface DeliveryLatency {
  orders: number;
  paceMs: number;
  /** `order.created` deliveries matched to a creation of this phase. */
  received: number;
  missing: number;
  /** (receipt − response) in ms; negative when a delivery won the race. */
  latencyMs: {
    min: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  };
  /** The creations' own response times, as the harness saw them, in ms. */
  responseMs: { p50: number; p99: number; max: number };
  /** The same creations' response times with no endpoint registered. */
  responseMsNoEndpoint: { p50: number; p99: number; max: number };
}

/** A `--webhooks` run. */
export interface WebhookReport {
  startedAt: string;
  mode: "full" | "smoke";
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  rounds: number;
  machine: Record<string, string | number>;
  pinning: CorePlan | null;
  service: BenchReport["service"];
  seed: BenchReport["seed"];
  runs: WebhookRun[];
  comparisons: WebhookComparison[];
  latency: DeliveryLatency;
  receiver: {
    /** Requests the receiver answered, every attempt counted. */
    deliveries: number;
    /** Distinct `webhook-id`s among them. */
    distinctEvents: number;
    byType: Record<string, number>;
  };
  /** `orders_webhook_attempts_total` by outcome at the end of the run. */
  attempts: Record<string, number>;
  servicePeakRssMb?: number | undefined;
}

/** A receiver of deliveries in this process. */
interface Receiver {
  url: string;
  /** Every request answered so far. */
  deliveries(): number;
  distinctEvents(): number;
  byType(): Record<string, number>;
  /** When the first `order.created` of an order arrived (`performance.now()`). */
  createdAt: Map<string, number>;
  close(): Promise<void>;
}

/** A `Deno.serve` on 127.0.0.1 that answers every delivery 204. */
function startReceiver(): Receiver {
  let deliveries = 0;
  const ids = new Set<string>();
  const types: Record<string, number> = {};
  const createdAt = new Map<string, number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async function receive(request) {
      // Taken when the request arrives, before its body is read.
      const at = performance.now();
      deliveries++;
      const webhookId = request.headers.get("webhook-id");
      if (webhookId !== null) ids.add(webhookId);
      try {
        const event = await request.json() as {
          type?: string;
          data?: { order_id?: string };
        };
        const type = event.type ?? "unknown";
        types[type] = (types[type] ?? 0) + 1;
        const orderId = event.data?.order_id;
        if (
          type === "order.created" && orderId !== undefined &&
          !createdAt.has(orderId)
        ) {
          createdAt.set(orderId, at);
        }
      } catch {
        types["unreadable"] = (types["unreadable"] ?? 0) + 1;
      }
      return new Response(null, { status: 204 });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    deliveries: () => deliveries,
    distinctEvents: () => ids.size,
    byType: () => ({ ...types }),
    createdAt,
    close: () => server.shutdown(),
  };
}

/** The admin calls the harness makes: register, delete, read metrics. */
interface Admin {
  register(url: string): Promise<string>;
  remove(endpointId: string): Promise<void>;
  metrics(): Promise<Map<string, number>>;
  /** Requests this client has made so far (they are responses too). */
  calls(): number;
}

function adminClient(baseUrl: string, token: string): Admin {
  const headers = { Authorization: `Bearer ${token}` };
  let calls = 0;
  async function expect(response: Response, status: number, what: string) {
    calls++;
    const text = await response.text();
    if (response.status !== status) {
      throw new Error(
        `Cannot ${what}: answered ${response.status}: ${text.slice(0, 300)}`,
      );
    }
    return text;
  }
  return {
    async register(url) {
      const response = await fetch(`${baseUrl}/v1/webhook-endpoints`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify({ url, description: "deno task bench receiver" }),
      });
      const text = await expect(response, 201, "register the endpoint");
      return (JSON.parse(text) as { id: string }).id;
    },
    async remove(endpointId) {
      const response = await fetch(
        `${baseUrl}/v1/webhook-endpoints/${endpointId}`,
        { method: "DELETE", headers },
      );
      await expect(response, 204, "delete the endpoint");
    },
    async metrics() {
      const response = await fetch(`${baseUrl}/v1/admin/metrics`, { headers });
      return parseMetrics(await expect(response, 200, "read the metrics"));
    },
    calls: () => calls,
  };
}

/** Prometheus text → series (name with labels) → value. */
export function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const match = /^(\S+)\s+(\S+)/.exec(line);
    if (match) series.set(match[1]!, Number(match[2]));
  }
  return series;
}

/** The outbox's backlog: deliveries waiting for enabled endpoints. */
async function pendingDeliveries(admin: Admin): Promise<number> {
  return (await admin.metrics()).get("orders_webhook_deliveries_pending") ??
    NaN;
}

/** Waits until the outbox is empty, at most `timeoutMs`. */
async function waitForDrain(
  admin: Admin,
  timeoutMs: number,
): Promise<{ seconds: number; drained: boolean }> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await pendingDeliveries(admin) === 0) {
      return { seconds: (performance.now() - start) / 1000, drained: true };
    }
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
  return { seconds: (performance.now() - start) / 1000, drained: false };
}

/** Ticks of `/proc/<pid>/stat` per second (`getconf CLK_TCK`). */
async function clockTicksPerSecond(): Promise<number> {
  const { stdout } = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
    .output();
  const ticks = Number(new TextDecoder().decode(stdout).trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** The CPU time (user + system) a process has used so far, in ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The fields after the command name, which may hold spaces: the state is
  // field 3 of the line, utime and stime fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Every response the service has counted so far. */
function responseCount(metrics: Map<string, number>): number {
  let total = 0;
  for (const [name, value] of metrics) {
    if (name.startsWith("orders_http_responses_total{")) total += value;
  }
  return total;
}

/** A window of the service's CPU time and responses. */
interface CpuWindow {
  /** CPU ms per 1000 responses since the window opened, and the CPU ms. */
  read(): Promise<{ msPer1000: number; ms: number }>;
}

/**
 * Opens a window on the service's CPU time and responses; the harness's own
 * admin calls meanwhile are not counted as responses.
 */
async function openCpuWindow(
  pid: number,
  admin: Admin,
  ticksPerSecond: number,
): Promise<CpuWindow> {
  const responses = responseCount(await admin.metrics());
  const calls = admin.calls();
  const ticks = await cpuTicks(pid);
  return {
    async read() {
      const ms = (await cpuTicks(pid) - ticks) * 1000 / ticksPerSecond;
      const served = responseCount(await admin.metrics()) - responses -
        (admin.calls() - calls);
      return { msPer1000: ms / served * 1000, ms };
    },
  };
}

/** The value at `p` % of sorted `values` (nearest rank); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1
    ? sorted[Math.floor(mid)]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Orders created one at a time: when each response arrived, and how long each took. */
interface SequentialCreations {
  /** Order id → `performance.now()` when its 201 arrived. */
  respondedAt: Map<string, number>;
  /** Each creation's response time, in ms, sorted. */
  responseMs: number[];
}

/**
 * Creates `latencyOrders` orders one at a time, starting one at most every
 * `latencyPaceMs`; any answer other than 201 stops the run.
 */
async function createSequentially(
  settings: BenchSettings,
  service: BenchService,
  tokens: BenchTokens,
): Promise<SequentialCreations> {
  const respondedAt = new Map<string, number>();
  const responseMs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < settings.latencyOrders; i++) {
    const due = start + i * settings.latencyPaceMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = performance.now();
    const response = await fetch(`${service.url}/v1/orders`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${tokens.users[i % tokens.users.length]}`,
        "Content-Type": "application/json",
      },
      body: ORDER_BODY,
    });
    // The response has arrived once its status and headers have.
    const at = performance.now();
    const text = await response.text();
    if (response.status !== 201) {
      throw new Error(
        `Cannot create an order for the latency run: answered ${response.status}: ${
          text.slice(0, 300)
        }`,
      );
    }
    respondedAt.set((JSON.parse(text) as { id: string }).id, at);
    responseMs.push(at - sentAt);
  }
  responseMs.sort((a, b) => a - b);
  return { respondedAt, responseMs };
}

function responseSummary(sorted: readonly number[]) {
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

/**
 * Times each creation's `order.created` delivery from its response, waiting
 * a while for stragglers.
 */
async function deliveryLatency(
  settings: BenchSettings,
  creations: SequentialCreations,
  receiver: Receiver,
): Promise<Omit<DeliveryLatency, "responseMs" | "responseMsNoEndpoint">> {
  const { respondedAt } = creations;
  const deadline = performance.now() + (settings.smoke ? 10_000 : 30_000);
  const arrived = () =>
    [...respondedAt.keys()].every((id) => receiver.createdAt.has(id));
  while (!arrived() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const latencies: number[] = [];
  for (const [id, at] of respondedAt) {
    const receivedAt = receiver.createdAt.get(id);
    if (receivedAt !== undefined) latencies.push(receivedAt - at);
  }
  latencies.sort((a, b) => a - b);
  return {
    orders: respondedAt.size,
    paceMs: settings.latencyPaceMs,
    received: latencies.length,
    missing: respondedAt.size - latencies.length,
    latencyMs: {
      min: latencies[0] ?? NaN,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    },
  };
}

function compare(runs: readonly WebhookRun[]): WebhookComparison[] {
  return WEBHOOK_SCENARIOS.map((id) => {
    const side = (endpoint: EndpointState) => {
      const mine = runs.filter((r) =>
        r.scenario.id === id && r.endpoint === endpoint
      ).map((r) => r.scenario);
      return {
        requestsPerSecond: mine.map((s) => s.requestsPerSecond),
        p50Ms: median(mine.map((s) => s.latencyMs.p50)),
        p99Ms: median(mine.map((s) => s.latencyMs.p99)),
      };
    };
    const none = side("none");
    const one = side("one");
    const cpu = (key: "cpuMsPer1000" | "runCpuMsPer1000") => {
      const of = (endpoint: EndpointState) =>
        median(
          runs.filter((r) => r.scenario.id === id && r.endpoint === endpoint)
            .map((r) => r[key] ?? NaN),
        );
      return { none: of("none"), one: of("one") };
    };
    const inRun = cpu("runCpuMsPer1000");
    return {
      id,
      title: SCENARIOS[id].title,
      none,
      one,
      ratio: median(one.requestsPerSecond) / median(none.requestsPerSecond),
      cpuMsPer1000: cpu("cpuMsPer1000"),
      runCpuMsPer1000: inRun,
      cpuRatio: inRun.none / inRun.one,
    };
  });
}

/** Runs the `--webhooks` benchmark; resolves with its report. */
export async function runWebhookBenchmark(
  settings: BenchSettings,
): Promise<WebhookReport> {
  const run = await startRun();
  const { startedAt, cores } = run;
  const tmp = await Deno.makeTempDir({ prefix: "orders-bench-webhooks-" });
  const receiver = startReceiver();
  try {
    const secret = randomSecret(48);
    const tokens = await mintTokens(secret, {
      userCount: settings.users,
      staffCount: settings.staff,
      ttlSeconds: 6 * 3600,
    });
    const adminToken = await signToken(secret, {
      sub: ADMIN_ID,
      roles: ["admin"],
      ttlSeconds: 6 * 3600,
    });
    progress("starting the service (WEBHOOK_ALLOW_HOSTS=127.0.0.1), seeding");
    const service = await startBenchService(settings, cores, tmp, secret, {
      env: { WEBHOOK_ALLOW_HOSTS: "127.0.0.1" },
    });
    let stopped = false;
    try {
      const admin = adminClient(service.url, adminToken);
      const { orders, seed } = await seedBenchOrders(
        settings,
        service.url,
        tokens,
      );
      let peak = await peakRssMb(service.server.pid);
      const ctx: ScenarioContext = {
        settings,
        cores,
        tmp,
        url: service.url,
        server: service.server,
        spawnedAt: service.spawnedAt,
        tokens,
        orders,
        patchPool: orders.map((o) => o.id),
      };
      const drainTimeoutMs = settings.smoke ? 30_000 : 120_000;
      const ticksPerSecond = await clockTicksPerSecond();
      const runs: WebhookRun[] = [];
      for (let round = 1; round <= settings.webhookRounds; round++) {
        // ABBA: odd rounds start without the endpoint, even rounds with it.
        const states: EndpointState[] = round % 2 === 1
          ? ["none", "one"]
          : ["one", "none"];
        for (const endpoint of states) {
          const endpointId = endpoint === "one"
            ? await admin.register(receiver.url)
            : undefined;
          for (const id of WEBHOOK_SCENARIOS) {
            progress(
              `round ${round}: ${id}, ${
                endpoint === "one" ? "one endpoint" : "no endpoint"
              }`,
            );
            const cpu = await openCpuWindow(
              service.server.pid,
              admin,
              ticksPerSecond,
            );
            const scenario = await runScenario(
              id,
              ctx,
              `-${endpoint}-${round}`,
            );
            if (scenario.peakRssMb !== undefined) {
              peak = Math.max(peak ?? 0, scenario.peakRssMb);
            }
            const inRun = await cpu.read();
            if (endpointId === undefined) {
              const cpuMsPer1000 = inRun.msPer1000;
              runs.push({
                round,
                endpoint,
                scenario,
                cpuMsPer1000,
                runCpuMsPer1000: cpuMsPer1000,
              });
              continue;
            }
            // What the dispatcher had not caught up with, then the wait
            // for it, so the next run does not pay for this one.
            const pendingAtEnd = await pendingDeliveries(admin);
            const { seconds, drained } = await waitForDrain(
              admin,
              drainTimeoutMs,
            );
            const whole = await cpu.read();
            runs.push({
              round,
              endpoint,
              scenario,
              pendingAtEnd,
              drainSeconds: seconds,
              drained,
              cpuMsPer1000: whole.msPer1000,
              runCpuMsPer1000: inRun.msPer1000,
              drainCpuMsPer1000: (whole.ms - inRun.ms) / pendingAtEnd * 1000,
            });
          }
          if (endpointId !== undefined) await admin.remove(endpointId);
        }
      }

      progress(
        `delivery latency: ${settings.latencyOrders} creations, one at a time, at most one per ${settings.latencyPaceMs} ms, without then with the endpoint`,
      );
      const alone = await createSequentially(settings, service, tokens);
      const endpointId = await admin.register(receiver.url);
      const timed = await createSequentially(settings, service, tokens);
      const latency: DeliveryLatency = {
        ...await deliveryLatency(settings, timed, receiver),
        responseMs: responseSummary(timed.responseMs),
        responseMsNoEndpoint: responseSummary(alone.responseMs),
      };
      await admin.remove(endpointId);
      const metrics = await admin.metrics();
      const attempts: Record<string, number> = {};
      for (const [name, value] of metrics) {
        const outcome = /^orders_webhook_attempts_total\{outcome="([^"]+)"\}$/
          .exec(name)?.[1];
        if (outcome !== undefined) attempts[outcome] = value;
      }
      peak = Math.max(peak ?? 0, (await peakRssMb(service.server.pid)) ?? 0);
      stopped = true;
      await stopBenchService(service);
      return {
        startedAt,
        mode: settings.smoke ? "smoke" : "full",
        durationSeconds: settings.durationSeconds,
        warmupSeconds: settings.warmupSeconds,
        connections: settings.connections,
        rounds: settings.webhookRounds,
        machine: await run.machine(),
        pinning: cores ?? null,
        service: {
          ...serviceDescription(settings),
          webhooks: "WEBHOOK_ALLOW_HOSTS=127.0.0.1, other WEBHOOK_* defaults",
        },
        seed,
        runs,
        comparisons: compare(runs),
        latency,
        receiver: {
          deliveries: receiver.deliveries(),
          distinctEvents: receiver.distinctEvents(),
          byType: receiver.byType(),
        },
        attempts,
        servicePeakRssMb: peak,
      };
    } finally {
      if (!stopped) await service.server.stop();
    }
  } finally {
    await receiver.close();
    if (settings.keep) progress(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true });
  }
}

/** What went wrong in a run: errors, missing deliveries, a stuck outbox. */
export function webhookFailures(report: WebhookReport): string[] {
  const failed: string[] = [];
  for (const run of report.runs) {
    const s = run.scenario;
    const label = `${s.title}, ${run.endpoint} endpoint, round ${run.round}`;
    if (s.errors > 0) {
      failed.push(
        `${label}: ${s.errors} errors, statuses ${
          JSON.stringify(s.statuses)
        }, first bodies ${JSON.stringify(s.errorBodies)}`,
      );
    } else if (s.requests === 0) {
      failed.push(`${label}: no request completed`);
    }
    if (run.drained === false) {
      failed.push(
        `${label}: the outbox still held deliveries ${
          run.drainSeconds?.toFixed(0)
        } s after the run`,
      );
    }
  }
  if (report.latency.missing > 0) {
    failed.push(
      `delivery latency: ${report.latency.missing} of ${report.latency.orders} order.created deliveries never arrived`,
    );
  }
  for (const [outcome, n] of Object.entries(report.attempts)) {
    if (outcome !== "succeeded" && n > 0) {
      failed.push(`webhook attempts: ${n} ${outcome}`);
    }
  }
  return failed;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value)
    ? "–"
    : value.toFixed(digits);
}

function whole(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** The runs, one row each. */
function runRows(report: WebhookReport): string[][] {
  return [
    [
      "scenario",
      "endpoint",
      "round",
      "req/s",
      "p50 ms",
      "p99 ms",
      "errors",
      "backlog at end",
      "drained in s",
      "CPU ms / 1000 in run",
      "with drain",
      "drain CPU ms / 1000 deliveries",
    ],
    ...report.runs.map((r) => [
      r.scenario.title,
      r.endpoint,
      String(r.round),
      whole(r.scenario.requestsPerSecond),
      fixed(r.scenario.latencyMs.p50, 2),
      fixed(r.scenario.latencyMs.p99, 2),
      String(r.scenario.errors),
      r.pendingAtEnd === undefined ? "–" : String(r.pendingAtEnd),
      r.drainSeconds === undefined
        ? "–"
        : `${fixed(r.drainSeconds, 1)}${r.drained ? "" : " (not drained)"}`,
      fixed(r.runCpuMsPer1000, 0),
      fixed(r.cpuMsPer1000, 0),
      fixed(r.drainCpuMsPer1000, 0),
    ]),
  ];
}

/** No endpoint against one, per scenario. */
function comparisonRows(report: WebhookReport): string[][] {
  return [
    [
      "scenario",
      "no endpoint req/s",
      "one endpoint req/s",
      "ratio (medians)",
      "p50 ms none / one",
      "p99 ms none / one",
      `≥ ${THROUGHPUT_BUDGET}`,
      "CPU ms / 1000 in run none / one",
      "CPU ratio",
      "CPU ms / 1000 with drain none / one",
    ],
    ...report.comparisons.map((c) => [
      c.title,
      c.none.requestsPerSecond.map(whole).join(", "),
      c.one.requestsPerSecond.map(whole).join(", "),
      fixed(c.ratio, 3),
      `${fixed(c.none.p50Ms, 1)} / ${fixed(c.one.p50Ms, 1)}`,
      `${fixed(c.none.p99Ms, 1)} / ${fixed(c.one.p99Ms, 1)}`,
      c.ratio >= THROUGHPUT_BUDGET ? "met" : "missed",
      `${fixed(c.runCpuMsPer1000.none, 0)} / ${
        fixed(c.runCpuMsPer1000.one, 0)
      }`,
      fixed(c.cpuRatio, 3),
      `${fixed(c.cpuMsPer1000.none, 0)} / ${fixed(c.cpuMsPer1000.one, 0)}`,
    ]),
  ];
}

function latencyRows(report: WebhookReport): string[][] {
  const l = report.latency;
  return [
    [
      "delivery latency (receipt − response)",
      "min ms",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "max ms",
      "arrived",
      `p50 ≤ ${LATENCY_TARGET_P50_MS} ms`,
    ],
    [
      `${l.orders} creations, ≥ ${l.paceMs} ms apart`,
      fixed(l.latencyMs.min, 1),
      fixed(l.latencyMs.p50, 1),
      fixed(l.latencyMs.p90, 1),
      fixed(l.latencyMs.p99, 1),
      fixed(l.latencyMs.max, 1),
      `${l.received} of ${l.orders}`,
      l.missing === 0 && l.latencyMs.p50 <= LATENCY_TARGET_P50_MS
        ? "met"
        : "missed",
    ],
  ];
}

function notes(report: WebhookReport): string[] {
  const l = report.latency;
  return [
    `machine: ${
      Object.entries(report.machine).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
    report.pinning
      ? `pinned with taskset: service on core ${report.pinning.serverCore}; wrk, harness and receiver on core ${report.pinning.loadCore}`
      : "not pinned (taskset missing or fewer than two cores)",
    `service: ${
      Object.entries(report.service).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
    `${report.durationSeconds} s per run after ${report.warmupSeconds} s of warm-up, ${report.connections} connections, ${report.rounds} round(s) (ABBA order); seeded ${report.seed.orders} orders for ${report.seed.users} users in ${
      report.seed.seconds.toFixed(1)
    } s`,
    `the latency creations' own responses, one endpoint: p50 ${
      fixed(l.responseMs.p50, 1)
    } ms, p99 ${fixed(l.responseMs.p99, 1)} ms, max ${
      fixed(l.responseMs.max, 1)
    } ms; the same creations with no endpoint: p50 ${
      fixed(l.responseMsNoEndpoint.p50, 1)
    } ms, p99 ${fixed(l.responseMsNoEndpoint.p99, 1)} ms, max ${
      fixed(l.responseMsNoEndpoint.max, 1)
    } ms`,
    `receiver: ${report.receiver.deliveries} deliveries, ${report.receiver.distinctEvents} distinct webhook-ids, by type ${
      JSON.stringify(report.receiver.byType)
    }; attempts by outcome ${JSON.stringify(report.attempts)}`,
    `service peak RSS over the whole run: ${
      fixed(report.servicePeakRssMb, 1)
    } MiB`,
  ];
}

/** Plain aligned text, for the terminal. */
export function renderWebhookText(report: WebhookReport): string {
  return [
    ...textTable(comparisonRows(report)),
    "",
    ...textTable(latencyRows(report)),
    "",
    ...textTable(runRows(report)),
    "",
    ...notes(report),
  ].join("\n");
}

/** Markdown, for `latest-webhooks.md` in the results folder. */
export function renderWebhookMarkdown(report: WebhookReport): string {
  return [
    `# Webhook benchmark results (${report.mode})`,
    "",
    `Run at ${report.startedAt}. Produced by \`deno task bench --webhooks\`; see docs/performance.md.`,
    "",
    ...markdownTable(comparisonRows(report)),
    "",
    ...markdownTable(latencyRows(report)),
    "",
    ...markdownTable(runRows(report)),
    "",
    ...notes(report).map((line) => `- ${line}`),
    "",
  ].join("\n");
}
