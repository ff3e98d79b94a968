/**
 * The benchmark's results: their shape (also the JSON written to
 * `bench/results/`), the targets of issue 9, and the text and Markdown tables.
 */

/** Which limit a scenario is compared with. */
export type LimitName = "http" | "storage";

/** One measured limit. */
export interface LimitResult {
  name: LimitName;
  title: string;
  /** Requests (HTTP) or transactions (storage) per second. */
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  peakRssMb?: number | undefined;
  /** Every measurement of this limit in the run; the best is reported. */
  samples?: number[];
}

/** What a scenario must reach, as a ratio to its limit. */
export interface Target {
  ratio: number;
  p99Ms?: number;
}

/** One scenario against the service. */
export interface ScenarioResult {
  id: string;
  title: string;
  connections: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Non-2xx responses plus socket errors (connect, read, write, timeout). */
  errors: number;
  non2xx: number;
  socketErrors: Record<string, number>;
  statuses: Record<string, number>;
  errorBodies: Record<string, string>;
  /** PATCH requests that repeated an order because the pool ran out. */
  overrun: number;
  /** PATCH: pending orders available to the measured run. */
  poolSize?: number;
  /** The route answered only 405: it does not exist on this branch yet. */
  missingRoute: boolean;
  peakRssMb?: number | undefined;
  /** When the measured run began and ended, in ms after the service started. */
  serviceTimeMs?: { from: number; to: number } | undefined;
  limit: LimitName;
  ratio?: number | undefined;
  target: Target;
}

/** A whole run. */
export interface BenchReport {
  startedAt: string;
  mode: "full" | "smoke";
  durationSeconds: number;
  warmupSeconds: number;
  machine: Record<string, string | number>;
  pinning: { serverCore: number; loadCore: number } | null;
  service: Record<string, string | number>;
  seed: { users: number; staff: number; orders: number; seconds: number };
  limits: Partial<Record<LimitName, LimitResult>>;
  scenarios: ScenarioResult[];
  /** Peak RSS of the service over the whole run, in MiB. */
  servicePeakRssMb?: number | undefined;
}

/** Issue 14's targets (issue 9's, PATCH raised), as ratios from one run. */
export const TARGETS: Record<string, Target> = {
  get_by_id: { ratio: 0.15, p99Ms: 10 },
  list: { ratio: 0.05 },
  create: { ratio: 1.0, p99Ms: 25 },
  patch: { ratio: 1.0 },
};

/** Issue 14's memory target for the service, in MiB. */
export const PEAK_RSS_TARGET_MB = 150;

/** Whether a scenario met its target; undefined without its limit. */
export function targetMet(s: ScenarioResult): boolean | undefined {
  if (s.ratio === undefined) return undefined;
  if (s.ratio < s.target.ratio) return false;
  if (s.target.p99Ms !== undefined && s.latencyMs.p99 > s.target.p99Ms) {
    return false;
  }
  return true;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? "–" : value.toFixed(digits);
}

function whole(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function targetText(t: Target, limit: LimitName): string {
  return `≥ ${t.ratio.toFixed(2)} × ${limit}` +
    (t.p99Ms === undefined ? "" : `, p99 ≤ ${t.p99Ms} ms`);
}

function verdict(s: ScenarioResult): string {
  if (s.missingRoute) return "route missing";
  if (s.errors > 0) return "errors";
  const met = targetMet(s);
  return met === undefined ? "–" : met ? "met" : "missed";
}

const HEADER = [
  "scenario",
  "req/s",
  "p50 ms",
  "p99 ms",
  "errors",
  "peak RSS MiB",
  "ratio",
  "target",
  "verdict",
];

/** What a scenario and a limit both measure, as the first six columns show it. */
interface Measured {
  title: string;
  perSecond: number;
  latencyMs: { p50: number; p99: number };
  errors: number;
  peakRssMb?: number | undefined;
}

/** The measured columns of a row: title, rate, p50, p99, errors, peak RSS. */
function measuredCells(m: Measured): string[] {
  return [
    m.title,
    whole(m.perSecond),
    fixed(m.latencyMs.p50, 2),
    fixed(m.latencyMs.p99, 2),
    String(m.errors),
    fixed(m.peakRssMb, 1),
  ];
}

/** Rows of the table: scenarios, then the two limits. */
export function tableRows(report: BenchReport): string[][] {
  const rows = report.scenarios.map((s) => [
    ...measuredCells({ ...s, perSecond: s.requestsPerSecond }),
    s.ratio === undefined ? "–" : `${s.ratio.toFixed(3)} × ${s.limit}`,
    targetText(s.target, s.limit),
    verdict(s),
  ]);
  for (const limit of Object.values(report.limits)) {
    rows.push([...measuredCells(limit), `1 × ${limit.name}`, "–", "limit"]);
  }
  return rows;
}

/** Rows as plain aligned text, the first a header underlined. */
export function textTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.map((r) => [...(r[i] ?? "")].length))
  );
  const line = (r: string[]) =>
    r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [
    line(rows[0]!),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.slice(1).map(line),
  ];
}

/** Rows as a Markdown table, the first its header. */
export function markdownTable(rows: string[][]): string[] {
  const md = (r: string[]) => `| ${r.join(" | ")} |`;
  return [
    md(rows[0]!),
    md(rows[0]!.map(() => "---")),
    ...rows.slice(1).map(md),
  ];
}

/** Plain aligned text, for the terminal. */
export function renderText(report: BenchReport): string {
  return [
    ...textTable([HEADER, ...tableRows(report)]),
    "",
    ...footnotes(report),
  ].join("\n");
}

/** A Markdown table with the run's settings, for `bench/results/latest.md`. */
export function renderMarkdown(report: BenchReport): string {
  return [
    `# Benchmark results (${report.mode})`,
    "",
    `Run at ${report.startedAt}; ${report.durationSeconds} s per scenario after ${report.warmupSeconds} s of warm-up. ` +
    `Produced by \`deno task bench\`; see docs/performance.md.`,
    "",
    ...markdownTable([HEADER, ...tableRows(report)]),
    "",
    ...footnotes(report).map((line) => line === "" ? "" : `- ${line}`),
    "",
  ].join("\n");
}

function footnotes(report: BenchReport): string[] {
  const notes = [
    `machine: ${
      Object.entries(report.machine).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
    report.pinning
      ? `pinned with taskset: service and limits on core ${report.pinning.serverCore}, wrk and harness on core ${report.pinning.loadCore}`
      : "not pinned (taskset missing or fewer than two cores)",
    `service: ${
      Object.entries(report.service).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
    `seeded through the API: ${report.seed.orders} orders for ${report.seed.users} users in ${
      report.seed.seconds.toFixed(1)
    } s; ${report.seed.staff} fulfillment tokens for PATCH`,
    ...Object.values(report.limits).filter((l) => (l.samples?.length ?? 0) > 1)
      .map((l) =>
        `${l.title}: measured before and after the service (${
          l.samples!.map(whole).join(" and ")
        }/s); the better is the limit`
      ),
    `service peak RSS over the whole run: ${
      fixed(report.servicePeakRssMb, 1)
    } MiB (target ≤ ${PEAK_RSS_TARGET_MB} MiB)`,
  ];
  for (const s of report.scenarios) {
    if (s.overrun > 0 && !s.missingRoute) {
      notes.push(
        `${s.title}: the pool of pending orders ran out; ${s.overrun} requests repeated an order (no-op changes), so its rate is overstated`,
      );
    }
    if (s.errors > 0 && !s.missingRoute) {
      notes.push(
        `${s.title}: statuses ${JSON.stringify(s.statuses)}, socket errors ${
          JSON.stringify(s.socketErrors)
        }`,
      );
    }
    if (s.missingRoute) {
      notes.push(
        `${s.title}: every response was 405, the route does not exist on this branch yet`,
      );
    }
  }
  return notes;
}
