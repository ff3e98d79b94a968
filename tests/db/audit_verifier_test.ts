/**
 * The audit log is append-only in the database itself, and the verifier
 * (`deno task audit:verify`) finds any entry changed or removed behind the
 * service's back, through a test-only connection that drops the triggers.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import {
  type AuditVerification,
  verifyAuditLog,
} from "../../db/audit_verifier.ts";
import { openDatabase } from "../../db/client.ts";
import {
  auditRowHash,
  createTestContext,
  orderBody,
  runTool,
  TEST_AUDIT_KEY,
  TEST_AUDIT_SEALER,
  type TestContext,
  withTempDir,
  withTestContext,
} from "../fixtures/mod.ts";

/** The audit key the test app seals with, by id. */
const keys = new Map([[TEST_AUDIT_SEALER.keyId, TEST_AUDIT_SEALER]]);

interface Scenario {
  ctx: TestContext;
  url: string;
  /** Chain ids of the two orders: with three entries, and with four. */
  chains: [string, string];
}

/**
 * A file database with two orders of three and four entries, written
 * through the real app.
 */
async function scenario(dir: string, name: string): Promise<Scenario> {
  const url = `file:${dir}/${name}.db`;
  const ctx = await createTestContext({ url });
  const owner = await ctx.token(42);
  const admin = await ctx.token(9, ["admin"]);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const response = await ctx.request("POST", "/v1/orders", {
      token: owner,
      body: orderBody(),
    });
    ids.push((await response.json()).id);
  }
  const changes: [number, string, unknown][] = [
    [0, admin, { status: "processing" }],
    [1, owner, { shipping_address: "2 Side St" }],
    [0, owner, { shipping_address: "3 Other St" }],
    [1, admin, { status: "processing" }],
    [1, admin, { status: "shipped" }],
  ];
  for (const [index, token, body] of changes) {
    ctx.clock.advance(1000);
    const response = await ctx.request("PATCH", `/v1/orders/${ids[index]}`, {
      token,
      body,
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
  const chains = ids.map((id) => `order:${id}`) as [string, string];
  return { ctx, url, chains };
}

/**
 * Builds the scenario as `name` in `dir` (with an admin's disable, revoke and
 * enable of user 42 when `accountActions`), runs `fn` on it and closes it.
 */
async function withScenario(
  where: { dir: string; name: string; accountActions?: boolean },
  fn: (scenario: Scenario) => Promise<void>,
): Promise<void> {
  const built = await scenario(where.dir, where.name);
  try {
    if (where.accountActions) {
      const admin = await built.ctx.token(9, ["admin"]);
      for (const action of ["disable", "revoke-tokens", "enable"]) {
        built.ctx.clock.advance(1000);
        const response = await built.ctx.request(
          "POST",
          `/v1/admin/users/42/${action}`,
          { token: admin },
        );
        assert.equal(response.status, 204);
      }
    }
    await fn(built);
  } finally {
    built.ctx.close();
  }
}

/** Asserts the verification found the first break at `chainId`, `seq`, for `reason`. */
function assertBrokenAt(
  result: AuditVerification,
  expected: { chainId: string; seq: number; reason: RegExp },
): void {
  assert.equal(result.broken?.chainId, expected.chainId);
  assert.equal(result.broken?.chainSeq, expected.seq);
  assert.match(result.broken?.reason ?? "", expected.reason);
}

/** Runs SQL through a separate, test-only connection without the triggers. */
async function tamper(url: string, statement: string): Promise<void> {
  const database = await openDatabase(url);
  try {
    await database.client.execute("DROP TRIGGER IF EXISTS audit_log_no_update");
    await database.client.execute("DROP TRIGGER IF EXISTS audit_log_no_delete");
    await database.client.execute(statement);
  } finally {
    database.close();
  }
}

Deno.test("the audit log refuses UPDATE and DELETE in the database itself", () =>
  withTestContext(async (ctx) => {
    const response = await ctx.request("POST", "/v1/orders", {
      token: await ctx.token(42),
      body: orderBody(),
    });
    assert.equal(response.status, 201);
    await assert.rejects(
      ctx.database.client.execute("UPDATE audit_log SET action = 'x'"),
      /append-only/,
    );
    await assert.rejects(
      ctx.database.client.execute("DELETE FROM audit_log"),
      /append-only/,
    );
    const count = await ctx.database.db.all<{ n: number }>(
      sql`SELECT count(*) AS n FROM audit_log WHERE action = 'order.created'`,
    );
    assert.equal(count[0]?.n, 1);
  }));

Deno.test("verifyAuditLog finds the first entry changed or removed behind the service's back", (t) =>
  withTempDir("audit-verify-", async (dir) => {
    await t.step(
      "an untouched log verifies",
      () =>
        withScenario({ dir, name: "clean" }, async ({ ctx, chains }) => {
          const result = await verifyAuditLog(ctx.database.db, {
            keys,
            pageSize: 2,
          });
          assert.deepEqual(result, {
            chains: 2,
            entries: 7,
            broken: undefined,
            unkeyed: 0,
            sealsUnchecked: 0,
            checkpointMismatch: undefined,
          });
          for (const chain of chains) {
            assert.match(chain, /^order:[0-9a-f-]{36}$/);
          }
        }),
    );

    const HASH = /hash does not match/;
    // The name, where the break must be reported (the first or second chain,
    // and the entry), why, and the SQL with `$A`/`$B` for the chain ids.
    const tamperings: [string, 0 | 1, number, RegExp, string][] = [
      [
        "a changed value in changes",
        0,
        2,
        HASH,
        `UPDATE audit_log SET changes = replace(changes, 'processing', 'delivered') WHERE chain_id = '$A' AND chain_seq = 2`,
      ],
      [
        "whitespace added to changes",
        1,
        3,
        HASH,
        `UPDATE audit_log SET changes = changes || ' ' WHERE chain_id = '$B' AND chain_seq = 3`,
      ],
      [
        "a different actor",
        1,
        1,
        HASH,
        `UPDATE audit_log SET actor_user_id = 1 WHERE chain_id = '$B' AND chain_seq = 1`,
      ],
      [
        "added roles",
        0,
        3,
        HASH,
        `UPDATE audit_log SET actor_roles = '["admin","user"]' WHERE chain_id = '$A' AND chain_seq = 3`,
      ],
      [
        "reformatted roles",
        0,
        1,
        /actor_roles/,
        `UPDATE audit_log SET actor_roles = '[ "user" ]' WHERE chain_id = '$A' AND chain_seq = 1`,
      ],
      [
        "an entry removed from the middle",
        1,
        2,
        /entry 2 is missing/,
        `DELETE FROM audit_log WHERE chain_id = '$B' AND chain_seq = 2`,
      ],
      [
        "the last entry removed",
        1,
        4,
        /entry 4 is missing: the order is at version 4/,
        `DELETE FROM audit_log WHERE chain_id = '$B' AND chain_seq = 4`,
      ],
      [
        "a replaced hash",
        0,
        2,
        HASH,
        `UPDATE audit_log SET request_id = 'forged', hash = '${
          "f".repeat(64)
        }' WHERE chain_id = '$A' AND chain_seq = 2`,
      ],
      [
        "a broken link",
        1,
        2,
        /prev_hash/,
        `UPDATE audit_log SET prev_hash = '${
          "0".repeat(64)
        }' WHERE chain_id = '$B' AND chain_seq = 2`,
      ],
    ];
    for (const [index, tampering] of tamperings.entries()) {
      const [step, chain, seq, reason, statement] = tampering;
      const name = `tampered-${index}`;
      await t.step(
        step,
        () =>
          withScenario({ dir, name }, async ({ ctx, url, chains }) => {
            await tamper(
              url,
              statement.replaceAll("$A", chains[0]).replaceAll("$B", chains[1]),
            );
            const result = await verifyAuditLog(ctx.database.db, {
              keys,
              pageSize: 3,
            });
            assertBrokenAt(result, { chainId: chains[chain], seq, reason });
          }),
      );
    }

    await t.step(
      "with several broken chains the first in chain order is reported",
      () =>
        withScenario(
          { dir, name: "two-broken" },
          async ({ ctx, url, chains }) => {
            await tamper(
              url,
              `DELETE FROM audit_log WHERE chain_id = '${
                chains[1]
              }' AND chain_seq = 4`,
            );
            await tamper(
              url,
              `UPDATE audit_log SET at = 0 WHERE chain_id = '${
                chains[0]
              }' AND chain_seq = 3`,
            );
            const result = await verifyAuditLog(ctx.database.db, { keys });
            const first = [...chains].sort()[0];
            assert.equal(result.broken?.chainId, first);
            assert.equal(result.broken?.chainSeq, first === chains[0] ? 3 : 4);
          },
        ),
    );

    await t.step(
      "a forged entry whose hash is recomputed with unkeyed SHA-256 (the rewrite the unkeyed chain let through) is found at its seal",
      () =>
        withScenario({ dir, name: "forged" }, async ({ ctx, url, chains }) => {
          // Recompute entry 2's hash as the unkeyed chain did: without the
          // audit key it cannot be the entry's seal.
          const [row] = await ctx.database.db.all<Record<string, unknown>>(
            sql`SELECT * FROM audit_log WHERE chain_id = ${
              chains[0]
            } AND chain_seq = 2`,
          );
          assert.ok(row);
          const forgedChanges = String(row.changes).replace("processing", "x");
          const hash = await auditRowHash(row, forgedChanges);
          await tamper(
            url,
            `UPDATE audit_log SET changes = '${
              forgedChanges.replaceAll("'", "''")
            }', hash = '${hash}' WHERE chain_id = '${
              chains[0]
            }' AND chain_seq = 2`,
          );
          const result = await verifyAuditLog(ctx.database.db, { keys });
          assert.equal(result.broken?.chainId, chains[0]);
          assert.equal(result.broken?.chainSeq, 2);
          assert.match(
            result.broken?.reason ?? "",
            /hash does not match the entry's content under audit key [0-9a-f]{16}/,
          );
        }),
    );

    await t.step(
      "deno task audit:verify exits 0 on a sound log and 1 on a tampered one",
      async () => {
        const run = (url: string, env: Record<string, string> = {}) =>
          runTool("audit_verify.ts", {
            env: { DATABASE_URL: url, AUDIT_KEY: TEST_AUDIT_KEY, ...env },
          });
        const clean = await run(`file:${dir}/clean.db`);
        assert.equal(clean.code, 0, clean.stderr);
        assert.match(clean.stdout, /verified: 7 entries in 2 chains/);

        const forged = await run(`file:${dir}/forged.db`);
        assert.equal(forged.code, 1);
        assert.match(
          forged.stderr,
          /broken at chain order:[0-9a-f-]{36}, seq 2/,
        );

        // Without the audit key only the links are checked, and it says so:
        // the forged entry's successor no longer links to it.
        const keyless = await run(`file:${dir}/clean.db`, { AUDIT_KEY: "" });
        assert.equal(keyless.code, 0, keyless.stderr);
        assert.match(
          keyless.stdout,
          /the seals of 7 entries not checked \(AUDIT_KEY is not set\)/,
        );
        const unlinked = await run(`file:${dir}/forged.db`, { AUDIT_KEY: "" });
        assert.equal(unlinked.code, 1);
        assert.match(unlinked.stderr, /seq 3: prev_hash is not the hash/);

        const missing = await run(`file:${dir}/missing.db`);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /no database/);
      },
    );
  }));

Deno.test("user chains of account actions verify alongside order chains, and tampering with them is found", (t) =>
  withTempDir("audit-verify-users-", async (dir) => {
    await t.step(
      "a sound log: two order chains and one user chain",
      () =>
        withScenario(
          { dir, name: "users-clean", accountActions: true },
          async ({ ctx }) => {
            assert.deepEqual(
              await verifyAuditLog(ctx.database.db, { keys, pageSize: 2 }),
              {
                chains: 3,
                entries: 10,
                broken: undefined,
                unkeyed: 0,
                sealsUnchecked: 0,
                checkpointMismatch: undefined,
              },
            );
          },
        ),
    );
    const tamperings: [string, string, number, RegExp][] = [
      [
        "an edited account change",
        `UPDATE audit_log SET changes = replace(changes, '"to":null', '"to":"2030-01-01T00:00:00.000Z"') WHERE chain_id = 'user:42' AND chain_seq = 3`,
        3,
        /hash does not match/,
      ],
      [
        "a removed disable",
        `DELETE FROM audit_log WHERE chain_id = 'user:42' AND chain_seq = 1`,
        1,
        /entry 1 is missing/,
      ],
    ];
    for (const [name, statement, seq, reason] of tamperings) {
      await t.step(name, () =>
        withScenario(
          { dir, name: `users-${seq}`, accountActions: true },
          async ({ ctx, url }) => {
            await tamper(url, statement);
            const result = await verifyAuditLog(ctx.database.db, { keys });
            assertBrokenAt(result, { chainId: "user:42", seq, reason });
          },
        ));
    }
  }));
