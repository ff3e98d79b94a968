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
