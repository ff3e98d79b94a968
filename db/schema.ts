/**
 * The database schema: the single source of truth for tables and row types.
 *
 * Money is stored in exact integers: order totals in cents, unit prices in
 * ten-thousandths. Timestamps are milliseconds since the epoch.
 */
import { type SQL, sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";
import { AUDIT_ACTIONS, AUDIT_SEAL_SCHEMES } from "../domain/audit.ts";
import { KEY_STATES } from "../domain/idempotency.ts";
import { ORDER_STATUSES, REVIEW_STATES } from "../domain/order.ts";
import { MAX_QUANTITY } from "../domain/order_input.ts";
import { ORDER_EVENT_TYPES } from "../domain/order_events.ts";
import { WEBHOOK_ATTEMPT_OUTCOMES } from "../domain/webhook_schedule.ts";

/**
 * `'a', 'b', …`: an enum's values as SQL literals, for the CHECK constraints
 * (rendered inline, as drizzle-kit writes them into the migrations).
 */
function sqlValues(values: readonly string[]): SQL {
  return sql.raw(values.map((v) => `'${v.replaceAll("'", "''")}'`).join(", "));
}

/** Orders: one row per order; `version` grows by one on every change. */
export const orders = sqliteTable("orders", {
  id: text("id").primaryKey(),
  userId: integer("user_id").notNull(),
  status: text("status", { enum: ORDER_STATUSES }).notNull(),
  currency: text("currency").notNull(),
  totalCents: integer("total_cents").notNull(),
  shippingAddress: text("shipping_address").notNull(),
  version: integer("version").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  // Issue 8 (incident response): who created the order, for the velocity
  // rule (null for orders created before it was recorded), and the review
  // hold: its state (null: never held) and its reasons as a JSON array.
  createdBy: integer("created_by"),
  reviewState: text("review_state", { enum: REVIEW_STATES }),
  reviewReasons: text("review_reasons"),
}, (t) => [
  index("orders_user_created_idx").on(t.userId, t.createdAt, t.id),
  index("orders_status_created_idx").on(t.status, t.createdAt, t.id),
  index("orders_created_idx").on(t.createdAt, t.id),
  check(
    "orders_status_check",
    sql`${t.status} IN (${sqlValues(ORDER_STATUSES)})`,
  ),
  check("orders_version_check", sql`${t.version} >= 1`),
  check("orders_total_check", sql`${t.totalCents} >= 0`),
]);

/** Order lines; written once with their order and never updated. */
export const orderItems = sqliteTable("order_items", {
  orderId: text("order_id").notNull().references(() => orders.id),
  position: integer("position").notNull(),
  productId: text("product_id").notNull(),
  /** `1` when the client sent `product_id` as a JSON number. */
  productIdIsNumber: integer("product_id_is_number", { mode: "boolean" })
    .notNull(),
  productName: text("product_name").notNull(),
  quantity: integer("quantity").notNull(),
  /** Unit price in ten-thousandths of the currency unit. */
  unitPrice: integer("unit_price").notNull(),
}, (t) => [
  primaryKey({ columns: [t.orderId, t.position] }),
  check(
    "order_items_quantity_check",
    sql`${t.quantity} BETWEEN 1 AND ${sql.raw(String(MAX_QUANTITY))}`,
  ),
  check("order_items_price_check", sql`${t.unitPrice} >= 0`),
]);

/**
 * The append-only audit log. Each chain (one per order, `order:<id>`, and
 * one per account an admin acted on, `user:<id>`) is a hash chain: `hash` covers `prev_hash` and the entry's own content, and
 * `(chain_id, chain_seq)` is unique so two writers can never both append at
 * the same position. Triggers in the migrations refuse UPDATE and DELETE.
 */
export const auditLog = sqliteTable("audit_log", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  chainId: text("chain_id").notNull(),
  chainSeq: integer("chain_seq").notNull(),
  orderId: text("order_id"),
  action: text("action", { enum: AUDIT_ACTIONS }).notNull(),
  actorUserId: integer("actor_user_id").notNull(),
  /** JSON array of role names. */
  actorRoles: text("actor_roles").notNull(),
  requestId: text("request_id").notNull(),
  at: integer("at").notNull(),
  /** JSON object: field → { from, to }. */
  changes: text("changes").notNull(),
  prevHash: text("prev_hash").notNull(),
  hash: text("hash").notNull(),
  /**
   * How `hash` was computed: `sha256` (unkeyed, the entries written before
   * the audit key) or `hmac-sha256` under the key `key_id` names.
   */
  seal: text("seal", { enum: AUDIT_SEAL_SCHEMES }).notNull().default("sha256"),
  keyId: text("key_id"),
}, (t) => [
  uniqueIndex("audit_log_chain_idx").on(t.chainId, t.chainSeq),
  index("audit_log_order_idx").on(t.orderId, t.seq),
]);

/**
 * Order events (`domain/order_events.ts`): one per audit entry of an order,
 * written in the same batch as the entry. `seq` is the feed's position:
 * SQLite runs one write transaction at a time, locally and on a remote
 * libSQL server, and `AUTOINCREMENT` numbers rows in the order those
 * transactions commit and never reuses a number, so an event never becomes
 * visible behind one already read. `payload` holds no personal data. Rows are never updated (a trigger refuses it) and are
 * deleted only by the retention purge, oldest first.
 */
export const orderEvents = sqliteTable("order_events", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  id: text("id").notNull(),
  type: text("type", { enum: ORDER_EVENT_TYPES }).notNull(),
  orderId: text("order_id").notNull(),
  /** The order's owner: whose events a user's feed shows. */
  userId: integer("user_id").notNull(),
  at: integer("at").notNull(),
  /** The event's `data`, as JSON. */
  payload: text("payload").notNull(),
}, (t) => [
  uniqueIndex("order_events_id_idx").on(t.id),
  index("order_events_user_idx").on(t.userId, t.seq),
  index("order_events_order_idx").on(t.orderId, t.seq),
  check(
    "order_events_type_check",
    sql`${t.type} IN (${sqlValues(ORDER_EVENT_TYPES)})`,
  ),
]);

/**
 * Idempotency keys of order creations, per user. A key is claimed
 * (`in_flight`) by the first request and completed with the stored 201 in the
 * same atomic write as the order it created.
 */
export const idempotencyKeys = sqliteTable("idempotency_keys", {
  userId: integer("user_id").notNull(),
  key: text("key").notNull(),
  /** SHA-256 of the canonical JSON of the request body. */
  fingerprint: text("fingerprint").notNull(),
  state: text("state", { enum: KEY_STATES }).notNull(),
  /** Random token of the request holding the claim. */
  claimToken: text("claim_token").notNull(),
  orderId: text("order_id"),
  responseStatus: integer("response_status"),
  responseBody: text("response_body"),
  createdAt: integer("created_at").notNull(),
}, (t) => [
  primaryKey({ columns: [t.userId, t.key] }),
  index("idempotency_keys_created_idx").on(t.createdAt),
  check(
    "idempotency_keys_state_check",
    sql`${t.state} IN (${sqlValues(KEY_STATES)})`,
  ),
]);

/**
 * Per-user data keys for personal data (crypto-shredding). `wrapped_key` is
 * the data key wrapped by a master key (`<master id>.<base64>`); erasure sets
 * it to NULL and `destroyed_at`, and the row stays as the record of a key
 * that existed. A user has at most one live key (the partial unique index),
 * so concurrent first orders agree on one. Triggers in the migrations keep
 * a destroyed key destroyed and refuse an order address encrypted under a
 * key that is not the owner's live one.
 */
export const userKeys = sqliteTable("user_keys", {
  keyId: text("key_id").primaryKey(),
  userId: integer("user_id").notNull(),
  wrappedKey: text("wrapped_key"),
  createdAt: integer("created_at").notNull(),
  destroyedAt: integer("destroyed_at"),
}, (t) => [
  uniqueIndex("user_keys_live_idx").on(t.userId).where(
    sql`${t.destroyedAt} IS NULL`,
  ),
  index("user_keys_user_idx").on(t.userId, t.createdAt),
  check(
    "user_keys_destroyed_check",
    sql`(${t.wrappedKey} IS NULL) = (${t.destroyedAt} IS NOT NULL)`,
  ),
]);

/**
 * Issue 8 (incident response): account state set by admins, read on every
 * authenticated request through a short-lived cache. A user without a row
 * is enabled with no revoked tokens. Changes are audited in the chain
 * `user:<id>`.
 */
export const accounts = sqliteTable("accounts", {
  userId: integer("user_id").primaryKey(),
  /** When the account was disabled (ms since the epoch); null: enabled. */
  disabledAt: integer("disabled_at"),
  /** Tokens with `iat` at or before this (epoch seconds) are refused. */
  tokensRevokedBefore: integer("tokens_revoked_before"),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Webhook endpoints (issue 23), registered by admins. `event_types` is
 * the subscribed types between commas (`,order.created,order.updated,`), or
 * empty for every type, so the outbox statement matches a type with one
 * `instr`. `secret` and `previous_secret` are encrypted with the master
 * key (`pii/cipher.ts` `encryptSecret`). Changes are audited in the chain
 * `webhook_endpoint:<id>`, one entry per `version`.
 */
export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  eventTypes: text("event_types").notNull(),
  description: text("description"),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  disabledReason: text("disabled_reason"),
  /** Deliveries in a row that failed for good. */
  failedDeliveries: integer("failed_deliveries").notNull(),
  secret: text("secret").notNull(),
  /** The secret before the last rotation, signing until `previous_secret_until`. */
  previousSecret: text("previous_secret"),
  previousSecretUntil: integer("previous_secret_until"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  version: integer("version").notNull(),
});

/**
 * What `ready` of a delivery says: `waiting` behind an earlier delivery of
 * its order to its endpoint, `ready` to attempt from `next_at`, or `leased`
 * by the process attempting it (`lease_token`) until `next_at`, when the
 * lease runs out and any process may attempt it again. A lease lives in
 * the columns of the claim's index, so no other index follows it.
 */
export const DELIVERY_STATES = { waiting: 0, ready: 1, leased: 2 } as const;

/**
 * The outbox: one row per delivery still to make (an event for an
 * endpoint), written in the batch of the change whose event it carries,
 * deleted once it succeeded or failed for good. `payload` is the body sent,
 * byte for byte on every attempt. `seq` orders one order's deliveries to an
 * endpoint; a row is leased (`ready`, `next_at`, `lease_token`) by the
 * process attempting it, so one attempt is made by one process.
 */
export const webhookDeliveries = sqliteTable("webhook_deliveries", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  endpointId: text("endpoint_id").notNull(),
  eventId: text("event_id").notNull(),
  eventType: text("event_type").notNull(),
  /** Null for a test event: no order to keep in order. */
  orderId: text("order_id"),
  payload: text("payload").notNull(),
  /**
   * One of `DELIVERY_STATES`. Not `waiting` when no earlier delivery of its
   * order to its endpoint is pending (the order's head, or no order): only
   * such a delivery is attempted. Set when queued, and on the next one when
   * its predecessor is done.
   */
  ready: integer("ready").notNull().default(DELIVERY_STATES.ready),
  /** Attempts made so far. */
  attempts: integer("attempts").notNull(),
  /**
   * When the next attempt is due, or while leased when the lease runs out
   * (ms since the epoch).
   */
  nextAt: integer("next_at").notNull(),
  /** The lease's holder while leased; null once an attempt is recorded. */
  leaseToken: text("lease_token"),
  /** When it was queued. */
  createdAt: integer("created_at").notNull(),
}, (t) => [
  index("webhook_deliveries_order_idx").on(t.endpointId, t.orderId, t.seq),
  index("webhook_deliveries_ready_idx").on(t.endpointId, t.ready, t.nextAt),
]);

/** The attempts log, per endpoint, newest first by `seq`. */
export const webhookAttempts = sqliteTable("webhook_attempts", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  endpointId: text("endpoint_id").notNull(),
  eventId: text("event_id").notNull(),
  eventType: text("event_type").notNull(),
  attempt: integer("attempt").notNull(),
  /** When the attempt started. */
  at: integer("at").notNull(),
  outcome: text("outcome", { enum: WEBHOOK_ATTEMPT_OUTCOMES }).notNull(),
  responseStatus: integer("response_status"),
  durationMs: integer("duration_ms").notNull(),
}, (t) => [
  index("webhook_attempts_endpoint_idx").on(t.endpointId, t.seq),
  check(
    "webhook_attempts_outcome_check",
    sql`${t.outcome} IN (${sqlValues(WEBHOOK_ATTEMPT_OUTCOMES)})`,
  ),
]);

/** A stored order row. */
export type OrderRow = typeof orders.$inferSelect;
/** A stored order line. */
export type OrderItemRow = typeof orderItems.$inferSelect;
/** A stored audit entry. */
export type AuditRow = typeof auditLog.$inferSelect;
/** A stored idempotency key record. */
export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;
/** A stored data key. */
export type UserKeyRow = typeof userKeys.$inferSelect;
/** A stored account state. */
export type AccountRow = typeof accounts.$inferSelect;
/** A stored webhook endpoint. */
export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
