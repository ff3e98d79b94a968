/**
 * Who may do what: every role and ownership decision of the service, as
 * pure functions of the caller and the order or user acted on. No other
 * module asks for a caller's roles.
 *
 * - Read an order: its owner, fulfillment, admins.
 * - Create an order for another user: admins.
 * - List orders: users their own; fulfillment and admins everyone's.
 * - Cancel: the owner or an admin. Other status moves: fulfillment or an
 *   admin. Change the address, read the history: the owner or an admin.
 * - Decide a review: admins. See review holds: fulfillment and admins.
 * - Read the events feed: fulfillment and admins every event; users the
 *   events of their own orders, without review holds.
 * - Export or erase a user's personal data: the user or an admin.
 * - Disable, enable, revoke tokens, read metrics: admins.
 * - Manage webhook endpoints (register, change, delete, rotate a secret,
 *   send a test event, read the attempts log) and resend an event to them:
 *   admins.
 */
import { DomainError } from "./errors.ts";
import {
  canTransition,
  isAddressChangeable,
  isTerminalStatus,
  ORDER_TRANSITIONS,
} from "./lifecycle.ts";
import type { Order, OrderStatus } from "./order.ts";
import { hasRole, type Principal } from "./principal.ts";

/** Whether the caller owns the order. */
export function isOwner(
  principal: Principal,
  order: Pick<Order, "userId">,
): boolean {
  return principal.userId === order.userId;
}

/** Why a caller who may not read an order is refused. */
export const NOT_YOUR_ORDER = "This order belongs to another user";

/** Owners, fulfillment and admins may read an order; other users may not. */
export function canReadOrder(
  principal: Principal,
  order: Pick<Order, "userId">,
): boolean {
  return isOwner(principal, order) || hasRole(principal, "admin") ||
    hasRole(principal, "fulfillment");
}

/** Throws `forbidden` unless the caller may read the order. */
export function assertCanReadOrder(
  principal: Principal,
  order: Pick<Order, "userId">,
): void {
  if (!canReadOrder(principal, order)) {
    throw new DomainError("forbidden", NOT_YOUR_ORDER);
  }
}

/**
 * Whether the caller sees orders' review holds: admins and fulfillment;
 * other callers, owners included, never do.
 */
export function canSeeReviews(principal: Principal): boolean {
  return hasRole(principal, "admin") || hasRole(principal, "fulfillment");
}

/** What only an admin may do, with the refusal everyone else gets. */
const ADMIN_ONLY = {
  change_account: "Only an admin may change an account",
  read_metrics: "Only an admin may read metrics",
  decide_review: "Only an admin may decide a review",
  manage_webhooks: "Only an admin may manage webhook endpoints",
  resend_event: "Only an admin may resend an event to webhook endpoints",
} as const;

/** Something only an admin may do. */
export type AdminAction = keyof typeof ADMIN_ONLY;

/** Throws `forbidden` unless the caller is an admin. */
export function assertAdmin(principal: Principal, action: AdminAction): void {
  if (!hasRole(principal, "admin")) {
    throw new DomainError("forbidden", ADMIN_ONLY[action]);
  }
}

/**
 * The user a new order belongs to: the caller, or any user when an admin
 * names one.
 */
export function orderOwnerFor(
  principal: Principal,
  requestedUserId: number | undefined,
): number {
  if (requestedUserId === undefined || requestedUserId === principal.userId) {
    return principal.userId;
  }
  if (hasRole(principal, "admin")) return requestedUserId;
  throw new DomainError(
    "forbidden",
    "Only an admin may create an order for another user",
  );
}

/**
 * The user whose orders a listing may show: users see only their own orders;
 * admins and fulfillment see every order, or one user's when they filter.
 */
export function listingScope(
  principal: Principal,
  requestedUserId: number | undefined,
): number | undefined {
  if (hasRole(principal, "admin") || hasRole(principal, "fulfillment")) {
    return requestedUserId;
  }
  if (requestedUserId !== undefined && requestedUserId !== principal.userId) {
    throw new DomainError("forbidden", "You may list only your own orders");
  }
  return principal.userId;
}

/** Something a caller may try to do to an existing order. */
export type OrderAction =
  | { readonly kind: "set_status"; readonly to: OrderStatus }
  | { readonly kind: "change_address" }
  | { readonly kind: "read_history" };

/** A policy answer: allowed, or refused with an error code and the reason. */
export type PolicyDecision =
  | { readonly allowed: true }
  | {
    readonly allowed: false;
    readonly code: "forbidden" | "bad_request" | "conflict";
    readonly reason: string;
  };

const ALLOWED: PolicyDecision = { allowed: true };

function forbidden(reason: string): PolicyDecision {
  return { allowed: false, code: "forbidden", reason };
}

function badRequest(reason: string): PolicyDecision {
  return { allowed: false, code: "bad_request", reason };
}

/**
 * Whether the caller may do `action` to the order in its current status.
 * Role and ownership are checked before the status rules, so a caller
 * without the right always gets `forbidden`, whatever the status:
 *
 * - cancelling (`set_status` to `cancelled`): the owner or an admin, from
 *   `pending` or `processing`;
 * - any other status move: fulfillment or an admin, along
 *   `ORDER_TRANSITIONS` only, and not while the order is held for review
 *   (`conflict`: an admin decides first);
 * - changing the shipping address: the owner or an admin, while `pending`
 *   or `processing`;
 * - reading the history: the owner or an admin.
 *
 * Setting the current status of a non-terminal order is a no-op that every
 * caller who may read the order may ask for; on a terminal order it is a
 * change like any other, and refused.
 */
export function decideOrderAction(
  principal: Principal,
  order: Pick<Order, "id" | "userId" | "status" | "review">,
  action: OrderAction,
): PolicyDecision {
  if (!canReadOrder(principal, order)) return forbidden(NOT_YOUR_ORDER);
  const ownerOrAdmin = isOwner(principal, order) ||
    hasRole(principal, "admin");
  switch (action.kind) {
    case "read_history":
      return ownerOrAdmin
        ? ALLOWED
        : forbidden("Only the owner or an admin may read an order's history");
    case "change_address":
      if (!ownerOrAdmin) {
        return forbidden(
          "Only the owner or an admin may change the shipping address",
        );
      }
      return isAddressChangeable(order.status) ? ALLOWED : badRequest(
        `Cannot change the shipping address of order "${order.id}": order is ${order.status}`,
      );
    case "set_status":
      return decideStatusChange(principal, order, action.to, ownerOrAdmin);
  }
}

function decideStatusChange(
  principal: Principal,
  order: Pick<Order, "id" | "status" | "review">,
  to: OrderStatus,
  ownerOrAdmin: boolean,
): PolicyDecision {
  const from = order.status;
  if (from === to && !isTerminalStatus(from)) return ALLOWED;
  if (to === "cancelled") {
    if (!ownerOrAdmin) {
      return forbidden("Only the owner or an admin may cancel an order");
    }
    if (from === "cancelled") {
      return badRequest(
        `Cannot cancel order "${order.id}": order is already cancelled`,
      );
    }
    return canTransition(from, to)
      ? ALLOWED
      : badRequest(`Cannot cancel order "${order.id}": order is ${from}`);
  }
  if (!hasRole(principal, "admin") && !hasRole(principal, "fulfillment")) {
    return forbidden(
      "Only fulfillment or an admin may change an order's status",
    );
  }
  if (isTerminalStatus(from)) {
    return badRequest(
      `Cannot change the status of order "${order.id}": order is ${from}`,
    );
  }
  if (canTransition(from, to)) {
    // A held order moves forward only once an admin approved it.
    return order.review?.state === "pending"
      ? {
        allowed: false,
        code: "conflict",
        reason:
          `Cannot move order "${order.id}" to ${to}: it is held for review until an admin decides`,
      }
      : ALLOWED;
  }
  return badRequest(
    `Cannot move order "${order.id}" from ${from} to ${to}: the next status may be ${
      ORDER_TRANSITIONS[from].join(" or ")
    }`,
  );
}

/**
 * What of the events feed a caller sees: admins and fulfillment every
 * event (`userId` undefined) with review holds; any other caller the events
 * of their own orders, without review holds (`order_events.ts`
 * `typeSeenWithoutReviews`).
 */
export function eventScope(
  principal: Principal,
): { readonly userId: number | undefined; readonly seesReviews: boolean } {
  return canSeeReviews(principal)
    ? { userId: undefined, seesReviews: true }
    : { userId: principal.userId, seesReviews: false };
}

/** Throws the refusal of a decision, if it is one. */
export function assertAllowed(decision: PolicyDecision): void {
  if (!decision.allowed) throw new DomainError(decision.code, decision.reason);
}

/** Why a user who is not an admin may not manage another's data (403). */
export const NOT_YOUR_PERSONAL_DATA =
  "Only the user themself or an admin may manage their personal data";

/**
 * Whether the caller may export or erase a user's personal data: the user
 * themself or an admin (fulfillment has no part in it).
 */
export function canManagePersonalData(
  principal: Principal,
  userId: number,
): boolean {
  return principal.userId === userId || hasRole(principal, "admin");
}

/** Throws `forbidden` unless the caller may export or erase the user's data. */
export function assertCanManagePersonalData(
  principal: Principal,
  userId: number,
): void {
  if (!canManagePersonalData(principal, userId)) {
    throw new DomainError("forbidden", NOT_YOUR_PERSONAL_DATA);
  }
}
