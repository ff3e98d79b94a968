/**
 * Opens the database. Embedded URLs (`file:`, `:memory:`) use the native
 * libSQL client, loaded only then; remote URLs (`libsql:`, `https:`, `http:`)
 * use the web client, which needs no native code and runs on Deno Deploy.
 */
import type { Client } from "@libsql/client/web";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import { drizzle } from "drizzle-orm/libsql/web";
import * as schema from "./schema.ts";

/** The drizzle database over our schema. */
export type Db = LibSQLDatabase<typeof schema>;

/** An open database. */
export interface Database {
  readonly client: Client;
  readonly db: Db;
  /** True for `file:` and `:memory:` databases. */
  readonly embedded: boolean;
  close(): void;
}

/** Whether a URL names an embedded database (a file or memory). */
export function isEmbeddedUrl(url: string): boolean {
  return url === ":memory:" || url.startsWith("file:");
}

/** Creates the folder of a `file:` database if it does not exist yet. */
export async function ensureDatabaseDirectory(url: string): Promise<void> {
  if (!url.startsWith("file:")) return;
  const path = url.slice("file:".length);
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
}

/** How long a writer waits for another writer's lock before giving up. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens a database. An embedded database is limited to one connection so
 * that its PRAGMAs (WAL, `synchronous=NORMAL`, busy timeout, foreign keys,
 * secure delete) hold for every statement; a remote one is reached over HTTP.
 */
export async function openDatabase(
  url: string,
  options: { authToken?: string | undefined } = {},
): Promise<Database> {
  let client: Client;
  const embedded = isEmbeddedUrl(url);
  if (embedded) {
    const { createClient } = await import("@libsql/client");
    client = createClient({ url, concurrency: 1 });
    if (url !== ":memory:") {
      await client.execute("PRAGMA journal_mode = WAL");
      // NORMAL in WAL mode never corrupts the database; a power loss can
      // lose only the last transactions, which an fsync per commit would save
      // at several times the write cost.
      await client.execute("PRAGMA synchronous = NORMAL");
    }
    await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    await client.execute("PRAGMA foreign_keys = ON");
    // Freed bytes are overwritten with zeros, so a destroyed data key (or a
    // replaced plain-text address) does not linger in the page's free space.
    await client.execute("PRAGMA secure_delete = ON");
  } else {
    const { createClient } = await import("@libsql/client/web");
    client = createClient({
      url,
      ...(options.authToken !== undefined && { authToken: options.authToken }),
    });
  }
  return {
    client,
    db: drizzle(client, { schema }),
    embedded,
    close: () => client.close(),
  };
}
