/**
 * Examples of the order routes' refusals, computed from the domain's own
 * parsers and policy, so that each example's detail is the one the route
 * answers.
 */
import { parseIdempotencyKey } from "../../domain/idempotency.ts";
import type { Order } from "../../domain/order.ts";
import type { Principal } from "../../domain/principal.ts";
import {
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
} from "../../domain/order_input.ts";
import { parseListOrdersQuery } from "../../domain/order_query.ts";
import {
  assertAdmin,
  assertAllowed,
  decideOrderAction,
  listingScope,
  type OrderAction,
  orderOwnerFor,
} from "../../domain/policy.ts";
import {
  parseReviewDecision,
  planReviewDecision,
} from "../../domain/review.ts";
import { EXAMPLE_CALLERS, EXAMPLE_ORDER, refusalExample } from "./examples.ts";

/** The held example order, as a review finds it. */
const HELD_ORDER: Order = {
  ...EXAMPLE_ORDER,
  review: { state: "pending", reasons: ["velocity"] },
};

/** The refusal `policy.ts` gives `caller` for `action` on `order`. */
function policyRefusal(
  summary: string,
  { caller, order, action }: {
    caller: Principal;
    order: Order;
    action: OrderAction;
  },
) {
  return refusalExample(
    summary,
    () => assertAllowed(decideOrderAction(caller, order, action)),
  );
}

/**
 * The refusals the order routes show as examples, as the domain's own
 * parsers and policy give them (computed once, not per app).
 */
export const ORDER_REFUSALS = {
  noItems: refusalExample("No items", () =>
    parseNewOrder({
      items: [],
      shipping_address: "1 Main St, Springfield",
    })),
  malformedKey: refusalExample(
    "A malformed Idempotency-Key",
    () => parseIdempotencyKey("\u00e9"),
  ),
  orderForAnother: refusalExample(
    "Ordering for another user without the admin role",
    () => orderOwnerFor(EXAMPLE_CALLERS.owner, 43),
  ),
  invalidOrder: refusalExample("Invalid fields", () =>
    parseNewOrder({
      items: [{
        product_id: "sku-1",
        product_name: "Mug",
        quantity: 0,
        price: "12.50001",
      }],
      shipping_address: "",
    })),
  listAnother: refusalExample(
    "Listing another user's orders",
    () => listingScope(EXAMPLE_CALLERS.owner, 43),
  ),
  limitOutOfRange: refusalExample(
    "limit out of range",
    () => parseListOrdersQuery({ limit: "0" }),
  ),
  unknownStatus: refusalExample(
    "Not one of the five statuses",
    () => parseOrderPatch({ status: "lost" }),
  ),
  illegalMove: policyRefusal("A move the lifecycle does not allow", {
    caller: EXAMPLE_CALLERS.fulfillment,
    order: EXAMPLE_ORDER,
    action: { kind: "set_status", to: "shipped" },
  }),
  heldForReview: policyRefusal("Held for review", {
    caller: EXAMPLE_CALLERS.fulfillment,
    order: HELD_ORDER,
    action: { kind: "set_status", to: "processing" },
  }),
  emptyAddress: refusalExample(
    "An empty address",
    () => parseOrderPatch({ shipping_address: "" }),
  ),
  alreadyShipped: policyRefusal("Already shipped", {
    caller: EXAMPLE_CALLERS.owner,
    order: { ...EXAMPLE_ORDER, status: "shipped" },
    action: { kind: "set_status", to: "cancelled" },
  }),
  longReason: refusalExample(
    "A reason that is too long",
    () => parseCancelOrder({ reason: "x".repeat(501) }),
  ),
  notAdminDeciding: refusalExample(
    "Fulfillment or the owner deciding",
    () => assertAdmin(EXAMPLE_CALLERS.fulfillment, "decide_review"),
  ),
  notHeld: refusalExample(
    "Not held for review",
    () =>
      planReviewDecision(EXAMPLE_ORDER, { decision: "approve" }, {
        principal: EXAMPLE_CALLERS.admin,
        requestId: "review-0042",
        now: EXAMPLE_ORDER.updatedAt,
      }),
  ),
  alreadyDecided: refusalExample("Already decided", () =>
    planReviewDecision(
      {
        ...HELD_ORDER,
        review: { state: "approved", reasons: ["velocity"] },
      },
      { decision: "approve" },
      {
        principal: EXAMPLE_CALLERS.admin,
        requestId: "review-0042",
        now: EXAMPLE_ORDER.updatedAt,
      },
    )),
  unknownDecision: refusalExample(
    "An unknown decision",
    () => parseReviewDecision({ decision: "maybe" }),
  ),
  historyForbidden: policyRefusal("Not the owner, not an admin", {
    caller: EXAMPLE_CALLERS.fulfillment,
    order: EXAMPLE_ORDER,
    action: { kind: "read_history" },
  }),
};
