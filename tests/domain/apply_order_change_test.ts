/**
 * Optimistic concurrency of order changes, made deterministic: a real
 * competing change is written through the real store at the worst moment,
 * between reading the order and writing the change.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { type Database } from "../../db/client.ts";

import { createOrderStore } from "../../db/order_store.ts";
import {
  applyOrderChange,
  MAX_CHANGE_ATTEMPTS,
} from "../../domain/apply_order_change.ts";
import {
  type AuditDraft,
  GENESIS_HASH,
  orderChainId,
  orderCreatedEntry,
} from "../../domain/audit.ts";
import { DomainError } from "../../domain/errors.ts";
import { newOrder, type Order } from "../../domain/order.ts";
import type { OrderChange } from "../../domain/order_change.ts";
import type { OrderStore } from "../../domain/ports.ts";
import type { Principal } from "../../domain/principal.ts";
import { ADMIN, FULFILLMENT, OWNER } from "../fixtures/domain.ts";
import {
  TEST_AUDIT_SEALER,
  testClock,
  withMigratedDatabase,
} from "../fixtures/mod.ts";

interface Fixture {
  database: Database;
  store: OrderStore;
  clock: ReturnType<typeof testClock>;
  /** Applies a change through the real store, with no interference. */
  change(
    order: Order,
    principal: Principal,
    change: OrderChange,
  ): Promise<Order>;
}

function fixture(database: Database): Fixture {
  const store = createOrderStore(database.db, {
    auditSealer: TEST_AUDIT_SEALER,
  });
  const clock = testClock();
  let requests = 0;
  return {
    database,
    store,
    clock,
    change: (order, principal, change) =>
      applyOrderChange({ store, clock }, {
        orderId: order.id,
        principal,
        requestId: `competitor-${++requests}`,
        readChange: () => change,
      }),
  };
}

async function createOrder(f: Fixture): Promise<Order> {
  const order = newOrder({
    items: [{
      productId: "sku-1",
      productName: "Mug",
      quantity: 1,
      unitPrice: 10_000n,
    }],
    shippingAddress: "1 Main St",
    userId: OWNER.userId,
    currency: "USD",
  }, { id: crypto.randomUUID(), userId: OWNER.userId, now: f.clock.now() });
  await f.store.insertOrder(order, orderCreatedEntry(order, OWNER, "create"));
  return order;
}

/**
 * The real store, except that before each write `interfere` may run (and
 * commit) a competing change.
 */
function interleaved(
  store: OrderStore,
  interfere: (attempt: number) => Promise<void>,
): OrderStore & { writes(): number } {
  let writes = 0;
  return {
    ...store,
    async updateOrder(order, entry, prevHash) {
      writes++;
      await interfere(writes);
      return await store.updateOrder(order, entry, prevHash);
    },
    writes: () => writes,
  };
}

async function assertChainHolds(f: Fixture): Promise<void> {
  const verification = await verifyAuditLog(f.database.db);
  assert.equal(verification.broken, undefined);
}

/** Runs `fn` on a fixture over a fresh database. */
function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  return withMigratedDatabase((database) => fn(fixture(database)));
}

/** The owner's change of an order through `store`, as request `owner-1`. */
function changeAsOwner(
  f: Fixture,
  store: OrderStore,
  request: {
    order: Order;
    change: OrderChange;
    requestId?: string;
    expectedVersions?: number[];
  },
): Promise<Order> {
  const { order, change, requestId = "owner-1", expectedVersions } = request;
  return applyOrderChange({ store, clock: f.clock }, {
    orderId: order.id,
    principal: OWNER,
    requestId,
    ...(expectedVersions && { expectedVersions }),
    readChange: () => change,
  });
}

/**
 * The owner's change of `order` (`mine`), whose first write loses to
 * `competitor`'s change (`theirs`), committed just before it.
 */
function ownerLosesFirstWrite(
  f: Fixture,
  order: Order,
  race: { competitor: Principal; theirs: OrderChange; mine: OrderChange },
): { store: { writes(): number }; result: Promise<Order> } {
  const store = interleaved(f.store, async (attempt) => {
    if (attempt === 1) await f.change(order, race.competitor, race.theirs);
  });
  return {
    store,
    result: changeAsOwner(f, store, { order, change: race.mine }),
  };
}

/** Whether `error` is a domain error with `code` (and a matching message). */
function domainError(code: string, message = /./) {
  return (error: unknown) =>
    error instanceof DomainError && error.code === code &&
    message.test(error.message);
}

/** The owner's `order.updated` entry, for writing through the store by hand. */
function ownerUpdate(
  f: Fixture,
  entry: {
    orderId: string;
    requestId: string;
    changes?: AuditDraft["changes"];
  },
) {
  return {
    action: "order.updated" as const,
    actorUserId: OWNER.userId,
    actorRoles: OWNER.roles,
    at: f.clock.now(),
    changes: {},
    ...entry,
  };
}

Deno.test("a change that loses a race is planned again and lands on the newer version", () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    const { store, result: changed } = ownerLosesFirstWrite(f, order, {
      competitor: FULFILLMENT,
      theirs: { status: "processing" },
      mine: { shippingAddress: "2 Side St" },
    });
    const result = await changed;
    assert.equal(store.writes(), 2);
    assert.equal(result.version, 3);
    assert.equal(result.status, "processing");
    assert.equal(result.shippingAddress, "2 Side St");
    assert.deepEqual(await f.store.findOrder(order.id), result);
    const history = await f.store.listOrderHistory(order.id);
    assert.deepEqual(history.map((e) => [e.chainSeq, e.requestId]), [
      [1, "create"],
      [2, "competitor-1"],
      [3, "owner-1"],
    ]);
    await assertChainHolds(f);
  }));

Deno.test("a change that loses a race is checked again: an address change loses to a shipment with 400", () =>
  withFixture(async (f) => {
    const order = await f.change(await createOrder(f), ADMIN, {
      status: "processing",
    });
    await assert.rejects(
      ownerLosesFirstWrite(f, order, {
        competitor: FULFILLMENT,
        theirs: { status: "shipped" },
        mine: { shippingAddress: "2 Side St" },
      }).result,
      domainError("bad_request", /order is shipped/),
    );
    const stored = await f.store.findOrder(order.id);
    assert.equal(stored?.status, "shipped");
    assert.equal(stored?.shippingAddress, "1 Main St");
    assert.equal(stored?.version, 3);
    assert.equal((await f.store.listOrderHistory(order.id)).length, 3);
    await assertChainHolds(f);
  }));

Deno.test("a cancellation that loses to the same cancellation is refused, not applied twice", () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    await assert.rejects(
      ownerLosesFirstWrite(f, order, {
        competitor: ADMIN,
        theirs: { status: "cancelled" },
        mine: { status: "cancelled", reason: "mine" },
      }).result,
      domainError("bad_request"),
    );
    const history = await f.store.listOrderHistory(order.id);
    assert.deepEqual(history.map((e) => e.action), [
      "order.created",
      "order.cancelled",
    ]);
  }));

Deno.test("with If-Match a change that loses a race is refused with 412 and writes nothing", () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    const store = interleaved(f.store, async () => {
      await f.change(order, FULFILLMENT, { status: "processing" });
    });
    await assert.rejects(
      changeAsOwner(f, store, {
        order,
        change: { shippingAddress: "2 Side St" },
        expectedVersions: [1],
      }),
      domainError("version_mismatch"),
    );
    assert.equal(store.writes(), 1);
    const stored = await f.store.findOrder(order.id);
    assert.equal(stored?.version, 2);
    assert.equal(stored?.shippingAddress, "1 Main St");
  }));

Deno.test(`a change that loses ${MAX_CHANGE_ATTEMPTS} races in a row gives up with 409 and writes nothing`, () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    const store = interleaved(f.store, async (attempt) => {
      await f.change(order, ADMIN, { shippingAddress: `Admin St ${attempt}` });
    });
    await assert.rejects(
      changeAsOwner(f, store, {
        order,
        change: { shippingAddress: "2 Side St" },
      }),
      domainError("conflict"),
    );
    assert.equal(store.writes(), MAX_CHANGE_ATTEMPTS);
    const history = await f.store.listOrderHistory(order.id);
    assert.equal(history.length, 1 + MAX_CHANGE_ATTEMPTS);
    assert.ok(history.every((e) => e.requestId !== "owner-1"));
    await assertChainHolds(f);
  }));

Deno.test("updateOrder writes neither the order nor its audit entry when the version has moved", () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    const moved = await f.change(order, OWNER, { shippingAddress: "2 Side" });
    // Planned as if the order were at version 3; it is at 2.
    const stale = { ...order, shippingAddress: "3 Stale St", version: 4 };
    const entry = ownerUpdate(f, { orderId: order.id, requestId: "stale" });
    // Chain position 4 is free, so only the guard on the update can stop it.
    assert.equal(
      await f.store.updateOrder(stale, entry, GENESIS_HASH),
      false,
    );
    assert.deepEqual(await f.store.findOrder(order.id), moved);
    assert.equal((await f.store.listOrderHistory(order.id)).length, 2);
  }));

Deno.test("updateOrder is atomic: a taken chain position rolls the order update back", () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    const [created] = await f.store.listOrderHistory(order.id);
    assert.ok(created);
    // A stray entry at position 2, written behind the service's back.
    await f.database.db.run(
      sql`INSERT INTO audit_log (chain_id, chain_seq, order_id, action, actor_user_id, actor_roles, request_id, at, changes, prev_hash, hash, seal, key_id)
          VALUES (${
        orderChainId(order.id)
      }, 2, ${order.id}, 'order.updated', 1, '["user"]', 'stray', 0, '{}', ${created.hash}, 'x', 'hmac-sha256', 'k')`,
    );
    const next = { ...order, shippingAddress: "2 Side St", version: 2 };
    const entry = ownerUpdate(f, {
      orderId: order.id,
      requestId: "owner-1",
      changes: { shipping_address: { from: "1 Main St", to: "2 Side St" } },
    });
    assert.equal(await f.store.updateOrder(next, entry, created.hash), false);
    assert.deepEqual(await f.store.findOrder(order.id), order);
  }));

Deno.test("a chain head read after another process's change is a lost race, retried; a chain behind its order is an error", () =>
  withFixture(async (f) => {
    const order = await createOrder(f);
    // The first read sees the order at version 1 but the chain at 2, as
    // when another process commits between the two reads of one snapshot.
    let reads = 0;
    const racing: OrderStore = {
      ...f.store,
      async findOrderForChange(id) {
        const snapshot = await f.store.findOrderForChange(id);
        if (reads++ > 0 || !snapshot) return snapshot;
        await f.change(order, ADMIN, { shippingAddress: "Admin St" });
        const head = await f.store.findOrderForChange(id);
        return { ...head!, order: snapshot.order };
      },
    };
    const changed = await changeAsOwner(f, racing, {
      order,
      change: { shippingAddress: "2 Side St" },
    });
    assert.equal(changed.version, 3);
    assert.equal(reads, 2);
    await assertChainHolds(f);

    const behind: OrderStore = {
      ...f.store,
      async findOrderForChange(id) {
        const snapshot = await f.store.findOrderForChange(id);
        return snapshot && { ...snapshot, lastAuditSeq: 1 };
      },
    };
    await assert.rejects(
      changeAsOwner(f, behind, {
        order,
        change: { shippingAddress: "3 Side St" },
        requestId: "owner-2",
      }),
      /Audit chain of order ".*" is out of step: version 3, last entry 1/,
    );
  }));
