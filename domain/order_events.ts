/**
 * Order events: what happened to an order, for systems that act on orders
 * (a warehouse, an ERP, a mail service) and for a phone that shows them.
 * Every audit entry of an order produces exactly one event, derived here
 * from the entry and the order it leaves, in the same write: the event is a
 * projection of the entry without personal data (no address, not even
 * encrypted; no review note), so erasing a user's data needs nothing from
 * events.
 */
import type { AuditAction, AuditDraft } from "./audit.ts";
import { formatCents } from "./money.ts";
import type { Order, OrderStatus } from "./order.ts";

/** The audit actions of an order, each also an event type. */
export const ORDER_EVENT_TYPES = [
  "order.created",
  "order.updated",
  "order.cancelled",
  "order.review_approved",
  "order.review_rejected",
] as const satisfies readonly AuditAction[];

/** An event's type. */
export type OrderEventType = typeof ORDER_EVENT_TYPES[number];

/** The fields an event names in `changed`, when the change touched them. */
export const EVENT_FIELDS = ["status", "shipping_address"] as const;

/** What an event says about the order. */
export interface OrderEventData {
  readonly order_id: string;
  readonly user_id: number;
  readonly version: number;
  readonly status: OrderStatus;
  /** Null on `order.created`; equal to `status` when the status did not move. */
  readonly previous_status: OrderStatus | null;
  readonly total: string;
  readonly currency: string;
  readonly changed: readonly (typeof EVENT_FIELDS)[number][];
}

/** One event. */
export interface OrderEvent {
  /** `evt_` and a random UUID. */
  readonly id: string;
  readonly type: OrderEventType;
  /** When the change was made (ms since the epoch): the audit entry's time. */
  readonly at: number;
  readonly data: OrderEventData;
}

/** How many days events are kept by default (`EVENT_RETENTION_DAYS`). */
export const DEFAULT_EVENT_RETENTION_DAYS = 30;

/** One day, in milliseconds. */
export const DAY_MS = 86_400_000;

/** The prefix of every event id. */
export const EVENT_ID_PREFIX = "evt_";

/** Whether an audit action is one of an order's, and so an event type. */
export function isOrderEventType(action: string): action is OrderEventType {
  return (ORDER_EVENT_TYPES as readonly string[]).includes(action);
}

/**
 * The event of an order's audit entry: `entry` recorded the change that
 * left the order as `order` (at `order.version`). `uuid` makes its id.
 */
export function orderEventOf(
  entry: Pick<AuditDraft, "action" | "at" | "changes">,
  order: Order,
  uuid: string,
): OrderEvent {
  const { action } = entry;
  if (!isOrderEventType(action)) {
    throw new Error(`"${action}" is not an order's action`);
  }
  const statusChange = entry.changes.status;
  const previousStatus = action === "order.created"
    ? null
    : statusChange === undefined
    ? order.status
    : statusChange.from as OrderStatus;
  return {
    id: `${EVENT_ID_PREFIX}${uuid}`,
    type: action,
    at: entry.at,
    data: {
      order_id: order.id,
      user_id: order.userId,
      version: order.version,
      status: order.status,
      previous_status: previousStatus,
      total: formatCents(order.totalCents),
      currency: order.currency,
      changed: action === "order.created"
        ? []
        : EVENT_FIELDS.filter((field) => field in entry.changes),
    },
  };
}

/**
 * How an event's type reads to a caller who may not see reviews (an owner):
 * a rejection, which cancels the order, is the cancellation it amounts to;
 * an approval is not shown at all (undefined).
 */
export function typeSeenWithoutReviews(
  type: OrderEventType,
): OrderEventType | undefined {
  switch (type) {
    case "order.review_approved":
      return undefined;
    case "order.review_rejected":
      return "order.cancelled";
    default:
      return type;
  }
}

/**
 * An event as `GET /v1/events/{id}` shows it and as a webhook delivery
 * carries it: the same bytes whichever way it is read.
 */
export interface OrderEventBody {
  readonly id: string;
  readonly type: OrderEventType;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly data: Omit<OrderEventData, "changed"> & {
    readonly changed: (typeof EVENT_FIELDS)[number][];
  };
}

/** The body of an event: every field named explicitly, in this order. */
export function orderEventBody(event: OrderEvent): OrderEventBody {
  return {
    id: event.id,
    type: event.type,
    timestamp: new Date(event.at).toISOString(),
    data: {
      order_id: event.data.order_id,
      user_id: event.data.user_id,
      version: event.data.version,
      status: event.data.status,
      previous_status: event.data.previous_status,
      total: event.data.total,
      currency: event.data.currency,
      changed: [...event.data.changed],
    },
  };
}
