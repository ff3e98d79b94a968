/**
 * The names of the security events, the level each is logged at, and what a
 * line may say besides them (./security_events.ts emits them).
 */
import type { LogLevel } from "../logger.ts";

/** Every security event, with the level it is logged at. */
export const SECURITY_EVENT_LEVELS = {
  "auth.failed": "warn",
  "authz.denied": "warn",
  "ratelimit.exceeded": "warn",
  "validation.failed": "info",
  "lookup.miss": "info",
  "order.cancelled": "info",
  "order.held": "warn",
  "order.status_changed": "info",
  "account.disabled": "warn",
  "account.enabled": "warn",
  "tokens.revoked": "warn",
} as const satisfies Record<string, LogLevel>;

/** A security event's name. */
export type SecurityEventName = keyof typeof SECURITY_EVENT_LEVELS;

/** Every security event name. */
export const SECURITY_EVENTS = Object.keys(
  SECURITY_EVENT_LEVELS,
) as SecurityEventName[];

/**
 * What an event says besides its name, time and request id. `user_id`
 * defaults to the authenticated caller; account events set it to the
 * account acted on (and `actor_user_id` to the admin). A few events add a
 * field of their own (`limit` on `ratelimit.exceeded`).
 */
export interface SecurityEventFields {
  user_id?: number;
  order_id?: string;
  reason?: string;
  actor_user_id?: number;
  limit?: string;
}
