/**
 * An open database, and opening a remote one. Remote URLs (`libsql:`,
 * `https:`, `http:`) use `@libsql/client/web`, which needs no native code:
 * this module never refers to the native driver, so an entry point that
 * opens only remote databases (`deploy.ts`, for Deno Deploy) does not load
 * or even resolve it. `db/client.ts` adds embedded databases.
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

/** Opens the database at a URL, with its auth token. */
export type OpenDatabase = (
  url: string,
  options?: { authToken?: string | undefined },
) => Promise<Database>;

/** Whether a URL names an embedded database (a file or memory). */
export function isEmbeddedUrl(url: string): boolean {
  return url === ":memory:" || url.startsWith("file:");
}

/** The drizzle database over a client. */
export function databaseOver(client: Client, embedded: boolean): Database {
  return {
    client,
    db: drizzle(client, { schema }),
    embedded,
    close: () => client.close(),
  };
}

/** Opens a remote database over HTTP; refuses an embedded URL. */
export const openRemoteDatabase: OpenDatabase = async (url, options = {}) => {
  if (isEmbeddedUrl(url)) {
    throw new Error(
      `this entry point serves only a remote database, not ${url}: set DATABASE_URL to your libSQL server (libsql://…) and DATABASE_AUTH_TOKEN, or run main.ts for an embedded file`,
    );
  }
  const { createClient } = await import("@libsql/client/web");
  return databaseOver(
    createClient({
      url,
      ...(options.authToken !== undefined && { authToken: options.authToken }),
    }),
    false,
  );
};
