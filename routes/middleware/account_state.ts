/**
 * The account-state check, right after authentication and before the rate
 * limits: a token revoked by an admin is a 401 (which does not count as a
 * failed authentication for the per-address limit: the token is genuine,
 * only no longer honoured), and a disabled account is a 403
 * `account-disabled`. The state comes from a per-instance cache with
 * bounded staleness, not from the database on every request.
 */
import type { MiddlewareHandler } from "hono";
import type { AccountStateCache } from "../../auth/account_state_cache.ts";
import { accountRefusal } from "../../domain/account.ts";
import { errorFields } from "../../error_fields.ts";
import type { Logger } from "../../logger.ts";
import { unauthenticated } from "./authenticate.ts";
import type { AppEnv } from "../env.ts";
import { HttpProblem, TEMPORARILY_UNAVAILABLE } from "../http/problem.ts";
import { securityEvent } from "../../monitoring/security_events.ts";
import { logRequestIds } from "./request_id.ts";

/** Why every request of a disabled account is refused (403). */
export const ACCOUNT_DISABLED = "This account is disabled: contact support";

/** The account-state middleware. */
export function accountState(
  cache: AccountStateCache,
  logger: Logger,
): MiddlewareHandler<AppEnv> {
  return async function accountState(c, next) {
    const principal = c.get("principal");
    let account;
    try {
      account = await cache.get(principal.userId);
    } catch (error) {
      // Without the state the request cannot be judged: refuse it, and say
      // nothing about why beyond the log.
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
    }
    switch (accountRefusal(account, c.get("tokenIssuedAt"))) {
      case "tokens_revoked":
        securityEvent(c, "auth.failed", { reason: "token revoked" });
        throw unauthenticated(true);
      case "disabled":
        throw new HttpProblem("account_disabled", ACCOUNT_DISABLED);
      case undefined:
        await next();
    }
  };
}
