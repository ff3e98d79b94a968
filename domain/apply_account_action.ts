/**
 * Applying an admin action to an account: read the state and its chain
 * head, plan the action, and append it at the next chain position; a lost
 * race for that position re-reads and plans again.
 */
import {
  type AccountAction,
  type AccountState,
  planAccountAction,
} from "./account.ts";
import { nextChainPosition, userChainId } from "./audit.ts";
import { DomainError } from "./errors.ts";
import type { AccountStore, Clock } from "./ports.ts";
import { assertAdmin } from "./policy.ts";
import type { Principal } from "./principal.ts";

/** How many times an action is planned again after losing a race. */
export const MAX_ACCOUNT_ATTEMPTS = 5;

/**
 * Applies `action` to the account of `userId` on behalf of an admin (403
 * for anyone else). Resolves to the new state, or undefined when the
 * action changed nothing.
 */
export async function applyAccountAction(
  deps: { accounts: AccountStore; clock: Clock },
  command: {
    userId: number;
    action: AccountAction;
    principal: Principal;
    requestId: string;
    /** Called right before each write; throws when it may no longer write. */
    beginWrite?: () => void;
  },
): Promise<AccountState | undefined> {
  assertAdmin(command.principal, "change_account");
  for (let attempt = 1; attempt <= MAX_ACCOUNT_ATTEMPTS; attempt++) {
    const snapshot = await deps.accounts.findAccountForChange(command.userId);
    const plan = planAccountAction(snapshot.account, command.action, {
      userId: command.userId,
      actor: command.principal,
      requestId: command.requestId,
      now: deps.clock.now(),
    });
    if (!plan.changed) return undefined;
    const entry = {
      ...plan.draft,
      ...nextChainPosition(userChainId(command.userId), {
        seq: snapshot.lastAuditSeq,
        hash: snapshot.lastAuditHash,
      }),
    };
    command.beginWrite?.();
    if (await deps.accounts.writeAccount(plan.account, entry)) {
      return plan.account;
    }
  }
  throw new DomainError("conflict", accountKeptChangingMessage(command.userId));
}

/** Why an account action that lost every race is refused (409). */
export function accountKeptChangingMessage(userId: number): string {
  return `Cannot change the account of user ${userId}: it kept changing while this request ran; retry it`;
}
