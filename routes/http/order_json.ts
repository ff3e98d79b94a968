/**
 * The JSON shape of an order and of audit events: every field named
 * explicitly, so no column leaks, and money as decimal strings. The shapes
 * are the types of the response schemas (`response_schemas.ts`) the routes
 * declare, so the compiler holds these functions to the document.
 */
import { formatCents, lineAmount, roundToCents } from "../../domain/money.ts";
import type { z } from "@hono/zod-openapi";
import type { PersonalDataExport } from "../../domain/export_personal_data.ts";
import type { Order } from "../../domain/order.ts";
import {
  type AuditAction,
  type AuditEntry,
  orderLineJson,
  reviewJson,
} from "../../domain/audit.ts";
import { canSeeReviews } from "../../domain/policy.ts";
import type { Principal } from "../../domain/principal.ts";
import type { OrderListing } from "../../domain/read_orders.ts";
import type {
  HistoryEventJson,
  orderHistorySchema,
  OrderJson,
  orderListSchema,
  personalDataExportSchema,
  UserEventJson,
} from "../openapi/response_schemas.ts";

/**
 * What a caller may see beyond the order itself: the review of a held
 * order is for admins and fulfillment only.
 */
export interface OrderView {
  readonly review: boolean;
}

const OWNER_VIEW: OrderView = { review: false };

/**
 * What a caller sees of the review of an order: admins and fulfillment see
 * it; other callers, owners included, never do.
 */
export function orderView(principal: Principal): OrderView {
  return { review: canSeeReviews(principal) };
}

/**
 * The response body for one order. Once the owner's personal data is
 * erased, `shipping_address` is null and `personal_data_erased: true`
 * follows it; other orders do not carry the field.
 */
export function orderJson(
  order: Order,
  view: OrderView = OWNER_VIEW,
): OrderJson {
  return {
    id: order.id,
    user_id: order.userId,
    items: order.items.map((item) => ({
      ...orderLineJson(item),
      line_total: formatCents(
        roundToCents(lineAmount(item.quantity, item.unitPrice)),
      ),
    })),
    total: formatCents(order.totalCents),
    currency: order.currency,
    status: order.status,
    shipping_address: order.shippingAddress,
    ...(order.personalDataErased && { personal_data_erased: true as const }),
    version: order.version,
    created_at: new Date(order.createdAt).toISOString(),
    updated_at: new Date(order.updatedAt).toISOString(),
    ...(view.review && order.review && { review: reviewJson(order.review) }),
  };
}

/**
 * A page of the listing, each order as `view` shows it, with the cursor of
 * the next page (`listing.next` encoded), or null on the last page.
 */
export function orderListJson(
  listing: OrderListing,
  view: OrderView,
  page: { readonly nextCursor: string | undefined },
): z.output<typeof orderListSchema> {
  return {
    orders: listing.orders.map((order) => orderJson(order, view)),
    limit: listing.limit,
    offset: listing.offset,
    count: listing.count,
    next_cursor: page.nextCursor ?? null,
  };
}

/** An order's history, oldest first, as `view` shows it. */
export function orderHistoryJson(
  history: readonly AuditEntry[],
  view: OrderView,
): z.output<typeof orderHistorySchema> {
  return { events: history.map((entry) => historyEventJson(entry, view)) };
}

/**
 * A personal-data export: each order and its history as `view` shows them
 * one by one, and the user's own events as they are.
 */
export function personalDataExportJson(
  exported: PersonalDataExport,
  view: OrderView,
): z.output<typeof personalDataExportSchema> {
  return {
    user_id: exported.userId,
    exported_at: new Date(exported.exportedAt).toISOString(),
    orders: exported.orders.map(({ order, history }) => ({
      ...orderJson(order, view),
      history: history.map((entry) => historyEventJson(entry, view)),
    })),
    events: exported.events.map(userEventJson),
  };
}

/**
 * The view a stored creation response is rendered with: every field, so
 * that `orderTextFor` can show each caller what their view shows.
 */
export const STORED_VIEW: OrderView = { review: true };

/**
 * An order's JSON text rendered with `STORED_VIEW` (a creation's response,
 * kept for replays), as `view` shows it: the caller who asks, not the one
 * who first sent the key, decides what is shown (one user id may hold
 * tokens with other roles). Left as it is when nothing is to be dropped.
 */
export function orderTextFor(text: string, view: OrderView): string {
  // `"review"` can only be absent from the text when the key is.
  if (view.review || !text.includes('"review"')) return text;
  const { review: _hidden, ...shown } = JSON.parse(text) as OrderJson;
  return JSON.stringify(shown);
}

/** The `ETag` of an order: its version, quoted. */
export function orderEtag(order: Pick<Order, "version">): string {
  return `"${order.version}"`;
}

/** Fields of an audit entry's changes that only show a review. */
const REVIEW_FIELDS = new Set(["review", "review_note"]);

/** How a review decision reads to a caller who may not see reviews. */
const DECISIONS_UNSEEN: Readonly<Partial<Record<AuditAction, AuditAction>>> = {
  "order.review_approved": "order.updated",
  "order.review_rejected": "order.cancelled",
};

/**
 * One event of an order's history. `seq` is the entry's place in the
 * order's chain, which is also the order version it produced. A caller who
 * may not see reviews (the owner) sees no review fields, and a decision as
 * the update or cancellation it was; the audit log itself keeps everything.
 */
export function historyEventJson(
  entry: AuditEntry,
  view: OrderView = OWNER_VIEW,
): HistoryEventJson {
  const changes = view.review ? entry.changes : Object.fromEntries(
    Object.entries(entry.changes).filter(([field]) =>
      !REVIEW_FIELDS.has(field)
    ),
  );
  return eventJson(entry, {
    action: view.review
      ? entry.action
      : DECISIONS_UNSEEN[entry.action] ?? entry.action,
    changes,
  });
}

/**
 * One event of a user's own audit chain (`user:<id>`), such as
 * `user.personal_data_erased`, in the shape of an order's history events;
 * `seq` is the entry's place in the user's chain.
 */
export function userEventJson(entry: AuditEntry): UserEventJson {
  return eventJson(entry, { action: entry.action, changes: entry.changes });
}

/** The shape every audit event takes in responses. */
function eventJson(
  entry: AuditEntry,
  shown: { action: string; changes: AuditEntry["changes"] },
): HistoryEventJson {
  return {
    seq: entry.chainSeq,
    action: shown.action,
    actor: { user_id: entry.actorUserId, roles: entry.actorRoles },
    at: new Date(entry.at).toISOString(),
    request_id: entry.requestId,
    changes: shown.changes,
  };
}
