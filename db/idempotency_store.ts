/**
 * Idempotency keys of order creations: the claim, the completion written in
 * the same batch as the order, the release and the purge. The claim and the
 * completion run on every keyed creation, so they are fixed SQL built once
 * from the schema.
 */
import { and, eq, lt } from "drizzle-orm";
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

/**
 * Takes a free key, or one whose record is expired (created before the
 * first cutoff) or whose claim was abandoned in flight (before the second).
 */
const CLAIM_SQL = sqlText`INSERT INTO ${keys}
    (${keys.userId}, ${keys.key}, ${keys.fingerprint}, ${keys.state}, ${keys.claimToken}, ${keys.createdAt})
  VALUES (?, ?, ?, ${IN_FLIGHT}, ?, ?)
  ON CONFLICT (${keys.userId}, ${keys.key}) DO UPDATE SET
    ${keys.fingerprint} = excluded.${keys.fingerprint}, ${keys.state} = ${IN_FLIGHT},
    ${keys.claimToken} = excluded.${keys.claimToken}, ${keys.orderId} = NULL,
    ${keys.responseStatus} = NULL, ${keys.responseBody} = NULL,
    ${keys.createdAt} = excluded.${keys.createdAt}
  WHERE ${qualified(keys.createdAt)} < ?
    OR (${qualified(keys.state)} = ${IN_FLIGHT}
      AND ${qualified(keys.createdAt)} < ?)`;

const KEY_RECORD_SQL = sqlText`${
  selectAs(keys)
} WHERE ${keys.userId} = ? AND ${keys.key} = ?`;

const COMPLETE_SQL = sqlText`UPDATE ${keys} SET ${keys.state} = ${COMPLETED},
    ${keys.orderId} = ?, ${keys.responseStatus} = 201, ${keys.responseBody} = ?
  WHERE ${keys.userId} = ? AND ${keys.key} = ? AND ${keys.claimToken} = ?
    AND ${keys.state} = ${IN_FLIGHT}`;

/** `COMPLETE_SQL` with a guard, by the guard's text: built once each. */
const guardedCompletions = new Map<string, SqlText>();

const KEY_NAMES_ORDER_SQL = sqlText`EXISTS (SELECT 1 FROM ${keys}
  WHERE ${keys.userId} = ? AND ${keys.key} = ? AND ${keys.orderId} = ?)`;

/** The idempotency part of the order store. */
export function createIdempotencyKeyStore(
  db: Db,
): Pick<
  OrderStore,
  "claimIdempotencyKey" | "releaseIdempotencyKey" | "purgeIdempotencyKeys"
> {
  return {
    async claimIdempotencyKey(claim, cutoffs) {
      const [, rows] = await db.$client.batch([
        {
          sql: CLAIM_SQL,
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
        { sql: KEY_RECORD_SQL, args: [claim.userId, claim.key] },
      ], "write");
      const row = rows!.rows[0];
      if (!row) throw new Error("Idempotency key vanished while claimed");
      const record = readKeyRow(row);
      return record.claimToken === claim.claimToken ? undefined : record;
    },

    async releaseIdempotencyKey(userId, key, claimToken) {
      await db.delete(keys).where(and(
        eq(keys.userId, userId),
        eq(keys.key, key),
        eq(keys.claimToken, claimToken),
        eq(keys.state, "in_flight"),
      ));
    },

    async purgeIdempotencyKeys(cutoff) {
      const result = await db.delete(keys).where(lt(keys.createdAt, cutoff));
      return result.rowsAffected;
    },
  };
}

/**
 * Completes a claimed key with the stored 201 of `orderId`, only while the
 * claim is still this request's and `guard` (if any) holds.
 */
export function completeKey(
  completion: KeyCompletion,
  orderId: string,
  guard?: Guard,
): InStatement {
  const args = [
    orderId,
    completion.responseBody,
    completion.userId,
    completion.key,
    completion.claimToken,
  ];
  if (!guard) return { sql: COMPLETE_SQL, args };
  let sql = guardedCompletions.get(guard.sql);
  if (sql === undefined) {
    sql = sqlText`${COMPLETE_SQL} AND ${guard.sql}`;
    guardedCompletions.set(guard.sql, sql);
  }
  return { sql, args: [...args, ...guard.args] };
}

/**
 * Holds when the key names `orderId`: in the batch after `completeKey`,
 * exactly when the completion took effect.
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

/** A key record read by `KEY_RECORD_SQL` (its columns keyed by field). */
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
