/**
 * The schema version readiness compares with: the migrations the release
 * ships, and what a database's last applied migration says about its lag.
 */
import assert from "node:assert/strict";
import { schemaLag, SHIPPED_MIGRATIONS } from "../../db/schema_version.ts";

Deno.test("the shipped migrations are the journal's, one .sql file each, oldest first", async () => {
  const folder = new URL("../../db/migrations/", import.meta.url);
  const files: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.name.endsWith(".sql")) files.push(entry.name.slice(0, -4));
  }
  assert.deepEqual(SHIPPED_MIGRATIONS.map((m) => m.tag), files.sort());
  assert.ok(SHIPPED_MIGRATIONS.length >= 2);
});

Deno.test("schemaLag names the migration a schema is at, or says it is unknown", () => {
  const shipped = [
    { tag: "0000_a", createdAt: 100 },
    { tag: "0001_b", createdAt: 200 },
  ];
  assert.equal(schemaLag(200, shipped), undefined);
  assert.equal(schemaLag(300, shipped), undefined);
  assert.equal(
    schemaLag(100, shipped),
    "schema is at migration 0000_a, expected 0001_b",
  );
  assert.equal(
    schemaLag(150, shipped),
    "schema is at an unknown migration (created_at 150), expected 0001_b",
  );
  assert.equal(
    schemaLag(undefined, shipped),
    "schema has no migrations applied, expected 0001_b",
  );
  assert.equal(schemaLag(undefined, []), undefined);
});
