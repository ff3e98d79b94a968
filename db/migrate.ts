/**
 * Applies the drizzle-kit migrations in `db/migrations`.
 */
import { fileURLToPath } from "node:url";
import { migrate } from "drizzle-orm/libsql/migrator";
import type { Db } from "./database.ts";
import { MIGRATIONS_TABLE } from "./schema_version.ts";

/** The folder drizzle-kit writes migrations to. */
export const MIGRATIONS_FOLDER = fileURLToPath(
  new URL("./migrations", import.meta.url),
);

/** Brings the database schema up to date. */
export async function applyMigrations(db: Db): Promise<void> {
  await migrate(db, {
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsTable: MIGRATIONS_TABLE,
  });
}
