/**
 * What the maintenance tasks share: the database they work on, the master
 * keys for personal data, their `--progress-every` flag, and how they fail.
 * A problem is one line on stderr starting with the task's `cannot`
 * ("Cannot rotate") and saying what to check, and an exit: never a stack
 * trace, the auth token or the credentials of DATABASE_URL.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadPiiKeys, type PiiKeys } from "../config.ts";
import { type Database, isEmbeddedUrl, openDatabase } from "../db/client.ts";
import { checkSchemaVersion } from "../db/schema_version.ts";
import { errorSummary } from "../error_fields.ts";

/**
 * PII_ENCRYPTION_KEY(_PREVIOUS), as `start` demands them (or as `dev` does
 * with `--dev`); exits with 1 when they are missing or malformed.
 */
export function piiKeysOrExit(cannot: string): PiiKeys {
  try {
    return loadPiiKeys(
      Deno.env.toObject(),
      Deno.args.includes("--dev") ? "dev" : "start",
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${cannot}: ${error.message}`);
    Deno.exit(1);
  }
}

/**
 * `--progress-every N`: how many items a task handles between two progress
 * lines on stderr; undefined without the flag (the task's own step). Exits
 * with 2 when N is not a positive integer.
 */
export function progressEveryOrExit(cannot: string): number | undefined {
  const { values } = parseArgs({
    args: Deno.args,
    options: { "progress-every": { type: "string" } },
    strict: false,
  });
  const value = values["progress-every"];
  if (value === undefined) return undefined;
  const every = typeof value === "string" && /^[0-9]+$/.test(value)
    ? Number(value)
    : 0;
  if (!Number.isSafeInteger(every) || every < 1) {
    console.error(
      `${cannot}: --progress-every takes a positive integer, not "${
        typeof value === "string" ? value : ""
      }"`,
    );
    Deno.exit(2);
  }
  return every;
}

/** Where the tasks look without DATABASE_URL. */
const DEFAULT_DATABASE_URL = "file:./data/orders.db";

/** How long the first query may take before the database counts as unreachable. */
const ANSWER_TIMEOUT_MS = 15_000;

/**
 * Runs `task` on DATABASE_URL (default `file:./data/orders.db`) with
 * DATABASE_AUTH_TOKEN, then closes the database. A `file:` database that
 * does not exist is not created: exits with 2. Before the task, one small
 * query checks that the database answers and is migrated. A failure, then
 * or during the task (unreachable, credentials refused, schema missing), is
 * one line on stderr and an exit with 1.
 */
export async function runTask(
  cannot: string,
  task: (database: Database) => Promise<void>,
): Promise<void> {
  const url = await databaseUrlOrExit(cannot);
  const problem = await runOn(url, task);
  if (problem !== undefined) {
    console.error(`${cannot}: ${problem}`);
    Deno.exit(1);
  }
}

/**
 * DATABASE_URL (default `file:./data/orders.db`) with DATABASE_AUTH_TOKEN,
 * open, as `runTask` opens it but unchecked; exits with 2 when a `file:`
 * database does not exist.
 */
export async function openExistingDatabase(cannot: string): Promise<Database> {
  return await openDatabase(await databaseUrlOrExit(cannot), {
    authToken: Deno.env.get("DATABASE_AUTH_TOKEN"),
  });
}

/** DATABASE_URL, or its default; exits with 2 when a `file:` one is missing. */
async function databaseUrlOrExit(cannot: string): Promise<string> {
  const url = Deno.env.get("DATABASE_URL") ?? DEFAULT_DATABASE_URL;
  if (url.startsWith("file:") && !(await exists(url.slice("file:".length)))) {
    console.error(
      `${cannot}: no database at ${shownUrl(url)}: check DATABASE_URL`,
    );
    Deno.exit(2);
  }
  return url;
}

/** Opens, checks, works and closes; what went wrong, if anything. */
async function runOn(
  url: string,
  task: (database: Database) => Promise<void>,
): Promise<string | undefined> {
  const shown = shownUrl(url);
  const where = shown === undefined
    ? "the database in DATABASE_URL"
    : `the database at ${shown}`;
  let database: Database;
  try {
    database = await openDatabase(url, {
      authToken: Deno.env.get("DATABASE_AUTH_TOKEN"),
    });
  } catch (error) {
    return `${where} cannot be opened: check DATABASE_URL (${
      errorSummary(error)
    })`;
  }
  try {
    let lag: string | undefined;
    try {
      lag = await answerWithin(
        checkSchemaVersion(database.client),
        ANSWER_TIMEOUT_MS,
      );
    } catch (error) {
      return describeFailure(
        error,
        where,
        `${where} does not answer as a libSQL database: check DATABASE_URL and DATABASE_AUTH_TOKEN`,
      );
    }
    if (lag !== undefined) {
      return `${where} is not migrated: run deno task db:migrate (${lag})`;
    }
    try {
      await task(database);
    } catch (error) {
      return describeFailure(error, where, "stopped on an unexpected error");
    }
    return undefined;
  } finally {
    database.close();
  }
}

/**
 * What a database error means for the person running the task, with the
 * innermost message (scrubbed) after it; `otherwise` when it is none of the
 * known kinds.
 */
function describeFailure(
  error: unknown,
  where: string,
  otherwise: string,
): string {
  const causes = causeChain(error);
  const status = causes.map(httpStatusOf).find((s) => s !== undefined);
  let what = otherwise;
  if (status === 401 || status === 403) {
    what = `${where} refused the credentials: check DATABASE_AUTH_TOKEN`;
  } else if (status !== undefined) {
    what =
      `${where} answered HTTP ${status}, not as a libSQL database: check DATABASE_URL`;
  } else if (causes.some((e) => /\bno such (table|column)\b/.test(e.message))) {
    what = `${where} is not migrated: run deno task db:migrate`;
  } else if (causes.some(isNetworkFailure)) {
    what =
      `${where} does not answer: check DATABASE_URL and that the server is up`;
  }
  return `${what} (${errorSummary(error)})`;
}

/** `error` and its causes, outermost first (at most 6: chains may be cyclic). */
function causeChain(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let e = error; e instanceof Error && chain.length < 6; e = e.cause) {
    if (chain.includes(e)) break;
    chain.push(e);
  }
  return chain;
}

/** The HTTP status of the libSQL client's `HttpServerError`. */
function httpStatusOf(error: Error): number | undefined {
  const status = (error as { status?: unknown }).status;
  return error.name === "HttpServerError" && typeof status === "number"
    ? status
    : undefined;
}

/** Whether `fetch` failed to reach the server (refused, DNS, TLS, timeout). */
function isNetworkFailure(error: Error): boolean {
  return (error instanceof TypeError && /fetch failed/i.test(error.message)) ||
    error.name === "TimeoutError";
}

/** `answer`, or a TimeoutError once `ms` have passed without one. */
async function answerWithin<T>(answer: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${ms / 1000} s`);
      error.name = "TimeoutError";
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A database URL fit to print: scheme, host, port and path, without the
 * user, password, query (`?authToken=…`) or fragment.
 */
function shownUrl(url: string): string | undefined {
  if (isEmbeddedUrl(url)) return url.replace(/[?#].*$/s, "");
  try {
    const parsed = new URL(url);
    const path = parsed.pathname === "/" ? "" : parsed.pathname;
    return `${parsed.protocol}//${parsed.host}${path}`;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
