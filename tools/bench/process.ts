/**
 * Subprocesses for the benchmark: pinned to a core with `taskset` when it is
 * there, output sent to a log file, peak memory read from `/proc`.
 */

import { clockEnv } from "../clock_env.ts";

/** Which core the measured process and the load generator each get. */
export interface CorePlan {
  serverCore: number;
  loadCore: number;
}

/**
 * Two distinct cores this process may run on, when `taskset` exists and
 * there are at least two; otherwise nothing is pinned.
 */
export async function planCores(): Promise<CorePlan | undefined> {
  if (!(await commandAvailable("taskset", ["--version"]))) return undefined;
  const status = await Deno.readTextFile("/proc/self/status").catch(() => "");
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (list === undefined) return undefined;
  const cores = expandCpuList(list);
  const [loadCore, serverCore] = cores;
  if (loadCore === undefined || serverCore === undefined) return undefined;
  return { serverCore, loadCore };
}

/** `0-2,5` → `[0, 1, 2, 5]`. */
export function expandCpuList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.split(",")) {
    const [from, to] = part.split("-").map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let core = from; core <= (to ?? from); core++) cores.push(core);
  }
  return cores;
}

/** Pins every thread of this process (the harness) to `core`. */
export async function pinSelf(core: number): Promise<void> {
  await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", String(core), String(Deno.pid)],
    stdout: "null",
    stderr: "null",
  }).output();
}

/** Whether a program starts at all (its exit code is not looked at). */
export async function commandAvailable(
  program: string,
  args: string[],
): Promise<boolean> {
  try {
    await new Deno.Command(program, { args, stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A started subprocess. */
export interface BenchProcess {
  /** The pid of the measured program itself (after `sh` and `taskset` exec). */
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number>;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>;
}

/** How to start a program. */
export interface StartOptions {
  /** The program and its arguments. */
  command: string[];
  /** The whole environment of the program (nothing else is inherited). */
  env: Record<string, string>;
  /** Where stdout and stderr go. */
  logPath: string;
  cwd?: string;
  core?: number | undefined;
}

/**
 * Starts a program through `sh -c 'exec …'` (and `taskset`, which execs
 * too), so the pid we hold is the program's own and its output goes straight
 * to a file without passing through the harness.
 */
export function startProcess(options: StartOptions): BenchProcess {
  const pinned = options.core === undefined
    ? options.command
    : ["taskset", "-c", String(options.core), ...options.command];
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$0" 2>&1', options.logPath, ...pinned],
    env: options.env,
    clearEnv: true,
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const exited = child.status.then((s) => s.code);
  async function logTail(lines = 20): Promise<string> {
    const text = await Deno.readTextFile(options.logPath).catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  }
  return {
    pid: child.pid,
    logPath: options.logPath,
    exited,
    logTail,
    async stop(graceMs = 5000) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already exited
          }
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      return await exited;
    },
  };
}

/**
 * Waits until `url` answers 200, at most `timeoutMs`; fails at once if the
 * process ends first.
 */
export async function waitUntilReady(
  process: BenchProcess,
  url: string,
  timeoutMs = 30_000,
): Promise<void> {
  let ended = false;
  process.exited.then(() => ended = true);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ended) {
      throw new Error(
        `Process ${process.pid} exited before it was ready: ${await process
          .logTail()}`,
      );
    }
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `Process ${process.pid} was not ready after ${timeoutMs} ms: ${await process
      .logTail()}`,
  );
}

/** The command name (`/proc/<pid>/comm`), or undefined once it is gone. */
export async function processName(pid: number): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  } catch {
    return undefined;
  }
}

/** Peak resident memory since start or the last reset (VmHWM), in MiB. */
export async function peakRssMb(pid: number): Promise<number | undefined> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  const kb = /^VmHWM:\s*(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
}

/**
 * Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so
 * each scenario gets its own peak. False where the kernel refuses.
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The variables a Deno subprocess needs from ours (PATH, caches, the clock). */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = clockEnv();
  for (
    const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]
  ) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A progress line on stderr, so stdout keeps only the table. */
export function progress(message: string): void {
  console.error(`bench: ${message}`);
}
