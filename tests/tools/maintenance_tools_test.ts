/**
 * The maintenance tasks that walk a whole database (`audit:verify`,
 * `pii:rotate`, `pii:encrypt-existing`): a database they cannot use is one
 * line on stderr saying what to check, with no stack trace and no secret;
 * on a large database they print progress on stderr while stdout keeps the
 * result.
 */
import assert from "node:assert/strict";
import { createOrderStore } from "../../db/order_store.ts";
import {
  createTestContext,
  orderBody,
  runTool,
  TEST_AUDIT_KEY,
  TEST_AUDIT_SEALER,
  TEST_PII_KEY,
} from "../fixtures/mod.ts";
import { startLibsqlHttpServer } from "../fixtures/libsql_http_server.ts";

const DB_TOKEN = "maintenance-test-database-token";
const NEXT_PII_KEY = btoa("master-key-B-for-the-progress-ts");

const TOOLS = [
  { script: "audit_verify.ts", cannot: "Cannot verify the audit log" },
  { script: "pii_rotate.ts", cannot: "Cannot rotate" },
  { script: "pii_encrypt_existing.ts", cannot: "Cannot encrypt" },
];

/** A loopback port nothing listens on (it was free a moment ago). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** The lines of a tool's output. */
function lines(output: string): string[] {
  return output.split("\n").filter((line) => line !== "");
}

/** Asserts `stderr` is one problem line of `cannot`, and returns it. */
function oneProblemLine(stderr: string, cannot: string): string {
  const [line = "", ...more] = lines(stderr);
  assert.deepEqual(more, [], stderr);
  assert.ok(line.startsWith(`${cannot}: `), stderr);
  assert.doesNotMatch(stderr, /^\s*at |\.ts:\d+:\d+|Uncaught/m, "no stack");
  assert.ok(!line.includes(DB_TOKEN), "no auth token");
  return line;
}

Deno.test("maintenance tasks fail with one line on stderr when the database is unreachable", async (t) => {
  const port = freePort();
  for (const { script, cannot } of TOOLS) {
    await t.step(`${script} names the database and what to check`, async () => {
      const result = await runTool(script, {
        env: {
          DATABASE_URL: `http://user:secret@127.0.0.1:${port}`,
          DATABASE_AUTH_TOKEN: DB_TOKEN,
          PII_ENCRYPTION_KEY: TEST_PII_KEY,
        },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, "");
      const line = oneProblemLine(result.stderr, cannot);
      assert.ok(
        line.startsWith(
          `${cannot}: the database at http://127.0.0.1:${port} does not answer: check DATABASE_URL`,
        ),
        line,
      );
      assert.match(line, /Connection refused/);
      assert.ok(!line.includes("secret") && !line.includes("user:"), line);
    });
  }
});

Deno.test("maintenance tasks fail with one line on stderr when the database refuses the token or is not migrated", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "maintenance-tools-" });
  const database = startLibsqlHttpServer(`${dir}/remote.db`, {
    authToken: DB_TOKEN,
  });
  try {
    await t.step("a refused token points at DATABASE_AUTH_TOKEN", async () => {
      const result = await runTool("audit_verify.ts", {
        env: {
          DATABASE_URL: database.url,
          DATABASE_AUTH_TOKEN: "not-the-token",
        },
      });
      assert.equal(result.code, 1, result.stderr);
      const line = oneProblemLine(result.stderr, "Cannot verify the audit log");
      assert.equal(
        line,
        `Cannot verify the audit log: the database at ${database.url} refused the credentials: check DATABASE_AUTH_TOKEN (Server returned HTTP status 401)`,
      );
      assert.ok(!line.includes("not-the-token"));
    });

    await t.step("an unmigrated database points at db:migrate", async () => {
      const result = await runTool("pii_rotate.ts", {
        env: {
          DATABASE_URL: database.url,
          DATABASE_AUTH_TOKEN: DB_TOKEN,
          PII_ENCRYPTION_KEY: TEST_PII_KEY,
        },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        oneProblemLine(result.stderr, "Cannot rotate"),
        /^Cannot rotate: the database at http:\/\/127\.0\.0\.1:\d+ is not migrated: run deno task db:migrate \(schema has no migrations applied, expected \w+\)$/,
      );
    });
  } finally {
    await database.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("maintenance tasks print progress on stderr every --progress-every items, and their result on stdout", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "maintenance-tools-" });
  const url = `file:${dir}/orders.db`;
  try {
    // Three orders written in plain text, as before encryption was enabled.
    const base = await createTestContext({ url });
    const legacy = await createTestContext({
      url: ":memory:",
      store: createOrderStore(base.database.db, {
        auditSealer: TEST_AUDIT_SEALER,
      }),
    });
    for (const user of [41, 42, 43]) {
      const created = await legacy.request("POST", "/v1/orders", {
        token: await legacy.token(user),
        body: orderBody({ shipping_address: `${user} Progress Pl` }),
      });
      assert.equal(created.status, 201, await created.text());
    }
    legacy.close();
    base.close();
    const env = { DATABASE_URL: url, PII_ENCRYPTION_KEY: TEST_PII_KEY };
    /** `audit:verify` on the database, with `args`. */
    const verifyAudit = (args: string[] = []) =>
      runTool("audit_verify.ts", {
        env: { DATABASE_URL: url, AUDIT_KEY: TEST_AUDIT_KEY },
        args,
      });
    const verified =
      "Audit log verified: 3 entries in 3 chains; no checkpoints given (--checkpoints FILE|redis)\n";

    await t.step("pii:encrypt-existing", async () => {
      const result = await runTool("pii_encrypt_existing.ts", {
        env,
        args: ["--progress-every", "2"],
      });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stderr), [
        "pii:encrypt-existing: 2 plain-text rows handled, 2 order addresses and 0 stored responses encrypted…",
      ]);
      assert.deepEqual(lines(result.stdout), [
        "Encrypted 3 order addresses and 0 stored responses",
        '3 audit entries hold addresses in plain text, written before encryption was enabled: the audit log is append-only, so they stay as written (see docs/personal-data.md, "Upgrading a database written before encryption")',
      ]);
    });

    await t.step("pii:rotate", async () => {
      const result = await runTool("pii_rotate.ts", {
        env: {
          ...env,
          PII_ENCRYPTION_KEY: NEXT_PII_KEY,
          PII_ENCRYPTION_KEY_PREVIOUS: TEST_PII_KEY,
        },
        args: ["--progress-every=1"],
      });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stderr), [
        "pii:rotate: 1 of 3 data keys handled, 1 re-wrapped…",
        "pii:rotate: 2 of 3 data keys handled, 2 re-wrapped…",
        "pii:rotate: 3 of 3 data keys handled, 3 re-wrapped…",
      ]);
      assert.match(
        result.stdout,
        /^Re-wrapped 3 data keys under master key [0-9a-f]{16}; 0 live data keys are still wrapped by another master key\n$/,
      );
    });

    await t.step("audit:verify", async () => {
      const result = await verifyAudit(["--progress-every", "2"]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stderr), [
        "audit:verify: 2 of 3 entries verified, in 2 chains…",
      ]);
      assert.equal(result.stdout, verified);
    });

    await t.step(
      "a database smaller than the default step prints no progress",
      async () => {
        const result = await verifyAudit();
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr, "");
        assert.equal(result.stdout, verified);
      },
    );

    await t.step(
      "a step that is not a positive integer is refused",
      async () => {
        const result = await verifyAudit(["--progress-every", "0"]);
        assert.equal(result.code, 2);
        assert.equal(
          result.stderr,
          'Cannot verify the audit log: --progress-every takes a positive integer, not "0"\n',
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
