/**
 * The benchmark's command-line options and their defaults (full and smoke).
 */
import { parseArgs } from "node:util";

/** Every scenario and limit, in the order they run. */
export const SCENARIO_IDS = [
  "http",
  "storage",
  "get_by_id",
  "list",
  "create",
  "patch",
] as const;

/** A scenario or limit id. */
export type ScenarioId = typeof SCENARIO_IDS[number];

/** Options of one run. */
export interface BenchSettings {
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
  /** `--remote`: the edge mode's round trips instead of the load run. */
  remote: boolean;
  /** `--floor`: a request's parts in process instead of the load run. */
  floor: boolean;
  /** `--delay`: the remote stores' delay per answer, in milliseconds. */
  delayMs: number;
  /** `--requests`: measured requests per remote scenario and delay. */
  remoteRequests: number;
  /** `--webhooks`: POST and PATCH without and with an endpoint, then delivery latency. */
  webhooks: boolean;
  /** `--rounds`: pairs of runs (no endpoint, one endpoint) per scenario. */
  webhookRounds: number;
  /** `--latency-orders`: orders created one at a time to time deliveries. */
  latencyOrders: number;
  /** `--latency-pace-ms`: at most one of those creations started per this many ms. */
  latencyPaceMs: number;
}

/** Reads `deno task bench` options; throws on an unknown or invalid one. */
export function parseBenchArgs(args: string[]): BenchSettings {
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
      remote: { type: "boolean", default: false },
      floor: { type: "boolean", default: false },
      delay: { type: "string" },
      requests: { type: "string" },
      webhooks: { type: "boolean", default: false },
      rounds: { type: "string" },
      "latency-orders": { type: "string" },
      "latency-pace-ms": { type: "string" },
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
      (smoke ? undefined : new URL("../../bench/results", import.meta.url)
        .pathname),
    keep: values.keep ?? false,
    remote: values.remote ?? false,
    floor: values.floor ?? false,
    delayMs: number(values.delay, 25, "delay"),
    remoteRequests: number(values.requests, smoke ? 3 : 15, "requests"),
    webhooks: values.webhooks ?? false,
    webhookRounds: Math.max(1, number(values.rounds, smoke ? 1 : 2, "rounds")),
    latencyOrders: Math.max(
      1,
      number(values["latency-orders"], smoke ? 10 : 200, "latency-orders"),
    ),
    latencyPaceMs: number(
      values["latency-pace-ms"],
      smoke ? 20 : 50,
      "latency-pace-ms",
    ),
  };
}
