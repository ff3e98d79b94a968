/**
 * Applying a change to an order with optimistic concurrency: read the order
 * and its chain head, plan the change, and write it only if the order is
 * still at the version the plan was made against. Within one process,
 * changes to one order run one after another, so they never lose a race to
 * each other; a race lost to another process is retried after a jittered
 * pause.
 */
import { DomainError } from "./errors.ts";
import type { KeyedQueue } from "./keyed_queue.ts";
import type { Order } from "./order.ts";
import { type OrderChange, planOrderChange } from "./order_change.ts";
import { assertCanReadOrder } from "./policy.ts";
import type { Clock, OrderStore } from "./ports.ts";
import type { Principal } from "./principal.ts";

/**
 * How many times a change without `If-Match` is planned against a freshly
 * read order before it gives up with 409. Only races with other processes
 * are lost (this process queues its own changes to one order), and each is
 * followed by a pause, so this is far more than contention needs.
 */
export const MAX_CHANGE_ATTEMPTS = 25;

/** The longest pause between two attempts, in milliseconds. */
const MAX_BACKOFF_MS = 100;

/** What applying a change needs. */
export interface OrderChangeDeps {
  readonly store: OrderStore;
  readonly clock: Clock;
  /** Queues this process's changes to one order (by id); none by default. */
  readonly queue?: KeyedQueue;
  /** Waits before attempt `attempt` (2, 3, …) after a lost race; none by default. */
  readonly backoff?: (attempt: number) => Promise<void>;
}

/**
 * A pause before a retry: random between 0 and 2^attempt ms, at most
 * `MAX_BACKOFF_MS` ("full jitter"), so racing processes spread out.
 */
export function jitteredBackoff(attempt: number): Promise<void> {
  const ceiling = Math.min(MAX_BACKOFF_MS, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

/** One request to change an order. */
export interface OrderChangeCommand {
  /** The order's id, or undefined when the URL's id is not a UUID. */
  readonly orderId: string | undefined;
  readonly principal: Principal;
  readonly requestId: string;
  /**
   * The versions `If-Match` names, or undefined without `If-Match` (or with
   * `If-Match: *`).
   */
  readonly expectedVersions?: readonly number[] | undefined;
  /**
   * Reads and validates the request body. It runs first, before this
   * process's queue for the order is entered, so a body that is slow to
   * arrive holds up no other change to the order. Its refusal is reported
   * in the contract's order: without `If-Match` before the order is read
   * (validation comes before existence); with it, after the version check,
   * since a stale version is reported before anything about the body, even
   * malformed JSON.
   */
  readonly readChange: () => OrderChange | Promise<OrderChange>;
  /**
   * Settles once the request may go on (its rate limits' verdict, which may
   * come while the order is read); rejects when it may not. Awaited before
   * anything is decided (refused, planned or written); none by default.
   */
  readonly admitted?: () => Promise<void>;
  /**
   * Called right before each write; throws when the request may no longer
   * write (it was cut off by the request timeout). None by default.
   */
  readonly beginWrite?: () => void;
}

/** What applying a change did. */
export interface AppliedOrderChange {
  /** The order as it is afterwards. */
  readonly order: Order;
  /** The order before the change; undefined when nothing changed. */
  readonly previous: Order | undefined;
}

/**
 * Applies a change and returns the order as it is afterwards (unchanged
 * when there was nothing to change). See `applyOrderChangeWithOutcome`.
 */
export async function applyOrderChange(
  deps: OrderChangeDeps,
  command: OrderChangeCommand,
): Promise<Order> {
  return (await applyOrderChangeWithOutcome(deps, command)).order;
}

/**
 * Applies a change and returns the order as it is afterwards, with the
 * version it replaced when something changed.
 *
 * With `If-Match`, the change applies to that version or not at all (412).
 * Without it, losing a race to another change re-reads the order and plans
 * the change again against the newer state, so every rule is checked
 * against the version the write lands on; after `MAX_CHANGE_ATTEMPTS` lost
 * races it gives up with 409. Either way nothing is written on failure.
 */
export async function applyOrderChangeWithOutcome(
  deps: OrderChangeDeps,
  command: OrderChangeCommand,
): Promise<AppliedOrderChange> {
  // The whole body is in before the queue is entered; its refusal waits
  // for its turn in the contract's order.
  const body = (async () => await command.readChange())();
  await body.catch(() => {});
  if (command.expectedVersions === undefined) {
    await body.catch(async (error) => {
      await command.admitted?.();
      throw error;
    });
  }
  const { orderId } = command;
  if (orderId === undefined || deps.queue === undefined) {
    return await applyWithRetries(deps, command, body);
  }
  return await deps.queue(
    orderId,
    () => applyWithRetries(deps, command, body),
  );
}

async function applyWithRetries(
  deps: OrderChangeDeps,
  command: OrderChangeCommand,
  body: Promise<OrderChange>,
): Promise<AppliedOrderChange> {
  const { store, clock } = deps;
  const { principal, expectedVersions } = command;
  for (let attempt = 1; attempt <= MAX_CHANGE_ATTEMPTS; attempt++) {
    if (attempt > 1) await deps.backoff?.(attempt);
    const snapshot = await findRequestedOrder(
      command,
      (id) => store.findOrderForChange(id),
    );
    const { order } = snapshot;
    assertCanReadOrder(principal, order);
    if (
      expectedVersions !== undefined &&
      !expectedVersions.includes(order.version)
    ) {
      throw versionMismatch(order);
    }
    const change = await body;
    const plan = planOrderChange(order, change, {
      principal,
      requestId: command.requestId,
      now: clock.now(),
    });
    if (!plan.changed) return { order, previous: undefined };
    if (snapshot.lastAuditSeq < order.version) {
      // The chain and the row are written together, so this means the
      // database was changed behind the service's back.
      throw new Error(
        `Audit chain of order "${order.id}" is out of step: version ${order.version}, last entry ${snapshot.lastAuditSeq}`,
      );
    }
    command.beginWrite?.();
    // A chain ahead of the row means another process's change landed
    // between reading the two (a read need not be one snapshot): a lost
    // race, like a write whose version check fails.
    const won = snapshot.lastAuditSeq === order.version &&
      await store.updateOrder(plan.order, plan.draft, snapshot.lastAuditHash);
    if (won) return { order: plan.order, previous: order };
    if (expectedVersions !== undefined) throw versionMismatch(order);
  }
  throw new DomainError("conflict", orderKeptChangingMessage(command.orderId));
}

/** Why a request for an order that does not exist is refused (404). */
export const NO_SUCH_ORDER = "No such order";

/** A request naming one order, as the use cases that read it first take it. */
export interface RequestedOrder {
  /** The order's id, or undefined when the URL's id is not a UUID. */
  readonly orderId: string | undefined;
  /** Settles once the request may go on; rejects when it may not. */
  readonly admitted?: (() => Promise<void>) | undefined;
}

/**
 * What `find` reads for the order the request names, once `admitted` (when
 * given) settled: nothing is decided before the verdict, not even that the
 * order is missing. `not_found` when the id is not a UUID or no order has it.
 */
export async function findRequestedOrder<T>(
  request: RequestedOrder,
  find: (id: string) => Promise<T | undefined>,
): Promise<T> {
  const found = request.orderId === undefined
    ? undefined
    : await find(request.orderId);
  await request.admitted?.();
  if (!found) throw new DomainError("not_found", NO_SUCH_ORDER);
  return found;
}

/** Why a change that lost every race is refused (409). */
export function orderKeptChangingMessage(orderId: string | undefined): string {
  return `Cannot change order "${orderId}": it kept changing while this request ran; retry it`;
}

/** Why a change for a version that is no longer current is refused (412). */
export function versionMismatchMessage(orderId: string): string {
  return `Order "${orderId}" has changed: If-Match does not name its current version`;
}

function versionMismatch(order: Pick<Order, "id">): DomainError {
  return new DomainError("version_mismatch", versionMismatchMessage(order.id));
}
