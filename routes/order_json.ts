/**
 * The JSON shape of an order: every field named explicitly, so no column
 * leaks, and money as decimal strings.
 */
import {
  formatCents,
  formatPrice,
  lineAmount,
  roundToCents,
} from "../domain/money.ts";
import type { Order } from "../domain/order.ts";
import type { AuditEntry } from "../domain/audit.ts";

/**
 * The response body for one order. Once the owner's personal data is
 * erased, `shipping_address` is null and `personal_data_erased: true`
 * follows it; other orders do not carry the field.
 */
export function orderJson(order: Order) {
  return {
    id: order.id,
    user_id: order.userId,
    items: order.items.map((item) => ({
      product_id: item.productId,
      product_name: item.productName,
      quantity: item.quantity,
      price: formatPrice(item.unitPrice),
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
  };
}

/** The `ETag` of an order: its version, quoted. */
export function orderEtag(order: Pick<Order, "version">): string {
  return `"${order.version}"`;
}

/**
 * One event of an order's history. `seq` is the entry's place in the
 * order's chain, which is also the order version it produced.
 */
export function historyEventJson(entry: AuditEntry) {
  return {
    seq: entry.chainSeq,
    action: entry.action,
    actor: { user_id: entry.actorUserId, roles: entry.actorRoles },
    at: new Date(entry.at).toISOString(),
    request_id: entry.requestId,
    changes: entry.changes,
  };
}
