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
export type Db = LibSQLDatabase<typeof schema> & { $client: Client };

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
 * Opens a database. An embedded database gets one native connection (so its
 * PRAGMAs — WAL, `synchronous=NORMAL`, busy timeout, foreign keys, secure
 * delete — hold for every statement) with cached prepared statements and
 * group commit; a remote one is reached over HTTP.
 */
export async function openDatabase(
  url: string,
  options: { authToken?: string | undefined } = {},
): Promise<Database> {
  let client: Client;
  const embedded = isEmbeddedUrl(url);
  if (embedded) {
    const { createNativeClient } = await import("./native_client.ts");
    const path = url === ":memory:" ? url : url.slice("file:".length);
    const pragmas = [
      `busy_timeout = ${BUSY_TIMEOUT_MS}`,
      "foreign_keys = ON",
      // Freed bytes are overwritten with zeros, so a destroyed data key (or a
      // replaced plain-text address) does not linger in the page's free space.
      "secure_delete = ON",
    ];
    if (url !== ":memory:") {
      // NORMAL in WAL mode never corrupts the database; a power loss can
      // lose only the last transactions, which an fsync per commit would save
      // at several times the write cost.
      pragmas.unshift("journal_mode = WAL", "synchronous = NORMAL");
    }
    // The native client implements the part of `Client` that drizzle and the
    // store use; the rest is never called.
    client = createNativeClient(path, pragmas) as unknown as Client;
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
