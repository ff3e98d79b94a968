/**
 * Fixed SQL built from the schema's table and column objects, and typed
 * reads of the rows it returns. The hot paths run fixed statements through
 * the client (the native client caches prepared statements by SQL text), so
 * each text is built once, at module load, from `db/schema.ts`: renaming a
 * column there renames it here, and removing one is a type error.
 */
import { Column, getTableColumns, getTableName, is, Table } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { InStatement, InValue, Value } from "@libsql/client/web";

declare const sqlTextBrand: unique symbol;

/** SQL text built by `sqlText` (never from a request's values). */
export type SqlText = string & { readonly [sqlTextBrand]: true };

/** What `sqlText` accepts between its strings. */
export type SqlPart = Table | Column | SqlText | number;

/**
 * Builds SQL text from a template: a table renders as its quoted name, a
 * column as its quoted (unqualified) name, so `${orders}.${orders.id}` is
 * `"orders"."id"`; other SQL text and numbers go in as they are. Meant for
 * module load: values travel as `?` arguments, never in the text.
 */
export function sqlText(
  strings: TemplateStringsArray,
  ...parts: SqlPart[]
): SqlText {
  let text = strings[0]!;
  parts.forEach((part, i) => {
    text += render(part) + strings[i + 1]!;
  });
  return text as SqlText;
}

function render(part: SqlPart): string {
  if (is(part, Column)) return quoteName(part.name);
  if (is(part, Table)) return quoteName(getTableName(part));
  return String(part);
}

/** A column's name qualified by its table's: `"orders"."id"`. */
export function qualified(column: Column): SqlText {
  return sqlText`${column.table}.${column}`;
}

/** Joins SQL texts with a separator. */
export function joinSql(texts: readonly SqlText[], separator: string): SqlText {
  return texts.join(separator) as SqlText;
}

/**
 * A value of a column as an SQL string literal (`'in_flight'`); typed by
 * the column, so for an enum column only one of its values compiles.
 */
export function literal<C extends Column>(
  column: C,
  value: C["_"]["data"] & string,
): SqlText {
  const allowed: readonly string[] | undefined = column.enumValues;
  if (allowed && allowed.length > 0 && !allowed.includes(value)) {
    throw new Error(`Not a value of column ${column.name}: ${value}`);
  }
  return `'${value.replaceAll("'", "''")}'` as SqlText;
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `"<table>"."<column>" AS "<field>", …`: a select list that names each
 * result column after its key in `fields`, so rows come back keyed by them.
 */
export function selectList(fields: Readonly<Record<string, Column>>): SqlText {
  return joinSql(
    Object.entries(fields).map(([field, column]) =>
      sqlText`${qualified(column)} AS ${quoteName(field) as SqlText}`
    ),
    ", ",
  );
}

/** `selectList` of every column of a table, keyed by the schema's fields. */
export function columnList(table: SQLiteTable): SqlText {
  return selectList(getTableColumns(table));
}

/** `SELECT <every column AS its field> FROM "<table>"`. */
export function selectAs(table: SQLiteTable): SqlText {
  return sqlText`SELECT ${columnList(table)} FROM ${table}`;
}

/** A condition a write depends on, as SQL text and its arguments. */
export interface Guard {
  readonly sql: SqlText;
  readonly args: readonly InValue[];
}

/** Per table: the fields its rows set and their quoted column names. */
const insertColumns = new Map<
  SQLiteTable,
  { fields: string[]; names: SqlText; tuple: SqlText }
>();

function insertColumnsOf(table: SQLiteTable) {
  let columns = insertColumns.get(table);
  if (!columns) {
    const entries = Object.entries(getTableColumns(table))
      // An autoincrement key is the database's to set.
      .filter(([, column]) =>
        !("autoIncrement" in column && column.autoIncrement === true)
      );
    columns = {
      fields: entries.map(([field]) => field),
      names: joinSql(entries.map(([, column]) => sqlText`${column}`), ", "),
      tuple: `(${entries.map(() => "?").join(", ")})` as SqlText,
    };
    insertColumns.set(table, columns);
  }
  return columns;
}

/** Per table: insert texts by row count and guard, built once each. */
const insertTexts = new Map<SQLiteTable, Map<string, SqlText>>();

/**
 * `INSERT INTO table (…) VALUES …`, or with a guard
 * `INSERT INTO table (…) SELECT * FROM (VALUES …) WHERE guard`, which
 * inserts the rows only when the guard holds, so a batch can make writes
 * conditional. The SQL text depends only on the table, the number of rows
 * and the guard's text, and is built once for each.
 */
export function insertRows<T extends SQLiteTable>(
  table: T,
  rows: readonly T["$inferInsert"][],
  guard?: Guard,
): InStatement {
  const columns = insertColumnsOf(table);
  const args: InValue[] = [];
  for (const row of rows) {
    const values: Readonly<Record<string, unknown>> = row;
    for (const field of columns.fields) args.push(inValue(values[field]));
  }
  let texts = insertTexts.get(table);
  if (!texts) insertTexts.set(table, texts = new Map());
  const key = `${rows.length}:${guard?.sql ?? ""}`;
  let sql = texts.get(key);
  if (sql === undefined) {
    const values = joinSql(rows.map(() => columns.tuple), ", ");
    sql = guard
      ? sqlText`INSERT INTO ${table} (${columns.names}) SELECT * FROM (VALUES ${values}) WHERE ${guard.sql}`
      : sqlText`INSERT INTO ${table} (${columns.names}) VALUES ${values}`;
    texts.set(key, sql);
  }
  return guard ? { sql, args: [...args, ...guard.args] } : { sql, args };
}

function inValue(value: unknown): InValue {
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case "string":
    case "number":
    case "bigint":
    case "boolean":
      return value;
  }
  throw new Error(`Cannot bind a value of type ${typeof value}`);
}

// Typed reads of row values: a fixed statement's rows arrive as libSQL
// values; these check each one against the type the schema gives it.

/** A text value. */
export function textValue(value: Value | undefined): string {
  if (typeof value === "string") return value;
  throw new Error(`Expected text from the database, got ${describe(value)}`);
}

/** An integer value. */
export function integerValue(value: Value | undefined): number {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "bigint") return Number(value);
  throw new Error(
    `Expected an integer from the database, got ${describe(value)}`,
  );
}

/** A text value or null. */
export function nullableText(value: Value | undefined): string | null {
  return value === null ? null : textValue(value);
}

/** An integer value or null. */
export function nullableInteger(value: Value | undefined): number | null {
  return value === null ? null : integerValue(value);
}

/** One of an enum's values. */
export function enumValue<T extends string>(
  values: readonly T[],
  value: Value | undefined,
): T {
  const found = values.find((v) => v === value);
  if (found === undefined) {
    throw new Error(
      `Expected one of ${values.join(", ")} from the database, got ${
        describe(value)
      }`,
    );
  }
  return found;
}

/** One of an enum's values, or null. */
export function nullableEnumValue<T extends string>(
  values: readonly T[],
  value: Value | undefined,
): T | null {
  return value === null ? null : enumValue(values, value);
}

/** A value's type for an error message; never the value (it may be personal). */
function describe(value: Value | undefined): string {
  if (value === undefined) return "no such column";
  if (value === null) return "null";
  return typeof value;
}
