/**
 * A libSQL client for embedded databases on the native `libsql` driver, with
 * the subset of the `@libsql/client` interface that drizzle and the store use
 * (`execute`, `batch`, `migrate`, `close`). Two things make it fast:
 *
 * - Prepared statements are cached by SQL text (`@libsql/client` prepares
 *   every statement anew: ~190 µs against ~15 µs for a primary-key read).
 * - Write batches are group-committed: batches sent in the same turn of the
 *   event loop run in one transaction, each inside its own savepoint, so each
 *   stays all-or-nothing and fails alone while the commit cost is shared.
 *   The turn ends with `setImmediate` (after the I/O callbacks of this turn),
 *   not a zero `setTimeout`, which waits 1 ms, and 4 ms once timers nest,
 *   before every write.
 *
 * The driver is synchronous and this client keeps one connection, so a batch
 * of reads runs in one turn of the event loop with no write of this process
 * between its statements (another process's commit may land between two of
 * them; the store's reads tolerate that: order lines never change, and a
 * change decided on a stale read loses its version check and retries).
 */
import Database from "libsql";
import type { InArgs, InStatement, ResultSet } from "@libsql/client/web";

/** The part of the `@libsql/client` interface this client provides. */
export interface NativeClient {
  execute(statement: InStatement): Promise<ResultSet>;
  batch(statements: InStatement[], mode?: string): Promise<ResultSet[]>;
  migrate(statements: InStatement[]): Promise<ResultSet[]>;
  close(): void;
  readonly closed: boolean;
}

/** How many prepared statements are kept per connection. */
const STATEMENT_CACHE_SIZE = 256;

interface Prepared {
  readonly statement: Database.Statement;
  readonly reader: boolean;
  readonly columns: string[];
  readonly makeRow: (values: unknown[]) => Record<string, unknown>;
}

interface PendingBatch {
  readonly statements: InStatement[];
  readonly resolve: (results: ResultSet[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Opens `path` (a file path or `:memory:`) with the given PRAGMAs applied. */
export function createNativeClient(
  path: string,
  pragmas: readonly string[],
): NativeClient {
  const db = new Database(path);
  for (const pragma of pragmas) db.exec(`PRAGMA ${pragma}`);
  const cache = new Map<string, Prepared>();
  let pending: PendingBatch[] = [];
  let closed = false;

  function prepare(sql: string): Prepared {
    let prepared = cache.get(sql);
    if (prepared) {
      // Keep the most recently used statements at the end of the map.
      cache.delete(sql);
    } else {
      const statement = db.prepare(sql);
      const reader = statement.reader;
      if (reader) statement.raw(true);
      const columns = reader ? statement.columns().map((c) => c.name) : [];
      prepared = { statement, reader, columns, makeRow: rowMaker(columns) };
      if (cache.size >= STATEMENT_CACHE_SIZE) {
        cache.delete(cache.keys().next().value as string);
      }
    }
    cache.set(sql, prepared);
    return prepared;
  }

  function run(input: InStatement): ResultSet {
    const { sql, args } = typeof input === "string"
      ? { sql: input, args: [] }
      : input;
    const prepared = prepare(sql);
    const values = bindValues(args);
    if (prepared.reader) {
      const rows = (prepared.statement.all(values) as unknown[][]).map(
        prepared.makeRow,
      );
      return resultSet(prepared.columns, rows, 0, undefined);
    }
    const info = prepared.statement.run(values);
    return resultSet([], [], info.changes, BigInt(info.lastInsertRowid));
  }

  function inTransaction<T>(begin: string, body: () => T): T {
    run(begin);
    try {
      const result = body();
      run("COMMIT");
      return result;
    } catch (error) {
      if (db.inTransaction) run("ROLLBACK");
      throw error;
    }
  }

  // Runs every batch queued so far in one transaction, one savepoint each.
  function flush(): void {
    const batches = pending;
    pending = [];
    if (batches.length === 0 || closed) {
      for (const batch of batches) {
        batch.reject(new Error("The database is closed"));
      }
      return;
    }
    const outcomes: ({ ok: true; results: ResultSet[] } | {
      ok: false;
      error: unknown;
    })[] = [];
    try {
      inTransaction("BEGIN IMMEDIATE", () => {
        for (const batch of batches) {
          run("SAVEPOINT batch");
          try {
            outcomes.push({ ok: true, results: batch.statements.map(run) });
            run("RELEASE batch");
          } catch (error) {
            run("ROLLBACK TO batch");
            run("RELEASE batch");
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The commit itself failed: nothing of any batch was written.
      for (const batch of batches) batch.reject(error);
      return;
    }
    batches.forEach((batch, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) batch.resolve(outcome.results);
      else batch.reject(outcome.error);
    });
  }

  function checkOpen(): void {
    if (closed) throw new Error("The database is closed");
  }

  return {
    execute(statement) {
      try {
        checkOpen();
        return Promise.resolve(run(statement));
      } catch (error) {
        return Promise.reject(error);
      }
    },

    batch(statements) {
      try {
        checkOpen();
        if (statements.every((s) => prepare(sqlOf(s)).reader)) {
          // Reads run back to back in this turn of the event loop on the one
          // connection, so no write of this process falls between them.
          return Promise.resolve(statements.map(run));
        }
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise((resolve, reject) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push({ statements, resolve, reject });
      });
    },

    migrate(statements) {
      try {
        checkOpen();
        run("PRAGMA foreign_keys = OFF");
        try {
          return Promise.resolve(
            inTransaction("BEGIN", () => statements.map(run)),
          );
        } finally {
          run("PRAGMA foreign_keys = ON");
        }
      } catch (error) {
        return Promise.reject(error);
      }
    },

    close() {
      if (closed) return;
      if (pending.length > 0) flush();
      closed = true;
      cache.clear();
      db.close();
    },

    get closed() {
      return closed;
    },
  };
}

function sqlOf(statement: InStatement): string {
  return typeof statement === "string" ? statement : statement.sql;
}

function bindValues(
  args: InArgs | undefined,
): unknown[] | Record<string, unknown> {
  if (args === undefined) return [];
  if (Array.isArray(args)) return args.map(toSql);
  const named: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    named[/^[@$:]/.test(name) ? name.slice(1) : name] = toSql(value);
  }
  return named;
}

function toSql(value: unknown): unknown {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Date) return value.valueOf();
  if (value === undefined) return null;
  return value;
}

/**
 * Makes rows as `@libsql/client` shapes them: named, enumerable columns, plus
 * a `length` and indexed values that are not enumerable. The indexed values
 * and `length` live on one prototype per statement, so a row costs one plain
 * object with ordinary properties.
 */
function rowMaker(
  columns: readonly string[],
): (values: unknown[]) => Record<string, unknown> {
  const plain = new Set(columns).size === columns.length &&
    columns.every((name) => name !== "length" && !/^\d+$/.test(name));
  if (!plain) return (values) => definedRow(values, columns);
  const prototype = {};
  Object.defineProperty(prototype, "length", { value: columns.length });
  columns.forEach((name, i) =>
    Object.defineProperty(prototype, i, {
      get(this: Record<string, unknown>) {
        return this[name];
      },
    })
  );
  return (values) => {
    const row: Record<string, unknown> = Object.create(prototype);
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = values[i];
    return row;
  };
}

/** The general case (duplicate or numeric column names), as `@libsql/client` does it. */
function definedRow(values: unknown[], columns: readonly string[]) {
  const row: Record<string | number, unknown> = {};
  Object.defineProperty(row, "length", { value: values.length });
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    Object.defineProperty(row, i, { value });
    const column = columns[i]!;
    if (!Object.hasOwn(row, column)) {
      Object.defineProperty(row, column, {
        value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
  }
  return row;
}

function resultSet(
  columns: string[],
  rows: unknown[],
  rowsAffected: number,
  lastInsertRowid: bigint | undefined,
): ResultSet {
  return {
    columns,
    columnTypes: columns.map(() => ""),
    rows: rows as ResultSet["rows"],
    rowsAffected,
    lastInsertRowid,
    toJSON() {
      return { columns, rows, rowsAffected };
    },
  };
}
