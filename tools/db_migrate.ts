/**
 * `deno task db:migrate`: applies the migrations to DATABASE_URL (embedded
 * or remote).
 */
import { ensureDatabaseDirectory, openDatabase } from "../db/client.ts";
import { applyMigrations } from "../db/migrate.ts";

const url = Deno.env.get("DATABASE_URL") ?? "file:./data/orders.db";
await ensureDatabaseDirectory(url);
const database = await openDatabase(url, {
  authToken: Deno.env.get("DATABASE_AUTH_TOKEN"),
});
await applyMigrations(database.db);
database.close();
console.log("Migrations applied");
