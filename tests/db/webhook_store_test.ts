/**
 * The webhook store on a real database: what only the store decides (a
 * change decided on a stale read, the secrets across a master key
 * rotation).
 */
import assert from "node:assert/strict";
import {
  createWebhookStore,
  resealWebhookSecrets,
} from "../../db/webhook_store.ts";
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

Deno.test("a change decided before the dispatcher disabled the endpoint is refused, not applied over it", async () => {
  const ctx = await webhookContext();
  try {
    const { admin } = await callers(ctx);
    const created = await ctx.call("POST", "/v1/webhook-endpoints", admin, {
      url: "http://127.0.0.1:9/hooks",
    });
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
    const { admin } = await callers(ctx);
    const created = await ctx.call("POST", "/v1/webhook-endpoints", admin, {
      url: "http://127.0.0.1:9/hooks",
    });
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
