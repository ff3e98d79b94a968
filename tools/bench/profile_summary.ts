/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): self time per
 * function, total (inclusive) time per function, and self time per area
 * (each npm package, Deno's runtime, the project's own folders).
 *
 * `deno run --allow-read tools/bench/profile_summary.ts FILE [--top N]
 *  [--from-ms A --to-ms B]` — the window keeps only samples taken between A
 * and B milliseconds after the profile started (the service's start), which
 * `deno task bench --profile` prints for each scenario.
 */
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Time attributed to one function or area, in milliseconds. */
export interface Share {
  name: string;
  ms: number;
  percent: number;
}

/** What `summarise` returns. */
export interface ProfileSummary {
  /** Sampled time in the window, idle excluded. */
  busyMs: number;
  idleMs: number;
  self: Share[];
  inclusive: Share[];
  areas: Share[];
}

/** The area a script URL belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (url === "") {
    return functionName.startsWith("(") ? functionName : "(native)";
  }
  const npm = /node_modules\/\.deno\/([^/]+)\//.exec(url) ??
    /\/npm\/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\/([^/]+)\//.exec(url);
  if (npm) return `npm:${npm[1]!.replace(/@[^@]+$/, "").replace("+", "/")}`;
  if (url.startsWith("ext:") || url.startsWith("node:")) {
    return `deno runtime (${url.split("/")[0]})`;
  }
  const project = /\/(auth|db|domain|routes|tools|limits)\/[^/]+$/.exec(url);
  if (project) return `project ${project[1]}/`;
  if (/\/[^/]+\.ts$/.test(url)) return `project ${url.split("/").at(-1)}`;
  return url;
}

function frameName(frame: CallFrame): string {
  const fn = frame.functionName || "(anonymous)";
  if (frame.url === "") return fn;
  const file = frame.url.replace(/^.*node_modules\/\.deno\//, "")
    .replace(/^file:\/\/.*?\/(auth|db|domain|routes|tools|limits)\//, "$1/")
    .replace(/^file:\/\/.*\//, "");
  return `${fn} ${file}:${frame.lineNumber + 1}`;
}

// "(program)" is busy: native work outside JS (the HTTP server's Rust side,
// for one); only "(idle)" is the event loop waiting.
const IDLE = "(idle)";

/**
 * Self and inclusive time per function and self time per area, over the
 * samples between `fromMs` and `toMs` after the profile's start.
 */
export function summarise(
  profile: CpuProfile,
  options: { fromMs?: number; toMs?: number; top?: number } = {},
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let at = 0;
  const from = (options.fromMs ?? 0) * 1000;
  const to = (options.toMs ?? Infinity) * 1000;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (at < from || at > to) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const frame = node.callFrame;
    if (frame.functionName === IDLE && frame.url === "") {
      idle += dt;
      continue;
    }
    busy += dt;
    const name = frameName(frame);
    self.set(name, (self.get(name) ?? 0) + dt);
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined;) {
      const n = byId.get(id);
      if (!n) break;
      const key = frameName(n.callFrame);
      if (!seen.has(key) && n.callFrame.functionName !== "(root)") {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  const top = options.top ?? 25;
  const shares = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
      name,
      ms: us / 1000,
      percent: busy > 0 ? (100 * us) / busy : 0,
    }));
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    self: shares(self),
    inclusive: shares(inclusive),
    areas: shares(areas),
  };
}

function table(title: string, shares: Share[]): string {
  return [
    `| ${title} | ms | % of busy |`,
    "| --- | ---: | ---: |",
    ...shares.map((s) =>
      `| \`${s.name}\` | ${s.ms.toFixed(0)} | ${s.percent.toFixed(1)} |`
    ),
  ].join("\n");
}

/** The summary as Markdown tables. */
export function renderSummary(summary: ProfileSummary): string {
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${
      summary.idleMs.toFixed(0)
    } ms`,
    "",
    table("self time by area", summary.areas),
    "",
    table("self time by function", summary.self),
    "",
    table("total time (self + callees) by function", summary.inclusive),
  ].join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      top: { type: "string", default: "25" },
      "from-ms": { type: "string" },
      "to-ms": { type: "string" },
    },
  });
  const file = positionals[0];
  if (file === undefined) {
    console.error(
      "Usage: profile_summary.ts FILE.cpuprofile [--top N] [--from-ms A --to-ms B]",
    );
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  console.log(renderSummary(summarise(profile, {
    top: Number(values.top),
    ...(values["from-ms"] !== undefined &&
      { fromMs: Number(values["from-ms"]) }),
    ...(values["to-ms"] !== undefined && { toMs: Number(values["to-ms"]) }),
  })));
}
