/**
 * `/v1/admin`: incident response on accounts (disable, enable, revoke
 * tokens) and the metrics. Admins only; a `user_id` that is not a positive
 * integer is unknown (404) for everyone, as an order id that is not a UUID.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AccountStateCache } from "../auth/account_state_cache.ts";
import type { AccountAction } from "../domain/account.ts";
import { applyAccountAction } from "../domain/apply_account_action.ts";
import { DomainError } from "../domain/errors.ts";
import { assertAdmin } from "../domain/policy.ts";
import { parseUserIdText } from "../domain/principal.ts";
import {
  type Metrics,
  PROMETHEUS_CONTENT_TYPE,
} from "../monitoring/metrics.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { securityEvent } from "./security_events.ts";

/** The security event each account action emits. */
const ACTION_EVENTS = {
  disable: "account.disabled",
  enable: "account.enabled",
  revoke_tokens: "tokens.revoked",
} as const;

/** The admin sub-app. */
export function adminRoutes(
  deps: AppDeps,
  parts: { accountCache: AccountStateCache; metrics: Metrics },
): Hono<AppEnv> {
  async function act(c: Context<AppEnv>, action: AccountAction) {
    const userId = parseUserIdText(c.req.param("user_id") ?? "");
    if (userId === undefined) {
      throw new DomainError("not_found", "No such user");
    }
    const principal = c.get("principal");
    const changed = await applyAccountAction(
      { accounts: deps.accounts, clock: deps.clock },
      { userId, action, principal, requestId: c.get("requestId") },
    );
    // Effective at once on this instance; others see it within the TTL.
    parts.accountCache.forget(userId);
    if (changed) {
      securityEvent(c, ACTION_EVENTS[action], {
        user_id: userId,
        actor_user_id: principal.userId,
      });
    }
    return c.body(null, 204);
  }

  return new Hono<AppEnv>()
    .post("/users/:user_id/disable", (c) => act(c, "disable"))
    .post("/users/:user_id/enable", (c) => act(c, "enable"))
    .post("/users/:user_id/revoke-tokens", (c) => act(c, "revoke_tokens"))
    .get("/metrics", (c) => {
      assertAdmin(c.get("principal"), "read_metrics");
      c.header("Content-Type", PROMETHEUS_CONTENT_TYPE);
      return c.body(parts.metrics.render());
    });
}
