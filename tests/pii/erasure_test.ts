/**
 * Erasure against concurrent order creation, made deterministic: the
 * competing write is committed through the real app at the worst moment.
 *
 * - An order written under a key that an erasure destroyed meanwhile (on
 *   another instance, whose cache still held the key) is refused by the
 *   database and written again under a new key: never stored unreadable.
 * - An order created between the erasure's own check and its write stops
 *   the erasure inside that write (409), with nothing destroyed.
 */
import assert from "node:assert/strict";
import { auditToRow } from "../../db/audit_rows.ts";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { auditLog } from "../../db/schema.ts";
import { sealAuditEntry, userChainId } from "../../domain/audit.ts";
import { DomainError } from "../../domain/errors.ts";
import { OWNER } from "../fixtures/domain.ts";
import {
  createPersonalDataEraser,
  type ErasureStore,
} from "../../pii/erasure.ts";
import { KEY_CACHE_TTL_MS } from "../../pii/keyring.ts";
import {
  createOrder,
  expectJson,
  type Json,
  TEST_AUDIT_SEALER,
  type TestContext,
  withTestContext,
  withTwoInstances,
} from "../fixtures/mod.ts";

async function create(ctx: TestContext, address: string): Promise<Json> {
  return await createOrder(ctx, await ctx.token(42), {
    shipping_address: address,
  });
}

async function read(ctx: TestContext, id: string): Promise<Json> {
  const response = await ctx.request("GET", `/v1/orders/${id}`, {
    token: await ctx.token(42),
  });
  return await expectJson(response, 200);
}

async function cancel(ctx: TestContext, id: string): Promise<void> {
  const response = await ctx.request("POST", `/v1/orders/${id}/cancel`, {
    token: await ctx.token(42),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

/** User 42's order at "1 Old St", cancelled, so nothing stops an erasure. */
async function cancelledOrder(ctx: TestContext): Promise<Json> {
  const old = await create(ctx, "1 Old St");
  await cancel(ctx, old.id);
  return old;
}

/** User 42 erases their data through `ctx`'s app. */
async function erase(ctx: TestContext): Promise<void> {
  const erased = await ctx.request("DELETE", "/v1/users/42/personal-data", {
    token: await ctx.token(42),
  });
  assert.equal(erased.status, 204);
}

async function liveKeys(ctx: TestContext): Promise<unknown[]> {
  const result = await ctx.database.client.execute(
    "SELECT key_id FROM user_keys WHERE user_id = 42 AND destroyed_at IS NULL",
  );
  return result.rows.map((row) => row.key_id);
}

/** The number of entries in user 42's audit chain. */
async function userChainLength(ctx: TestContext): Promise<unknown> {
  const events = await ctx.database.client.execute(
    "SELECT count(*) AS n FROM audit_log WHERE chain_id = 'user:42'",
  );
  return events.rows[0]?.n;
}

/** An eraser over `ctx`'s store, with its own `destroyKey`. */
function eraserWith(
  ctx: TestContext,
  destroyKey: ErasureStore["destroyKey"],
) {
  return createPersonalDataEraser({
    store: { ...ctx.personalDataStore, destroyKey },
    keyring: ctx.keyring,
    clock: ctx.clock,
  });
}

Deno.test("an order written under a key another instance just destroyed is written again under a new key", () =>
  withTwoInstances(async (a, b) => {
    const old = await cancelledOrder(a);
    const [destroyed] = await liveKeys(a);
    await erase(b);
    // B, which erased, forgot the key at once; A may still show the order
    // from its cache (for at most KEY_CACHE_TTL_MS, below).
    assert.equal((await read(b, old.id)).shipping_address, null);
    assert.equal((await read(a, old.id)).shipping_address, "1 Old St");

    // A still holds the destroyed key: the database refuses the order
    // under it, and A writes it under a fresh key instead.
    const fresh = await create(a, "2 New St");
    assert.equal(fresh.shipping_address, "2 New St");
    const [live] = await liveKeys(a);
    assert.ok(live !== undefined && live !== destroyed);
    assert.equal((await read(b, fresh.id)).shipping_address, "2 New St");
    const stored = await a.database.client.execute({
      sql: "SELECT shipping_address FROM orders WHERE id = ?",
      args: [fresh.id],
    });
    assert.ok(String(stored.rows[0]?.shipping_address).includes(`:${live}:`));
    // Having been refused, A forgot the destroyed key too.
    assert.equal((await read(a, old.id)).shipping_address, null);
    assert.equal((await verifyAuditLog(a.database.db)).broken, undefined);
  }));

Deno.test("another instance stops showing an erased address within KEY_CACHE_TTL_MS", () =>
  withTwoInstances(async (a, b) => {
    const old = await cancelledOrder(a);
    await erase(b);
    a.clock.advance(KEY_CACHE_TTL_MS - 1);
    assert.equal((await read(a, old.id)).shipping_address, "1 Old St");
    a.clock.advance(1);
    const after = await read(a, old.id);
    assert.deepEqual(
      [after.shipping_address, after.personal_data_erased],
      [null, true],
    );
    assert.equal((await verifyAuditLog(a.database.db)).broken, undefined);
  }));

Deno.test("an order created between the erasure's check and its write stops the erasure with 409", () =>
  withTestContext(async (ctx) => {
    const old = await cancelledOrder(ctx);
    let competing: Json;
    const eraser = eraserWith(ctx, async (key, entry) => {
      // The worst moment: after every check, right before the write.
      competing ??= await create(ctx, "3 Race St");
      return await ctx.personalDataStore.destroyKey(key, entry);
    });
    await assert.rejects(
      () => eraser.erase(42, { actor: OWNER, requestId: "race" }),
      (error: unknown) =>
        error instanceof DomainError && error.code === "conflict",
    );
    // Nothing destroyed, nothing recorded; the new order is readable.
    assert.equal((await liveKeys(ctx)).length, 1);
    assert.equal((await read(ctx, competing.id)).shipping_address, "3 Race St");
    assert.equal((await read(ctx, old.id)).shipping_address, "1 Old St");
    assert.equal(await userChainLength(ctx), 0);

    // Once that order is done, the erasure goes through.
    await cancel(ctx, competing.id);
    assert.equal(
      await eraser.erase(42, { actor: OWNER, requestId: "again" }),
      "erased",
    );
    assert.equal((await read(ctx, competing.id)).shipping_address, null);
  }));

Deno.test("an erasure whose chain position was taken meanwhile is written at the next one", () =>
  withTestContext(async (ctx) => {
    await cancelledOrder(ctx);
    let attempts = 0;
    const eraser = eraserWith(ctx, async (key, entry) => {
      if (attempts++ === 0) {
        // Another writer appends to the user's chain first.
        const other = sealAuditEntry({
          ...entry,
          action: "account.tokens_revoked",
          changes: {},
          requestId: "other",
        }, {
          chainId: userChainId(42),
          chainSeq: entry.chainSeq,
          prevHash: entry.prevHash,
        }, TEST_AUDIT_SEALER);
        await ctx.database.db.insert(auditLog).values(auditToRow(other));
      }
      return await ctx.personalDataStore.destroyKey(key, entry);
    });
    assert.equal(
      await eraser.erase(42, { actor: OWNER, requestId: "erase" }),
      "erased",
    );
    assert.equal(attempts, 2);
    const chain = await ctx.database.client.execute(
      "SELECT chain_seq, action FROM audit_log WHERE chain_id = 'user:42' ORDER BY chain_seq",
    );
    assert.deepEqual(chain.rows.map((r) => [r.chain_seq, r.action]), [
      [1, "account.tokens_revoked"],
      [2, "user.personal_data_erased"],
    ]);
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
  }));

Deno.test("two erasures at once: one destroys the key, the other changes nothing", () =>
  withTestContext(async (ctx, { owner }) => {
    await cancelledOrder(ctx);
    const responses = await Promise.all(
      [1, 2, 3].map(() =>
        ctx.request("DELETE", "/v1/users/42/personal-data", { token: owner })
      ),
    );
    assert.deepEqual(responses.map((r) => r.status), [204, 204, 204]);
    assert.deepEqual(
      ctx.logs.filter((l) => l.event === "personal_data.erased").map((l) =>
        l.outcome
      ).sort(),
      ["erased", "unchanged", "unchanged"],
    );
    assert.equal(await userChainLength(ctx), 1);
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
  }));
