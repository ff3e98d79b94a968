/**
 * Idempotency keys of order creations: the look-up, the completed record
 * written in the same batch as the order, and the purge. The look-up and the
 * record run on every keyed creation, so they are fixed SQL built once from
 * the schema.
 */
import { lt } from "drizzle-orm";
import type { InStatement, Row } from "@libsql/client/web";
import { KEY_STATES } from "../domain/idempotency.ts";
import type { KeyCompletion, OrderStore } from "../domain/ports.ts";
import type { Db } from "./database.ts";
import { type IdempotencyKeyRow, idempotencyKeys as keys } from "./schema.ts";
import {
  enumValue,
  type Guard,
  integerValue,
  literal,
  nullableInteger,
  nullableText,
  qualified,
  selectAs,
  type SqlText,
  sqlText,
  textValue,
} from "./sql.ts";

const IN_FLIGHT = literal(keys.state, "in_flight");
const COMPLETED = literal(keys.state, "completed");

/** Holds while the key's record (the conflicting row) no longer holds it. */
const RECORD_EXPIRED = sqlText`${qualified(keys.createdAt)} < ?
    OR (${qualified(keys.state)} = ${IN_FLIGHT}
      AND ${qualified(keys.createdAt)} < ?)`;

/**
 * Writes the key's record, completed with the stored 201 of a new order,
 * when the key is free or its record expired, and `guard` holds.
 */
function recordSql(guard: SqlText): SqlText {
  return sqlText`INSERT INTO ${keys}
    (${keys.userId}, ${keys.key}, ${keys.fingerprint}, ${keys.state}, ${keys.claimToken},
     ${keys.orderId}, ${keys.responseStatus}, ${keys.responseBody}, ${keys.createdAt})
  SELECT ?, ?, ?, ${COMPLETED}, ?, ?, 201, ?, ? WHERE ${guard}
  ON CONFLICT (${keys.userId}, ${keys.key}) DO UPDATE SET
    ${keys.fingerprint} = excluded.${keys.fingerprint}, ${keys.state} = ${COMPLETED},
    ${keys.claimToken} = excluded.${keys.claimToken},
    ${keys.orderId} = excluded.${keys.orderId}, ${keys.responseStatus} = 201,
    ${keys.responseBody} = excluded.${keys.responseBody},
    ${keys.createdAt} = excluded.${keys.createdAt}
  WHERE ${RECORD_EXPIRED}`;
}

/** `recordSql` for each guard, by the guard's text: built once each. */
const recordStatements = new Map<string, SqlText>();

const LIVE_RECORD_SQL = sqlText`${
  selectAs(keys)
} WHERE ${keys.userId} = ? AND ${keys.key} = ? AND NOT (${RECORD_EXPIRED})`;

const KEY_NAMES_ORDER_SQL = sqlText`EXISTS (SELECT 1 FROM ${keys}
  WHERE ${keys.userId} = ? AND ${keys.key} = ? AND ${keys.orderId} = ?)`;

/** The idempotency part of the order store. */
export function createIdempotencyKeyStore(
  db: Db,
): Pick<OrderStore, "findIdempotencyKey" | "purgeIdempotencyKeys"> {
  return {
    async findIdempotencyKey(use) {
      const { rows } = await db.$client.execute({
        sql: LIVE_RECORD_SQL,
        args: [
          use.userId,
          use.key,
          use.cutoffs.replayCutoff,
          use.cutoffs.claimCutoff,
        ],
      });
      return rows[0] && readKeyRow(rows[0]);
    },

    async purgeIdempotencyKeys(cutoff) {
      const result = await db.delete(keys).where(lt(keys.createdAt, cutoff));
      return result.rowsAffected;
    },
  };
}

/**
 * Writes the key's record, completed with the stored 201 of `orderId`, only
 * while no live record holds the key and `guard` (if any) holds. The order
 * id stands for the request in `claim_token`.
 */
export function recordKey(
  completion: KeyCompletion,
  orderId: string,
  guard?: Guard,
): InStatement {
  const condition = guard?.sql ?? sqlText`1`;
  let sql = recordStatements.get(condition);
  if (sql === undefined) {
    sql = recordSql(condition);
    recordStatements.set(condition, sql);
  }
  return {
    sql,
    args: [
      completion.userId,
      completion.key,
      completion.fingerprint,
      orderId,
      orderId,
      completion.responseBody,
      completion.now,
      ...(guard?.args ?? []),
      completion.cutoffs.replayCutoff,
      completion.cutoffs.claimCutoff,
    ],
  };
}

/**
 * Holds when the key names `orderId`: in the batch after `recordKey`,
 * exactly when the record was written.
 */
export function keyNamesOrder(
  completion: KeyCompletion,
  orderId: string,
): Guard {
  return {
    sql: KEY_NAMES_ORDER_SQL,
    args: [completion.userId, completion.key, orderId],
  };
}

/** A key record read by `LIVE_RECORD_SQL` (its columns keyed by field). */
function readKeyRow(row: Row): IdempotencyKeyRow {
  return {
    userId: integerValue(row.userId),
    key: textValue(row.key),
    fingerprint: textValue(row.fingerprint),
    state: enumValue(KEY_STATES, row.state),
    claimToken: textValue(row.claimToken),
    orderId: nullableText(row.orderId),
    responseStatus: nullableInteger(row.responseStatus),
    responseBody: nullableText(row.responseBody),
    createdAt: integerValue(row.createdAt),
  };
}
