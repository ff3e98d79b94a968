/**
 * The JSON of an order event (`orderEventBody`, which webhook deliveries
 * carry too). The shape is the type of `eventSchema`, so the compiler holds
 * the body to the document.
 */
import { type OrderEvent, orderEventBody } from "../../domain/order_events.ts";
import type { EventJson } from "../openapi/event_schemas.ts";

/** The response body for one event. */
export function eventJson(event: OrderEvent): EventJson {
  return orderEventBody(event);
}
