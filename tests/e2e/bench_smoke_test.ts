import assert from "node:assert/strict";
import { measureFloor, renderFloor } from "../../tools/bench/floor.ts";
import type { BenchReport } from "../../tools/bench/report.ts";
import type { WebhookReport } from "../../tools/bench/webhooks.ts";
import { wrkAvailable } from "../../tools/bench/wrk.ts";
import type { Json } from "../fixtures/mod.ts";

const hasWrk = await wrkAvailable();
if (!hasWrk) {
  console.warn(
    "bench smoke test: wrk is not installed (apt-get install wrk); skipped unless REQUIRE_WRK=1",
  );
}

/**
 * Runs `deno task bench --smoke` with `args` into a temporary folder and
 * gives `check` its output and the JSON report whose name ends with
 * `suffix`, then the folder's path; the folder goes afterwards.
 */
async function benchSmoke(
  args: string[],
  suffix: string,
  check: (out: string, report: Json, results: string) => Promise<void>,
): Promise<void> {
  const results = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "bench",
        "--smoke",
        ...args,
        `--results=${results}`,
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert.equal(
      code,
      0,
      `bench --smoke ${args.join(" ")} failed:\n${out}\n${err}`,
    );
    const json = [...Deno.readDirSync(results)].find((e) =>
      e.name.endsWith(suffix)
    );
    assert.ok(json, "no JSON result written");
    await check(
      out,
      JSON.parse(await Deno.readTextFile(`${results}/${json.name}`)),
      results,
    );
  } finally {
    await Deno.remove(results, { recursive: true });
  }
}

Deno.test({
  name:
    "deno task bench --smoke runs every scenario and both limits without errors",
  ignore: !hasWrk && Deno.env.get("REQUIRE_WRK") !== "1",
  fn: () =>
    benchSmoke([], ".json", async (out, report: BenchReport, results) => {
      assert.equal(report.mode, "smoke");
      assert.deepEqual(
        report.scenarios.map((s) => s.id),
        ["get_by_id", "list", "create", "patch"],
      );
      for (const s of report.scenarios) {
        assert.ok(s.requests > 0, `${s.id}: no request completed`);
        assert.ok(!s.missingRoute, `${s.id}: route missing`);
        assert.equal(s.errors, 0, `${s.id}: ${JSON.stringify(s.statuses)}`);
        assert.ok(s.ratio !== undefined && s.ratio > 0, `${s.id}: no ratio`);
      }
      assert.ok((report.limits.http?.perSecond ?? 0) > 0);
      assert.ok((report.limits.storage?.perSecond ?? 0) > 0);
      assert.ok((report.servicePeakRssMb ?? 0) > 0);
      assert.ok(report.seed.orders > 0);
      assert.match(out, /GET \/v1\/orders\/\{id\}/);
      assert.match(
        await Deno.readTextFile(`${results}/latest.md`),
        /\| POST \/v1\/orders \|/,
      );
    }),
});

Deno.test({
  name:
    "deno task bench --smoke --webhooks runs POST and PATCH without and with an endpoint, and every delivery arrives",
  ignore: !hasWrk && Deno.env.get("REQUIRE_WRK") !== "1",
  fn: () =>
    benchSmoke(
      ["--webhooks"],
      "-webhooks.json",
      async (out, report: WebhookReport, results) => {
        assert.equal(report.mode, "smoke");
        assert.deepEqual(
          report.runs.map((r) => `${r.scenario.id} ${r.endpoint}`),
          ["create none", "patch none", "create one", "patch one"],
        );
        for (const run of report.runs) {
          const s = run.scenario;
          const label = `${s.id}, ${run.endpoint} endpoint`;
          assert.ok(s.requests > 0, `${label}: no request completed`);
          assert.equal(s.errors, 0, `${label}: ${JSON.stringify(s.statuses)}`);
          if (run.endpoint === "one") assert.equal(run.drained, true, label);
        }
        assert.equal(report.latency.missing, 0);
        assert.equal(report.latency.received, report.latency.orders);
        assert.ok(report.receiver.deliveries >= report.latency.orders);
        assert.ok((report.receiver.byType["order.created"] ?? 0) > 0);
        assert.ok((report.receiver.byType["order.updated"] ?? 0) > 0);
        assert.deepEqual(
          Object.entries(report.attempts).filter(([outcome, n]) =>
            outcome !== "succeeded" && n > 0
          ),
          [],
        );
        assert.match(out, /delivery latency/);
        assert.match(
          await Deno.readTextFile(`${results}/latest-webhooks.md`),
          /\| POST \/v1\/orders \|/,
        );
      },
    ),
});

Deno.test("deno task bench --floor times every part of a request in process", async () => {
  const parts = await measureFloor(5);
  assert.deepEqual(parts.map((p) => p.name.trim().split(",")[0]), [
    "GET /v1/orders/{id}",
    "the order read and decrypted (store.findOrder)",
    "the order as JSON text (orderJson + stringify)",
    "GET /healthz",
    "POST /v1/orders",
  ]);
  for (const part of parts) {
    assert.ok(part.microseconds > 0, part.name);
  }
  assert.match(renderFloor(parts), /\| POST \/v1\/orders, whole app/);
});
