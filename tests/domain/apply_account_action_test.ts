/**
 * Applying an admin's action to an account when another one races it, on
 * the real account store.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { applyAccountAction } from "../../domain/apply_account_action.ts";
import type { AccountStore } from "../../domain/ports.ts";
import { ADMIN } from "../fixtures/domain.ts";
import {
  createTestContext,
  soundAuditLog,
  TEST_AUDIT_KEYS,
} from "../fixtures/mod.ts";

Deno.test("applyAccountAction plans again after losing the chain position to another action", async () => {
  const ctx = await createTestContext();
  try {
    let interfered = false;
    const racing: AccountStore = {
      ...ctx.accounts,
      async writeAccount(state, entry) {
        if (!interfered) {
          interfered = true;
          // Another admin disables the account first.
          await applyAccountAction(
            { accounts: ctx.accounts, clock: ctx.clock },
            {
              userId: 42,
              action: "disable",
              principal: { userId: 10, roles: ["admin", "user"] },
              requestId: "other",
            },
          );
        }
        return await ctx.accounts.writeAccount(state, entry);
      },
    };
    const result = await applyAccountAction(
      { accounts: racing, clock: ctx.clock },
      { userId: 42, action: "revoke_tokens", principal: ADMIN, requestId: "r" },
    );
    assert.ok(result);
    assert.notEqual(result.disabledAt, null, "kept the other admin's change");
    assert.equal(
      result.tokensRevokedBefore,
      Math.floor(ctx.clock.now() / 1000),
    );
    const verified = await verifyAuditLog(ctx.database.db, {
      keys: TEST_AUDIT_KEYS,
    });
    assert.deepEqual(verified, soundAuditLog({ chains: 1, entries: 2 }));

    await assert.rejects(
      applyAccountAction({ accounts: ctx.accounts, clock: ctx.clock }, {
        userId: 42,
        action: "enable",
        principal: { userId: 8, roles: ["fulfillment", "user"] },
        requestId: "r",
      }),
      /Only an admin/,
    );
  } finally {
    ctx.close();
  }
});
