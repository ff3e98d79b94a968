/**
 * The service's counters, per process, and their Prometheus text
 * exposition (format 0.0.4). Counters only ever grow while the process
 * lives; a restart starts them at zero, which Prometheus' `rate()` handles.
 */
import { formatCents } from "../domain/money.ts";

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
  /** The Prometheus text exposition of every counter. */
  render(): string;
}

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
    render() {
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
      return lines.join("\n") + "\n";
    },
  };
}

function family(
  lines: string[],
  name: string,
  type: "counter" | "summary",
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
