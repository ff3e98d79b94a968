/**
 * The libSQL implementation of `OrderStore`, through drizzle. Every write is
 * one batch, which libSQL runs as one transaction locally and remotely.
 */
import { and, asc, eq, getTableColumns, getTableName, lt } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import {
  type AuditEntry,
  type FieldChange,
  GENESIS_HASH,
  orderChainId,
  parseAuditAction,
  sealAuditEntry,
} from "../domain/audit.ts";
import type { Order, OrderItem } from "../domain/order.ts";
import type { OrderPage, OrderQuery, OrderStore } from "../domain/ports.ts";
import type { ReviewReason } from "../domain/order.ts";
import type { Role } from "../domain/principal.ts";
import type { InStatement, InValue, Row } from "@libsql/client/web";
import type { Db } from "./client.ts";
import {
  auditLog,
  type AuditRow,
  idempotencyKeys,
  type OrderItemRow,
  orderItems,
  type OrderRow,
  orders,
} from "./schema.ts";
import { checkSchemaVersion } from "./schema_version.ts";

/** Creates the order store over an open database. */
export function createOrderStore(db: Db): OrderStore {
  const client = db.$client;
  return {
    async insertOrder(order, draft, completion, guard) {
      const entry = await sealAuditEntry(draft, {
        chainId: orderChainId(order.id),
        chainSeq: 1,
        prevHash: GENESIS_HASH,
      });
      const orderRow = orderToRow(order);
      const items = order.items.map((item, position) =>
        itemToRow(order.id, position, item)
      );
      const auditRow = auditToRow(entry);
      if (!completion && !guard) {
        await client.batch([
          insertRows(orders, [orderRow]),
          insertRows(orderItems, items),
          insertRows(auditLog, [auditRow]),
        ], "write");
        return true;
      }
      const velocity: Guard = guard
        ? {
          sql: `(SELECT count(*) FROM orders WHERE ${OWN_ORDERS_SINCE}) < ?`,
          args: [guard.userId, guard.userId, guard.since, guard.below],
        }
        : { sql: "1", args: [] };
      if (!completion) {
        // The order goes in only if the guard holds; its lines and entry
        // only if the order went in. One transaction, so the count the
        // guard reads cannot change before the insert.
        const inserted: Guard = {
          sql: "EXISTS (SELECT 1 FROM orders WHERE id = ?)",
          args: [order.id],
        };
        const [written] = await client.batch([
          insertRows(orders, [orderRow], velocity),
          insertRows(orderItems, items, inserted),
          insertRows(auditLog, [auditRow], inserted),
        ], "write");
        return written!.rowsAffected === 1;
      }
      // Each insert runs only if the key now names this order, which is true
      // exactly when the completing update took effect.
      const claimed: Guard = {
        sql:
          "EXISTS (SELECT 1 FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id = ?)",
        args: [completion.userId, completion.key, order.id],
      };
      const [completed] = await client.batch([
        {
          sql: `UPDATE idempotency_keys SET state = 'completed', order_id = ?,
            response_status = 201, response_body = ?
            WHERE user_id = ? AND key = ? AND claim_token = ?
            AND state = 'in_flight' AND ${velocity.sql}`,
          args: [
            order.id,
            completion.responseBody,
            completion.userId,
            completion.key,
            completion.claimToken,
            ...velocity.args,
          ],
        },
        insertRows(orders, [orderRow], claimed),
        insertRows(orderItems, items, claimed),
        insertRows(auditLog, [auditRow], claimed),
      ], "write");
      return completed!.rowsAffected === 1;
    },

    async countOwnOrdersSince(userId, since) {
      const result = await client.execute({
        sql: `SELECT count(*) AS n FROM orders WHERE ${OWN_ORDERS_SINCE}`,
        args: [userId, userId, since],
      });
      return Number(result.rows[0]?.n ?? 0);
    },

    async claimIdempotencyKey(claim, cutoffs) {
      const [, rows] = await client.batch([
        {
          sql: `INSERT INTO idempotency_keys
              (user_id, key, fingerprint, state, claim_token, created_at)
            VALUES (?, ?, ?, 'in_flight', ?, ?)
            ON CONFLICT (user_id, key) DO UPDATE SET
              fingerprint = excluded.fingerprint, state = 'in_flight',
              claim_token = excluded.claim_token, order_id = NULL,
              response_status = NULL, response_body = NULL,
              created_at = excluded.created_at
            -- Only an expired record, or a claim abandoned in flight, is taken over.
            WHERE idempotency_keys.created_at < ?
              OR (idempotency_keys.state = 'in_flight'
                AND idempotency_keys.created_at < ?)`,
          args: [
            claim.userId,
            claim.key,
            claim.fingerprint,
            claim.claimToken,
            claim.now,
            cutoffs.replayCutoff,
            cutoffs.claimCutoff,
          ],
        },
        { sql: KEY_RECORD, args: [claim.userId, claim.key] },
      ], "write");
      const record = rows!.rows[0] as unknown as
        | typeof idempotencyKeys.$inferSelect
        | undefined;
      if (!record) throw new Error("Idempotency key vanished while claimed");
      return record.claimToken === claim.claimToken ? undefined : record;
    },

    async releaseIdempotencyKey(userId, key, claimToken) {
      await db.delete(idempotencyKeys).where(and(
        eq(idempotencyKeys.userId, userId),
        eq(idempotencyKeys.key, key),
        eq(idempotencyKeys.claimToken, claimToken),
        eq(idempotencyKeys.state, "in_flight"),
      ));
    },

    async purgeIdempotencyKeys(cutoff) {
      const result = await db.delete(idempotencyKeys).where(
        lt(idempotencyKeys.createdAt, cutoff),
      );
      return result.rowsAffected;
    },

    async findOrder(id) {
      // One statement: the order joined to its lines (every order has one).
      const { rows } = await client.execute({
        sql: ORDER_WITH_ITEMS,
        args: [id],
      });
      const first = rows[0];
      return first
        ? rowToOrder(asOrderRow(first), asItemRows(rows))
        : undefined;
    },

    async findOrderForChange(id) {
      const [rows, items, heads] = await client.batch([
        { sql: ORDER_BY_ID, args: [id] },
        { sql: ITEMS_OF_ORDER, args: [id] },
        { sql: CHAIN_HEAD, args: [orderChainId(id)] },
      ], "read");
      const row = rows!.rows[0];
      if (!row) return undefined;
      const head = heads!.rows[0];
      return {
        order: rowToOrder(asOrderRow(row), asItemRows(items!.rows)),
        lastAuditSeq: head ? Number(head.seq) : 0,
        lastAuditHash: head ? String(head.hash) : "",
      };
    },

    async updateOrder(order, draft, prevHash) {
      if (draft.orderId !== order.id) {
        throw new Error(
          `Audit entry of order "${draft.orderId}" written for order "${order.id}"`,
        );
      }
      const entry = await sealAuditEntry(draft, {
        chainId: orderChainId(order.id),
        chainSeq: order.version,
        prevHash,
      });
      try {
        const [updated] = await client.batch([
          {
            sql: `UPDATE orders SET status = ?, shipping_address = ?,
              review_state = ?, review_reasons = ?, updated_at = ?,
              version = version + 1
              WHERE id = ? AND version = ?`,
            args: [
              order.status,
              storedAddress(order),
              order.review?.state ?? null,
              reviewReasonsText(order),
              order.updatedAt,
              order.id,
              order.version - 1,
            ],
          },
          // Appended only when the guarded update above took effect, in the
          // same transaction; over the remote protocol too, since a batch
          // runs on one connection.
          insertAuditIfChanged(entry),
        ], "write");
        return updated!.rowsAffected === 1;
      } catch (error) {
        // The chain position is taken: another writer got there first. The
        // version check normally catches this; the unique index is the
        // safety net.
        if (isChainPositionTaken(error)) return false;
        throw error;
      }
    },

    async listOrderHistory(id) {
      const rows = await db.select().from(auditLog)
        .where(eq(auditLog.chainId, orderChainId(id)))
        .orderBy(asc(auditLog.chainSeq));
      return rows.map(rowToAuditEntry);
    },

    async listOrders(query: OrderQuery): Promise<OrderPage> {
      const { where, args } = listFilter(query);
      const page = [...args, query.limit, query.offset];
      const [totals, rows, items] = await client.batch([
        { sql: `SELECT count(*) AS n FROM orders ${where}`, args },
        {
          sql: `${ORDER_SELECT} ${where} ${NEWEST_FIRST} LIMIT ? OFFSET ?`,
          args: page,
        },
        {
          sql: `${ITEM_SELECT} WHERE order_id IN (SELECT id FROM orders ${where}
            ${NEWEST_FIRST} LIMIT ? OFFSET ?) ORDER BY order_id, position`,
          args: page,
        },
      ], "read");
      const itemsByOrder = new Map<string, OrderItemRow[]>();
      for (const item of asItemRows(items!.rows)) {
        const list = itemsByOrder.get(item.orderId);
        if (list) list.push(item);
        else itemsByOrder.set(item.orderId, [item]);
      }
      return {
        orders: rows!.rows.map((row) => {
          const order = asOrderRow(row);
          return rowToOrder(order, itemsByOrder.get(order.id) ?? []);
        }),
        count: Number(totals!.rows[0]?.n ?? 0),
      };
    },

    ping() {
      return checkSchemaVersion(client);
    },
  };
}

/**
 * `SELECT "<column>" AS "<field>", …` for a table: rows come back keyed by
 * the schema's field names, ready for the row mappers, without drizzle
 * building the query on every request (the reads below are the hot path).
 */
function selectAs(table: SQLiteTable): string {
  return `SELECT ${columnList(table)} FROM "${getTableName(table)}"`;
}

/** `"<table>"."<column>" AS "<field>", …` for every column of a table. */
function columnList(table: SQLiteTable): string {
  const name = getTableName(table);
  return Object.entries(getTableColumns(table)).map(([field, column]) =>
    `"${name}"."${column.name}" AS "${field}"`
  ).join(", ");
}

const ORDER_SELECT = selectAs(orders);
const ITEM_SELECT = selectAs(orderItems);
const KEY_RECORD = `${selectAs(idempotencyKeys)} WHERE user_id = ? AND key = ?`;
const ORDER_BY_ID = `${ORDER_SELECT} WHERE id = ?`;
const ORDER_WITH_ITEMS = `SELECT ${columnList(orders)}, ${
  columnList(orderItems)
} FROM orders JOIN order_items ON order_items.order_id = orders.id
  WHERE orders.id = ? ORDER BY order_items.position`;
const ITEMS_OF_ORDER = `${ITEM_SELECT} WHERE order_id = ? ORDER BY position`;
const CHAIN_HEAD =
  "SELECT chain_seq AS seq, hash FROM audit_log WHERE chain_id = ? ORDER BY chain_seq DESC LIMIT 1";
const NEWEST_FIRST = "ORDER BY created_at DESC, id DESC";

/** The WHERE clause of a listing, with its arguments. */
function listFilter(query: OrderQuery): { where: string; args: InValue[] } {
  const conditions: string[] = [];
  const args: InValue[] = [];
  if (query.userId !== undefined) {
    conditions.push("user_id = ?");
    args.push(query.userId);
  }
  if (query.status !== undefined) {
    conditions.push("status = ?");
    args.push(query.status);
  }
  return {
    where: conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "",
    args,
  };
}

function asOrderRow(row: Row): OrderRow {
  return row as unknown as OrderRow;
}

/** Item rows; `product_id_is_number` arrives as 0 or 1. */
function asItemRows(rows: readonly Row[]): OrderItemRow[] {
  return rows.map((row) => ({
    ...(row as unknown as OrderItemRow),
    productIdIsNumber: Boolean(row.productIdIsNumber),
  }));
}

/** A condition a write depends on, as SQL text and its arguments. */
interface Guard {
  readonly sql: string;
  readonly args: readonly InValue[];
}

/** The fields and column names of a table that rows of it set. */
const insertColumns = new Map<SQLiteTable, [field: string, column: string][]>();

function columnsOf(table: SQLiteTable): [string, string][] {
  let columns = insertColumns.get(table);
  if (!columns) {
    columns = Object.entries(getTableColumns(table))
      // An autoincrement key is the database's to set.
      .filter(([, column]) =>
        !(column as { autoIncrement?: boolean }).autoIncrement
      )
      .map(([field, column]) => [field, column.name]);
    insertColumns.set(table, columns);
  }
  return columns;
}

/**
 * `INSERT INTO table (…) VALUES …`, or with a guard
 * `INSERT INTO table (…) SELECT * FROM (VALUES …) WHERE guard`, which
 * inserts the rows only when the guard holds, so a batch can make writes
 * conditional. The SQL text depends only on the table, the number of rows
 * and the guard, so the database's statement cache serves it.
 */
function insertRows(
  table: SQLiteTable,
  rows: readonly Record<string, unknown>[],
  guard?: Guard,
): InStatement {
  const columns = columnsOf(table);
  const names = columns.map(([, column]) => `"${column}"`).join(", ");
  const tuple = `(${columns.map(() => "?").join(", ")})`;
  const values = rows.map(() => tuple).join(", ");
  const args: InValue[] = [];
  for (const row of rows) {
    for (const [field] of columns) args.push((row[field] ?? null) as InValue);
  }
  const name = getTableName(table);
  if (!guard) {
    return { sql: `INSERT INTO "${name}" (${names}) VALUES ${values}`, args };
  }
  return {
    sql:
      `INSERT INTO "${name}" (${names}) SELECT * FROM (VALUES ${values}) WHERE ${guard.sql}`,
    args: [...args, ...guard.args],
  };
}

const OWN_ORDERS_SINCE = "user_id = ? AND created_by = ? AND created_at >= ?";

function reviewReasonsText(order: Order): string | null {
  return order.review ? JSON.stringify(order.review.reasons) : null;
}

function orderToRow(order: Order): OrderRow {
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

/** An erased address (null) is never written back: there is nothing to write. */
function storedAddress(order: Order): string {
  if (order.shippingAddress === null) {
    throw new Error(
      `Cannot write order "${order.id}": its personal data is erased`,
    );
  }
  return order.shippingAddress;
}

function itemToRow(
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

function rowToOrder(row: OrderRow, items: readonly OrderItemRow[]): Order {
  return {
    id: row.id,
    userId: row.userId,
    items: items.map((item) => ({
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

/**
 * `INSERT INTO audit_log … SELECT … WHERE changes() = 1`: appends the entry
 * only if the statement before it changed exactly one row.
 */
export function insertAuditIfChanged(entry: AuditEntry): InStatement {
  return insertRows(auditLog, [auditToRow(entry)], {
    sql: "changes() = 1",
    args: [],
  });
}

/** Whether a write failed because its audit chain position was taken. */
export function isChainPositionTaken(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (/UNIQUE constraint failed: audit_log\.chain_id/.test(e.message)) {
      return true;
    }
  }
  return false;
}

/** An audit entry read back from its row. */
export function rowToAuditEntry(row: AuditRow): AuditEntry {
  return {
    chainId: row.chainId,
    chainSeq: row.chainSeq,
    orderId: row.orderId,
    action: parseAuditAction(row.action),
    actorUserId: row.actorUserId,
    actorRoles: JSON.parse(row.actorRoles) as Role[],
    requestId: row.requestId,
    at: row.at,
    changes: JSON.parse(row.changes) as Record<string, FieldChange>,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** The stored form of an audit entry. */
export function auditToRow(entry: AuditEntry): typeof auditLog.$inferInsert {
  return {
    chainId: entry.chainId,
    chainSeq: entry.chainSeq,
    orderId: entry.orderId,
    action: entry.action,
    actorUserId: entry.actorUserId,
    actorRoles: JSON.stringify(entry.actorRoles),
    requestId: entry.requestId,
    at: entry.at,
    changes: JSON.stringify(entry.changes),
    prevHash: entry.prevHash,
    hash: entry.hash,
  };
}
