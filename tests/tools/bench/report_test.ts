/**
 * The benchmark report: when a scenario meets its target, and the Markdown
 * table of a run.
 */
import assert from "node:assert/strict";
import { renderMarkdown, targetMet } from "../../../tools/bench/report.ts";
import { benchReport, benchScenario } from "../../fixtures/bench_report.ts";

Deno.test("targetMet needs both the ratio and the p99 bound", () => {
  assert.equal(targetMet(benchScenario({})), true);
  assert.equal(targetMet(benchScenario({ ratio: 0.1 })), false);
  assert.equal(
    targetMet(
      benchScenario({ latencyMs: { p50: 1, p90: 2, p99: 11, max: 20 } }),
    ),
    false,
  );
  assert.equal(targetMet(benchScenario({ ratio: undefined })), undefined);
});

Deno.test("renderMarkdown shows each scenario with its ratio and verdict", () => {
  const md = renderMarkdown(benchReport([benchScenario({})]));
  assert.match(
    md,
    /\| GET \/v1\/orders\/\{id\} \| 100 \| 1\.00 \| 5\.00 \| 0 \|/,
  );
  assert.match(md, /0\.200 × http \| ≥ 0\.15 × http, p99 ≤ 10 ms \| met \|/);
  assert.match(md, /\| limit: bare Deno\.serve JSON \| 500 \|/);
});
