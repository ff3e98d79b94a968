/**
 * The service's counters, per process, and their Prometheus text
 * exposition (format 0.0.4). Counters only ever grow while the process
 * lives; a restart starts them at zero, which Prometheus' `rate()` handles.
 */
import { formatCents } from "../domain/money.ts";
import {
  WEBHOOK_ATTEMPT_OUTCOMES,
  type WebhookAttemptOutcome,
} from "../domain/webhook_schedule.ts";

/** The media type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** The classes HTTP responses are counted in. */
export const RESPONSE_CLASSES = ["2xx", "3xx", "4xx", "5xx"] as const;

/** A class of HTTP status. */
export type ResponseClass = typeof RESPONSE_CLASSES[number];

/** Counters of one process. */
export interface Metrics {
  /** Counts a response by its status class (1xx is not counted). */
  countResponse(status: number): void;
  /** Counts a security event by name. */
  countSecurityEvent(event: string): void;
  /** Counts a new order and adds its total (in cents) to the value sum. */
  countOrderCreated(totalCents: bigint): void;
  countOrderCancelled(): void;
  countOrderHeld(): void;
  /** Counts a webhook delivery attempt by its outcome. */
  countWebhookAttempt(outcome: WebhookAttemptOutcome): void;
  /**
   * The Prometheus text exposition of every counter, and of the webhook
   * backlog as read from the database when given.
   */
  render(backlog?: WebhookBacklog): string;
}

/** The outbox as the metrics show it (`DeliveryQueue.backlog`). */
export interface WebhookBacklog {
  /** Deliveries waiting for enabled endpoints. */
  readonly pending: number;
  /** When the oldest of them was queued (ms since the epoch), if any. */
  readonly oldestQueuedAt: number | null;
  /** The time to measure its age against. */
  readonly now: number;
}

/** The webhook series, named once for the exposition and the docs. */
export const WEBHOOK_METRICS = {
  attempts: "orders_webhook_attempts_total",
  pending: "orders_webhook_deliveries_pending",
  oldestPending: "orders_webhook_oldest_pending_seconds",
} as const;

/**
 * Creates the counters. `securityEvents` are listed with 0 before they
 * first happen, so dashboards and alerts see every series from the start.
 */
export function createMetrics(
  options: { securityEvents: readonly string[] },
): Metrics {
  const responses = new Map<ResponseClass, number>(
    RESPONSE_CLASSES.map((c) => [c, 0]),
  );
  const events = new Map<string, number>(
    options.securityEvents.map((e) => [e, 0]),
  );
  let created = 0;
  let cancelled = 0;
  let held = 0;
  let valueCents = 0n;
  const attempts = new Map<WebhookAttemptOutcome, number>(
    WEBHOOK_ATTEMPT_OUTCOMES.map((outcome) => [outcome, 0]),
  );

  return {
    countResponse(status) {
      const cls = `${Math.floor(status / 100)}xx` as ResponseClass;
      const current = responses.get(cls);
      if (current !== undefined) responses.set(cls, current + 1);
    },
    countSecurityEvent(event) {
      events.set(event, (events.get(event) ?? 0) + 1);
    },
    countOrderCreated(totalCents) {
      created++;
      valueCents += totalCents;
    },
    countOrderCancelled() {
      cancelled++;
    },
    countOrderHeld() {
      held++;
    },
    countWebhookAttempt(outcome) {
      attempts.set(outcome, (attempts.get(outcome) ?? 0) + 1);
    },
    render(backlog) {
      const lines: string[] = [];
      family(
        lines,
        "orders_http_responses_total",
        "counter",
        "HTTP responses by status class.",
      );
      for (const [cls, value] of responses) {
        lines.push(`orders_http_responses_total{class="${cls}"} ${value}`);
      }
      family(
        lines,
        "orders_security_events_total",
        "counter",
        "Security events logged, by event name.",
      );
      for (const [event, value] of [...events].sort(byName)) {
        lines.push(
          `orders_security_events_total{event="${
            escapeLabel(event)
          }"} ${value}`,
        );
      }
      family(lines, "orders_created_total", "counter", "Orders created.");
      lines.push(`orders_created_total ${created}`);
      family(lines, "orders_cancelled_total", "counter", "Orders cancelled.");
      lines.push(`orders_cancelled_total ${cancelled}`);
      family(
        lines,
        "orders_held_total",
        "counter",
        "Orders held for review at creation.",
      );
      lines.push(`orders_held_total ${held}`);
      family(
        lines,
        "orders_value",
        "summary",
        "Totals of created orders (exact decimal sum, any currency); sum / count is the average order value.",
      );
      lines.push(`orders_value_sum ${formatCents(valueCents)}`);
      lines.push(`orders_value_count ${created}`);
      family(
        lines,
        WEBHOOK_METRICS.attempts,
        "counter",
        "Webhook delivery attempts made by this instance, by outcome.",
      );
      for (const [outcome, value] of attempts) {
        lines.push(
          `${WEBHOOK_METRICS.attempts}{outcome="${outcome}"} ${value}`,
        );
      }
      if (backlog) {
        family(
          lines,
          WEBHOOK_METRICS.pending,
          "gauge",
          "Webhook deliveries waiting for enabled endpoints (every instance).",
        );
        lines.push(`${WEBHOOK_METRICS.pending} ${backlog.pending}`);
        family(
          lines,
          WEBHOOK_METRICS.oldestPending,
          "gauge",
          "Age of the oldest waiting webhook delivery, in seconds (0 when none): the delivery lag.",
        );
        const age = backlog.oldestQueuedAt === null
          ? 0
          : Math.max(0, backlog.now - backlog.oldestQueuedAt) / 1000;
        lines.push(`${WEBHOOK_METRICS.oldestPending} ${age}`);
      }
      return lines.join("\n") + "\n";
    },
  };
}

function family(
  lines: string[],
  name: string,
  type: "counter" | "summary" | "gauge",
  help: string,
): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

function byName(a: [string, number], b: [string, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}
