import assert from "node:assert/strict";
import { createNativeClient } from "../../db/native_client.ts";

function client() {
  const db = createNativeClient(":memory:", ["foreign_keys = ON"]);
  return db;
}

Deno.test("batches sent together commit together, and a failing batch fails alone", async () => {
  const db = client();
  await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  const results = await Promise.allSettled([
    db.batch([
      { sql: "INSERT INTO t (id, v) VALUES (?, ?)", args: [1, "a"] },
      { sql: "INSERT INTO t (id, v) VALUES (?, ?)", args: [2, "b"] },
    ]),
    db.batch([
      { sql: "INSERT INTO t (id, v) VALUES (?, ?)", args: [3, "c"] },
      // Violates NOT NULL: this whole batch, including id 3, is undone.
      { sql: "INSERT INTO t (id, v) VALUES (?, ?)", args: [4, null] },
    ]),
    db.batch([{ sql: "INSERT INTO t (id, v) VALUES (?, ?)", args: [5, "e"] }]),
  ]);
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  const rows = await db.execute("SELECT id FROM t ORDER BY id");
  assert.deepEqual(rows.rows.map((r) => r.id), [1, 2, 5]);
  db.close();
});

Deno.test("a batch reports rows affected, so a guarded write can tell it lost", async () => {
  const db = client();
  await db.execute(
    "CREATE TABLE t (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
  );
  await db.execute({ sql: "INSERT INTO t VALUES (?, ?)", args: [1, 1] });
  const [won] = await db.batch([{
    sql: "UPDATE t SET version = 2 WHERE id = 1 AND version = ?",
    args: [1],
  }]);
  const [lost] = await db.batch([{
    sql: "UPDATE t SET version = 2 WHERE id = 1 AND version = ?",
    args: [1],
  }]);
  assert.equal(won?.rowsAffected, 1);
  assert.equal(lost?.rowsAffected, 0);
  db.close();
});

Deno.test("rows carry named columns like @libsql/client's", async () => {
  const db = client();
  const result = await db.execute({
    sql: "SELECT ? AS a, ? AS b",
    args: ["x", true],
  });
  const row = result.rows[0]!;
  assert.equal(row.a, "x");
  assert.equal(row.b, 1);
  assert.equal(row[0], "x");
  assert.deepEqual(Object.keys(row), ["a", "b"]);
  assert.deepEqual(result.columns, ["a", "b"]);
  db.close();
});

Deno.test("more distinct statements than the cache holds still run correctly", async () => {
  const db = client();
  for (let i = 0; i < 300; i++) {
    const result = await db.execute(`SELECT ${i} AS n`);
    assert.equal(result.rows[0]?.n, i);
  }
  assert.equal((await db.execute("SELECT 7 AS n")).rows[0]?.n, 7);
  db.close();
});

Deno.test("rows with duplicate column names keep every value by index", async () => {
  const db = client();
  const result = await db.execute("SELECT 1 AS a, 2 AS a, 3 AS length");
  const row = result.rows[0]!;
  assert.deepEqual(Array.prototype.slice.call(row), [1, 2, 3]);
  assert.equal(row.a, 1);
  db.close();
});

Deno.test("closing the client commits the batches still queued", async () => {
  const db = client();
  await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  const queued = db.batch([{
    sql: "INSERT INTO t (id) VALUES (?)",
    args: [1],
  }]);
  db.close();
  const [result] = await queued;
  assert.equal(result?.rowsAffected, 1);
  await assert.rejects(() => db.execute("SELECT 1"), /closed/);
});
