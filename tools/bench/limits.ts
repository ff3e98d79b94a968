/**
 * The two limits each scenario is compared with, measured on the service's
 * core: a bare `Deno.serve` (HTTP) and the raw write loop (storage).
 */
import {
  baseEnv,
  type CorePlan,
  freePort,
  peakRssMb,
  resetPeakRss,
  startProcess,
  waitUntilReady,
} from "./process.ts";
import type { LimitResult } from "./report.ts";
import { type BenchTokens, writeFixture } from "./seed.ts";
import type { BenchSettings } from "./settings.ts";
import type { StorageLimitResult } from "./storage_limit.ts";
import { runWrk, socketErrorCount } from "./wrk.ts";

/** The repository root, where deno.json is. */
export const ROOT = new URL("../../", import.meta.url).pathname;
const BARE_SERVER = new URL("./bare_server.ts", import.meta.url).pathname;
const STORAGE_LIMIT = new URL("./storage_limit.ts", import.meta.url).pathname;

/** The permissions of `deno task start`, so the service runs as deployed. */
export const SERVICE_FLAGS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-sys",
];

/** Drives a bare `Deno.serve` with the GET-by-id requests. */
export async function measureHttpLimit(
  settings: BenchSettings,
  cores: CorePlan | undefined,
  tmp: string,
  tokens: BenchTokens,
): Promise<LimitResult> {
  const port = freePort();
  const server = startProcess({
    command: [Deno.execPath(), "run", "--allow-net", BARE_SERVER, String(port)],
    env: baseEnv(),
    logPath: `${tmp}/bare_server.log`,
    cwd: ROOT,
    core: cores?.serverCore,
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(server, `${url}/`);
    const fixture = `${tmp}/http.tsv`;
    // The same requests as GET by id, tokens and all; the server ignores them.
    await writeFixture(
      fixture,
      tokens.users.map((token) => [token, crypto.randomUUID()]),
    );
    const run = (seconds: number) =>
      runWrk({
        url,
        kind: "get",
        fixture,
        connections: settings.connections,
        durationSeconds: seconds,
        countStatuses: false,
        keyPrefix: "http",
        core: cores?.loadCore,
      });
    if (settings.warmupSeconds > 0) await run(settings.warmupSeconds);
    await resetPeakRss(server.pid);
    const result = await run(settings.durationSeconds);
    return {
      name: "http",
      title: "limit: bare Deno.serve JSON",
      perSecond: result.requestsPerSecond,
      latencyMs: result.latencyMs,
      errors: result.non2xx + socketErrorCount(result),
      peakRssMb: await peakRssMb(server.pid),
    };
  } finally {
    await server.stop();
  }
}

/** Runs `storage_limit.ts` pinned to the service's core. */
export async function measureStorageLimit(
  settings: BenchSettings,
  cores: CorePlan | undefined,
  databasePath: string,
): Promise<LimitResult> {
  const command = [
    Deno.execPath(),
    "run",
    ...SERVICE_FLAGS,
    STORAGE_LIMIT,
    databasePath,
    String(settings.durationSeconds),
  ];
  const [program, ...args] = cores === undefined
    ? command
    : ["taskset", "-c", String(cores.serverCore), ...command];
  const { code, stdout, stderr } = await new Deno.Command(program!, {
    args,
    cwd: ROOT,
    env: baseEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  if (code !== 0) {
    throw new Error(
      `The storage limit loop failed with exit code ${code}: ${out}${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  const result = JSON.parse(out.split("\n").at(-1) ?? "") as StorageLimitResult;
  return {
    name: "storage",
    title: "limit: raw write loop, 1 order/tx",
    perSecond: result.transactionsPerSecond,
    latencyMs: result.latencyMs,
    errors: 0,
  };
}
