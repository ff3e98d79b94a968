/**
 * The account-state check, right after authentication and before the rate
 * limits: a token revoked by an admin is a 401 (which does not count as a
 * failed authentication for the per-address limit: the token is genuine,
 * only no longer honoured), and a disabled account is a 403
 * `account-disabled`. The state comes from a per-instance cache with
 * bounded staleness, not from the database on every request; a read the
 * cache needs overlaps the rate limits' round trip (issue 24).
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AccountStateCache } from "../../auth/account_state_cache.ts";
import { accountRefusal, type AccountState } from "../../domain/account.ts";
import { errorFields } from "../../error_fields.ts";
import type { Logger } from "../../logger.ts";
import { unauthenticated } from "./authenticate.ts";
import type { AppEnv } from "../env.ts";
import { HttpProblem, TEMPORARILY_UNAVAILABLE } from "../http/problem.ts";
import { securityEvent } from "../../monitoring/security_events.ts";
import { logRequestIds } from "./request_id.ts";

/** Why every request of a disabled account is refused (403). */
export const ACCOUNT_DISABLED = "This account is disabled: contact support";

/**
 * The account-state middleware. A fresh cache entry is judged at once; on
 * a miss the read starts and the request goes on without waiting for it:
 * `userRateLimits` judges it first, with the limits' verdict (they travel
 * together, one round trip), so every step that waits for `admitted(c)`
 * waits for it too, and a refused request is answered with its 401/403 and
 * decides or writes nothing. Should a route not wait for it, the request's
 * answer is still replaced by the refusal here.
 */
export function accountState(
  cache: AccountStateCache,
  logger: Logger,
): MiddlewareHandler<AppEnv> {
  function judge(c: Context<AppEnv>, account: AccountState | undefined): void {
    switch (accountRefusal(account, c.get("tokenIssuedAt"))) {
      case "tokens_revoked":
        securityEvent(c, "auth.failed", { reason: "token revoked" });
        throw unauthenticated(true);
      case "disabled":
        throw new HttpProblem("account_disabled", ACCOUNT_DISABLED);
      case undefined:
        return;
    }
  }

  return async function accountState(c, next) {
    const principal = c.get("principal");
    const known = cache.cached(principal.userId);
    if (known !== undefined) {
      judge(c, known.state);
      await next();
      return;
    }
    const verdict = cache.get(principal.userId).then(
      (account) => judge(c, account),
      (error) => {
        // Without the state the request cannot be judged: refuse it, and
        // say nothing about why beyond the log.
        logger.log("error", "account.lookup_failed", {
          ...logRequestIds(c),
          user_id: principal.userId,
          ...errorFields(error),
        });
        throw new HttpProblem(
          "unavailable",
          TEMPORARILY_UNAVAILABLE,
          { "Retry-After": "1" },
        );
      },
    );
    verdict.catch(() => {}); // judged by `userRateLimits`, or below
    const pending = { verdict, judged: false };
    c.set("accountVerdict", pending);
    await next();
    if (!pending.judged) await verdict;
  };
}
