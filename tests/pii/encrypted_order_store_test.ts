/**
 * Shipping addresses are encrypted at rest: in order rows, in audit entries
 * and in stored idempotent responses. The database file (with its WAL)
 * never holds an address in plain text, and a ciphertext moved to another
 * row does not decrypt.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import {
  createOrder,
  expectJson,
  getJson,
  orderBody,
  type TestContext,
  withDatabaseFile,
  withTestContext,
} from "../fixtures/mod.ts";

const FIRST = "4242 Privacy Lane, Springfield";
const SECOND = "17 Secret Gardens, Shelbyville";
const OTHER = "99 Elsewhere Road, Ogdenville";
/** Free text a customer gives when cancelling: personal data too. */
const REASON = "Moving to 12 Hidden Court next week";
/** Not personal data: it is stored as it is, which shows the scan works. */
const PRODUCT = "Distinctive Plain-Text Mug";

/** Orders of two users, created, changed, replayed and cancelled. */
async function writeOrders(ctx: TestContext): Promise<string[]> {
  const owner = await ctx.token(42);
  const admin = await ctx.token(9, ["admin"]);
  const body = orderBody({
    shipping_address: FIRST,
    items: [{
      product_id: "sku-1",
      product_name: PRODUCT,
      quantity: 1,
      price: "5.00",
    }],
  });
  const created = await expectJson(
    await ctx.request("POST", "/v1/orders", {
      token: owner,
      body,
      headers: { "Idempotency-Key": "at-rest" },
    }),
    201,
  );
  const replay = await ctx.request("POST", "/v1/orders", {
    token: owner,
    body,
    headers: { "Idempotency-Key": "at-rest" },
  });
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(await replay.json(), created);
  const updated = await expectJson(
    await ctx.request("PATCH", `/v1/orders/${created.id}`, {
      token: owner,
      body: { shipping_address: SECOND },
    }),
    200,
  );
  assert.equal(updated.shipping_address, SECOND);
  await expectJson(
    await ctx.request("POST", `/v1/orders/${created.id}/cancel`, {
      token: owner,
      body: { reason: REASON },
    }),
    200,
  );
  const forOther = await expectJson(
    await ctx.request("POST", "/v1/orders", {
      token: admin,
      body: orderBody({ shipping_address: OTHER, user_id: 43 }),
      headers: { "Idempotency-Key": "for-43" },
    }),
    201,
  );
  return [created.id, forOther.id];
}

/** Scans every file of the database in `dir`, byte for byte. */
async function assertNoPlainText(dir: string): Promise<void> {
  const files = [];
  for await (const entry of Deno.readDir(dir)) files.push(entry.name);
  assert.ok(files.includes("orders.db-wal"), `a WAL exists: ${files}`);
  const scanned = new Map<string, string>();
  for (const file of files) {
    const bytes = await Deno.readFile(`${dir}/${file}`);
    // latin1 maps every byte to one character: a byte-exact search.
    scanned.set(file, new TextDecoder("latin1").decode(bytes));
  }
  const all = [...scanned.values()].join("\n");
  assert.ok(all.includes(PRODUCT), "the scan sees the stored rows");
  for (const address of [FIRST, SECOND, OTHER, REASON]) {
    for (const [file, text] of scanned) {
      assert.ok(!text.includes(address), `${file} contains "${address}"`);
    }
  }
}

Deno.test("the database file and its WAL never contain a shipping address or a cancellation reason in plain text", () =>
  withDatabaseFile("orders-at-rest-", async (url, dir) => {
    await withTestContext(async (ctx) => {
      const [id] = await writeOrders(ctx);
      // Everything reads back in plain text through the API.
      const history = await getJson(
        ctx,
        `/v1/orders/${id}/history`,
        await ctx.token(42),
      );
      assert.deepEqual(
        history.events.map((e: { changes: { shipping_address?: unknown } }) =>
          e.changes.shipping_address
        ),
        [
          { from: null, to: FIRST },
          { from: FIRST, to: SECOND },
          undefined,
        ],
      );
      assert.deepEqual(history.events[2].changes.cancellation_reason, {
        from: null,
        to: REASON,
      });
      assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
      // Scanned while the database is open, so its WAL is there for sure (a
      // closed connection's WAL goes once the last statement is collected).
      await assertNoPlainText(dir);
    }, { url });
  }));

Deno.test("every stored address is a ciphertext: order rows, audit changes, stored responses", () =>
  withTestContext(async (ctx) => {
    await writeOrders(ctx);
    const db = ctx.database.client;
    const orders = await db.execute("SELECT shipping_address FROM orders");
    assert.equal(orders.rows.length, 2);
    for (const row of orders.rows) {
      assert.match(String(row.shipping_address), /^enc:v1:[0-9a-f-]{36}:/);
    }
    const audit = await db.execute(
      `SELECT json_extract(changes, '$.shipping_address.from') AS "from",
        json_extract(changes, '$.shipping_address.to') AS "to"
       FROM audit_log WHERE json_type(changes, '$.shipping_address') IS NOT NULL`,
    );
    assert.equal(audit.rows.length, 3);
    for (const row of audit.rows) {
      for (const value of [row.from, row.to]) {
        if (value !== null) assert.match(String(value), /^enc:v1:/);
      }
    }
    const responses = await db.execute(
      "SELECT json_extract(response_body, '$.shipping_address') AS a FROM idempotency_keys",
    );
    assert.equal(responses.rows.length, 2);
    for (const row of responses.rows) {
      assert.match(String(row.a), /^enc:v1:/);
    }
    assert.equal(await ctx.personalDataStore.countPlainAuditEntries(), 0);
  }));

Deno.test("a ciphertext moved to another order does not decrypt, and the 500 reveals nothing", () =>
  withTestContext(async (ctx) => {
    const owner = await ctx.token(42);
    const first = await createOrder(ctx, owner, { shipping_address: FIRST });
    const second = await createOrder(ctx, owner, { shipping_address: SECOND });
    const other = await createOrder(ctx, await ctx.token(43), {
      shipping_address: OTHER,
    });
    const copy = (from: string, to: string) =>
      ctx.database.client.execute({
        sql: `UPDATE orders SET shipping_address =
          (SELECT shipping_address FROM orders WHERE id = ?) WHERE id = ?`,
        args: [from, to],
      });
    // Another user's order: the database refuses a value under a key that
    // is not the owner's.
    await assert.rejects(() => copy(first.id, other.id), /not live/);
    // Read the first order, so its ciphertext is among the values the data
    // key remembers decrypting: the copy must still fail.
    await getJson(ctx, `/v1/orders/${first.id}`, owner);
    // The same user's other order: stored, but bound to its own row.
    await copy(first.id, second.id);
    const response = await ctx.request("GET", `/v1/orders/${second.id}`, {
      token: owner,
    });
    assert.equal(response.status, 500);
    const text = await response.text();
    for (const address of [FIRST, SECOND]) {
      assert.ok(!text.includes(address));
      assert.ok(!JSON.stringify(ctx.logs).includes(address));
    }
    const intact = await getJson(ctx, `/v1/orders/${first.id}`, owner);
    assert.equal(intact.shipping_address, FIRST);
  }));

Deno.test("an address that looks like a ciphertext is encrypted and read back like any other", () =>
  withTestContext(async (ctx) => {
    const owner = await ctx.token(42);
    const order = await createOrder(ctx, owner, {
      shipping_address: "enc:v1:abc:xyz",
    });
    await expectJson(
      await ctx.request("PATCH", `/v1/orders/${order.id}`, {
        token: owner,
        body: { shipping_address: "enc:v1:def:uvw" },
      }),
      200,
    );
    const history = await getJson(ctx, `/v1/orders/${order.id}/history`, owner);
    assert.deepEqual(
      history.events.map((e: { changes: { shipping_address: unknown } }) =>
        e.changes.shipping_address
      ),
      [
        { from: null, to: "enc:v1:abc:xyz" },
        { from: "enc:v1:abc:xyz", to: "enc:v1:def:uvw" },
      ],
    );
    const stored = await ctx.database.client.execute(
      "SELECT changes FROM audit_log",
    );
    for (const row of stored.rows) {
      assert.ok(!String(row.changes).includes("enc:v1:abc:xyz"));
    }
  }));
