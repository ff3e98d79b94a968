/**
 * What the order use cases did, as the monitoring sees it: the order
 * counters of the metrics and the security events `order.held`,
 * `order.cancelled` and `order.status_changed`.
 */
import type { Context } from "hono";
import type { AppliedOrderChange } from "../domain/apply_order_change.ts";
import type { Order } from "../domain/order.ts";
import type { AppEnv } from "../routes/env.ts";
import type { Metrics } from "./metrics.ts";
import { securityEvent } from "./security_events.ts";

/** Records orders created and changed, in the given counters. */
export interface OrderRecording {
  /** Counts a new order and logs `order.held` when it is held. */
  recordCreated(c: Context<AppEnv>, order: Order): void;
  /**
   * Counts and logs a change of status (`order.cancelled`,
   * `order.status_changed`); a change that left the status is not one.
   */
  recordChanged(c: Context<AppEnv>, outcome: AppliedOrderChange): void;
}

/** Creates the recorder of what the order use cases did, over `metrics`. */
export function createOrderRecording(metrics: Metrics): OrderRecording {
  return {
    recordCreated(c, order) {
      metrics.countOrderCreated(order.totalCents);
      if (order.review) {
        metrics.countOrderHeld();
        securityEvent(c, "order.held", {
          order_id: order.id,
          reason: order.review.reasons.join(","),
        });
      }
    },
    recordChanged(c, outcome) {
      const { order, previous } = outcome;
      if (previous === undefined || previous.status === order.status) return;
      if (order.status === "cancelled") {
        metrics.countOrderCancelled();
        securityEvent(c, "order.cancelled", {
          order_id: order.id,
          reason: order.review?.state === "rejected" &&
              previous.review?.state === "pending"
            ? "review rejected"
            : `${previous.status} -> cancelled`,
        });
      } else {
        securityEvent(c, "order.status_changed", {
          order_id: order.id,
          reason: `${previous.status} -> ${order.status}`,
        });
      }
    },
  };
}
