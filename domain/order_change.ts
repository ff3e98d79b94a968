/**
 * Deciding a change to an existing order: which fields really change, whether
 * the caller may change them in the order's current status, and the new
 * order with its audit entry. Pure: the caller reads and writes.
 */
import { type AuditDraft, orderChangedEntry } from "./audit.ts";
import { DomainError } from "./errors.ts";
import { isTerminalStatus } from "./lifecycle.ts";
import type { Order, OrderStatus } from "./order.ts";
import {
  assertCanReadOrder,
  decideOrderAction,
  type OrderAction,
} from "./policy.ts";
import type { Principal } from "./principal.ts";
import { planReviewDecision, type ReviewDecision } from "./review.ts";

/** What a validated update or cancellation asks for. */
export interface OrderChange {
  readonly status?: OrderStatus | undefined;
  readonly shippingAddress?: string | undefined;
  /** Why the order is cancelled; recorded only by a cancellation. */
  readonly reason?: string | undefined;
  /**
   * An admin's decision on a held order; a change of its own, never
   * combined with the fields above.
   */
  readonly review?: ReviewDecision | undefined;
}

/** The outcome of planning: nothing to do, or the new order and its entry. */
export type OrderChangePlan =
  | { readonly changed: false }
  | {
    readonly changed: true;
    readonly order: Order;
    readonly draft: AuditDraft;
  };

/**
 * Plans `change` against the order as it is now. A field equal to its
 * current value is no change (except a status on a terminal order, which is
 * refused like any change to it). Every field is checked against the
 * current status; a refusal for lack of rights (403) wins over one by a
 * status rule (400). Nothing to change → `{ changed: false }`. A review
 * decision is planned by `planReviewDecision` and always changes the order.
 */
export function planOrderChange(
  order: Order,
  change: OrderChange,
  context: { principal: Principal; requestId: string; now: number },
): OrderChangePlan {
  const { principal } = context;
  if (change.review !== undefined) {
    return {
      changed: true,
      ...planReviewDecision(order, change.review, context),
    };
  }
  assertCanReadOrder(principal, order);
  const status = change.status !== undefined &&
      (change.status !== order.status || isTerminalStatus(order.status))
    ? change.status
    : undefined;
  const shippingAddress = change.shippingAddress !== undefined &&
      change.shippingAddress !== order.shippingAddress
    ? change.shippingAddress
    : undefined;

  const actions: OrderAction[] = [];
  if (status !== undefined) actions.push({ kind: "set_status", to: status });
  if (shippingAddress !== undefined) actions.push({ kind: "change_address" });
  const refusals = actions.map((action) =>
    decideOrderAction(principal, order, action)
  ).flatMap((decision) => decision.allowed ? [] : [decision]);
  const refusal = refusals.find((r) => r.code === "forbidden") ?? refusals[0];
  if (refusal) throw new DomainError(refusal.code, refusal.reason);
  if (actions.length === 0) return { changed: false };

  const next: Order = {
    ...order,
    status: status ?? order.status,
    shippingAddress: shippingAddress ?? order.shippingAddress,
    version: order.version + 1,
    updatedAt: context.now,
  };
  return {
    changed: true,
    order: next,
    draft: orderChangedEntry(order, next, {
      actor: principal,
      requestId: context.requestId,
      reason: change.reason,
    }),
  };
}
