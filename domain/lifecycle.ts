/**
 * The order status machine: which status may follow which, and while which
 * statuses the shipping address may still change.
 */
import type { OrderStatus } from "./order.ts";

/**
 * Every allowed move, by current status. `delivered` and `cancelled` have
 * none: they are terminal.
 */
export const ORDER_TRANSITIONS: Readonly<
  Record<OrderStatus, readonly OrderStatus[]>
> = {
  pending: ["processing", "cancelled"],
  processing: ["shipped", "cancelled"],
  shipped: ["delivered"],
  delivered: [],
  cancelled: [],
};

/** Whether no change is possible any more in this status. */
export function isTerminalStatus(status: OrderStatus): boolean {
  return ORDER_TRANSITIONS[status].length === 0;
}

/** Whether an order may move from `from` to `to` in one step. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** Whether the shipping address may still change in this status. */
export function isAddressChangeable(status: OrderStatus): boolean {
  return status === "pending" || status === "processing";
}

/**
 * Statuses in which an order still needs its shipping address: the owner's
 * personal data may not be erased while one of their orders is in one.
 */
export const ADDRESS_NEEDED_STATUSES: readonly OrderStatus[] = [
  "pending",
  "processing",
  "shipped",
];
