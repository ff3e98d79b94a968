/**
 * The JSON of an order event: every field named explicitly, timestamps as
 * the API writes them. The shape is the type of `eventSchema`, so the
 * compiler holds this function to the document.
 */
import type { OrderEvent } from "../../domain/order_events.ts";
import type { EventJson } from "../openapi/event_schemas.ts";

/** The response body for one event. */
export function eventJson(event: OrderEvent): EventJson {
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
