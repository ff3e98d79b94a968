/**
 * The response bodies of the events feed (`routes/events.ts`), as zod
 * schemas: the document is generated from them, and `eventJson` returns
 * their type.
 */
import { z } from "@hono/zod-openapi";
import { ORDER_STATUSES } from "../../domain/order.ts";
import {
  EVENT_FIELDS,
  EVENT_ID_PREFIX,
  ORDER_EVENT_TYPES,
} from "../../domain/order_events.ts";
import { userIdSchema } from "../../domain/principal.ts";
import { moneySchema, timestampSchema } from "./response_schemas.ts";

/** What an event says about its order. */
const eventDataSchema = z.object({
  order_id: z.string().meta({ format: "uuid" }),
  user_id: userIdSchema,
  version: z.number().int().min(1).meta({
    description: "The order's version after the change.",
  }),
  status: z.enum(ORDER_STATUSES),
  previous_status: z.enum(ORDER_STATUSES).nullable().meta({
    description:
      "Null on `order.created`; equal to `status` when the change did not move the status.",
  }),
  total: moneySchema,
  currency: z.string(),
  changed: z.array(z.enum(EVENT_FIELDS)).meta({
    description:
      "The fields this change touched; empty on `order.created`. Never the values of personal data.",
  }),
}).openapi("OrderEventData");

/** One event. */
export const eventSchema = z.object({
  id: z.string().startsWith(EVENT_ID_PREFIX).meta({
    examples: [`${EVENT_ID_PREFIX}0192f0c4-7b1e-4c8f-9a51-2f6d3e1a9b70`],
  }),
  type: z.enum(ORDER_EVENT_TYPES).meta({
    description:
      "What happened. A user never sees `order.review_approved`, and sees `order.review_rejected` as the `order.cancelled` it amounts to (same id).",
  }),
  timestamp: timestampSchema.meta({
    description: "When the change was made (its audit entry's time).",
  }),
  data: eventDataSchema,
}).meta({
  description:
    "What happened to an order: a projection of its audit entry without personal data (no address, no review note, no token).",
}).openapi("OrderEvent");

/** A page of the feed. */
export const eventListSchema = z.object({
  events: z.array(eventSchema).meta({
    description: "Oldest first, in the order the changes were committed.",
  }),
  next_cursor: z.string().meta({
    description:
      "Always present: pass it as `cursor` to get only events committed after this page.",
  }),
  has_more: z.boolean().meta({
    description: "Whether more events are available now.",
  }),
}).openapi("OrderEventList");

/** An event as responses show it. */
export type EventJson = z.infer<typeof eventSchema>;

/** A page of the feed as responses show it. */
export type EventListJson = z.infer<typeof eventListSchema>;
