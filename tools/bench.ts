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
 *
 * `--remote [--delay MS] [--requests N]` measures remote mode instead: the
 * round trips each kind of request waits for (`./bench/remote.ts`).
 * `--floor` measures what one request costs in process, part by part
 * (`./bench/floor.ts`).
 * `--webhooks [--rounds N] [--latency-orders N] [--latency-pace-ms MS]`
 * measures POST and PATCH with no webhook endpoint and with one healthy
 * local receiver, then the delivery latency (`./bench/webhooks.ts`); with
 * `--smoke` it only checks for errors and missing deliveries.
 */
import { measureFloor, renderFloor } from "./bench/floor.ts";
import { measureHttpLimit, measureStorageLimit } from "./bench/limits.ts";
import { startRun } from "./bench/machine.ts";
import { progress } from "./bench/process.ts";
import {
  type BenchReport,
  type LimitName,
  type LimitResult,
  renderMarkdown,
  renderText,
} from "./bench/report.ts";
import { mintTokens, randomSecret } from "./bench/seed.ts";
import { renderRemoteReport, runRemoteBenchmark } from "./bench/remote.ts";
import { runService, type ServiceRun } from "./bench/service_run.ts";
import { type BenchSettings, parseBenchArgs } from "./bench/settings.ts";
import {
  renderWebhookMarkdown,
  renderWebhookText,
  runWebhookBenchmark,
  webhookFailures,
} from "./bench/webhooks.ts";

/** Runs the benchmark; resolves with the report. */
export async function runBenchmark(
  settings: BenchSettings,
): Promise<BenchReport> {
  const run = await startRun();
  const { startedAt, cores } = run;
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
        progress(`measuring the HTTP limit (bare Deno.serve), ${round}`);
        samples.http.push(
          await measureHttpLimit(settings, cores, tmp, tokens),
        );
      }
      if (settings.only.has("storage")) {
        progress(`measuring the storage limit (raw write loop), ${round}`);
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
      progress("starting the service, seeding, running the scenarios");
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
      machine: await run.machine(),
      pinning: cores ?? null,
      service: service?.service ?? {},
      seed: service?.seed ??
        { users: settings.users, staff: settings.staff, orders: 0, seconds: 0 },
      limits,
      scenarios,
      servicePeakRssMb: service?.peakRssMb,
    };
  } finally {
    if (settings.keep) progress(`kept ${tmp}`);
    else await Deno.remove(tmp, { recursive: true });
  }
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

/** `--webhooks`: runs, prints and saves the webhook benchmark. */
async function runWebhooksMode(settings: BenchSettings): Promise<void> {
  const report = await runWebhookBenchmark(settings);
  console.log(renderWebhookText(report));
  if (settings.resultsDir !== undefined) {
    await Deno.mkdir(settings.resultsDir, { recursive: true });
    const stamp = report.startedAt.replace(/[:.]/g, "-");
    const json = `${settings.resultsDir}/${stamp}-webhooks.json`;
    await Deno.writeTextFile(json, JSON.stringify(report, null, 2) + "\n");
    await Deno.writeTextFile(
      `${settings.resultsDir}/latest-webhooks.md`,
      renderWebhookMarkdown(report),
    );
    progress(`wrote ${json} and latest-webhooks.md`);
  }
  const failed = webhookFailures(report);
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} problem(s) in the webhooks run:`);
    for (const f of failed) console.error(`  ${f}`);
    if (settings.smoke) Deno.exit(1);
  } else if (settings.smoke) {
    console.error("bench: webhooks smoke run completed without errors");
  }
}

async function main(): Promise<void> {
  const settings = parseBenchArgs(Deno.args);
  if (settings.floor) {
    console.log(renderFloor(await measureFloor()));
    return;
  }
  if (settings.remote) {
    const report = await runRemoteBenchmark({
      delayMs: settings.delayMs,
      requests: settings.remoteRequests,
    });
    console.log(renderRemoteReport(report));
    return;
  }
  if (settings.webhooks) {
    await runWebhooksMode(settings);
    return;
  }
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
    progress(`wrote ${json} and latest.md`);
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
