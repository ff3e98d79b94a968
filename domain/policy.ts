/**
 * Who may do what to which order. Pure functions of the caller and the order.
 */
import { DomainError } from "./errors.ts";
import type { Order } from "./order.ts";
import { hasRole, type Principal } from "./principal.ts";

/** Whether the caller owns the order. */
export function isOwner(
  principal: Principal,
  order: Pick<Order, "userId">,
): boolean {
  return principal.userId === order.userId;
}

/** Owners, fulfillment and admins may read an order; other users may not. */
export function canReadOrder(
  principal: Principal,
  order: Pick<Order, "userId">,
): boolean {
  return isOwner(principal, order) || hasRole(principal, "admin") ||
    hasRole(principal, "fulfillment");
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
