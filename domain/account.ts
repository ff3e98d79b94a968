/**
 * Account state: whether a user is disabled, and before when their tokens
 * are revoked. Pure rules for checking a request against it and for the
 * admin actions that change it.
 */
import {
  accountChangedEntry,
  type AuditAction,
  type AuditDraft,
} from "./audit.ts";
import type { Principal } from "./principal.ts";

/** What the service knows about a user beyond their token. */
export interface AccountState {
  readonly userId: number;
  /** When an admin disabled the account (ms since the epoch); null when enabled. */
  readonly disabledAt: number | null;
  /**
   * Tokens issued at or before this second (epoch seconds) are refused;
   * null when no revocation happened.
   */
  readonly tokensRevokedBefore: number | null;
  /** Milliseconds since the epoch. */
  readonly updatedAt: number;
}

/** Why an authenticated request is refused because of its account. */
export type AccountRefusal = "tokens_revoked" | "disabled";

/**
 * Whether the account refuses a request made with a token issued at
 * `issuedAt` (epoch seconds; undefined when the token has no `iat`). A
 * revoked token is refused before a disabled account is, since it is an
 * authentication failure (401) and that comes before the account state
 * (403). A token without `iat` cannot show it came later: a revocation
 * refuses it. Revocations are whole seconds, so `iat` is compared by its
 * second: a fractional `iat` within the revocation's second is refused too.
 */
export function accountRefusal(
  account: AccountState | undefined,
  issuedAt: number | undefined,
): AccountRefusal | undefined {
  if (account === undefined) return undefined;
  const revokedBefore = account.tokensRevokedBefore;
  if (
    revokedBefore !== null &&
    (issuedAt === undefined || Math.floor(issuedAt) <= revokedBefore)
  ) {
    return "tokens_revoked";
  }
  return account.disabledAt !== null ? "disabled" : undefined;
}

/** An admin action on an account. */
export type AccountAction = "disable" | "enable" | "revoke_tokens";

/** The audit action each account action records. */
export const ACCOUNT_AUDIT_ACTIONS: Readonly<
  Record<AccountAction, AuditAction>
> = {
  disable: "account.disabled",
  enable: "account.enabled",
  revoke_tokens: "account.tokens_revoked",
};

/** The outcome of planning: nothing to do, or the new state and its entry. */
export type AccountChangePlan =
  | { readonly changed: false }
  | {
    readonly changed: true;
    readonly account: AccountState;
    readonly draft: AuditDraft;
  };

/**
 * Plans an admin action against the account as it is now (undefined: never
 * acted on). Disabling a disabled account, enabling an enabled one, or
 * revoking again within the second of the last revocation changes nothing.
 * A revocation refuses every token issued at or before the current second.
 */
export function planAccountAction(
  current: AccountState | undefined,
  action: AccountAction,
  context: {
    userId: number;
    actor: Principal;
    requestId: string;
    now: number;
  },
): AccountChangePlan {
  const before: AccountState = current ?? {
    userId: context.userId,
    disabledAt: null,
    tokensRevokedBefore: null,
    updatedAt: context.now,
  };
  let after: AccountState;
  switch (action) {
    case "disable":
      if (before.disabledAt !== null) return { changed: false };
      after = { ...before, disabledAt: context.now };
      break;
    case "enable":
      if (before.disabledAt === null) return { changed: false };
      after = { ...before, disabledAt: null };
      break;
    case "revoke_tokens": {
      const second = Math.floor(context.now / 1000);
      if (
        before.tokensRevokedBefore !== null &&
        before.tokensRevokedBefore >= second
      ) {
        return { changed: false };
      }
      after = { ...before, tokensRevokedBefore: second };
      break;
    }
  }
  after = { ...after, updatedAt: context.now };
  return {
    changed: true,
    account: after,
    draft: accountChangedEntry(before, after, {
      action: ACCOUNT_AUDIT_ACTIONS[action],
      actor: context.actor,
      requestId: context.requestId,
      at: context.now,
    }),
  };
}
