/**
 * What the machine was doing around a run: its CPU, kernel and tool
 * versions, the load average before the run and the CPU steal during it.
 */
import { type CorePlan, pinSelf, planCores } from "./process.ts";
import { wrkAvailable } from "./wrk.ts";

/** A run under way: when it started, its cores, and its machine's description. */
export interface RunStart {
  readonly startedAt: string;
  /** The cores of the service and of the load; undefined when not pinned. */
  readonly cores: CorePlan | undefined;
  /** The machine's description, with the CPU steal since the start. */
  machine(): Promise<Record<string, string | number>>;
}

/**
 * Starts a wrk-driven run: notes the time, the load and the CPU counters,
 * refuses to go on without wrk, and pins this process to the load's core.
 */
export async function startRun(): Promise<RunStart> {
  const startedAt = new Date().toISOString();
  const loadBefore = await loadAverage();
  const timesBefore = await cpuTimes();
  if (!(await wrkAvailable())) {
    throw new Error(
      "wrk is not installed: apt-get install wrk (.ci/run installs it)",
    );
  }
  const cores = await planCores();
  if (cores) await pinSelf(cores.loadCore);
  return {
    startedAt,
    cores,
    machine: () => machineInfo(loadBefore, timesBefore),
  };
}

/** The `cpu` line of /proc/stat: jiffies per state, steal at index 7. */
export async function cpuTimes(): Promise<number[]> {
  const stat = await Deno.readTextFile("/proc/stat").catch(() => "");
  return (/^cpu\s+(.+)$/m.exec(stat)?.[1] ?? "").split(/\s+/).map(Number);
}

/** Share of CPU time the hypervisor gave to others since `before`, in %. */
export async function stealPercent(before: number[]): Promise<string> {
  const after = await cpuTimes();
  const delta = after.map((v, i) => v - (before[i] ?? 0));
  const total = delta.slice(0, 8).reduce((a, b) => a + b, 0);
  return total > 0 ? ((100 * (delta[7] ?? 0)) / total).toFixed(1) : "unknown";
}

/** The 1-minute load average now, as /proc/loadavg writes it. */
export async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(
    " ",
  )[0] ?? "unknown";
}

/** The machine's description for a report's footnotes. */
export async function machineInfo(
  loadBefore: string,
  timesBefore: number[],
): Promise<Record<string, string | number>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const wrk = await new Deno.Command("wrk", {
    args: ["--version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wrkVersion = new TextDecoder().decode(wrk.stdout).split("\n")[0] ?? "";
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    wrk: /wrk\s+(\S+)/.exec(wrkVersion)?.[1] ?? "unknown",
    // Other work on the machine, or on the host under it, skews every
    // number: the load before the run and the steal during it tell.
    "load average (1 min) before the run": loadBefore,
    "CPU steal during the run (%)": await stealPercent(timesBefore),
  };
}
