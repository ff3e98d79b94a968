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
import type { Principal } from "../../domain/principal.ts";
import {
  createPersonalDataEraser,
  type ErasureStore,
} from "../../pii/erasure.ts";
import { KEY_CACHE_TTL_MS } from "../../pii/keyring.ts";
import {
  createTestContext,
  orderBody,
  type TestContext,
} from "../fixtures/mod.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const OWNER: Principal = { userId: 42, roles: ["user"] };

async function create(ctx: TestContext, address: string): Promise<Json> {
  const response = await ctx.request("POST", "/v1/orders", {
    token: await ctx.token(42),
    body: orderBody({ shipping_address: address }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return await response.json();
}

async function read(ctx: TestContext, id: string): Promise<Json> {
  const response = await ctx.request("GET", `/v1/orders/${id}`, {
    token: await ctx.token(42),
  });
  assert.equal(response.status, 200);
  return await response.json();
}

async function cancel(ctx: TestContext, id: string): Promise<void> {
  const response = await ctx.request("POST", `/v1/orders/${id}/cancel`, {
    token: await ctx.token(42),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

async function liveKeys(ctx: TestContext): Promise<unknown[]> {
  const result = await ctx.database.client.execute(
    "SELECT key_id FROM user_keys WHERE user_id = 42 AND destroyed_at IS NULL",
  );
  return result.rows.map((row) => row.key_id);
}

Deno.test("an order written under a key another instance just destroyed is written again under a new key", async () => {
  const dir = await Deno.makeTempDir();
  // Two instances of the service over one database, each with its own cache.
  const a = await createTestContext({ url: `file:${dir}/orders.db` });
  const b = await createTestContext({ url: `file:${dir}/orders.db` });
  try {
    const old = await create(a, "1 Old St");
    await cancel(a, old.id);
    const [destroyed] = await liveKeys(a);
    const erased = await b.request("DELETE", "/v1/users/42/personal-data", {
      token: await b.token(42),
    });
    assert.equal(erased.status, 204);
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
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("another instance stops showing an erased address within KEY_CACHE_TTL_MS", async () => {
  const dir = await Deno.makeTempDir();
  const a = await createTestContext({ url: `file:${dir}/orders.db` });
  const b = await createTestContext({ url: `file:${dir}/orders.db` });
  try {
    const old = await create(a, "1 Old St");
    await cancel(a, old.id);
    const erased = await b.request("DELETE", "/v1/users/42/personal-data", {
      token: await b.token(42),
    });
    assert.equal(erased.status, 204);
    a.clock.advance(KEY_CACHE_TTL_MS - 1);
    assert.equal((await read(a, old.id)).shipping_address, "1 Old St");
    a.clock.advance(1);
    const after = await read(a, old.id);
    assert.deepEqual(
      [after.shipping_address, after.personal_data_erased],
      [null, true],
    );
    assert.equal((await verifyAuditLog(a.database.db)).broken, undefined);
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an order created between the erasure's check and its write stops the erasure with 409", async () => {
  const ctx = await createTestContext();
  try {
    const old = await create(ctx, "1 Old St");
    await cancel(ctx, old.id);
    let competing: Json;
    const store: ErasureStore = {
      ...ctx.personalDataStore,
      async destroyKey(key, entry) {
        // The worst moment: after every check, right before the write.
        competing ??= await create(ctx, "3 Race St");
        return await ctx.personalDataStore.destroyKey(key, entry);
      },
    };
    const eraser = createPersonalDataEraser({
      store,
      keyring: ctx.keyring,
      clock: ctx.clock,
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
    const events = await ctx.database.client.execute(
      "SELECT count(*) AS n FROM audit_log WHERE chain_id = 'user:42'",
    );
    assert.equal(events.rows[0]?.n, 0);

    // Once that order is done, the erasure goes through.
    await cancel(ctx, competing.id);
    assert.equal(
      await eraser.erase(42, { actor: OWNER, requestId: "again" }),
      "erased",
    );
    assert.equal((await read(ctx, competing.id)).shipping_address, null);
  } finally {
    ctx.close();
  }
});

Deno.test("an erasure whose chain position was taken meanwhile is written at the next one", async () => {
  const ctx = await createTestContext();
  try {
    const old = await create(ctx, "1 Old St");
    await cancel(ctx, old.id);
    let attempts = 0;
    const store: ErasureStore = {
      ...ctx.personalDataStore,
      async destroyKey(key, entry) {
        if (attempts++ === 0) {
          // Another writer appends to the user's chain first.
          const other = await sealAuditEntry({
            ...entry,
            action: "account.tokens_revoked",
            changes: {},
            requestId: "other",
          }, {
            chainId: userChainId(42),
            chainSeq: entry.chainSeq,
            prevHash: entry.prevHash,
          });
          await ctx.database.db.insert(auditLog).values(auditToRow(other));
        }
        return await ctx.personalDataStore.destroyKey(key, entry);
      },
    };
    const eraser = createPersonalDataEraser({
      store,
      keyring: ctx.keyring,
      clock: ctx.clock,
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
  } finally {
    ctx.close();
  }
});

Deno.test("two erasures at once: one destroys the key, the other changes nothing", async () => {
  const ctx = await createTestContext();
  try {
    const old = await create(ctx, "1 Old St");
    await cancel(ctx, old.id);
    const token = await ctx.token(42);
    const responses = await Promise.all(
      [1, 2, 3].map(() =>
        ctx.request("DELETE", "/v1/users/42/personal-data", { token })
      ),
    );
    assert.deepEqual(responses.map((r) => r.status), [204, 204, 204]);
    assert.deepEqual(
      ctx.logs.filter((l) => l.event === "personal_data.erased").map((l) =>
        l.outcome
      ).sort(),
      ["erased", "unchanged", "unchanged"],
    );
    const events = await ctx.database.client.execute(
      "SELECT count(*) AS n FROM audit_log WHERE chain_id = 'user:42'",
    );
    assert.equal(events.rows[0]?.n, 1);
    assert.equal((await verifyAuditLog(ctx.database.db)).broken, undefined);
  } finally {
    ctx.close();
  }
});
