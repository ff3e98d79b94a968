/**
 * The order and its lines as the domain sees them.
 */
import { computeTotalCents } from "./money.ts";

/** The five order statuses. */
export const ORDER_STATUSES = [
  "pending",
  "processing",
  "shipped",
  "delivered",
  "cancelled",
] as const;

/** An order status. */
export type OrderStatus = typeof ORDER_STATUSES[number];

/** Where a held order stands. */
export const REVIEW_STATES = ["pending", "approved", "rejected"] as const;

/** A review state. */
export type ReviewState = typeof REVIEW_STATES[number];

/** Why an order was held. */
export const REVIEW_REASONS = ["total_threshold", "velocity"] as const;

/** A reason for a hold. */
export type ReviewReason = typeof REVIEW_REASONS[number];

/** The review of a held order. Orders never held have none. */
export interface OrderReview {
  readonly state: ReviewState;
  readonly reasons: readonly ReviewReason[];
}

/** One order line; `unitPrice` is in exact price units. */
export interface OrderItem {
  readonly productId: string | number;
  readonly productName: string;
  readonly quantity: number;
  readonly unitPrice: bigint;
}

/** An order. `totalCents` is fixed at creation; `version` starts at 1. */
export interface Order {
  readonly id: string;
  readonly userId: number;
  readonly items: readonly OrderItem[];
  readonly totalCents: bigint;
  readonly currency: string;
  readonly status: OrderStatus;
  /** Null once the owner's personal data has been erased. */
  readonly shippingAddress: string | null;
  /** True once the owner's personal data has been erased (crypto-shredded). */
  readonly personalDataErased?: boolean;
  readonly version: number;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Milliseconds since the epoch. */
  readonly updatedAt: number;
  /** The review of an order held at creation; absent when never held. */
  readonly review?: OrderReview | undefined;
  /**
   * The user who created the order (the owner, or an admin ordering for
   * them); unknown for orders created before it was recorded.
   */
  readonly createdBy?: number | undefined;
}

/** What a validated creation request asks for. */
export interface NewOrderInput {
  readonly items: readonly OrderItem[];
  readonly shippingAddress: string;
  readonly userId: number | undefined;
  readonly currency: string;
}

/** Builds a new pending order; the total is computed here, never taken from the client. */
export function newOrder(
  input: NewOrderInput,
  options: { id: string; userId: number; now: number; createdBy?: number },
): Order {
  return {
    id: options.id,
    userId: options.userId,
    items: input.items,
    totalCents: computeTotalCents(input.items),
    currency: input.currency,
    status: "pending",
    shippingAddress: input.shippingAddress,
    version: 1,
    createdAt: options.now,
    updatedAt: options.now,
    ...(options.createdBy !== undefined && { createdBy: options.createdBy }),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Normalises an order id from a URL (ids match case-insensitively), or
 * returns undefined when it is not a UUID.
 */
export function normaliseOrderId(text: string): string | undefined {
  const id = text.toLowerCase();
  return UUID.test(id) ? id : undefined;
}
