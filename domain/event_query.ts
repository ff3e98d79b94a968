/**
 * Validation of the events feed's query parameters (`GET /v1/events`).
 */
import { z } from "zod";
import { validated } from "./errors.ts";
import { normaliseOrderId } from "./order.ts";
import { ORDER_EVENT_TYPES, type OrderEventType } from "./order_events.ts";
import { enumParam, integerParam, readParam } from "./order_query.ts";

/** The most events one page of the feed holds. */
export const MAX_EVENT_LIMIT = 100;

/** How many events a page holds when `limit` is not given. */
export const DEFAULT_EVENT_LIMIT = 50;

/** The query of `GET /v1/events`; unknown parameters are ignored. */
export const listEventsQuerySchema = z.object({
  cursor: z.string().optional().meta({
    description:
      "The `next_cursor` of the previous page: only events committed after its last one. Without it, the feed starts at the oldest event kept.",
  }),
  limit: integerParam(1, MAX_EVENT_LIMIT, DEFAULT_EVENT_LIMIT).meta({
    description: "How many events to return at most.",
  }),
  type: enumParam(ORDER_EVENT_TYPES, "Only events of this type."),
  order_id: readParam(normaliseOrderId, {
    message: "Must be an order id (a UUID)",
    meta: {
      type: "string",
      format: "uuid",
      description: "Only events of this order.",
    },
  }),
});

/** A validated feed query. */
export interface ListEventsQuery {
  readonly cursor: string | undefined;
  readonly limit: number;
  readonly type: OrderEventType | undefined;
  readonly orderId: string | undefined;
}

/** Validates the feed query, or throws a 422-mapped `DomainError`. */
export function parseListEventsQuery(
  query: Record<string, string>,
): ListEventsQuery {
  const { cursor, limit, type, order_id } = validated(
    listEventsQuerySchema,
    query,
    "The query parameters are not valid",
  );
  return {
    cursor,
    limit,
    type,
    orderId: order_id,
  };
}
