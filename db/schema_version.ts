/**
 * Whether a database's schema is at the migration the code ships. drizzle
 * records each applied migration in `__drizzle_migrations`, with the `when`
 * of its journal entry as `created_at`, and applies every shipped migration
 * newer than the newest recorded one: that newest `created_at` says where the
 * schema is.
 */
import type { Client } from "@libsql/client/web";
import journal from "./migrations/meta/_journal.json" with { type: "json" };

/** The table drizzle records applied migrations in. */
export const MIGRATIONS_TABLE = "__drizzle_migrations";

/** A migration drizzle-kit wrote to `db/migrations/`. */
export interface ShippedMigration {
  /** The file name without `.sql`, e.g. `0004_incident_response`. */
  readonly tag: string;
  /** The journal's `when`: what drizzle records as `created_at`. */
  readonly createdAt: number;
}

/** The migrations the code ships, oldest first, read once from the journal. */
export const SHIPPED_MIGRATIONS: readonly ShippedMigration[] = journal.entries
  .map((entry) => ({ tag: entry.tag, createdAt: entry.when }))
  .sort((a, b) => a.createdAt - b.createdAt);

/** The newest applied migration, as one small query. */
const LATEST_APPLIED_SQL =
  `SELECT max(created_at) AS created_at FROM "${MIGRATIONS_TABLE}"`;

/**
 * Why a schema whose newest applied migration has `created_at` `applied`
 * (undefined: none) is not ready for `shipped`, or undefined when it is
 * ready. A schema ahead of the code (a newer release migrated it first) is
 * ready: migrations keep the previous release working, so a rolling deploy
 * does not take the old instances out of service.
 */
export function schemaLag(
  applied: number | undefined,
  shipped: readonly ShippedMigration[] = SHIPPED_MIGRATIONS,
): string | undefined {
  const expected = shipped.at(-1);
  if (expected === undefined) return undefined;
  if (applied === undefined) {
    return `schema has no migrations applied, expected ${expected.tag}`;
  }
  if (applied >= expected.createdAt) return undefined;
  const at = shipped.find((m) => m.createdAt === applied);
  const where = at
    ? `migration ${at.tag}`
    : `an unknown migration (created_at ${applied})`;
  return `schema is at ${where}, expected ${expected.tag}`;
}

/**
 * Reads the newest applied migration (one query) and says why the schema is
 * not ready, or undefined when it is. Rejects when the database does not
 * answer.
 */
export async function checkSchemaVersion(
  client: Pick<Client, "execute">,
): Promise<string | undefined> {
  let value: unknown;
  try {
    const result = await client.execute(LATEST_APPLIED_SQL);
    value = result.rows[0]?.["created_at"];
  } catch (error) {
    // A database never migrated has no table to record migrations in.
    if (mentionsMissingTable(error)) return schemaLag(undefined);
    throw error;
  }
  return schemaLag(
    value === null || value === undefined ? undefined : Number(value),
  );
}

/** Whether `error` (or a cause of it) says the migrations table is missing. */
function mentionsMissingTable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e.message.includes(`no such table: ${MIGRATIONS_TABLE}`)) return true;
    e = e.cause;
  }
  return false;
}
