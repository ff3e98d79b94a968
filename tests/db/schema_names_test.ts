/**
 * The schema is the only place a column is named. Renaming a column in
 * `db/schema.ts` must break the type check wherever it is used, which holds
 * only if no other module spells its name: SQL in `db/` is built from the
 * schema's table and column objects, and enum values come from the lists the
 * domain declares. This test reads every module of `db/` but the schema and
 * fails on a table name, column name or enum value spelled in SQL text, or a
 * string literal that is exactly a table or column name.
 */
import assert from "node:assert/strict";
import { getTableColumns, getTableName, is, Table } from "drizzle-orm";
import * as schema from "../../db/schema.ts";

const DB = new URL("../../db/", import.meta.url);

/** Names a module may spell, and why: not our schema's. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  // Reads drizzle's own `__drizzle_migrations` table, whose `created_at`
  // column only shares its name with ours.
  "schema_version.ts": ["created_at"],
};

/** The schema's table and column names, and every enum column's values. */
function schemaNames(): { names: Set<string>; enumValues: Set<string> } {
  const names = new Set<string>();
  const enumValues = new Set<string>();
  for (const value of Object.values(schema)) {
    if (!is(value, Table)) continue;
    names.add(getTableName(value));
    for (const column of Object.values(getTableColumns(value))) {
      names.add(column.name);
      for (const v of column.enumValues ?? []) enumValues.add(v);
    }
  }
  return { names, enumValues };
}

/** A string or template literal: its text (`${…}` as `\u0001`) and whether it is SQL. */
interface Literal {
  readonly text: string;
  readonly line: number;
  /** The template of a `sql` or `sqlText` tag. */
  readonly tagged: boolean;
}

/**
 * The string and template literals of a TypeScript source, outside
 * comments, including those nested in a template's `${…}`.
 */
function literals(source: string): Literal[] {
  const found: Literal[] = [];
  let i = 0;
  const lineAt = (at: number) => source.slice(0, at).split("\n").length;

  function quoted(quote: string): void {
    const start = i++;
    let text = "";
    while (i < source.length && source[i] !== quote) {
      if (source[i] === "\\") text += source[i++];
      text += source[i++];
    }
    i++;
    found.push({ text, line: lineAt(start), tagged: false });
  }

  function template(): void {
    const start = i++;
    const tagged = /\b(sql|sqlText)(<[^>]*>)?\s*$/.test(
      source.slice(Math.max(0, start - 40), start),
    );
    let text = "";
    while (i < source.length && source[i] !== "`") {
      if (source[i] === "\\") {
        text += source[i++]! + source[i++];
      } else if (source.startsWith("${", i)) {
        i += 2;
        code("}");
        i++;
        text += "\u0001";
      } else {
        text += source[i++];
      }
    }
    i++;
    found.push({ text, line: lineAt(start), tagged });
  }

  // Scans code up to an unmatched `until` (or the end).
  function code(until?: string): void {
    let depth = 0;
    while (i < source.length) {
      const c = source[i]!;
      if (source.startsWith("//", i)) {
        i = source.indexOf("\n", i);
        if (i < 0) i = source.length;
      } else if (source.startsWith("/*", i)) {
        i = source.indexOf("*/", i + 2) + 2;
      } else if (c === '"' || c === "'") {
        quoted(c);
      } else if (c === "`") {
        template();
      } else if (c === "{") {
        depth++;
        i++;
      } else if (c === "}") {
        if (depth === 0 && until === "}") return;
        depth--;
        i++;
      } else {
        i++;
      }
    }
  }

  code();
  return found;
}

const SQL_WORDS =
  /\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|JOIN|VALUES|SET|EXISTS|ORDER BY|GROUP BY|ON CONFLICT|PRAGMA|AND|OR|NOT|NULL|LIMIT)\b/;

/** What a module spells that only the schema may: one line per finding. */
function misspelledNames(
  file: string,
  source: string,
  known: { names: Set<string>; enumValues: Set<string> },
): { findings: string[]; sqlLiterals: number } {
  const allowed = new Set(ALLOWED[file] ?? []);
  const findings: string[] = [];
  let sqlLiterals = 0;
  for (const literal of literals(source)) {
    const at = `${file}:${literal.line}`;
    if (known.names.has(literal.text) && !allowed.has(literal.text)) {
      findings.push(`${at}: the string "${literal.text}" names a column`);
    }
    if (!literal.tagged && !SQL_WORDS.test(literal.text)) continue;
    sqlLiterals++;
    // SQL string literals: enum values are the domain's to spell; the rest
    // (JSON paths, separators) are values, not names.
    const names = literal.text.replace(/'((?:[^']|'')*)'/g, (_, value) => {
      if (known.enumValues.has(value)) {
        findings.push(`${at}: SQL spells the enum value '${value}'`);
      }
      return "''";
    });
    for (const name of known.names) {
      if (allowed.has(name)) continue;
      // A bare or quoted name, not a function call such as `changes()`.
      if (new RegExp(`(?<![\\w$])${name}(?![\\w$]|\\s*\\()`).test(names)) {
        findings.push(`${at}: SQL spells the name ${name}`);
      }
    }
  }
  return { findings, sqlLiterals };
}

Deno.test("no module of db/ but the schema spells a table, column or enum value", async (t) => {
  const known = schemaNames();
  assert.ok(known.names.has("review_state") && known.names.has("created_by"));
  assert.ok(known.enumValues.has("in_flight"));

  await t.step("the check finds what it must", async (t) => {
    const cases: [name: string, source: string, expected: number][] = [
      ["a bare column in raw SQL", 'const s = "SELECT user_id FROM x";', 1],
      [
        "quoted, qualified names",
        'const s = `UPDATE "orders" SET "review_state" = ? WHERE orders.id = ?`;',
        3,
      ],
      [
        "an enum value in a sql template",
        "const c = sql`${t.state} = 'in_flight' AND x = ${v}`;",
        1,
      ],
      [
        "a column name as a string",
        'const alias = sql`count(*)`.as("created_by");',
        1,
      ],
      [
        "names built from the schema, a function, a JSON path",
        "const s = sqlText`SELECT ${orders.id} FROM ${orders} WHERE changes() = 1 AND json_extract(${x}, '$.status') = ?`;",
        0,
      ],
      [
        "comments and prose",
        '// SELECT user_id FROM orders\nconst m = "the status of the order";',
        0,
      ],
    ];
    for (const [name, source, expected] of cases) {
      await t.step(name, () => {
        const { findings } = misspelledNames("sample.ts", source, known);
        assert.equal(findings.length, expected, findings.join("\n"));
      });
    }
  });

  await t.step("every module of db/", async () => {
    const findings: string[] = [];
    let files = 0;
    let sqlLiterals = 0;
    for await (const entry of Deno.readDir(DB)) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      if (entry.name === "schema.ts") continue;
      files++;
      const source = await Deno.readTextFile(new URL(entry.name, DB));
      const found = misspelledNames(entry.name, source, known);
      findings.push(...found.findings);
      sqlLiterals += found.sqlLiterals;
    }
    assert.ok(files >= 10, `read ${files} modules`);
    assert.ok(sqlLiterals >= 30, `found ${sqlLiterals} SQL literals`);
    assert.deepEqual(findings, []);
  });
});
