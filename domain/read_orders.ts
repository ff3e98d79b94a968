/**
 * Reading orders: the use cases behind `GET /v1/orders/{id}`,
 * `GET /v1/orders` and `GET /v1/orders/{id}/history`. Each reads through
 * the store and asks `policy.ts` what the caller may see, as the writes do;
 * what a caller sees of a review is the rendering's business.
 */
import { findRequestedOrder } from "./apply_order_change.ts";
import type { Order } from "./order.ts";
import type { ListOrdersQuery } from "./order_query.ts";
import {
  assertAllowed,
  assertCanReadOrder,
  decideOrderAction,
  listingScope,
} from "./policy.ts";
import type {
  OrderPage,
  OrderPosition,
  OrderStore,
  OrderWithHistory,
} from "./ports.ts";
import type { Principal } from "./principal.ts";

/** What reading orders needs. */
export interface ReadOrdersDeps {
  readonly store: OrderStore;
}

/** One request for one order, or for its history. */
export interface OrderRequest {
  /** The order's id, or undefined when the URL's id is not a UUID. */
  readonly orderId: string | undefined;
  readonly principal: Principal;
}

/** One request to read an order. */
export interface ReadOrderCommand extends OrderRequest {
  /**
   * Settles once the request may go on (its rate limits' verdict, which may
   * come while the order is read); rejects when it may not. Awaited before
   * anything is decided (not found or refused); none by default.
   */
  readonly admitted?: () => Promise<void>;
}

/**
 * The order, if the caller may read it: its owner, fulfillment or an admin
 * (else `forbidden`); `not_found` when there is no such order. The order is
 * read before the verdict `admitted` waits for, and nothing is decided
 * until it came.
 */
export async function readOrder(
  deps: ReadOrdersDeps,
  command: ReadOrderCommand,
): Promise<Order> {
  const { store } = deps;
  const order = await findRequestedOrder(command, (id) => store.findOrder(id));
  assertCanReadOrder(command.principal, order);
  return order;
}

/** One request for a page of orders. */
export interface ListOrdersCommand {
  readonly principal: Principal;
  readonly query: ListOrdersQuery;
  /**
   * Where the page starts: right after this order (the position a cursor
   * carries), instead of at `query.offset`.
   */
  readonly after?: OrderPosition | undefined;
}

/** A page of orders, with where it starts and how long it may be. */
export interface OrderListing extends OrderPage {
  readonly limit: number;
  readonly offset: number;
  /**
   * The position the next page starts after (the page's last order), or
   * undefined when no older order matches.
   */
  readonly next: OrderPosition | undefined;
}

/**
 * Whether the caller's listing shows every order (fulfillment, admins) or
 * only their own, as `listingScope` decides it: a cursor made for one view
 * must not continue the other.
 */
export function listsEveryOrder(principal: Principal): boolean {
  return listingScope(principal, undefined) === undefined;
}

/**
 * The page of orders the query asks for, among those the caller may list
 * (`listingScope`: a user their own, else `forbidden`; fulfillment and
 * admins everyone's, or one user's), newest first, with where the next
 * page starts. A walk from `next` to `next` sees every order that matched
 * when it began exactly once, in order: a position never moves (an
 * order's `created_at` and `id` never change), and newer orders sort
 * before it.
 */
export async function listOrders(
  deps: ReadOrdersDeps,
  command: ListOrdersCommand,
): Promise<OrderListing> {
  const { principal, query, after } = command;
  const userId = listingScope(principal, query.userId);
  // One order more than the page holds says whether another page follows.
  const read = await deps.store.listOrders({
    userId,
    status: query.status,
    limit: query.limit + 1,
    offset: query.offset,
    after,
  });
  const orders = read.orders.slice(0, query.limit);
  const last = orders.at(-1);
  return {
    orders,
    count: read.count,
    limit: query.limit,
    offset: query.offset,
    next: read.orders.length > query.limit && last !== undefined
      ? { createdAt: last.createdAt, id: last.id }
      : undefined,
  };
}

/**
 * The order and its audit entries, oldest first, if the caller may read
 * its history: the owner or an admin, not fulfillment (else `forbidden`);
 * `not_found` when there is no such order. Both are read together, and the
 * entries are returned only once the order shows they may be.
 */
export async function readOrderHistory(
  deps: ReadOrdersDeps,
  command: OrderRequest,
): Promise<OrderWithHistory> {
  const found = await findRequestedOrder(
    command,
    (id) => deps.store.findOrderWithHistory(id),
  );
  assertAllowed(
    decideOrderAction(command.principal, found.order, {
      kind: "read_history",
    }),
  );
  return found;
}
