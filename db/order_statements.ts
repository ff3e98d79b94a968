/**
 * The order store's fixed SQL, built once from the schema, and the mapping
 * between orders and their rows. Reads and writes of orders are the hot
 * path: the texts never change, so the native client's statement cache
 * serves every one of them.
 */
import type { InStatement, InValue, Row } from "@libsql/client/web";
import {
  type Order,
  ORDER_STATUSES,
  type OrderItem,
  REVIEW_STATES,
  type ReviewReason,
} from "../domain/order.ts";
import type { OrderQuery, VelocityGuard } from "../domain/ports.ts";
import { orderChainId } from "../domain/audit.ts";
import {
  auditLog,
  type OrderItemRow,
  orderItems as items,
  type OrderRow,
  orders,
} from "./schema.ts";
import {
  columnList,
  enumValue,
  type Guard,
  integerValue,
  joinSql,
  nullableEnumValue,
  nullableInteger,
  nullableText,
  qualified,
  selectAs,
  type SqlText,
  sqlText,
  textValue,
} from "./sql.ts";

const ORDER_SELECT = selectAs(orders);
const ITEM_SELECT = selectAs(items);
const AUDIT_SELECT = selectAs(auditLog);

/** The order with the id given (rows keyed by `OrderRow` fields). */
export const ORDER_BY_ID_SQL = sqlText`${ORDER_SELECT} WHERE ${orders.id} = ?`;

/** The lines of the order given, in order (keyed by `OrderItemRow` fields). */
export const ITEMS_OF_ORDER_SQL = sqlText`${ITEM_SELECT}
  WHERE ${items.orderId} = ? ORDER BY ${items.position}`;

/** The order given joined to its lines (every order has one), in order. */
export const ORDER_WITH_ITEMS_SQL = sqlText`SELECT ${columnList(orders)}, ${
  columnList(items)
} FROM ${orders} JOIN ${items} ON ${qualified(items.orderId)} = ${
  qualified(orders.id)
} WHERE ${qualified(orders.id)} = ? ORDER BY ${qualified(items.position)}`;

/** Orders a user created for themself since a time: user, user, since. */
const OWN_ORDERS_SINCE =
  sqlText`${orders.userId} = ? AND ${orders.createdBy} = ?
  AND ${orders.createdAt} >= ?`;

/** How many orders a user created for themself since a time (`n`). */
export const COUNT_OWN_ORDERS_SQL =
  sqlText`SELECT count(*) AS n FROM ${orders} WHERE ${OWN_ORDERS_SINCE}`;

const UNDER_VELOCITY_LIMIT_SQL =
  sqlText`(SELECT count(*) FROM ${orders} WHERE ${OWN_ORDERS_SINCE}) < ?`;

/** Holds while the user has created fewer orders than the guard allows. */
export function underVelocityLimit(guard: VelocityGuard): Guard {
  return {
    sql: UNDER_VELOCITY_LIMIT_SQL,
    args: [guard.userId, guard.userId, guard.since, guard.below],
  };
}

const ORDER_EXISTS_SQL =
  sqlText`EXISTS (SELECT 1 FROM ${orders} WHERE ${orders.id} = ?)`;

/** Holds once the order is stored: later in a batch, when its insert took effect. */
export function orderExists(orderId: string): Guard {
  return { sql: ORDER_EXISTS_SQL, args: [orderId] };
}

const UPDATE_ORDER_SQL = sqlText`UPDATE ${orders} SET ${orders.status} = ?,
    ${orders.shippingAddress} = ?, ${orders.reviewState} = ?,
    ${orders.reviewReasons} = ?, ${orders.updatedAt} = ?,
    ${orders.version} = ${orders.version} + 1
  WHERE ${orders.id} = ? AND ${orders.version} = ?`;

/**
 * Writes the mutable fields of `order`, only if the stored order is still
 * at the version before it.
 */
export function updateOrderStatement(order: Order): InStatement {
  return {
    sql: UPDATE_ORDER_SQL,
    args: [
      order.status,
      storedAddress(order),
      order.review?.state ?? null,
      reviewReasonsText(order),
      order.updatedAt,
      order.id,
      order.version - 1,
    ],
  };
}

/**
 * The statements of a listing page: count, orders, their lines, and the
 * entries of their audit chains (for an export, `pageHistoriesStatement`).
 */
interface ListingSql {
  readonly count: SqlText;
  readonly page: SqlText;
  readonly items: SqlText;
  readonly histories: SqlText;
}

const NEWEST_FIRST =
  sqlText`ORDER BY ${orders.createdAt} DESC, ${orders.id} DESC`;

/**
 * After a position in `NEWEST_FIRST` order: created before it, or in the
 * same millisecond with a smaller id (args: created_at three times, id).
 * The first bound repeats what the disjunction implies so that SQLite
 * starts the index scan at the position (`created_at<?` in the plan)
 * instead of reading every newer order and dropping it.
 */
const AFTER_POSITION =
  sqlText`${orders.createdAt} <= ? AND (${orders.createdAt} < ?
  OR (${orders.createdAt} = ? AND ${orders.id} < ?))`;

function whereClause(conditions: readonly SqlText[]): SqlText {
  return conditions.length > 0
    ? sqlText`WHERE ${joinSql(conditions, " AND ")}`
    : sqlText``;
}

function listingSql(
  byUser: boolean,
  byStatus: boolean,
  afterPosition: boolean,
): ListingSql {
  const filters: SqlText[] = [];
  if (byUser) filters.push(sqlText`${orders.userId} = ?`);
  if (byStatus) filters.push(sqlText`${orders.status} = ?`);
  const matching = whereClause(filters);
  const onPage = whereClause(
    afterPosition ? [...filters, AFTER_POSITION] : filters,
  );
  return {
    count: sqlText`SELECT count(*) AS n FROM ${orders} ${matching}`,
    page: sqlText`${ORDER_SELECT} ${onPage} ${NEWEST_FIRST} LIMIT ? OFFSET ?`,
    items: sqlText`${ITEM_SELECT} WHERE ${items.orderId} IN (SELECT ${orders.id}
      FROM ${orders} ${onPage} ${NEWEST_FIRST} LIMIT ? OFFSET ?)
      ORDER BY ${items.orderId}, ${items.position}`,
    // The chain id is built in SQL as `orderChainId` builds it (its prefix
    // is the first argument), so the chain index finds each order's entries.
    histories: sqlText`${AUDIT_SELECT} WHERE ${auditLog.chainId} IN
      (SELECT ? || ${orders.id} FROM ${orders} ${onPage} ${NEWEST_FIRST}
      LIMIT ? OFFSET ?)
      ORDER BY ${auditLog.chainId}, ${auditLog.chainSeq}`,
  };
}

/**
 * Every listing's SQL, by filter and keyset: none, user, status, both;
 * then the same four after a position.
 */
const LISTINGS: readonly ListingSql[] = [false, true].flatMap((after) => [
  listingSql(false, false, after),
  listingSql(true, false, after),
  listingSql(false, true, after),
  listingSql(true, true, after),
]);

/**
 * The statements of a listing: the count of every match (`n`; the position
 * `after` does not change it), the page of orders and their lines (keyed by
 * `OrderRow` and `OrderItemRow` fields). Run together in one read, they see
 * one snapshot.
 */
export function listingStatements(
  query: OrderQuery,
): [count: InStatement, page: InStatement, items: InStatement] {
  const { sql, filters, page } = listing(query);
  return [
    { sql: sql.count, args: filters },
    { sql: sql.page, args: page },
    { sql: sql.items, args: page },
  ];
}

/**
 * The audit entries of the orders on a listing's page (the page of
 * `listingStatements` with the same query), by chain and oldest first
 * (`readAuditRow` reads its rows).
 */
export function pageHistoriesStatement(query: OrderQuery): InStatement {
  const { sql, page } = listing(query);
  return { sql: sql.histories, args: [orderChainId(""), ...page] };
}

/** A listing's SQL and the arguments of its count and of its page. */
function listing(query: OrderQuery) {
  const { userId, status, after } = query;
  const sql = LISTINGS[
    (userId !== undefined ? 1 : 0) + (status !== undefined ? 2 : 0) +
    (after !== undefined ? 4 : 0)
  ]!;
  const filters: InValue[] = [];
  if (userId !== undefined) filters.push(userId);
  if (status !== undefined) filters.push(status);
  const onPage = after === undefined ? filters : [
    ...filters,
    after.createdAt,
    after.createdAt,
    after.createdAt,
    after.id,
  ];
  return { sql, filters, page: [...onPage, query.limit, query.offset] };
}

/** An order row read by the statements above. */
export function readOrderRow(row: Row): OrderRow {
  return {
    id: textValue(row.id),
    userId: integerValue(row.userId),
    status: enumValue(ORDER_STATUSES, row.status),
    currency: textValue(row.currency),
    totalCents: integerValue(row.totalCents),
    shippingAddress: textValue(row.shippingAddress),
    version: integerValue(row.version),
    createdAt: integerValue(row.createdAt),
    updatedAt: integerValue(row.updatedAt),
    createdBy: nullableInteger(row.createdBy),
    reviewState: nullableEnumValue(REVIEW_STATES, row.reviewState),
    reviewReasons: nullableText(row.reviewReasons),
  };
}

/** An order line read by the statements above. */
export function readItemRow(row: Row): OrderItemRow {
  return {
    orderId: textValue(row.orderId),
    position: integerValue(row.position),
    productId: textValue(row.productId),
    // Stored as 0 or 1.
    productIdIsNumber: integerValue(row.productIdIsNumber) !== 0,
    productName: textValue(row.productName),
    quantity: integerValue(row.quantity),
    unitPrice: integerValue(row.unitPrice),
  };
}

/** The stored form of an order. */
export function orderToRow(order: Order): OrderRow {
  return {
    id: order.id,
    userId: order.userId,
    status: order.status,
    currency: order.currency,
    totalCents: Number(order.totalCents),
    shippingAddress: storedAddress(order),
    version: order.version,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    createdBy: order.createdBy ?? null,
    reviewState: order.review?.state ?? null,
    reviewReasons: reviewReasonsText(order),
  };
}

/** The stored form of an order line. */
export function itemToRow(
  orderId: string,
  position: number,
  item: OrderItem,
): OrderItemRow {
  return {
    orderId,
    position,
    productId: String(item.productId),
    productIdIsNumber: typeof item.productId === "number",
    productName: item.productName,
    quantity: item.quantity,
    unitPrice: Number(item.unitPrice),
  };
}

/** An order read back from its row and its lines' rows. */
export function rowToOrder(
  row: OrderRow,
  lines: readonly OrderItemRow[],
): Order {
  return {
    id: row.id,
    userId: row.userId,
    items: lines.map((item) => ({
      productId: item.productIdIsNumber
        ? Number(item.productId)
        : item.productId,
      productName: item.productName,
      quantity: item.quantity,
      unitPrice: BigInt(item.unitPrice),
    })),
    totalCents: BigInt(row.totalCents),
    currency: row.currency,
    status: row.status,
    shippingAddress: row.shippingAddress,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.createdBy !== null && { createdBy: row.createdBy }),
    ...(row.reviewState !== null && {
      review: {
        state: row.reviewState,
        reasons: JSON.parse(row.reviewReasons ?? "[]") as ReviewReason[],
      },
    }),
  };
}

function reviewReasonsText(order: Order): string | null {
  return order.review ? JSON.stringify(order.review.reasons) : null;
}

/** An erased address (null) is never written back: there is nothing to write. */
function storedAddress(order: Order): string {
  if (order.shippingAddress === null) {
    throw new Error(
      `Cannot write order "${order.id}": its personal data is erased`,
    );
  }
  return order.shippingAddress;
}
