/**
 * `db/order_statements.ts`: the listing's statements, by filter and keyset,
 * as SQLite plans them on the real migrations: every page is read from one
 * of the listing's indexes in its order (no sort), and a page after a
 * position starts the index scan at the position rather than reading every
 * newer order first.
 */
import assert from "node:assert/strict";
import type { InStatement } from "@libsql/client/web";
import { listingStatements } from "../../db/order_statements.ts";
import type { OrderQuery } from "../../domain/ports.ts";
import { withMigratedDatabase } from "../fixtures/mod.ts";

const POSITION = {
  createdAt: 1_764_338_400_000,
  id: "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10",
};

/** Every shape of listing query: each filter and the keyset on or off. */
const QUERIES: [string, OrderQuery][] = [];
for (const after of [undefined, POSITION]) {
  for (const userId of [undefined, 42]) {
    for (const status of [undefined, "pending" as const]) {
      const name = [
        userId === undefined ? "" : "user",
        status === undefined ? "" : "status",
        after === undefined ? "" : "after a position",
      ].filter(Boolean).join(", ") || "no filter";
      QUERIES.push([name, { userId, status, after, limit: 20, offset: 0 }]);
    }
  }
}

const LISTING_INDEXES =
  /USING (?:COVERING )?INDEX (orders_created_idx|orders_user_created_idx|orders_status_created_idx)\b/;

Deno.test("every listing page is read in index order, and a page after a position starts the scan there", (t) =>
  withMigratedDatabase(async (database) => {
    for (const [name, query] of QUERIES) {
      await t.step(name, async () => {
        const [, page] = listingStatements(query) as InStatement[] as {
          sql: string;
          args: unknown[];
        }[];
        const plan = await database.client.execute({
          sql: `EXPLAIN QUERY PLAN ${page!.sql}`,
          args: page!.args as never,
        });
        const details = plan.rows.map((row) => String(row.detail));
        const text = details.join("\n");
        assert.match(text, LISTING_INDEXES, text);
        assert.doesNotMatch(text, /TEMP B-TREE/, text);
        if (query.after !== undefined) {
          assert.match(
            text,
            /SEARCH orders USING INDEX \S+ \(.*created_at<\?/,
            text,
          );
        }
      });
    }
  }));

Deno.test("listingStatements counts every match, and pages after a position with the keyset's arguments", () => {
  const [count, page, items] = listingStatements({
    userId: 42,
    status: "pending",
    limit: 5,
    offset: 0,
    after: POSITION,
  }) as { sql: string; args: unknown[] }[];
  assert.deepEqual(count!.args, [42, "pending"]);
  assert.doesNotMatch(count!.sql, /created_at/);
  const keyset = [
    42,
    "pending",
    POSITION.createdAt,
    POSITION.createdAt,
    POSITION.createdAt,
    POSITION.id,
    5,
    0,
  ];
  assert.deepEqual(page!.args, keyset);
  assert.deepEqual(items!.args, keyset);
  assert.match(
    page!.sql,
    /"created_at" <= \? AND \("created_at" < \?\s+OR \("created_at" = \? AND "id" < \?\)\)/,
  );
});
