/** The benchmark's verdict on a run: which results fail it. */
import assert from "node:assert/strict";
import { failures } from "../../tools/bench.ts";
import { benchReport, benchScenario } from "../fixtures/bench_report.ts";

Deno.test("failures reports errors but not a route marked missing", () => {
  assert.deepEqual(failures(benchReport([benchScenario({})])), []);
  assert.equal(
    failures(
      benchReport([benchScenario({ errors: 2, statuses: { "500": 2 } })]),
    ).length,
    1,
  );
  assert.deepEqual(
    failures(benchReport([benchScenario({
      id: "patch",
      errors: 5,
      statuses: { "405": 5 },
      missingRoute: true,
    })])),
    [],
  );
  assert.equal(
    failures(benchReport([benchScenario({ requests: 0 })])).length,
    1,
  );
});
