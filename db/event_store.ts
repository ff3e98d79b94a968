/**
 * The feed of order events (`order_events`): the statement that writes an
 * event in the batch of the change it describes, and the reads and the
 * purge behind `GET /v1/events`. Positions are `seq`, which SQLite assigns
 * in commit order (see the table in ./schema.ts).
 */
import type { InStatement, Row } from "@libsql/client/web";
import {
  ORDER_EVENT_TYPES,
  type OrderEvent,
  type OrderEventData,
} from "../domain/order_events.ts";
import type {
  EventPage,
  EventQuery,
  EventStore,
  StoredOrderEvent,
} from "../domain/ports.ts";
import type { Db } from "./database.ts";
import { orderEvents } from "./schema.ts";
import {
  enumValue,
  type Guard,
  insertRows,
  integerValue,
  joinSql,
  selectAs,
  sqlText,
  textValue,
} from "./sql.ts";

/**
 * The `INSERT` of an event, to run in the batch of its change; with
 * `onlyIf`, only when that guard holds (the guard of the change's audit
 * entry, so the two go in together or not at all).
 */
export function appendEvent(event: OrderEvent, onlyIf?: Guard): InStatement {
  return insertRows(orderEvents, [{
    id: event.id,
    type: event.type,
    orderId: event.data.order_id,
    userId: event.data.user_id,
    at: event.at,
    payload: JSON.stringify(event.data),
  }], onlyIf);
}

const SELECT_EVENTS = selectAs(orderEvents);

const EVENT_BY_ID_SQL = sqlText`${SELECT_EVENTS} WHERE ${orderEvents.id} = ?`;

/**
 * The position before the oldest kept event (the oldest's `seq` less one)
 * and the last position given. The purge always keeps the newest event, so
 * once there was one, both are read off the table (0 before any).
 */
const BOUNDS_SQL = sqlText`SELECT
  coalesce(min(${orderEvents.seq}) - 1, 0) AS horizon,
  coalesce(max(${orderEvents.seq}), 0) AS head
  FROM ${orderEvents}`;

/**
 * Deletes the events before the first one at or after the cutoff, and
 * never the newest: always a prefix of the feed, so the horizon stays one
 * number, and an event is kept at least until the cutoff passes it. The
 * first young event is found by walking the feed from its oldest event, so
 * the search reads about as many rows as it deletes and needs no index on
 * `at` (which every write would pay for).
 */
const PURGE_SQL =
  sqlText`DELETE FROM ${orderEvents} WHERE ${orderEvents.seq} < coalesce(
  (SELECT ${orderEvents.seq} FROM ${orderEvents} WHERE ${orderEvents.at} >= ?
    ORDER BY ${orderEvents.seq} LIMIT 1),
  (SELECT max(${orderEvents.seq}) FROM ${orderEvents}))`;

function rowToEvent(row: Row): StoredOrderEvent {
  return {
    seq: integerValue(row.seq),
    id: textValue(row.id),
    type: enumValue(ORDER_EVENT_TYPES, row.type),
    at: integerValue(row.at),
    data: JSON.parse(textValue(row.payload)) as OrderEventData,
  };
}

/** The `SELECT` of one page of the feed. */
function pageStatement(query: EventQuery): InStatement {
  const conditions = [sqlText`${orderEvents.seq} > ?`];
  const args: (string | number)[] = [query.afterSeq];
  if (query.userId !== undefined) {
    conditions.push(sqlText`${orderEvents.userId} = ?`);
    args.push(query.userId);
  }
  if (query.orderId !== undefined) {
    conditions.push(sqlText`${orderEvents.orderId} = ?`);
    args.push(query.orderId);
  }
  if (query.types !== undefined) {
    const marks = joinSql(query.types.map(() => sqlText`?`), ", ");
    conditions.push(sqlText`${orderEvents.type} IN (${marks})`);
    args.push(...query.types);
  }
  // One more than asked: whether more events match.
  args.push(query.limit + 1);
  return {
    sql: sqlText`${SELECT_EVENTS} WHERE ${
      joinSql(conditions, " AND ")
    } ORDER BY ${orderEvents.seq} LIMIT ?`,
    args,
  };
}

/** Creates the event store over an open database. */
export function createEventStore(db: Db): EventStore {
  const client = db.$client;
  return {
    async listEvents(query): Promise<EventPage> {
      // One read transaction: the page and its bounds agree.
      const none = query.types !== undefined && query.types.length === 0;
      const [bounds, page] = await client.batch(
        none ? [BOUNDS_SQL] : [BOUNDS_SQL, pageStatement(query)],
        "read",
      );
      const events = page?.rows.map(rowToEvent) ?? [];
      const { horizon, head } = bounds!.rows[0]!;
      return {
        events: events.slice(0, query.limit),
        hasMore: events.length > query.limit,
        horizon: integerValue(horizon),
        head: integerValue(head),
      };
    },

    async findEvent(id) {
      const found = await client.execute({ sql: EVENT_BY_ID_SQL, args: [id] });
      const row = found.rows[0];
      return row === undefined ? undefined : rowToEvent(row);
    },

    async purgeEvents(cutoff) {
      const purged = await client.execute({ sql: PURGE_SQL, args: [cutoff] });
      return purged.rowsAffected;
    },
  };
}
