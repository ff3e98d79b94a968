/**
 * The libSQL implementation of `OrderStore`. Every write is one batch, which
 * libSQL runs as one transaction locally and remotely: the change, its
 * audit entry, its event (`domain/order_events.ts`) and the event's webhook
 * deliveries (`webhook_store.ts`) go in together. The hot reads and
 * writes run fixed SQL built from the schema (`order_statements.ts`,
 * `idempotency_store.ts`, `audit_rows.ts`, `audit_append.ts`); the rest uses
 * drizzle's builder.
 */
import {
  type AuditEntry,
  type AuditSealer,
  nextChainPosition,
  orderChainId,
} from "../domain/audit.ts";
import { orderEventOf } from "../domain/order_events.ts";
import type { Order } from "../domain/order.ts";
import type { OrderPage, OrderQuery, OrderStore } from "../domain/ports.ts";
import type { DataKeyRecord } from "../pii/keyring.ts";
import { eq, inArray } from "drizzle-orm";
import type { InStatement, InValue, Row } from "@libsql/client/web";
import {
  appendSealedEntry,
  PREVIOUS_CHANGED_ONE_ROW,
  writeAppendingBatch,
} from "./audit_append.ts";
import {
  CHAIN_HEAD_SQL,
  CHAIN_SQL,
  listChain,
  readAuditRow,
  readChainHead,
  rowToAuditEntry,
} from "./audit_rows.ts";
import type { Db } from "./database.ts";
import { appendEvent } from "./event_store.ts";
import { queueEventDeliveries } from "./webhook_store.ts";
import {
  createIdempotencyKeyStore,
  keyNamesOrder,
  recordKey,
} from "./idempotency_store.ts";
import {
  COUNT_OWN_ORDERS_SQL,
  ITEMS_OF_ORDER_SQL,
  itemToRow,
  listingStatements,
  ORDER_BY_ID_SQL,
  ORDER_WITH_ITEMS_SQL,
  orderExists,
  orderToRow,
  pageHistoriesStatement,
  readItemRow,
  readOrderRow,
  rowToOrder,
  underVelocityLimit,
  updateOrderStatement,
} from "./order_statements.ts";
import { orderItems, orders, userKeys } from "./schema.ts";
import { checkSchemaVersion } from "./schema_version.ts";
import { type Guard, insertRows, integerValue } from "./sql.ts";

/**
 * Creates the order store over an open database; `auditSealer` seals its
 * audit entries under the audit key, and `onCommitted` hears of each entry
 * once its batch is committed (the receipts of `audit/receipts.ts`).
 */
export function createOrderStore(
  db: Db,
  options: {
    auditSealer: AuditSealer;
    onCommitted?: ((entry: AuditEntry) => void) | undefined;
    /**
     * Given, every read of orders brings their owner's data keys along in
     * its own request (issue 24: a remote database's reader needs no
     * second round trip for them once the keyring's cache expired), and
     * hands them here before it returns. Unset for an embedded database,
     * where a second read costs no round trip.
     */
    ownerKeys?: ((records: DataKeyRecord[]) => Promise<void>) | undefined;
  },
): OrderStore {
  const sealer = options.auditSealer;
  const client = db.$client;
  const ownerKeys = options.ownerKeys;

  /** The data keys of the owner of order `id`, or of user `userId`. */
  function keysOf(
    owner: { orderId: string } | { userId: number },
  ): InStatement {
    const query = db.select().from(userKeys).where(
      "orderId" in owner
        ? inArray(
          userKeys.userId,
          db.select({ userId: orders.userId }).from(orders).where(
            eq(orders.id, owner.orderId),
          ),
        )
        : eq(userKeys.userId, owner.userId),
    ).toSQL();
    return { sql: query.sql, args: query.params as InValue[] };
  }

  /** Runs a read batch, with the owner's keys along when asked for. */
  async function readBatch(
    statements: InStatement[],
    owner: { orderId: string } | { userId: number } | undefined,
  ) {
    if (!ownerKeys || owner === undefined) {
      return await client.batch(statements, "read");
    }
    const results = await client.batch(
      [...statements, keysOf(owner)],
      "read",
    );
    await ownerKeys(results.pop()!.rows.map(readKeyRow));
    return results;
  }

  return {
    ...createIdempotencyKeyStore(db),

    async insertOrder(order, draft, completion, guard) {
      // The first entry of the order's chain.
      const entry = {
        ...draft,
        ...nextChainPosition(orderChainId(order.id), undefined),
      };
      const orderRow = orderToRow(order);
      const items = order.items.map((item, position) =>
        itemToRow(order.id, position, item)
      );
      // The order's first event goes in with its entry, on the same guard.
      const event = orderEventOf(draft, order, crypto.randomUUID());
      let sealed: AuditEntry | undefined;
      /** Reports the entry written, and answers true. */
      const committed = () => {
        options.onCommitted?.(sealed!);
        return true;
      };
      /**
       * The order's lines, its first entry, its event and the event's
       * webhook deliveries, each written only if `condition` holds
       * (unconditionally without one).
       */
      const linesEntryAndEvent = (condition?: Guard) => {
        const appended = appendSealedEntry(entry, {
          sealer,
          onlyIf: condition,
        });
        sealed = appended.entry;
        return [
          insertRows(orderItems, items, condition),
          appended.statement,
          appendEvent(event, condition),
          queueEventDeliveries(event, condition),
        ];
      };
      if (!completion && !guard) {
        await client.batch([
          insertRows(orders, [orderRow]),
          ...linesEntryAndEvent(),
        ], "write");
        return committed();
      }
      const velocity = guard && underVelocityLimit(guard);
      if (!completion) {
        // The order goes in only if the guard holds; its lines and entry
        // only if the order went in. One transaction, so the count the
        // guard reads cannot change before the insert.
        const inserted = orderExists(order.id);
        const [written] = await client.batch([
          insertRows(orders, [orderRow], velocity),
          ...linesEntryAndEvent(inserted),
        ], "write");
        return written!.rowsAffected === 1 && committed();
      }
      // Each insert runs only if the key now names this order, which is true
      // exactly when its record was written.
      const claimed = keyNamesOrder(completion, order.id);
      const [completed] = await client.batch([
        recordKey(completion, order.id, velocity),
        insertRows(orders, [orderRow], claimed),
        ...linesEntryAndEvent(claimed),
      ], "write");
      return completed!.rowsAffected === 1 && committed();
    },

    prepareWrites() {
      return Promise.resolve();
    },

    async countOwnOrdersSince(userId, since) {
      const result = await client.execute({
        sql: COUNT_OWN_ORDERS_SQL,
        args: [userId, userId, since],
      });
      return integerValue(result.rows[0]?.n ?? 0);
    },

    async findOrder(id) {
      // One statement: the order joined to its lines (every order has one).
      const statement = { sql: ORDER_WITH_ITEMS_SQL, args: [id] };
      const { rows } = ownerKeys
        ? (await readBatch([statement], { orderId: id }))[0]!
        : await client.execute(statement);
      const first = rows[0];
      return first
        ? rowToOrder(readOrderRow(first), rows.map(readItemRow))
        : undefined;
    },

    async findOrderForChange(id) {
      const [rows, items, heads] = await readBatch([
        { sql: ORDER_BY_ID_SQL, args: [id] },
        { sql: ITEMS_OF_ORDER_SQL, args: [id] },
        { sql: CHAIN_HEAD_SQL, args: [orderChainId(id)] },
      ], { orderId: id });
      const row = rows!.rows[0];
      if (!row) return undefined;
      const head = readChainHead(heads!.rows[0]);
      return {
        order: rowToOrder(readOrderRow(row), items!.rows.map(readItemRow)),
        lastAuditSeq: head?.seq ?? 0,
        lastAuditHash: head?.hash ?? "",
      };
    },

    async updateOrder(order, draft, prevHash) {
      if (draft.orderId !== order.id) {
        throw new Error(
          `Audit entry of order "${draft.orderId}" written for order "${order.id}"`,
        );
      }
      const event = orderEventOf(draft, order, crypto.randomUUID());
      const entry = {
        ...draft,
        chainId: orderChainId(order.id),
        chainSeq: order.version,
        prevHash,
      };
      const appended = appendSealedEntry(entry, {
        sealer,
        onlyIf: PREVIOUS_CHANGED_ONE_ROW,
      });
      // Undefined when the chain position is taken: another writer got
      // there first. The version check normally catches this; the unique
      // index is the safety net.
      const written = await writeAppendingBatch(client, [
        updateOrderStatement(order),
        // Appended only when the guarded update above took effect, in the
        // same transaction; over the remote protocol too, since a batch
        // runs on one connection.
        appended.statement,
        // And its event only when the entry went in, and the event's
        // webhook deliveries only when the event did.
        appendEvent(event, PREVIOUS_CHANGED_ONE_ROW),
        queueEventDeliveries(event, PREVIOUS_CHANGED_ONE_ROW),
      ]);
      if (written?.[0]?.rowsAffected !== 1) return false;
      options.onCommitted?.(appended.entry);
      return true;
    },

    listOrderHistory(id) {
      return listChain(db, orderChainId(id));
    },

    async findOrderWithHistory(id) {
      const [found, chain] = await readBatch([
        { sql: ORDER_WITH_ITEMS_SQL, args: [id] },
        { sql: CHAIN_SQL, args: [orderChainId(id)] },
      ], { orderId: id });
      const first = found!.rows[0];
      if (!first) return undefined;
      return {
        order: rowToOrder(readOrderRow(first), found!.rows.map(readItemRow)),
        history: chain!.rows.map((row) => rowToAuditEntry(readAuditRow(row))),
      };
    },

    async listOrders(query: OrderQuery): Promise<OrderPage> {
      // A user's own listing brings their keys along; a listing of many
      // owners' orders does not guess whose.
      const [totals, rows, items] = await readBatch(
        listingStatements(query),
        query.userId === undefined ? undefined : { userId: query.userId },
      );
      return {
        orders: pageOrders(rows!.rows, items!.rows),
        count: integerValue(totals!.rows[0]?.n ?? 0),
      };
    },

    async listOrdersWithHistory(query: OrderQuery) {
      const [, page, items] = listingStatements(query);
      const [rows, itemRows, entries] = await readBatch(
        [page, items, pageHistoriesStatement(query)],
        query.userId === undefined ? undefined : { userId: query.userId },
      );
      const histories = Map.groupBy(
        entries!.rows.map((row) => rowToAuditEntry(readAuditRow(row))),
        (entry) => entry.chainId,
      );
      return pageOrders(rows!.rows, itemRows!.rows).map((order) => ({
        order,
        history: histories.get(orderChainId(order.id)) ?? [],
      }));
    },

    ping() {
      return checkSchemaVersion(client);
    },
  };
}

/** The orders of a listing's page, with their lines (`listingStatements`). */
function pageOrders(rows: Row[], itemRows: Row[]): Order[] {
  const itemsByOrder = Map.groupBy(
    itemRows.map(readItemRow),
    (item) => item.orderId,
  );
  return rows.map((row) => {
    const order = readOrderRow(row);
    return rowToOrder(order, itemsByOrder.get(order.id) ?? []);
  });
}

/** A data key row read by raw SQL, its columns named by the schema. */
function readKeyRow(row: Row): DataKeyRecord {
  const wrapped = row[userKeys.wrappedKey.name];
  const destroyed = row[userKeys.destroyedAt.name];
  return {
    keyId: String(row[userKeys.keyId.name]),
    userId: Number(row[userKeys.userId.name]),
    wrappedKey: wrapped === null || wrapped === undefined
      ? null
      : String(wrapped),
    createdAt: Number(row[userKeys.createdAt.name]),
    destroyedAt: destroyed === null || destroyed === undefined
      ? null
      : Number(destroyed),
  };
}
