/**
 * `db/sql.ts`: SQL text built from the schema's table and column objects,
 * and the typed reads of the values libSQL returns. The texts are checked
 * as written out here, then run on a real in-memory libSQL database with
 * the real migrations.
 */
import assert from "node:assert/strict";
import { getTableColumns } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client.ts";
import {
  accounts,
  auditLog,
  idempotencyKeys,
  orders,
} from "../../db/schema.ts";
import {
  columnList,
  enumValue,
  insertRows,
  integerValue,
  joinSql,
  literal,
  nullableEnumValue,
  nullableInteger,
  nullableText,
  qualified,
  selectAs,
  selectList,
  sqlText,
  textValue,
} from "../../db/sql.ts";
import { KEY_STATES } from "../../domain/idempotency.ts";
import type { InStatement, InValue } from "@libsql/client/web";
import { withMigratedDatabase } from "../fixtures/mod.ts";

/** A statement's text and positional arguments (what `insertRows` builds). */
function parts(statement: InStatement): { sql: string; args: InValue[] } {
  assert.ok(typeof statement === "object" && Array.isArray(statement.args));
  return { sql: statement.sql, args: statement.args };
}

/** A table whose names need quoting: each `"` in a name is doubled. */
const odd = sqliteTable('odd "table"', {
  label: text('it\'s a "label"').notNull(),
  count: integer("count"),
});

/** Creates `odd` in `database`, with SQL built by `sqlText` itself. */
async function createOdd(database: Database): Promise<void> {
  await database.client.execute(
    sqlText`CREATE TABLE ${odd} (${odd.label} TEXT NOT NULL, ${odd.count} INTEGER)`,
  );
}

Deno.test("sqlText renders a table as its quoted name, a column as its quoted unqualified name, SQL text and numbers as they are", () => {
  assert.equal(
    sqlText`SELECT ${orders.userId}, ${sqlText`count(*)`} FROM ${orders} LIMIT ${20}`,
    'SELECT "user_id", count(*) FROM "orders" LIMIT 20',
  );
  assert.equal(
    sqlText`${odd}.${odd.label}`,
    '"odd ""table"""."it\'s a ""label"""',
  );
  assert.equal(sqlText`SELECT 1`, "SELECT 1");
});

Deno.test('qualified names a column with its table\'s name: "<table>"."<column>"', () => {
  assert.equal(qualified(orders.id), '"orders"."id"');
  assert.equal(qualified(auditLog.chainSeq), '"audit_log"."chain_seq"');
  assert.equal(qualified(odd.label), '"odd ""table"""."it\'s a ""label"""');
});

Deno.test("joinSql joins texts with the separator, and nothing for no texts", () => {
  assert.equal(
    joinSql([qualified(orders.id), qualified(orders.status)], " AND "),
    '"orders"."id" AND "orders"."status"',
  );
  assert.equal(joinSql([], ", "), "");
});

Deno.test("literal is a column value as an SQL string, quotes doubled, and the database reads it back", () =>
  withMigratedDatabase(async (database) => {
    assert.equal(literal(idempotencyKeys.state, "in_flight"), "'in_flight'");
    const text = "O'Brien's \"place\"";
    const quoted = literal(orders.shippingAddress, text);
    assert.equal(quoted, "'O''Brien''s \"place\"'");
    const { rows } = await database.client.execute(
      sqlText`SELECT ${quoted} AS ${sqlText`"value"`}`,
    );
    assert.equal(rows[0]?.value, text);
  }));

Deno.test("literal refuses a value that is not one of an enum column's values", () => {
  assert.throws(
    // The type already refuses it; the check holds for values typed wider.
    () => literal(idempotencyKeys.state, "expired" as "completed"),
    { message: "Not a value of column state: expired" },
  );
});

Deno.test("selectList names each result column after its field, so rows come back keyed by them", () =>
  withMigratedDatabase(async (database) => {
    const list = selectList({
      owner: accounts.userId,
      since: accounts.updatedAt,
    });
    assert.equal(
      list,
      '"accounts"."user_id" AS "owner", "accounts"."updated_at" AS "since"',
    );
    await database.client.execute(
      insertRows(accounts, [{ userId: 42, updatedAt: 1_000 }]),
    );
    const { rows, columns } = await database.client.execute(
      sqlText`SELECT ${list} FROM ${accounts}`,
    );
    assert.deepEqual(columns, ["owner", "since"]);
    assert.equal(rows[0]?.owner, 42);
    assert.equal(rows[0]?.since, 1_000);
  }));

Deno.test("columnList and selectAs select every column of a table, keyed by the schema's field names", () =>
  withMigratedDatabase(async (database) => {
    assert.equal(
      columnList(accounts),
      '"accounts"."user_id" AS "userId", "accounts"."disabled_at" AS "disabledAt", ' +
        '"accounts"."tokens_revoked_before" AS "tokensRevokedBefore", "accounts"."updated_at" AS "updatedAt"',
    );
    assert.equal(
      selectAs(accounts),
      `SELECT ${columnList(accounts)} FROM "accounts"`,
    );
    for (const table of [orders, auditLog, idempotencyKeys, accounts]) {
      const { columns } = await database.client.execute(
        sqlText`${selectAs(table)} LIMIT 0`,
      );
      assert.deepEqual(columns, Object.keys(getTableColumns(table)));
    }
  }));

Deno.test("insertRows writes every row in one statement, its fields in the schema's order, missing values as NULL", () =>
  withMigratedDatabase(async (database) => {
    const statement = insertRows(accounts, [
      { userId: 1, updatedAt: 10, disabledAt: 5 },
      { userId: 2, updatedAt: 20, tokensRevokedBefore: 7 },
    ]);
    assert.deepEqual(statement, {
      sql:
        'INSERT INTO "accounts" ("user_id", "disabled_at", "tokens_revoked_before", "updated_at") VALUES (?, ?, ?, ?), (?, ?, ?, ?)',
      args: [1, 5, null, 10, 2, null, 7, 20],
    });
    const result = await database.client.execute(statement);
    assert.equal(result.rowsAffected, 2);
    const { rows } = await database.client.execute(
      sqlText`${selectAs(accounts)} ORDER BY ${accounts.userId}`,
    );
    assert.deepEqual(rows.map((row) => ({ ...row })), [
      { userId: 1, disabledAt: 5, tokensRevokedBefore: null, updatedAt: 10 },
      { userId: 2, disabledAt: null, tokensRevokedBefore: 7, updatedAt: 20 },
    ]);
  }));

Deno.test("insertRows leaves an autoincrement key to the database", () =>
  withMigratedDatabase(async (database) => {
    const entry = {
      chainId: "user:42",
      chainSeq: 1,
      orderId: null,
      action: "account.disabled" as const,
      actorUserId: 9,
      actorRoles: '["admin","user"]',
      requestId: "r1",
      at: 1_000,
      changes: "{}",
      prevHash: "0".repeat(64),
      hash: "1".repeat(64),
      seal: "hmac-sha256" as const,
      keyId: "0".repeat(16),
    };
    const statement = insertRows(auditLog, [entry]);
    assert.doesNotMatch(parts(statement).sql, /"seq"/);
    assert.equal(parts(statement).args.length, Object.keys(entry).length);
    const first = await database.client.execute(statement);
    const second = await database.client.execute(
      insertRows(auditLog, [{ ...entry, chainSeq: 2 }]),
    );
    assert.equal(
      Number(second.lastInsertRowid),
      Number(first.lastInsertRowid) + 1,
    );
  }));

Deno.test("insertRows with a guard inserts only while the guard holds, its arguments after the rows'", () =>
  withMigratedDatabase(async (database) => {
    // At most two accounts updated at or after a time.
    const guard = {
      sql:
        sqlText`(SELECT count(*) FROM ${accounts} WHERE ${accounts.updatedAt} >= ?) < 2`,
      args: [100],
    };
    const statement = insertRows(
      accounts,
      [{ userId: 1, updatedAt: 100 }],
      guard,
    );
    assert.deepEqual(statement, {
      sql:
        'INSERT INTO "accounts" ("user_id", "disabled_at", "tokens_revoked_before", "updated_at") ' +
        'SELECT * FROM (VALUES (?, ?, ?, ?)) WHERE (SELECT count(*) FROM "accounts" WHERE "updated_at" >= ?) < 2',
      args: [1, null, null, 100, 100],
    });
    const inserted = [];
    for (const userId of [1, 2, 3]) {
      const result = await database.client.execute(
        insertRows(accounts, [{ userId, updatedAt: 100 }], guard),
      );
      inserted.push(result.rowsAffected);
    }
    assert.deepEqual(inserted, [1, 1, 0]);
  }));

Deno.test("insertRows quotes names that need it, and the database takes the statement", () =>
  withMigratedDatabase(async (database) => {
    await createOdd(database);
    const statement = insertRows(odd, [{ label: "a", count: 1 }]);
    assert.equal(
      parts(statement).sql,
      'INSERT INTO "odd ""table""" ("it\'s a ""label""", "count") VALUES (?, ?)',
    );
    await database.client.execute(statement);
    const { rows } = await database.client.execute(selectAs(odd));
    assert.deepEqual(rows.map((row) => ({ ...row })), [{
      label: "a",
      count: 1,
    }]);
  }));

Deno.test("insertRows binds strings, numbers, bigints and booleans, and refuses any other value", () => {
  const many = sqliteTable("many", {
    a: text("a"),
    b: integer("b"),
    c: integer("c", { mode: "boolean" }),
  });
  assert.deepEqual(
    parts(insertRows(many, [{ a: "x", b: 2, c: true }])).args,
    ["x", 2, true],
  );
  // A row typed loosely (as a JSON column's object would be) is refused.
  const loose = { a: { nested: true } } as unknown as { a: string };
  assert.throws(() => insertRows(many, [loose]), {
    message: "Cannot bind a value of type object",
  });
  const big = sqliteTable("big", { n: integer("n") });
  const bigRow = { n: 2n ** 60n } as unknown as { n: number };
  assert.deepEqual(parts(insertRows(big, [bigRow])).args, [2n ** 60n]);
});

Deno.test("typed reads accept the values libSQL returns for each type", () =>
  withMigratedDatabase(async (database) => {
    const { rows } = await database.client.execute(
      "SELECT 'text' AS t, 42 AS i, NULL AS n, 'completed' AS e",
    );
    const row = rows[0];
    assert.ok(row);
    assert.equal(textValue(row.t), "text");
    assert.equal(integerValue(row.i), 42);
    assert.equal(integerValue(42n), 42);
    assert.equal(nullableText(row.n), null);
    assert.equal(nullableText(row.t), "text");
    assert.equal(nullableInteger(row.n), null);
    assert.equal(nullableInteger(row.i), 42);
    assert.equal(enumValue(KEY_STATES, row.e), "completed");
    assert.equal(nullableEnumValue(KEY_STATES, row.n), null);
    assert.equal(nullableEnumValue(KEY_STATES, row.e), "completed");
  }));

Deno.test("typed reads refuse a value of another type, naming its type and never the value", async (t) => {
  const address = "4242 Privacy Lane, Springfield";
  const cases: [string, () => unknown, string][] = [
    [
      "text: a number",
      () => textValue(42),
      "Expected text from the database, got number",
    ],
    [
      "text: null",
      () => textValue(null),
      "Expected text from the database, got null",
    ],
    [
      "text: a missing column",
      () => textValue(undefined),
      "Expected text from the database, got no such column",
    ],
    [
      "integer: text",
      () => integerValue(address),
      "Expected an integer from the database, got string",
    ],
    [
      "integer: a fraction",
      () => integerValue(1.5),
      "Expected an integer from the database, got number",
    ],
    [
      "integer: beyond the safe integers",
      () => integerValue(2 ** 53),
      "Expected an integer from the database, got number",
    ],
    [
      "nullable text: a missing column is not null",
      () => nullableText(undefined),
      "Expected text from the database, got no such column",
    ],
    [
      "nullable integer: text",
      () => nullableInteger(address),
      "Expected an integer from the database, got string",
    ],
    [
      "enum: another string",
      () => enumValue(KEY_STATES, address),
      "Expected one of in_flight, completed from the database, got string",
    ],
    [
      "nullable enum: another string",
      () => nullableEnumValue(KEY_STATES, "expired"),
      "Expected one of in_flight, completed from the database, got string",
    ],
  ];
  for (const [name, read, message] of cases) {
    await t.step(name, () => {
      assert.throws(read, (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal(error.message, message);
        assert.doesNotMatch(error.message, /Privacy|expired/);
        return true;
      });
    });
  }
});
