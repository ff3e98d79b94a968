/**
 * The webhook store on a real database: what only the store decides (a
 * change decided on a stale read, the secrets across a master key
 * rotation, leases that run out or are lost, the lease migration).
 */
import assert from "node:assert/strict";
import {
  createWebhookStore,
  resealWebhookSecrets,
} from "../../db/webhook_store.ts";
import type {
  AttemptRecord,
  ClaimedDelivery,
  DeliveryQueue,
} from "../../domain/ports.ts";
import { createNativeClient } from "../../db/native_client.ts";
import { importMasterKeys } from "../../pii/cipher.ts";
import {
  callers,
  createTestContext,
  TEST_AUDIT_SEALER,
  TEST_PII_KEY,
  type TestContext,
} from "../fixtures/mod.ts";

const OTHER_KEY = btoa("webhook-store-test-master-key-B!");

/** A context that may register http://127.0.0.1 receivers. */
function webhookContext(): Promise<TestContext> {
  return createTestContext({
    webhookSettings: { allowHosts: new Set(["127.0.0.1"]), maxEndpoints: 20 },
  });
}

/** The admin caller and the endpoint it registered (the API's answer). */
async function withEndpoint(ctx: TestContext) {
  const { admin } = await callers(ctx);
  const created = await ctx.call("POST", "/v1/webhook-endpoints", admin, {
    url: "http://127.0.0.1:9/hooks",
  });
  return { admin, created };
}

Deno.test("a change decided before the dispatcher disabled the endpoint is refused, not applied over it", async () => {
  const ctx = await webhookContext();
  try {
    const { created } = await withEndpoint(ctx);
    const read = (await ctx.webhooks.findEndpoint(created.body.id))!;
    // The dispatcher disables it (a 410) after the admin's read.
    await ctx.database.client.execute({
      sql:
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'gone' WHERE id = ?",
      args: [read.id],
    });
    const after = {
      ...read,
      description: "stale",
      version: read.version + 1,
      updatedAt: ctx.clock.now(),
    };
    const written = await ctx.webhooks.updateEndpoint(read, after, {
      orderId: null,
      action: "webhook_endpoint.updated",
      actorUserId: 1,
      actorRoles: ["admin"],
      requestId: "stale-read",
      at: ctx.clock.now(),
      changes: {},
    });
    assert.equal(written, false);
    const now = (await ctx.webhooks.findEndpoint(read.id))!;
    assert.equal(now.enabled, false);
    assert.equal(now.description, null);
  } finally {
    ctx.close();
  }
});

Deno.test("resealWebhookSecrets moves every secret to the current master key, and the old key is then not needed", async () => {
  const ctx = await webhookContext();
  try {
    const { admin, created } = await withEndpoint(ctx);
    const rotated = await ctx.call(
      "POST",
      `/v1/webhook-endpoints/${created.body.id}/rotate-secret`,
      admin,
    );
    const rotation = await importMasterKeys({
      current: OTHER_KEY,
      previous: TEST_PII_KEY,
    });
    assert.deepEqual(
      await resealWebhookSecrets(ctx.database.db, rotation),
      { resealed: 2, unreadable: 0 },
    );
    assert.deepEqual(
      await resealWebhookSecrets(ctx.database.db, rotation),
      { resealed: 0, unreadable: 0 },
      "a second run has nothing to do",
    );
    const onlyNew = createWebhookStore(ctx.database.db, {
      masters: await importMasterKeys({ current: OTHER_KEY }),
      auditSealer: TEST_AUDIT_SEALER,
    });
    const now = ctx.clock.now();
    const { targets } = await onlyNew.claimDue({
      endpointIds: [],
      now,
      leaseUntil: now,
      concurrency: 1,
      limit: 1,
    });
    assert.deepEqual(targets.get(created.body.id)?.secrets, [
      rotated.body.secret,
      created.body.secret,
    ]);
  } finally {
    ctx.close();
  }
});

/** A claim for one endpoint at `now`: one slot, leased for `leaseMs`. */
function claimAt(endpointId: string, now: number, leaseMs = 1000) {
  return {
    endpointIds: [endpointId],
    now,
    leaseUntil: now + leaseMs,
    concurrency: 1,
    limit: 10,
  };
}

/** A successful attempt of `delivery`, recorded at `now`. */
function succeeded(delivery: ClaimedDelivery, now: number): AttemptRecord {
  return {
    delivery,
    at: now,
    durationMs: 1,
    outcome: "succeeded",
    responseStatus: 204,
    fate: { kind: "succeeded" },
    gone: false,
    disableAfter: 10,
    now,
  };
}

/** The event ids `queue` leases for `endpointId` at `now` (one slot). */
async function leasedIds(
  queue: DeliveryQueue,
  endpointId: string,
  now: number,
): Promise<{ ids: string[]; deliveries: readonly ClaimedDelivery[] }> {
  const { deliveries } = await queue.claimDue(claimAt(endpointId, now));
  return { ids: deliveries.map((d) => d.eventId), deliveries };
}

Deno.test("a lease holds its slot until it runs out, is then claimed again before other due work, and a record that lost it changes nothing", async () => {
  const ctx = await webhookContext();
  try {
    const { created } = await withEndpoint(ctx);
    const endpointId: string = created.body.id;
    const t0 = ctx.clock.now();
    const payload = (id: string) => ({
      id,
      type: "order.created" as const,
      timestamp: new Date(t0).toISOString(),
      data: {},
    });
    await ctx.webhooks.enqueueDeliveries([
      { endpointId, payload: payload("evt_a1"), orderId: "order-a" },
      { endpointId, payload: payload("evt_b1"), orderId: "order-b" },
      { endpointId, payload: payload("evt_a2"), orderId: "order-a" },
    ], t0);
    const queue = ctx.webhooks;

    const first = await leasedIds(queue, endpointId, t0);
    assert.deepEqual(first.ids, ["evt_a1"], "one slot: the earliest due");
    assert.deepEqual(
      (await leasedIds(queue, endpointId, t0 + 999)).ids,
      [],
      "the live lease holds the one slot",
    );

    // The first holder died mid-attempt: its lease runs out at t0 + 1000.
    const second = await leasedIds(queue, endpointId, t0 + 1000);
    assert.deepEqual(second.ids, ["evt_a1"], "the run-out lease goes first");

    const late = await queue.recordAttempts([
      succeeded(first.deliveries[0]!, t0 + 1001),
    ]);
    assert.deepEqual(late.recorded.map((r) => r.recorded), [false]);
    assert.deepEqual(
      (await leasedIds(queue, endpointId, t0 + 1001)).ids,
      [],
      "the second holder's lease still holds the slot and the order",
    );

    const done = await queue.recordAttempts([
      succeeded(second.deliveries[0]!, t0 + 1002),
    ], claimAt(endpointId, t0 + 1002));
    assert.deepEqual(done.recorded.map((r) => r.recorded), [true]);
    assert.deepEqual(
      done.claimed?.deliveries.map((d) => d.eventId),
      ["evt_b1"],
      "the freed slot goes to the earliest due ready delivery",
    );
    const last = await queue.recordAttempts([
      succeeded(done.claimed!.deliveries[0]!, t0 + 1003),
    ], claimAt(endpointId, t0 + 1003));
    assert.deepEqual(
      last.claimed?.deliveries.map((d) => d.eventId),
      ["evt_a2"],
      "order a's next event went once its first was done",
    );
  } finally {
    ctx.close();
  }
});

const MIGRATIONS = new URL("../../db/migrations/", import.meta.url);

/** Runs the shipped migration `tag` on `client`, statement by statement. */
async function applyMigration(
  client: ReturnType<typeof createNativeClient>,
  tag: string,
): Promise<void> {
  const sql = await Deno.readTextFile(new URL(`${tag}.sql`, MIGRATIONS));
  await client.migrate(
    sql.split("--> statement-breakpoint").filter((s) => s.trim() !== ""),
  );
}

Deno.test("migration 0009 keeps every lease held at the upgrade, live or run out, and leaves the rest as it was", async () => {
  const journal = JSON.parse(
    await Deno.readTextFile(new URL("meta/_journal.json", MIGRATIONS)),
  ) as { entries: { idx: number; tag: string }[] };
  const client = createNativeClient(":memory:", []);
  try {
    for (const { tag } of journal.entries.filter((e) => e.idx < 9)) {
      await applyMigration(client, tag);
    }
    // seq, ready, next_at, lease_until, lease_token
    const before: [number, number, number, number, string | null][] = [
      [1, 1, 100, 5_000, "live"],
      [2, 1, 100, 200, "run-out"],
      [3, 1, 300, 0, null],
      [4, 0, 400, 0, null],
    ];
    for (const [seq, ready, nextAt, leaseUntil, token] of before) {
      await client.execute({
        sql: `INSERT INTO webhook_deliveries (seq, endpoint_id, event_id,
          event_type, order_id, payload, ready, attempts, next_at,
          lease_until, lease_token, created_at)
          VALUES (?, 'e', ?, 'order.created', 'o', '{}', ?, 0, ?, ?, ?, 0)`,
        args: [seq, `evt_${seq}`, ready, nextAt, leaseUntil, token],
      });
    }

    await applyMigration(client, "0009_webhook_leases");

    const { rows } = await client.execute(
      "SELECT seq, ready, next_at, lease_token FROM webhook_deliveries ORDER BY seq",
    );
    assert.deepEqual(
      rows.map((r) => [r.seq, r.ready, r.next_at, r.lease_token]),
      [
        [1, 2, 5_000, "live"],
        [2, 2, 200, "run-out"],
        [3, 1, 300, null],
        [4, 0, 400, null],
      ],
    );
  } finally {
    client.close();
  }
});
