/**
 * What the domain needs from the outside world, as interfaces the adapters
 * implement.
 */
import type { AccountState } from "./account.ts";
import type { AuditDraft, AuditEntry, PlacedAuditDraft } from "./audit.ts";
import type { IdempotencyRecord } from "./idempotency.ts";
import type { Order, OrderStatus } from "./order.ts";
import type { Principal } from "./principal.ts";
import type { OrderEvent, OrderEventType } from "./order_events.ts";
import type {
  WebhookAttempt,
  WebhookEndpoint,
  WebhookPayload,
} from "./webhooks.ts";
import type { WebhookAttemptOutcome } from "./webhook_schedule.ts";

/**
 * Where an order stands in the listing's order (`created_at` descending,
 * then `id` descending): neither ever changes, so a position stays put
 * whatever happens to the orders around it.
 */
export interface OrderPosition {
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly id: string;
}

/** Which orders a listing shows and which page of them. */
export interface OrderQuery {
  readonly userId?: number | undefined;
  readonly status?: OrderStatus | undefined;
  readonly limit: number;
  readonly offset: number;
  /**
   * Only orders after this position (older, or as old with a smaller id):
   * the keyset of cursor pagination. `count` ignores it.
   */
  readonly after?: OrderPosition | undefined;
}

/** A page of orders and how many match in all. */
export interface OrderPage {
  readonly orders: Order[];
  readonly count: number;
}

/**
 * When a key's record stops holding the key: a completed record created
 * before `replayCutoff`, an in-flight claim (written by versions before
 * claims and orders were one write) created before `claimCutoff`.
 */
export interface KeyCutoffs {
  readonly replayCutoff: number;
  readonly claimCutoff: number;
}

/** A request's use of an idempotency key. */
export interface KeyUse {
  readonly userId: number;
  readonly key: string;
  readonly fingerprint: string;
  /** Milliseconds since the epoch. */
  readonly now: number;
  readonly cutoffs: KeyCutoffs;
}

/** The key's record written with a new order: its stored 201. */
export interface KeyCompletion extends KeyUse {
  readonly responseBody: string;
}

/**
 * An order as read for a change, with the head of its audit chain read in
 * the same snapshot: the new entry's `prev_hash` and position come from it.
 */
export interface OrderSnapshot {
  readonly order: Order;
  /** The `chain_seq` of the chain's last entry; equals `order.version`. */
  readonly lastAuditSeq: number;
  /** The hash of the chain's last entry. */
  readonly lastAuditHash: string;
}

/** An order with its audit entries, oldest first. */
export interface OrderWithHistory {
  readonly order: Order;
  readonly history: AuditEntry[];
}

/**
 * A condition a new order is written under: fewer than `below` orders that
 * `userId` created themself since `since` (ms since the epoch). It makes
 * the velocity rule exact under concurrent creations.
 */
export interface VelocityGuard {
  readonly userId: number;
  readonly since: number;
  readonly below: number;
}

/** Persistence of orders and their audit log. */
export interface OrderStore {
  /**
   * Writes a new order, its lines and its first audit entry (sealed by the
   * store, over what it stores, as the first of the order's chain). With
   * a completion, the key's completed record is written in the same write,
   * and nothing is written (false) unless no live record held the key (see
   * `KeyCutoffs`). With a guard, nothing is written (false) unless the
   * guard holds at the write.
   */
  insertOrder(
    order: Order,
    entry: AuditDraft,
    completion?: KeyCompletion,
    guard?: VelocityGuard,
  ): Promise<boolean>;
  /**
   * How many orders `userId` created for themself (creator and owner) at or
   * after `since` (ms since the epoch).
   */
  countOwnOrdersSince(userId: number, since: number): Promise<number>;
  /**
   * Readies what writing `userId`'s orders needs, so that the write itself
   * is one round trip (the encrypting store: the user's data key, created
   * on first use). Stores nothing personal, so it may run before the
   * request is admitted.
   */
  prepareWrites(userId: number): Promise<void>;
  /** The live record holding the key (see `KeyCutoffs`), if any. */
  findIdempotencyKey(use: KeyUse): Promise<IdempotencyRecord | undefined>;
  /** Deletes key records created before `cutoff`; returns how many. */
  purgeIdempotencyKeys(cutoff: number): Promise<number>;
  /** The order with this (lowercase) id, if any. */
  findOrder(id: string): Promise<Order | undefined>;
  /**
   * The order with this (lowercase) id and the head of its audit chain, read
   * together; undefined when there is no such order.
   */
  findOrderForChange(id: string): Promise<OrderSnapshot | undefined>;
  /**
   * Writes the mutable fields of `order` and appends `entry` to the order's
   * chain at `order.version`, after the entry whose hash is `prevHash`,
   * atomically and only if the stored order is still at `order.version - 1`.
   * The store seals the entry over what it stores. Returns false,
   * with nothing written, when another change came first.
   */
  updateOrder(
    order: Order,
    entry: AuditDraft,
    prevHash: string,
  ): Promise<boolean>;
  /** The audit entries of an order, oldest first. */
  listOrderHistory(id: string): Promise<AuditEntry[]>;
  /**
   * The order with this (lowercase) id and its audit entries, oldest first,
   * read together; undefined when there is no such order.
   */
  findOrderWithHistory(id: string): Promise<OrderWithHistory | undefined>;
  /** Orders matching the query, newest first. */
  listOrders(query: OrderQuery): Promise<OrderPage>;
  /**
   * The page of orders `listOrders` would answer, each with its audit
   * entries (oldest first), read together in one request.
   */
  listOrdersWithHistory(query: OrderQuery): Promise<OrderWithHistory[]>;
  /**
   * Whether the database is ready: resolves with why not (a line for the
   * log, e.g. its schema lags the shipped migrations), or undefined when it
   * is; rejects when the database does not answer. One small query.
   */
  ping(): Promise<string | undefined>;
}

/**
 * An account's state as read for a change, with the head of its audit chain
 * (`user:<id>`) read in the same snapshot.
 */
export interface AccountSnapshot {
  /** Undefined when no admin ever acted on the account. */
  readonly account: AccountState | undefined;
  /** The `chain_seq` of the chain's last entry; 0 for an empty chain. */
  readonly lastAuditSeq: number;
  /** The hash of the chain's last entry. */
  readonly lastAuditHash: string;
}

/** Persistence of account state and its audit chain. */
export interface AccountStore {
  /** The account's state; undefined when no admin ever acted on it. */
  findAccount(userId: number): Promise<AccountState | undefined>;
  /** The account's state and the head of its audit chain, read together. */
  findAccountForChange(userId: number): Promise<AccountSnapshot>;
  /**
   * Writes the account's state and appends `entry` at its chain position
   * (the store seals it), atomically. Returns false, with nothing written,
   * when the chain position is taken (another change came first).
   */
  writeAccount(
    account: AccountState,
    entry: PlacedAuditDraft,
  ): Promise<boolean>;
  /**
   * The entries of the user's own audit chain (`user:<id>`: erasures and
   * admin actions on the account), oldest first.
   */
  listUserEvents(userId: number): Promise<AuditEntry[]>;
}

/** The current time, injectable so tests are exact. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** What an erasure request achieved. */
export type ErasureOutcome = "erased" | "unchanged";

/** Erasure of a user's personal data (crypto-shredding of their data key). */
export interface PersonalDataEraser {
  /**
   * Destroys the user's data key, with its `user.personal_data_erased`
   * audit entry in the same atomic write. "unchanged" when there was no key
   * left to destroy. Throws a `conflict` DomainError while an order of the
   * user still needs its shipping address.
   */
  erase(
    userId: number,
    context: {
      actor: Principal;
      requestId: string;
      /** Called right before each write; throws when it may no longer write. */
      beginWrite?: () => void;
    },
  ): Promise<ErasureOutcome>;
}

/** An event as the feed holds it: with its place in the feed. */
export interface StoredOrderEvent extends OrderEvent {
  /** The event's position in the feed: events commit in `seq` order. */
  readonly seq: number;
}

/** Which events a page of the feed holds. */
export interface EventQuery {
  /** Only events after this position. */
  readonly afterSeq: number;
  readonly limit: number;
  /** Only events of these types (none: every type). */
  readonly types?: readonly OrderEventType[] | undefined;
  readonly orderId?: string | undefined;
  /** Only events of this user's orders. */
  readonly userId?: number | undefined;
}

/** A page of the feed. */
export interface EventPage {
  /** The events after the position, oldest first, at most `limit`. */
  readonly events: readonly StoredOrderEvent[];
  /** Whether more events matched after the last one. */
  readonly hasMore: boolean;
  /**
   * The position just before the oldest event kept: events up to it have
   * been purged (0 when none ever was), read with the page.
   */
  readonly horizon: number;
  /** The last position given so far (0 if none), read with the page. */
  readonly head: number;
}

/** Where order events are kept (db/event_store.ts). */
export interface EventStore {
  listEvents(query: EventQuery): Promise<EventPage>;
  /** The event with this id, if it is still kept. */
  findEvent(id: string): Promise<StoredOrderEvent | undefined>;
  /**
   * Deletes the oldest events, up to the first one at or after `cutoff`
   * (ms since the epoch); returns how many.
   */
  purgeEvents(cutoff: number): Promise<number>;
}

/** A delivery to queue: one payload for one endpoint. */
export interface QueuedDelivery {
  readonly endpointId: string;
  readonly payload: WebhookPayload;
  /**
   * The order the event is about: an endpoint receives one order's events
   * one at a time, in the order they were queued. Null (a test event): no
   * order to keep.
   */
  readonly orderId: string | null;
}

/** A page of an endpoint's attempts log, newest first. */
export interface WebhookAttemptPage {
  readonly attempts: readonly WebhookAttempt[];
  /** Whether older attempts follow the last one. */
  readonly hasMore: boolean;
}

/**
 * Where webhook endpoints are kept, with their secrets (encrypted at rest
 * by the store) and the audit chain of each (`webhook_endpoint:<id>`, one
 * entry per version). Every change is one atomic write with its entry.
 */
export interface WebhookEndpointStore {
  /** Every endpoint, oldest first. */
  listEndpoints(): Promise<WebhookEndpoint[]>;
  findEndpoint(id: string): Promise<WebhookEndpoint | undefined>;
  /**
   * Registers `endpoint` (at version 1) with its secret and `entry`; false,
   * with nothing written, when `maxEndpoints` are registered already.
   */
  createEndpoint(
    endpoint: WebhookEndpoint,
    secret: string,
    entry: AuditDraft,
    maxEndpoints: number,
  ): Promise<boolean>;
  /**
   * Writes `after` with `entry`, only while the endpoint is still as
   * `before` was read (its version, and its state the dispatcher changes:
   * enabled, failed deliveries); false, with nothing written, otherwise
   * (changed by someone or something else first, or deleted).
   */
  updateEndpoint(
    before: WebhookEndpoint,
    after: WebhookEndpoint,
    entry: AuditDraft,
  ): Promise<boolean>;
  /**
   * Deletes `endpoint` and its pending deliveries, with `entry` at the
   * next position of its chain, only while the stored version is still
   * `endpoint.version`; false otherwise.
   */
  deleteEndpoint(
    endpoint: WebhookEndpoint,
    entry: AuditDraft,
  ): Promise<boolean>;
  /**
   * Replaces the secret of `endpoint` (the version after it); the old one
   * keeps signing until `previousUntil` (ms since the epoch). Only while
   * the stored version is still `endpoint.version`; false otherwise.
   */
  rotateSecret(
    endpoint: WebhookEndpoint,
    secret: string,
    previousUntil: number,
    entry: AuditDraft,
  ): Promise<boolean>;
  /** Queues deliveries whose first attempt is due at `at`, atomically. */
  enqueueDeliveries(
    deliveries: readonly QueuedDelivery[],
    at: number,
  ): Promise<void>;
  /** One page of the endpoint's attempts, before `beforeSeq` when given. */
  listAttempts(
    endpointId: string,
    page: { readonly beforeSeq?: number | undefined; readonly limit: number },
  ): Promise<WebhookAttemptPage>;
}

/** A delivery a process has leased for one attempt. */
export interface ClaimedDelivery {
  readonly seq: number;
  readonly endpointId: string;
  readonly eventId: string;
  readonly eventType: string;
  /** The order it is about (null: a test event). */
  readonly orderId: string | null;
  /** The body, exactly as every attempt sends it. */
  readonly payload: string;
  /** Attempts made before this one. */
  readonly attempts: number;
  /** When it was queued (ms since the epoch). */
  readonly queuedAt: number;
  /** Proves the lease: an outcome is recorded only while it still holds. */
  readonly leaseToken: string;
}

/** Where a claimed delivery goes and the secrets that sign it. */
export interface DeliveryTarget {
  readonly url: string;
  /** The current secret first, then the previous one while it still signs. */
  readonly secrets: readonly string[];
}

/** What the dispatcher leased: the deliveries and their endpoints. */
export interface ClaimedWork {
  readonly deliveries: readonly ClaimedDelivery[];
  /** Every enabled endpoint, by id. */
  readonly targets: ReadonlyMap<string, DeliveryTarget>;
}

/** What became of a delivery after an attempt. */
export type DeliveryFate =
  | { readonly kind: "succeeded" }
  | { readonly kind: "retry"; readonly at: number }
  | { readonly kind: "failed" };

/** One attempt's record, with what it means for its delivery and endpoint. */
export interface AttemptRecord {
  readonly delivery: ClaimedDelivery;
  /** When the attempt started and how long it took. */
  readonly at: number;
  readonly durationMs: number;
  readonly outcome: WebhookAttemptOutcome;
  readonly responseStatus: number | null;
  readonly fate: DeliveryFate;
  /** The receiver answered 410: disable the endpoint now. */
  readonly gone: boolean;
  /** Failed deliveries in a row that disable the endpoint. */
  readonly disableAfter: number;
  /** When the outcome is recorded. */
  readonly now: number;
}

/** What recording an attempt did to its endpoint. */
export interface RecordedAttempt {
  /** False when the lease had expired (another process owns the delivery). */
  readonly recorded: boolean;
  /** The endpoint's `disabled_reason` if this attempt disabled it. */
  readonly disabledReason?: string | undefined;
}

/** Which due deliveries to lease, and until when. */
export interface DueClaim {
  readonly endpointIds: readonly string[];
  readonly now: number;
  readonly leaseUntil: number;
  readonly concurrency: number;
  readonly limit: number;
}

/** The outbox, as the dispatcher works through it (db/webhook_store.ts). */
export interface DeliveryQueue {
  /**
   * The enabled endpoints with a delivery due at `now`, and every enabled
   * endpoint (a read).
   */
  dueEndpoints(
    now: number,
  ): Promise<{ readonly due: string[]; readonly enabled: string[] }>;
  /**
   * Leases due deliveries of `claim.endpointIds` until `leaseUntil`, up to
   * `limit` per endpoint: only an order's oldest pending delivery, and at
   * most `concurrency` leased per endpoint at once (across every process).
   */
  claimDue(claim: DueClaim): Promise<ClaimedWork>;
  /**
   * Records attempts, each with the fate of its delivery, and then, in the
   * same write, makes `claim` when given (the next deliveries those
   * attempts made room for).
   */
  recordAttempts(
    records: readonly AttemptRecord[],
    claim?: DueClaim,
  ): Promise<
    { recorded: RecordedAttempt[]; claimed?: ClaimedWork | undefined }
  >;
  /** Deliveries waiting for enabled endpoints, and when the oldest was queued. */
  backlog(): Promise<{ pending: number; oldestQueuedAt: number | null }>;
  /** Deletes attempts logged before `cutoff`; returns how many. */
  purgeAttempts(cutoff: number): Promise<number>;
}
