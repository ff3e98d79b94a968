/**
 * Opens the database a maintenance task works on: DATABASE_URL (default
 * `file:./data/orders.db`) with DATABASE_AUTH_TOKEN. A `file:` database that
 * does not exist is not created: the task says so and exits with 2.
 */
import { type Database, openDatabase } from "../db/client.ts";

/** The database named by the environment; `cannot` starts the error line. */
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
