/**
 * Databases written before encryption: `deno task pii:encrypt-existing`
 * encrypts the plain-text addresses in order rows and stored responses,
 * counts (and leaves) the plain-text ones in the append-only audit log, and
 * an erasure still reaches every such order, including rows the task has
 * not seen.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { createOrderStore } from "../../db/order_store.ts";
import {
  createOrder,
  createTestContext,
  expectJson,
  getJson,
  type Json,
  orderBody,
  runTool,
  TEST_AUDIT_SEALER,
  TEST_PII_KEY,
  type TestContext,
  withDatabaseFile,
  withTestContext,
} from "../fixtures/mod.ts";

/** An app as it was before encryption: the database store, unwrapped. */
function legacyApp(base: TestContext): Promise<TestContext> {
  return createTestContext({
    url: ":memory:",
    store: createOrderStore(base.database.db, {
      auditSealer: TEST_AUDIT_SEALER,
    }),
  });
}

async function runEncryptExisting(
  url: string,
): Promise<{ code: number; stdout: string }> {
  const result = await runTool("pii_encrypt_existing.ts", {
    env: { DATABASE_URL: url, PII_ENCRYPTION_KEY: TEST_PII_KEY },
  });
  assert.equal(result.code, 0, result.stderr);
  return result;
}

Deno.test("pii:encrypt-existing encrypts plain-text rows and responses, and leaves the audit log as written", () =>
  withDatabaseFile("orders-plain-text-", async (url) => {
    const base = await createTestContext({ url });
    const legacy = await legacyApp(base);
    const owner = await legacy.token(42);
    const body = orderBody({ shipping_address: "1 Legacy Ln" });
    const idempotent = { "Idempotency-Key": "legacy" };
    const first = await createOrder(legacy, owner, body, idempotent);
    await expectJson(
      await legacy.request("PATCH", `/v1/orders/${first.id}`, {
        token: owner,
        body: { shipping_address: "2 Legacy Ln" },
      }),
      200,
    );
    await createOrder(legacy, await legacy.token(43), {
      shipping_address: "3 Legacy Ln",
    });
    const plain = await base.database.client.execute(
      "SELECT count(*) AS n FROM orders WHERE shipping_address LIKE '%Legacy Ln'",
    );
    assert.equal(plain.rows[0]?.n, 2, "written in plain text");
    assert.equal(await base.personalDataStore.countPlainAuditEntries(), 3);
    legacy.close();
    base.close();

    const run = await runEncryptExisting(url);
    assert.match(
      run.stdout,
      /Encrypted 2 order addresses and 1 stored responses/,
    );
    assert.match(run.stdout, /3 audit entries hold addresses in plain text/);
    assert.match(
      (await runEncryptExisting(url)).stdout,
      /Encrypted 0 order addresses and 0 stored responses/,
    );

    await withTestContext(async (ctx) => {
      const rows = await ctx.database.client.execute(
        "SELECT shipping_address FROM orders",
      );
      for (const row of rows.rows) {
        assert.match(String(row.shipping_address), /^enc:v1:/);
      }
      const response = await ctx.database.client.execute(
        "SELECT json_extract(response_body, '$.shipping_address') AS a FROM idempotency_keys",
      );
      assert.match(String(response.rows[0]?.a), /^enc:v1:/);
      // Everything reads as before, through the encrypting store.
      const read = await getJson(ctx, `/v1/orders/${first.id}`, owner);
      assert.equal(read.shipping_address, "2 Legacy Ln");
      const replay = await createOrder(ctx, owner, body, idempotent);
      assert.deepEqual(replay, first);
      const history = await getJson(
        ctx,
        `/v1/orders/${first.id}/history`,
        owner,
      );
      assert.deepEqual(
        history.events.map((e: Json) => e.changes.shipping_address),
        [{ from: null, to: "1 Legacy Ln" }, {
          from: "1 Legacy Ln",
          to: "2 Legacy Ln",
        }],
      );
      assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
    }, { url });
  }));

Deno.test("an erasure encrypts the user's remaining plain-text rows first, so it reaches them too", () =>
  withTestContext(async (base) => {
    const legacy = await legacyApp(base);
    const owner = await legacy.token(42);
    const order = await createOrder(legacy, owner, {
      shipping_address: "1 Legacy Ln",
    });
    await expectJson(
      await legacy.request("POST", `/v1/orders/${order.id}/cancel`, {
        token: owner,
      }),
      200,
    );
    const other = await createOrder(legacy, await legacy.token(43), {
      shipping_address: "3 Legacy Ln",
    });
    legacy.close();
    const erased = await base.request("DELETE", "/v1/users/42/personal-data", {
      token: owner,
    });
    assert.equal(erased.status, 204);

    const stored = await base.database.client.execute({
      sql: "SELECT shipping_address FROM orders WHERE id = ?",
      args: [order.id],
    });
    assert.match(String(stored.rows[0]?.shipping_address), /^enc:v1:/);
    const read = await getJson(base, `/v1/orders/${order.id}`, owner);
    assert.deepEqual(
      [read.shipping_address, read.personal_data_erased],
      [null, true],
    );
    // The audit entry written in plain text before encryption stays in the
    // append-only log, but the API shows it erased like the rest.
    const history = await getJson(
      base,
      `/v1/orders/${order.id}/history`,
      owner,
    );
    assert.deepEqual(history.events[0].changes.shipping_address, {
      from: null,
      to: null,
    });
    assert.equal(await base.personalDataStore.countPlainAuditEntries(), 2);
    // Another user's plain-text row is untouched.
    const untouched = await base.database.client.execute({
      sql: "SELECT shipping_address FROM orders WHERE id = ?",
      args: [other.id],
    });
    assert.equal(untouched.rows[0]?.shipping_address, "3 Legacy Ln");
    assert.equal((await verifyAuditLog(base.database.db)).broken, undefined);
  }));
