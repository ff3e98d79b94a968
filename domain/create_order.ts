/**
 * Creating an order: the use case behind `POST /v1/orders`. In the
 * contract's order: the `Idempotency-Key` claim (a replay or a refusal ends
 * here, and never counts against the creation limit), the creation limit,
 * validation, ownership, the review hold, and one write of the order, its
 * audit entry and the key's completion. Only a 201 is kept for replays: a
 * request that fails after its claim frees the key.
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
import { newOrder, type Order } from "./order.ts";
import { parseNewOrder } from "./order_input.ts";
import { orderOwnerFor } from "./policy.ts";
import type { Clock, KeyClaim, OrderStore } from "./ports.ts";
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
  /** A new random id (order ids and claim tokens). */
  readonly newId: () => string;
  readonly reviewPolicy: ReviewPolicy;
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
   * used up; called once a replay is ruled out, before validation.
   */
  readonly countCreation: () => Promise<void>;
  /** The response body of a created order, as a replay will answer it too. */
  readonly render: (order: Order) => string;
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
 * body is a 422; a key still held by a request in flight is a 409.
 */
export async function createOrder(
  deps: CreateOrderDeps,
  command: CreateOrderCommand,
): Promise<CreateOrderOutcome> {
  const { store } = deps;
  const now = deps.clock.now();
  const claim = command.idempotencyKey === undefined ? undefined : {
    userId: command.principal.userId,
    key: command.idempotencyKey,
    fingerprint: await requestFingerprint(command.body),
    claimToken: deps.newId(),
    now,
  };
  if (claim) {
    const held = await store.claimIdempotencyKey(claim, {
      replayCutoff: now - REPLAY_WINDOW_MS,
      claimCutoff: now - CLAIM_TTL_MS,
    });
    if (held) return replayOrRefuse(held, claim.fingerprint);
  }
  try {
    await command.countCreation();
    const input = parseNewOrder(command.body);
    const draft = newOrder(input, {
      id: deps.newId(),
      userId: orderOwnerFor(command.principal, input.userId),
      now,
      createdBy: command.principal.userId,
    });
    const { order, body } = await writeNewOrder(deps, command, draft, claim);
    return { kind: "created", order, status: 201, body };
  } catch (error) {
    if (claim) {
      await store.releaseIdempotencyKey(
        claim.userId,
        claim.key,
        claim.claimToken,
      )
        .catch(() => {});
    }
    throw error;
  }
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
 * entry (and the key's completion). Unless the order is already held for
 * velocity, the write re-checks the velocity count in its transaction, so
 * concurrent creations cannot all slip under it; when that check fails,
 * the order is held and written again.
 */
async function writeNewOrder(
  deps: CreateOrderDeps,
  command: CreateOrderCommand,
  draft: Order,
  claim: KeyClaim | undefined,
): Promise<{ order: Order; body: string }> {
  const { store, reviewPolicy: policy } = deps;
  const { principal } = command;
  const { userId } = draft;
  // The velocity rule counts only orders users create for themselves.
  const selfCreated = userId === principal.userId;
  const since = draft.createdAt - VELOCITY_WINDOW_MS;
  let recent = selfCreated
    ? await store.countOwnOrdersSince(userId, since)
    : undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const review = reviewHoldFor(draft, recent, policy);
    const order: Order = review ? { ...draft, review } : draft;
    const entry = orderCreatedEntry(order, principal, command.requestId);
    const body = command.render(order);
    const guard = selfCreated && !review?.reasons.includes("velocity")
      ? { userId, since, below: policy.velocityOrders }
      : undefined;
    const written = await store.insertOrder(
      order,
      entry,
      claim && { ...claim, responseBody: body },
      guard,
    );
    if (written) return { order, body };
    if (guard === undefined) break;
    // The guard or the key claim failed: the count tells which.
    recent = await store.countOwnOrdersSince(userId, since);
    if (recent < policy.velocityOrders) break;
  }
  throw new DomainError(
    "conflict",
    "Another request took over this Idempotency-Key: retry the request",
  );
}
