/**
 * Runs wrk (Debian's `wrk`, a C load generator) with `load.lua` and reads the
 * one-line JSON summary the script prints. wrk rather than autocannon: on one
 * core a Node.js generator tops out below what a bare `Deno.serve` answers,
 * so it would measure itself instead of the HTTP limit.
 */
import { commandAvailable } from "./process.ts";

/** What one scenario sends; see `load.lua` for the fixture format. */
export type RequestKind = "get" | "list" | "create" | "patch";

/** How to run wrk once. */
export interface WrkOptions {
  /** Base URL, for example `http://127.0.0.1:8123`. */
  url: string;
  kind: RequestKind;
  /** Path of the fixture file `load.lua` reads. */
  fixture: string;
  connections: number;
  durationSeconds: number;
  /** Count every status in Lua (slower generator; off for the bare server). */
  countStatuses: boolean;
  /** Makes this run's Idempotency-Keys unique. */
  keyPrefix: string;
  /** `taskset -c <core>` prefix when pinning, else none. */
  core?: number | undefined;
  /** Where a create run writes the ids of the orders it created. */
  createdIdsPath?: string | undefined;
}

/** wrk's own numbers for one run. */
export interface WrkResult {
  /** Responses received. */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Requests the script generated (sent or in flight at the end). */
  sent: number;
  /** PATCH requests that repeated an id because the fixture ran out. */
  overrun: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Socket-level failures; `status` is wrk's own count of statuses ≥ 400. */
  socketErrors: {
    connect: number;
    read: number;
    write: number;
    timeout: number;
  };
  /** Every response status (only when `countStatuses`). */
  statuses: Record<string, number>;
  /** Responses that were not 2xx (exact when `countStatuses`). */
  non2xx: number;
  /** The first body of each non-2xx status, cut to 300 characters. */
  errorBodies: Record<string, string>;
}

/** The script that drives every run. */
export const LOAD_SCRIPT = new URL("./load.lua", import.meta.url).pathname;

/** Whether `wrk` can be run here. */
export async function wrkAvailable(): Promise<boolean> {
  return await commandAvailable("wrk", ["--version"]);
}

/** Runs wrk once and returns its numbers. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const threads = 1;
  const wrkArgs = [
    `-t${threads}`,
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    "--timeout",
    "5s",
    "-s",
    LOAD_SCRIPT,
    options.url,
    "--",
    options.kind,
    options.fixture,
    options.countStatuses ? "statuses" : "plain",
    options.keyPrefix,
    String(threads),
  ];
  const [program, args] = options.core === undefined
    ? ["wrk", wrkArgs]
    : ["taskset", ["-c", String(options.core), "wrk", ...wrkArgs]];
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    env: { BENCH_CREATED_IDS: options.createdIdsPath ?? "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (code !== 0 || line === undefined) {
    throw new Error(
      `wrk failed with exit code ${code}: ${out}${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  return parseWrkResult(
    line.slice("BENCH_RESULT ".length),
    options.countStatuses,
  );
}

/** Reads the JSON line printed by `load.lua`'s `done()`. */
export function parseWrkResult(json: string, counted: boolean): WrkResult {
  const raw = JSON.parse(json) as {
    requests: number;
    duration_us: number;
    sent: number;
    overrun: number;
    errors: {
      connect: number;
      read: number;
      write: number;
      status: number;
      timeout: number;
    };
    latency_us: { p50: number; p90: number; p99: number; max: number };
    statuses: Record<string, number>;
    error_bodies: Record<string, string>;
  };
  const seconds = raw.duration_us / 1e6;
  const non2xx = counted
    ? Object.entries(raw.statuses).reduce(
      (sum, [status, n]) =>
        Number(status) >= 200 && Number(status) < 300 ? sum : sum + n,
      0,
    )
    : raw.errors.status;
  return {
    requests: raw.requests,
    seconds,
    requestsPerSecond: seconds > 0 ? raw.requests / seconds : 0,
    sent: raw.sent,
    overrun: raw.overrun,
    latencyMs: {
      p50: raw.latency_us.p50 / 1000,
      p90: raw.latency_us.p90 / 1000,
      p99: raw.latency_us.p99 / 1000,
      max: raw.latency_us.max / 1000,
    },
    socketErrors: {
      connect: raw.errors.connect,
      read: raw.errors.read,
      write: raw.errors.write,
      timeout: raw.errors.timeout,
    },
    statuses: raw.statuses,
    non2xx,
    errorBodies: raw.error_bodies,
  };
}

/** Connect, read, write and timeout errors together. */
export function socketErrorCount(result: WrkResult): number {
  const e = result.socketErrors;
  return e.connect + e.read + e.write + e.timeout;
}
