/**
 * Creating an order: the use case behind `POST /v1/orders`. In the
 * contract's order: the `Idempotency-Key` look-up (a replay or a refusal
 * ends here, before the creation limit is asked), the creation limit,
 * validation, ownership, the review hold, and one write of the order, its
 * audit entry and the key's record. Only a 201 is kept for replays: a
 * request that fails leaves the key free, since its record is written with
 * the order or not at all.
 *
 * Requests with the same user and key run one after another in this
 * process (`queue`), so a retry sent while the first request runs is
 * answered from its record. Across processes two such requests may both
 * find the key free; their writes run one after the other, and the second,
 * finding the key taken, answers as a replay of the first (or 422 for
 * another body) instead of writing. Either way a retry is never told to
 * wait: 409 is left for in-flight claims of earlier versions, until they
 * expire. Only a request that created an order keeps its count against the
 * creation limit (`CreateOrderOutcome`): the caller gives back the others'.
 */
import { orderCreatedEntry } from "./audit.ts";
import { DomainError } from "./errors.ts";
import {
  CLAIM_TTL_MS,
  type IdempotencyRecord,
  keyHeldOutcome,
  REPLAY_WINDOW_MS,
  requestFingerprint,
} from "./idempotency.ts";
import type { KeyedQueue } from "./keyed_queue.ts";
import { newOrder, type Order } from "./order.ts";
import { parseNewOrder } from "./order_input.ts";
import { orderOwnerFor } from "./policy.ts";
import type { Clock, KeyUse, OrderStore } from "./ports.ts";
import type { Principal } from "./principal.ts";
import {
  reviewHoldFor,
  type ReviewPolicy,
  VELOCITY_WINDOW_MS,
} from "./review.ts";

/** What creating an order needs. */
export interface CreateOrderDeps {
  readonly store: OrderStore;
  readonly clock: Clock;
  /** A new random id (order ids). */
  readonly newId: () => string;
  readonly reviewPolicy: ReviewPolicy;
  /** Queues this process's requests with one user and key; none by default. */
  readonly queue?: KeyedQueue;
}

/** One creation request. */
export interface CreateOrderCommand {
  readonly principal: Principal;
  readonly requestId: string;
  /** The parsed JSON body, not yet validated. */
  readonly body: unknown;
  /** A well-formed `Idempotency-Key`, if the request has one. */
  readonly idempotencyKey: string | undefined;
  /**
   * Counts the creation against the caller's limit, throwing when it is
   * used up; called once a replay is ruled out, before validation. The
   * count stands only for an outcome of kind `created`.
   */
  readonly countCreation: () => Promise<void>;
  /** The response body of a created order, as a replay will answer it too. */
  readonly render: (order: Order) => string;
  /**
   * Settles once the request may go on (its rate limits' verdict, which may
   * come while the key is looked up); rejects when it may not. Awaited
   * before anything is decided (replayed, refused or written); none by
   * default.
   */
  readonly admitted?: () => Promise<void>;
  /**
   * Called right before each write; throws when the request may no longer
   * write (it was cut off by the request timeout). None by default.
   */
  readonly beginWrite?: () => void;
}

/** What a creation request got: a new order, or the replay of an earlier one. */
export type CreateOrderOutcome =
  | {
    readonly kind: "created";
    readonly order: Order;
    readonly status: 201;
    readonly body: string;
  }
  | {
    readonly kind: "replayed";
    readonly status: number;
    readonly body: string;
  };

/**
 * Creates an order, or replays the response of the request that first used
 * the same `Idempotency-Key` with the same body. A key used with another
 * body is a 422; a key held by an in-flight claim is a 409.
 */
export async function createOrder(
  deps: CreateOrderDeps,
  command: CreateOrderCommand,
): Promise<CreateOrderOutcome> {
  const { store } = deps;
  const now = deps.clock.now();
  const use: KeyUse | undefined = command.idempotencyKey === undefined
    ? undefined
    : {
      userId: command.principal.userId,
      key: command.idempotencyKey,
      fingerprint: await requestFingerprint(command.body),
      now,
      cutoffs: {
        replayCutoff: now - REPLAY_WINDOW_MS,
        claimCutoff: now - CLAIM_TTL_MS,
      },
    };
  // Validated now, judged after the key and the creation limit, as the
  // contract orders them: the owner is known early, so what writing their
  // order needs loads while the key's record and the limits are asked.
  let draft: Order | undefined;
  let invalid: unknown;
  try {
    const input = parseNewOrder(command.body);
    draft = newOrder(input, {
      id: deps.newId(),
      userId: orderOwnerFor(command.principal, input.userId),
      now,
      createdBy: command.principal.userId,
    });
    // The write loads it again if this fails.
    store.prepareWrites(draft.userId).catch(() => {});
  } catch (error) {
    invalid = error;
  }
  const create = async (): Promise<CreateOrderOutcome> => {
    const held = use && await store.findIdempotencyKey(use);
    await command.admitted?.();
    if (held) return replayOrRefuse(held, use!.fingerprint);
    await command.countCreation();
    if (draft === undefined) throw invalid;
    const written = await writeNewOrder(deps, command, draft, use);
    if ("held" in written) {
      return replayOrRefuse(written.held, use!.fingerprint);
    }
    return { kind: "created", ...written, status: 201 };
  };
  if (use === undefined || deps.queue === undefined) return await create();
  return await deps.queue(`${use.userId}:${use.key}`, create);
}

/** Why a key reused with another body is refused (422). */
export const KEY_REUSED =
  "This Idempotency-Key was used with a different request body";

/** The `Idempotency-Key` field error of `KEY_REUSED`. */
export const KEY_REUSED_FIELD = "Already used with a different request body";

/** Why a retry while the first request with its key still runs is refused (409). */
export const KEY_IN_FLIGHT =
  "A request with this Idempotency-Key is still in progress: retry later";

function replayOrRefuse(
  held: IdempotencyRecord,
  fingerprint: string,
): CreateOrderOutcome {
  const outcome = keyHeldOutcome(held, fingerprint);
  switch (outcome.kind) {
    case "replay":
      return { kind: "replayed", status: outcome.status, body: outcome.body };
    case "mismatch":
      throw new DomainError("validation_failed", KEY_REUSED, [
        { path: "Idempotency-Key", message: KEY_REUSED_FIELD },
      ]);
    case "in_flight":
      throw new DomainError("conflict", KEY_IN_FLIGHT);
  }
}

/**
 * Decides the review hold of a new order and writes it with its audit
 * entry (and the key's completion). The first write assumes the owner is
 * under the velocity rule and checks it in its own transaction, so
 * concurrent creations cannot all slip under it and the common case costs
 * no count of its own; when that check fails, the count decides, and the
 * order is held for velocity and written again.
 */
async function writeNewOrder(
  deps: CreateOrderDeps,
  command: CreateOrderCommand,
  draft: Order,
  use: KeyUse | undefined,
): Promise<{ order: Order; body: string } | { held: IdempotencyRecord }> {
  const { store, reviewPolicy: policy } = deps;
  const { principal } = command;
  const { userId } = draft;
  // The velocity rule counts only orders users create for themselves.
  const selfCreated = userId === principal.userId;
  const since = draft.createdAt - VELOCITY_WINDOW_MS;
  // Unknown until a guarded write fails: the guard is the count.
  let recent: number | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const review = reviewHoldFor(draft, recent, policy);
    const order: Order = review ? { ...draft, review } : draft;
    const entry = orderCreatedEntry(order, principal, command.requestId);
    const body = command.render(order);
    const guard = selfCreated && !review?.reasons.includes("velocity")
      ? { userId, since, below: policy.velocityOrders }
      : undefined;
    command.beginWrite?.();
    const written = await store.insertOrder(
      order,
      entry,
      use && { ...use, responseBody: body },
      guard,
    );
    if (written) return { order, body };
    // Another request with the key wrote first, or the guard failed.
    const held = use && await store.findIdempotencyKey(use);
    if (held) return { held };
    if (guard === undefined) break;
    recent = await store.countOwnOrdersSince(userId, since);
    if (recent < policy.velocityOrders) break;
  }
  // The key's record went between the write and the look-up (a purge).
  throw new DomainError(
    "conflict",
    "Another request took over this Idempotency-Key: retry the request",
  );
}
