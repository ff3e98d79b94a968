/**
 * What the maintenance tasks read from the environment: the database they
 * work on and the master keys for personal data. A problem is one line on
 * stderr starting with the task's `cannot` ("Cannot rotate"), and an exit.
 */
import { ConfigError, loadPiiKeys, type PiiKeys } from "../config.ts";
import { type Database, openDatabase } from "../db/client.ts";

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
 * DATABASE_URL (default `file:./data/orders.db`) with DATABASE_AUTH_TOKEN. A
 * `file:` database that does not exist is not created: exits with 2.
 */
export async function openExistingDatabase(cannot: string): Promise<Database> {
  const url = Deno.env.get("DATABASE_URL") ?? "file:./data/orders.db";
  if (url.startsWith("file:") && !(await exists(url.slice("file:".length)))) {
    console.error(`${cannot}: no database at ${url}`);
    Deno.exit(2);
  }
  return await openDatabase(url, {
    authToken: Deno.env.get("DATABASE_AUTH_TOKEN"),
  });
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
