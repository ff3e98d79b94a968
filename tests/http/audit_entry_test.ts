/**
 * `Audit-Entry: <chain seq>;<hash>`: every response that changes an order
 * carries the receipt of the audit entry it wrote, exactly the row the
 * database holds; reads, replays and changes that change nothing carry none.
 */
import assert from "node:assert/strict";
import { orderBody, withTestContext } from "../fixtures/mod.ts";

Deno.test("responses that change an order carry Audit-Entry with the entry's chain seq and stored hash", () =>
  withTestContext(async (ctx) => {
    const owner = await ctx.token(42);
    const admin = await ctx.token(9, ["admin"]);
    const stored = async (id: string, seq: number) => {
      const { rows } = await ctx.database.client.execute({
        sql: "SELECT hash FROM audit_log WHERE chain_id = ? AND chain_seq = ?",
        args: [`order:${id}`, seq],
      });
      return `${seq};${rows[0]?.hash}`;
    };
    const key = { "Idempotency-Key": "audit-entry-test" };
    const created = await ctx.request("POST", "/v1/orders", {
      token: owner,
      body: orderBody(),
      headers: key,
    });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    const receipt = created.headers.get("audit-entry");
    assert.match(receipt ?? "", /^1;[0-9a-f]{64}$/);
    assert.equal(receipt, await stored(id, 1));

    const replayed = await ctx.request("POST", "/v1/orders", {
      token: owner,
      body: orderBody(),
      headers: key,
    });
    assert.equal(replayed.headers.get("idempotent-replayed"), "true");
    assert.equal(replayed.headers.get("audit-entry"), null);
    await replayed.body?.cancel();

    const steps: [string, string, string, unknown][] = [
      ["PATCH", `/v1/orders/${id}`, admin, { status: "processing" }],
      ["PATCH", `/v1/orders/${id}`, owner, { shipping_address: "2 Side St" }],
      ["POST", `/v1/orders/${id}/cancel`, owner, { reason: "Not needed" }],
    ];
    for (const [index, [method, path, token, body]] of steps.entries()) {
      const changed = await ctx.request(method, path, { token, body });
      assert.equal(changed.status, 200);
      await changed.body?.cancel();
      assert.equal(
        changed.headers.get("audit-entry"),
        await stored(id, index + 2),
      );
    }

    const read = await ctx.request("GET", `/v1/orders/${id}`, {
      token: owner,
    });
    assert.equal(read.headers.get("audit-entry"), null);
    await read.body?.cancel();
  }));

Deno.test("a change that changes nothing carries no Audit-Entry", () =>
  withTestContext(async (ctx) => {
    const owner = await ctx.token(42);
    const created = await ctx.call("POST", "/v1/orders", owner, orderBody());
    const same = await ctx.request("PATCH", `/v1/orders/${created.body.id}`, {
      token: owner,
      body: { shipping_address: orderBody().shipping_address },
    });
    assert.equal(same.status, 200);
    assert.equal((await same.json()).version, 1);
    assert.equal(same.headers.get("audit-entry"), null);
  }));
