import assert from "node:assert/strict";
import { failures } from "../../tools/bench.ts";
import { expandCpuList } from "../../tools/bench/process.ts";
import {
  type BenchReport,
  renderMarkdown,
  type ScenarioResult,
  targetMet,
  TARGETS,
} from "../../tools/bench/report.ts";
import { shuffled } from "../../tools/bench/seed.ts";
import { parseWrkResult } from "../../tools/bench/wrk.ts";

const WRK_LINE = JSON.stringify({
  requests: 1000,
  duration_us: 2_000_000,
  sent: 1010,
  overrun: 0,
  errors: { connect: 0, read: 1, write: 0, status: 3, timeout: 2 },
  latency_us: { p50: 1500, p90: 3000, p99: 9000, max: 20000, mean: 1800 },
  statuses: { "200": 990, "304": 4, "404": 2, "500": 4 },
  error_bodies: { "500": "boom" },
});

Deno.test("parseWrkResult counts every non-2xx status when statuses were counted", () => {
  const result = parseWrkResult(WRK_LINE, true);
  assert.equal(result.non2xx, 10);
  assert.equal(result.requestsPerSecond, 500);
  assert.deepEqual(result.latencyMs, { p50: 1.5, p90: 3, p99: 9, max: 20 });
  assert.deepEqual(result.socketErrors, {
    connect: 0,
    read: 1,
    write: 0,
    timeout: 2,
  });
});

Deno.test("parseWrkResult falls back to wrk's count of statuses >= 400", () => {
  assert.equal(parseWrkResult(WRK_LINE, false).non2xx, 3);
});

Deno.test("expandCpuList reads /proc's ranges and lists", () => {
  assert.deepEqual(expandCpuList("0-2,5"), [0, 1, 2, 5]);
  assert.deepEqual(expandCpuList("1"), [1]);
});

Deno.test("shuffled is a repeatable permutation", () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const once = shuffled(items, 7);
  assert.deepEqual(once, shuffled(items, 7));
  assert.notDeepEqual(once, items);
  assert.deepEqual([...once].sort((a, b) => a - b), items);
});

function scenario(overrides: Partial<ScenarioResult>): ScenarioResult {
  return {
    id: "get_by_id",
    title: "GET /v1/orders/{id}",
    connections: 32,
    requests: 100,
    seconds: 1,
    requestsPerSecond: 100,
    latencyMs: { p50: 1, p90: 2, p99: 5, max: 9 },
    errors: 0,
    non2xx: 0,
    socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
    statuses: { "200": 100 },
    errorBodies: {},
    overrun: 0,
    missingRoute: false,
    limit: "http",
    ratio: 0.2,
    target: TARGETS.get_by_id!,
    ...overrides,
  };
}

function report(scenarios: ScenarioResult[]): BenchReport {
  return {
    startedAt: "2026-11-28T14:00:00.000Z",
    mode: "smoke",
    durationSeconds: 1,
    warmupSeconds: 0,
    machine: { cores: 2 },
    pinning: { serverCore: 1, loadCore: 0 },
    service: {},
    seed: { users: 1, staff: 1, orders: 1, seconds: 1 },
    limits: {
      http: {
        name: "http",
        title: "limit: bare Deno.serve JSON",
        perSecond: 500,
        latencyMs: { p50: 1, p99: 2, max: 3 },
        errors: 0,
      },
    },
    scenarios,
  };
}

Deno.test("targetMet needs both the ratio and the p99 bound", () => {
  assert.equal(targetMet(scenario({})), true);
  assert.equal(targetMet(scenario({ ratio: 0.1 })), false);
  assert.equal(
    targetMet(scenario({ latencyMs: { p50: 1, p90: 2, p99: 11, max: 20 } })),
    false,
  );
  assert.equal(targetMet(scenario({ ratio: undefined })), undefined);
});

Deno.test("failures reports errors but not a route marked missing", () => {
  assert.deepEqual(failures(report([scenario({})])), []);
  assert.equal(
    failures(report([scenario({ errors: 2, statuses: { "500": 2 } })])).length,
    1,
  );
  assert.deepEqual(
    failures(report([scenario({
      id: "patch",
      errors: 5,
      statuses: { "405": 5 },
      missingRoute: true,
    })])),
    [],
  );
  assert.equal(failures(report([scenario({ requests: 0 })])).length, 1);
});

Deno.test("renderMarkdown shows each scenario with its ratio and verdict", () => {
  const md = renderMarkdown(report([scenario({})]));
  assert.match(
    md,
    /\| GET \/v1\/orders\/\{id\} \| 100 \| 1\.00 \| 5\.00 \| 0 \|/,
  );
  assert.match(md, /0\.200 × http \| ≥ 0\.15 × http, p99 ≤ 10 ms \| met \|/);
  assert.match(md, /\| limit: bare Deno\.serve JSON \| 500 \|/);
});
