/**
 * `/v1/admin`: incident response on accounts (disable, enable, revoke
 * tokens) and the metrics. Admins only; a `user_id` that is not a positive
 * integer is unknown (404) for everyone, as an order id that is not a UUID.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type AccountStateCache,
  MAX_ACCOUNT_STATE_STALENESS_MS,
} from "../auth/account_state_cache.ts";
import type { AccountAction } from "../domain/account.ts";
import {
  accountKeptChangingMessage,
  applyAccountAction,
} from "../domain/apply_account_action.ts";
import { assertAdmin } from "../domain/policy.ts";
import {
  type Metrics,
  PROMETHEUS_CONTENT_TYPE,
  WEBHOOK_METRICS,
} from "../monitoring/metrics.ts";
import { WEBHOOK_ATTEMPT_OUTCOMES } from "../domain/webhook_schedule.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { beginWrite } from "./middleware/hygiene.ts";
import { PARAMETERS } from "./openapi/components.ts";
import { documented } from "./openapi/documented.ts";
import {
  EXAMPLE_CALLERS,
  metricsExample,
  noSuchUser,
  problemExample,
  refusalExample,
} from "./openapi/examples.ts";
import {
  authenticated,
  noContent,
  problems,
  text,
} from "./openapi/responses.ts";
import { ACCOUNT_ACTION_CHECKS, orderOfChecks } from "./http/checks.ts";
import { pathUserId } from "./http/path_user_id.ts";
import { securityEvent } from "../monitoring/security_events.ts";

/** The security event each account action emits. */
const ACTION_EVENTS = {
  disable: "account.disabled",
  enable: "account.enabled",
  revoke_tokens: "tokens.revoked",
} as const;

const ACCOUNT_ACTION_NOTES =
  `Effective at once on the instance that served it, within ${
    MAX_ACCOUNT_STATE_STALENESS_MS / 1000
  } s on every other. Admins only; any user id may be named, even one that never called.\n\n${
    orderOfChecks(ACCOUNT_ACTION_CHECKS)
  }`;

const notAnAdmin = refusalExample(
  "The caller is not an admin",
  () => assertAdmin(EXAMPLE_CALLERS.owner, "change_account"),
);

const notAnAdminForMetrics = refusalExample(
  "The caller is not an admin",
  () => assertAdmin(EXAMPLE_CALLERS.owner, "read_metrics"),
);

/** What the three account actions answer: 204, or a refusal. */
function accountActionResponses(done: string) {
  return authenticated({
    204: noContent(done),
    403: problems("The caller is not an admin.", [notAnAdmin]),
    404: problems(
      "A `user_id` that is not a positive integer (up to 9007199254740991, digits only).",
      [noSuchUser],
    ),
    409: problems(
      "Other admins changed the account 5 times in a row while this request ran; nothing was written and the request can be retried as is.",
      [problemExample(
        "conflict",
        "Lost 5 races in a row to other admins",
        accountKeptChangingMessage(42),
      )],
    ),
  });
}

/** The admin sub-app. */
export function adminRoutes(
  deps: AppDeps,
  parts: { accountCache: AccountStateCache; metrics: Metrics },
): OpenAPIHono<AppEnv> {
  async function act(c: Context<AppEnv>, action: AccountAction) {
    const userId = pathUserId(c.req.param("user_id") ?? "");
    const principal = c.get("principal");
    const changed = await applyAccountAction(
      { accounts: deps.accounts, clock: deps.clock },
      {
        userId,
        action,
        principal,
        requestId: c.get("serverRequestId"),
        beginWrite: () => beginWrite(c),
      },
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

  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "post",
    path: "/users/{user_id}/disable",
    operationId: "disableUser",
    tags: ["Admin"],
    summary: "Disable a user's account",
    description:
      `Every request of the user (any token) is refused with 403 \`urn:orders-api:problem:account-disabled\` until an admin enables the account again. Answers 204 even when it changes nothing (an account already disabled); only a change is audited (\`account.disabled\`, in the user's chain) and logged as the security event \`account.disabled\`. ${ACCOUNT_ACTION_NOTES}`,
    parameters: [PARAMETERS.UserId],
    responses: accountActionResponses("The account is disabled."),
  }, (c) => act(c, "disable"));

  documented(app, {
    method: "post",
    path: "/users/{user_id}/enable",
    operationId: "enableUser",
    tags: ["Admin"],
    summary: "Enable a user's account",
    description:
      `The user's requests are served again. Enabling does not lift a token revocation. Answers 204 even when it changes nothing (an account not disabled); only a change is audited (\`account.enabled\`, in the user's chain) and logged as the security event \`account.enabled\`. ${ACCOUNT_ACTION_NOTES}`,
    parameters: [PARAMETERS.UserId],
    responses: accountActionResponses("The account is enabled."),
  }, (c) => act(c, "enable"));

  documented(app, {
    method: "post",
    path: "/users/{user_id}/revoke-tokens",
    operationId: "revokeUserTokens",
    tags: ["Admin"],
    summary: "Revoke a user's tokens",
    description:
      `Every token of the user issued at or before the current second (\`iat\`), and every token without \`iat\`, is refused with 401 from now on (not counted as a failed authentication for the per-address limit); the user needs a token issued in a later second. Answers 204 even when it changes nothing (a second revocation within the same second); only a change is audited (\`account.tokens_revoked\`, in the user's chain) and logged as the security event \`tokens.revoked\`. ${ACCOUNT_ACTION_NOTES}`,
    parameters: [PARAMETERS.UserId],
    responses: accountActionResponses("The tokens are revoked."),
  }, (c) => act(c, "revoke_tokens"));

  documented(app, {
    method: "get",
    path: "/metrics",
    operationId: "getMetrics",
    tags: ["Admin"],
    summary: "Metrics",
    description:
      `The counters of this instance in the Prometheus text format 0.0.4 (\`Content-Type: ${PROMETHEUS_CONTENT_TYPE}\`): \`orders_http_responses_total{class}\`, \`orders_security_events_total{event}\`, \`orders_created_total\`, \`orders_cancelled_total\`, \`orders_held_total\`, the summary \`orders_value_sum\` / \`orders_value_count\`, and \`${WEBHOOK_METRICS.attempts}{outcome}\` (outcome one of ${
        WEBHOOK_ATTEMPT_OUTCOMES.map((o) => `\`${o}\``).join(", ")
      }). Every series is present from the start, at 0. Per instance: counters never decrease while the process lives and start at 0 after a restart. Two gauges, read from the database, describe the webhook backlog of every instance: \`${WEBHOOK_METRICS.pending}\` (deliveries waiting for enabled endpoints) and \`${WEBHOOK_METRICS.oldestPending}\` (the age of the oldest in seconds: the delivery lag; 0 when none). Admins only.`,
    responses: authenticated({
      200: text(
        "The Prometheus text exposition of every counter.",
        "text/plain; version=0.0.4",
        metricsExample,
      ),
      403: problems("The caller is not an admin.", [notAnAdminForMetrics]),
    }),
  }, async (c) => {
    assertAdmin(c.get("principal"), "read_metrics");
    const backlog = await deps.webhooks.backlog();
    return c.text(
      parts.metrics.render({ ...backlog, now: deps.clock.now() }),
      200,
      {
        "Content-Type": PROMETHEUS_CONTENT_TYPE,
      },
    );
  });

  return app;
}
