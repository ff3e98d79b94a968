/** Reading wrk's JSON result line. */
import assert from "node:assert/strict";
import { parseWrkResult } from "../../../tools/bench/wrk.ts";

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
