/**
 * Opens any database: embedded URLs (`file:`, `:memory:`) on the native
 * libSQL driver, loaded only then; remote ones as `db/database.ts` does.
 */
import type { Client } from "@libsql/client/web";
import {
  databaseOver,
  isEmbeddedUrl,
  type OpenDatabase,
  openRemoteDatabase,
} from "./database.ts";

export type { Database, Db } from "./database.ts";
export { isEmbeddedUrl } from "./database.ts";

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
export const openDatabase: OpenDatabase = async (url, options = {}) => {
  if (!isEmbeddedUrl(url)) return await openRemoteDatabase(url, options);
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
  return databaseOver(
    createNativeClient(path, pragmas) as unknown as Client,
    true,
  );
};
