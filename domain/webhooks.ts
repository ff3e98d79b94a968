/**
 * Webhook endpoints and what is delivered to them: the types the admin
 * routes, the stores and the dispatcher share. The rules of a URL are in
 * ./webhook_destination.ts, the timing of retries in ./webhook_schedule.ts,
 * the signature in ../webhooks/signature.ts.
 */
import type { OrderEventType } from "./order_events.ts";
import type { WebhookAttemptOutcome } from "./webhook_schedule.ts";

/** The type of the event `POST /v1/webhook-endpoints/{id}/test` sends. */
export const WEBHOOK_TEST_EVENT_TYPE = "webhook.test";

/** Every type a delivery can carry. */
export type WebhookEventType = OrderEventType | typeof WEBHOOK_TEST_EVENT_TYPE;

/** Endpoints an installation may register (`WEBHOOK_MAX_ENDPOINTS`). */
export const DEFAULT_WEBHOOK_MAX_ENDPOINTS = 20;

/** How long an attempt may take (`WEBHOOK_TIMEOUT_MS`). */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;

/** Attempts in flight per endpoint (`WEBHOOK_CONCURRENCY`). */
export const DEFAULT_WEBHOOK_CONCURRENCY = 4;

/**
 * How often each instance looks for due deliveries: retries, and what
 * other instances queued (`WEBHOOK_POLL_MS`). Its own writes wake it at once.
 */
export const DEFAULT_WEBHOOK_POLL_MS = 1000;

/** How long the previous secret keeps signing after a rotation. */
export const PREVIOUS_SECRET_VALID_MS = 24 * 60 * 60 * 1000;

/** The most bytes of a receiver's response body read; the rest is dropped. */
export const MAX_WEBHOOK_RESPONSE_BYTES = 64 * 1024;

/** The longest `description` of an endpoint, in characters. */
export const MAX_WEBHOOK_DESCRIPTION_LENGTH = 500;

/** A registered endpoint, without its secret. */
export interface WebhookEndpoint {
  readonly id: string;
  /** The URL as checked at registration (`URL.href`). */
  readonly url: string;
  /** The event types it receives; empty: every order event type. */
  readonly eventTypes: readonly OrderEventType[];
  readonly description: string | null;
  readonly enabled: boolean;
  /** Why it was disabled, when it was: by an admin, a 410, failures. */
  readonly disabledReason: string | null;
  /** Deliveries in a row that failed for good (a success resets it). */
  readonly failedDeliveries: number;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Starts at 1; every change adds 1 (the position of its audit entry). */
  readonly version: number;
}

/** The body of one delivery: an event, as `GET /v1/events/{id}` shows it. */
export interface WebhookPayload {
  readonly id: string;
  readonly type: WebhookEventType;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One attempt, as the attempts log shows it. */
export interface WebhookAttempt {
  /** The attempt's position in the log (newest first by it). */
  readonly seq: number;
  readonly eventId: string;
  readonly eventType: WebhookEventType;
  /** Which attempt of its delivery, from 1. */
  readonly attempt: number;
  /** When the attempt started (ms since the epoch). */
  readonly at: number;
  readonly outcome: WebhookAttemptOutcome;
  readonly responseStatus: number | null;
  readonly durationMs: number;
}
