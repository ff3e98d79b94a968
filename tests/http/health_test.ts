/**
 * `GET /readyz` answers 200 only when the database answers and its schema is
 * at the last migration the code ships; otherwise 503 without detail, and a
 * `readiness.failed` log line saying why.
 */
import assert from "node:assert/strict";
import {
  MIGRATIONS_TABLE,
  SHIPPED_MIGRATIONS,
} from "../../db/schema_version.ts";
import { createTestContext, type TestContext } from "../fixtures/mod.ts";

const EXPECTED = SHIPPED_MIGRATIONS.at(-1)!;
const PREVIOUS = SHIPPED_MIGRATIONS.at(-2)!;

Deno.test("GET /readyz answers 503 and logs why unless the schema is at the shipped migration", async (t) => {
  const cases: {
    name: string;
    /** Changes the migrated database before the probe. */
    arrange: (ctx: TestContext) => Promise<unknown>;
    /** The `reason` logged; undefined: ready. */
    reason: string | RegExp | undefined;
  }[] = [
    {
      name: "a database at the shipped migration is ready",
      arrange: () => Promise.resolve(),
      reason: undefined,
    },
    {
      name: "a database without the last migration is not",
      arrange: (ctx) =>
        ctx.database.client.execute(
          `DELETE FROM ${MIGRATIONS_TABLE} WHERE created_at =
            (SELECT max(created_at) FROM ${MIGRATIONS_TABLE})`,
        ),
      reason:
        `schema is at migration ${PREVIOUS.tag}, expected ${EXPECTED.tag}`,
    },
    {
      name: "a database with no migration recorded is not",
      arrange: (ctx) =>
        ctx.database.client.execute(`DELETE FROM ${MIGRATIONS_TABLE}`),
      reason: `schema has no migrations applied, expected ${EXPECTED.tag}`,
    },
    {
      name: "a database never migrated (no migrations table) is not",
      arrange: (ctx) =>
        ctx.database.client.execute(`DROP TABLE ${MIGRATIONS_TABLE}`),
      reason: `schema has no migrations applied, expected ${EXPECTED.tag}`,
    },
    {
      name: "a database migrated by a newer release is ready",
      arrange: (ctx) =>
        ctx.database.client.execute({
          sql:
            `INSERT INTO ${MIGRATIONS_TABLE} (hash, created_at) VALUES (?, ?)`,
          args: ["newer", EXPECTED.createdAt + 1],
        }),
      reason: undefined,
    },
    {
      name: "a database that does not answer is not",
      arrange: (ctx) => Promise.resolve(ctx.database.close()),
      reason: /^database check failed: The database is closed$/,
    },
  ];
  for (const { name, arrange, reason } of cases) {
    await t.step(name, async () => {
      const ctx = await createTestContext();
      try {
        await arrange(ctx);
        const res = await ctx.request("GET", "/readyz");
        const failures = ctx.logs.filter((l) => l.event === "readiness.failed");
        if (reason === undefined) {
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), { status: "ready" });
          assert.deepEqual(failures, []);
          return;
        }
        assert.equal(res.status, 503);
        assert.equal(
          res.headers.get("content-type"),
          "application/problem+json",
        );
        const body = await res.json();
        assert.equal(body.detail, "The service is not ready");
        assert.doesNotMatch(
          JSON.stringify(body),
          /schema|migration|drizzle|database|sqlite|closed/i,
        );
        assert.equal(failures.length, 1);
        const [line] = failures;
        assert.equal(line?.level, "warn");
        assert.equal(line?.request_id, res.headers.get("x-request-id"));
        if (typeof reason === "string") assert.equal(line?.reason, reason);
        else assert.match(String(line?.reason), reason);
      } finally {
        ctx.close();
      }
    });
  }
});

Deno.test("a database that does not answer is logged with the error's message", async () => {
  const ctx = await createTestContext();
  try {
    ctx.database.close();
    const res = await ctx.request("GET", "/readyz");
    assert.equal(res.status, 503);
    await res.body?.cancel();
    const line = ctx.logs.find((l) => l.event === "readiness.failed");
    assert.equal(line?.error_name, "Error");
    assert.equal(line?.error_message, "The database is closed");
  } finally {
    ctx.close();
  }
});
