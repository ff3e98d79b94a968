/**
 * What the domain needs from the outside world, as interfaces the adapters
 * implement.
 */
import type { AuditEntry } from "./audit.ts";
import type { Order, OrderStatus } from "./order.ts";

/** Which orders a listing shows and which page of them. */
export interface OrderQuery {
  readonly userId?: number | undefined;
  readonly status?: OrderStatus | undefined;
  readonly limit: number;
  readonly offset: number;
}

/** A page of orders and how many match in all. */
export interface OrderPage {
  readonly orders: Order[];
  readonly count: number;
}

/** Persistence of orders and their audit log. */
export interface OrderStore {
  /** Writes a new order, its lines and its first audit entry atomically. */
  insertOrder(order: Order, entry: AuditEntry): Promise<void>;
  /** The order with this (lowercase) id, if any. */
  findOrder(id: string): Promise<Order | undefined>;
  /** Orders matching the query, newest first. */
  listOrders(query: OrderQuery): Promise<OrderPage>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
}

/** The current time, injectable so tests are exact. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}
