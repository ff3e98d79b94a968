/**
 * The pure account rules: which tokens an account's state refuses, and
 * what an admin's action changes and records.
 */
import assert from "node:assert/strict";
import {
  accountRefusal,
  type AccountState,
  planAccountAction,
} from "../../domain/account.ts";
import { accountState, ADMIN } from "../fixtures/domain.ts";

Deno.test("accountRefusal: tokens issued at or before the revocation second, or without iat, are revoked", async (t) => {
  const revoked = accountState({ tokensRevokedBefore: 1000 });
  const cases: [
    string,
    AccountState | undefined,
    number | undefined,
    string | undefined,
  ][] = [
    ["no state", undefined, 5, undefined],
    ["nothing set", accountState(), undefined, undefined],
    ["iat before the second", revoked, 999, "tokens_revoked"],
    ["iat in the second", revoked, 1000, "tokens_revoked"],
    ["iat a fraction into the second", revoked, 1000.999, "tokens_revoked"],
    ["iat after the second", revoked, 1001, undefined],
    ["iat a fraction into the next second", revoked, 1001.5, undefined],
    ["no iat", revoked, undefined, "tokens_revoked"],
    ["disabled", accountState({ disabledAt: 1 }), 1001, "disabled"],
    [
      "revoked and disabled: the 401 first",
      accountState({ disabledAt: 1, tokensRevokedBefore: 1000 }),
      1000,
      "tokens_revoked",
    ],
    [
      "a later token of a disabled account",
      accountState({ disabledAt: 1, tokensRevokedBefore: 1000 }),
      1001,
      "disabled",
    ],
  ];
  for (const [name, state, iat, expected] of cases) {
    await t.step(name, () => {
      assert.equal(accountRefusal(state, iat), expected);
    });
  }
});

Deno.test("planAccountAction changes only what differs and records it", () => {
  const context = { userId: 42, actor: ADMIN, requestId: "r1", now: 1_500 };
  assert.deepEqual(planAccountAction(undefined, "enable", context), {
    changed: false,
  });
  const disabled = planAccountAction(undefined, "disable", context);
  assert.ok(disabled.changed);
  assert.deepEqual(
    disabled.account,
    accountState({
      disabledAt: 1_500,
      updatedAt: 1_500,
    }),
  );
  assert.equal(disabled.draft.action, "account.disabled");
  assert.equal(disabled.draft.orderId, null);
  assert.deepEqual(disabled.draft.changes, {
    disabled_at: { from: null, to: "1970-01-01T00:00:01.500Z" },
  });
  assert.deepEqual(
    planAccountAction(disabled.account, "disable", context),
    { changed: false },
  );
  const revoked = planAccountAction(disabled.account, "revoke_tokens", {
    ...context,
    now: 2_999,
  });
  assert.ok(revoked.changed);
  assert.equal(revoked.account.tokensRevokedBefore, 2);
  assert.equal(revoked.account.disabledAt, 1_500);
  assert.equal(revoked.draft.action, "account.tokens_revoked");
  // Within the same second a second revocation changes nothing.
  assert.deepEqual(
    planAccountAction(revoked.account, "revoke_tokens", {
      ...context,
      now: 2_000,
    }),
    { changed: false },
  );
});
