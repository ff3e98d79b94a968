/**
 * Review holds: which new orders are held for an admin's decision, and what
 * a decision does. Pure functions; the velocity count comes from the store.
 */
import { z } from "zod";
import { type AuditDraft, reviewDecidedEntry } from "./audit.ts";
import { DomainError, validated } from "./errors.ts";
import { isTerminalStatus } from "./lifecycle.ts";
import type { Order, OrderReview, ReviewReason } from "./order.ts";
import { cleanTextSchema } from "./text.ts";
import { assertAdmin, assertCanReadOrder } from "./policy.ts";
import type { Principal } from "./principal.ts";

/** When an order is held (`REVIEW_THRESHOLD`, `REVIEW_VELOCITY_ORDERS`). */
export interface ReviewPolicy {
  /** Orders with a total at or above this, in cents, are held. */
  readonly thresholdCents: bigint;
  /**
   * A user who already created this many orders themself within
   * `VELOCITY_WINDOW_MS` has their next one held.
   */
  readonly velocityOrders: number;
}

/** The defaults of the contract: 10000.00 and 5 orders. */
export const DEFAULT_REVIEW_POLICY: ReviewPolicy = {
  thresholdCents: 1_000_000n,
  velocityOrders: 5,
};

/** The window the velocity rule counts orders in: 10 minutes. */
export const VELOCITY_WINDOW_MS = 10 * 60 * 1000;

/**
 * The hold of a new order, or undefined when it is not held. `recentOwnOrders`
 * is how many orders the owner created themself within the velocity window
 * before this one; it is undefined when the owner is not the creator (an
 * admin ordering for someone else), and the velocity rule then does not
 * apply.
 */
export function reviewHoldFor(
  order: Pick<Order, "totalCents">,
  recentOwnOrders: number | undefined,
  policy: ReviewPolicy,
): OrderReview | undefined {
  const reasons: ReviewReason[] = [];
  if (order.totalCents >= policy.thresholdCents) {
    reasons.push("total_threshold");
  }
  if (
    recentOwnOrders !== undefined && recentOwnOrders >= policy.velocityOrders
  ) {
    reasons.push("velocity");
  }
  return reasons.length > 0 ? { state: "pending", reasons } : undefined;
}

/** An admin's decision on a held order. */
export interface ReviewDecision {
  readonly decision: "approve" | "reject";
  /** Kept in the audit entry. */
  readonly note?: string | undefined;
}

/** The most characters a decision's note may have, after cleaning. */
export const MAX_NOTE_LENGTH = 500;

/** The body of `POST /v1/orders/{id}/review`. */
export const reviewDecisionSchema = z.object({
  decision: z.enum(["approve", "reject"], {
    error: "Must be approve or reject",
  }).meta({
    description:
      "`approve` releases the order (it may then move to `processing`); `reject` also cancels it.",
    examples: ["approve"],
  }),
  note: cleanTextSchema(MAX_NOTE_LENGTH, {
    description: "Why, kept in the audit entry (`review_note`).",
    examples: ["Customer confirmed the order by phone"],
  }, { optional: true }).optional(),
}, { error: "Must be a JSON object" }).meta({
  description:
    "An admin's decision on an order held for review; every other field is ignored.",
});

/** Validates a decision (422 on any defect); an empty note counts as none. */
export function parseReviewDecision(body: unknown): ReviewDecision {
  const { decision, note } = validated(
    reviewDecisionSchema,
    body,
    "The review decision is not valid",
  );
  return { decision, ...(note !== undefined && note !== "" && { note }) };
}

/**
 * Plans an admin's decision on a held order: `approve` releases it,
 * `reject` also cancels it. Only an admin decides (403); an order that is
 * not held, already decided, or cancelled meanwhile is a conflict (409).
 */
export function planReviewDecision(
  order: Order,
  decision: ReviewDecision,
  context: { principal: Principal; requestId: string; now: number },
): { order: Order; draft: AuditDraft } {
  const { principal } = context;
  assertCanReadOrder(principal, order);
  assertAdmin(principal, "decide_review");
  const review = order.review;
  if (review === undefined) {
    throw new DomainError(
      "conflict",
      `Cannot decide on order "${order.id}": it is not held for review`,
    );
  }
  if (review.state !== "pending") {
    throw new DomainError(
      "conflict",
      `Cannot decide on order "${order.id}": its review is already ${review.state}`,
    );
  }
  if (isTerminalStatus(order.status)) {
    throw new DomainError(
      "conflict",
      `Cannot decide on order "${order.id}": order is ${order.status}`,
    );
  }
  const approve = decision.decision === "approve";
  const next: Order = {
    ...order,
    status: approve ? order.status : "cancelled",
    review: {
      state: approve ? "approved" : "rejected",
      reasons: review.reasons,
    },
    version: order.version + 1,
    updatedAt: context.now,
  };
  return {
    order: next,
    draft: reviewDecidedEntry(order, next, {
      actor: principal,
      requestId: context.requestId,
      note: decision.note,
    }),
  };
}
