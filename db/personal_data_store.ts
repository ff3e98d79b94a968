/**
 * The libSQL side of personal data: wrapped data keys (`user_keys`), the
 * erasure's guarded write, master-key rotation, and finding plain text left
 * from before encryption. Every write is one statement or one batch.
 */
import {
  and,
  asc,
  count,
  eq,
  gt,
  inArray,
  isNull,
  notExists,
  notInArray,
  or,
  sql,
} from "drizzle-orm";
import { type AuditSealer, userChainId } from "../domain/audit.ts";
import { ADDRESS_NEEDED_STATUSES } from "../domain/lifecycle.ts";
import type { ErasureStore } from "../pii/erasure.ts";
import type { DataKeyRecord, DataKeyStore } from "../pii/keyring.ts";
import type { PlainTextStore } from "../pii/plain_text.ts";
import type { RotationStore } from "../pii/rotation.ts";
import type { InValue } from "@libsql/client/web";
import {
  appendAuditEntry,
  PREVIOUS_CHANGED_ONE_ROW,
  writeAppendingBatch,
} from "./audit_append.ts";
import { chainHeadQuery } from "./audit_rows.ts";
import type { Db } from "./database.ts";
import { auditLog, idempotencyKeys, orders, userKeys } from "./schema.ts";

/** Everything the personal-data services need from the database. */
export type PersonalDataStore =
  & DataKeyStore
  & ErasureStore
  & PlainTextStore
  & RotationStore;

/** How many ids go into one `IN (…)` list. */
const ID_CHUNK = 500;

/** The `GLOB` pattern of an encrypted field (`enc:v1:<key id>:…`). */
const ENCRYPTED = "enc:v1:*";

/**
 * Creates the store. `embedded` (a `file:` or `:memory:` database) lets
 * `scrub` checkpoint and truncate the write-ahead log; `auditSealer` seals
 * the erasure's audit entry (a store without one, as the maintenance tasks
 * open it, refuses to erase).
 */
export function createPersonalDataStore(
  db: Db,
  options: { embedded: boolean; auditSealer?: AuditSealer | undefined },
): PersonalDataStore {
  const ordersNeedingAddress = (userId: number) =>
    db.select({ id: orders.id }).from(orders).where(and(
      eq(orders.userId, userId),
      inArray(orders.status, [...ADDRESS_NEEDED_STATUSES]),
    ));
  const plainResponseAddress = sql`json_valid(${idempotencyKeys.responseBody})
    AND json_type(${idempotencyKeys.responseBody}, '$.shipping_address') = 'text'
    AND NOT (json_extract(${idempotencyKeys.responseBody}, '$.shipping_address') GLOB ${ENCRYPTED})`;

  return {
    async findLiveKey(userId) {
      const [row] = await db.select().from(userKeys).where(
        and(eq(userKeys.userId, userId), isNull(userKeys.destroyedAt)),
      );
      return row;
    },

    async findKeys(keyIds) {
      const found: DataKeyRecord[] = [];
      for (let i = 0; i < keyIds.length; i += ID_CHUNK) {
        const chunk = keyIds.slice(i, i + ID_CHUNK);
        found.push(
          ...await db.select().from(userKeys).where(
            inArray(userKeys.keyId, chunk),
          ),
        );
      }
      return found;
    },

    async insertLiveKey(key) {
      // The partial unique index allows one live key per user: a second
      // insert for the same user does nothing, and both read the winner.
      const [, rows] = await db.batch([
        db.insert(userKeys).values(key).onConflictDoNothing(),
        db.select().from(userKeys).where(
          and(eq(userKeys.userId, key.userId), isNull(userKeys.destroyedAt)),
        ),
      ]);
      const live = rows[0];
      if (!live) throw new Error(`User ${key.userId} has no live data key`);
      return live;
    },

    async hasOrderNeedingAddress(userId) {
      const rows = await ordersNeedingAddress(userId).limit(1);
      return rows.length > 0;
    },

    async userChainHead(userId) {
      const [head] = await chainHeadQuery(db, userChainId(userId));
      return head;
    },

    async destroyKey(key, entry) {
      const destroy = db.update(userKeys)
        .set({ wrappedKey: null, destroyedAt: entry.at })
        .where(and(
          eq(userKeys.keyId, key.keyId),
          eq(userKeys.userId, key.userId),
          isNull(userKeys.destroyedAt),
          // Checked inside the write, so an order created after the
          // service's own check still stops the erasure.
          notExists(ordersNeedingAddress(key.userId)),
        )).toSQL();
      const written = await writeAppendingBatch(db.$client, [
        { sql: destroy.sql, args: destroy.params as InValue[] },
        // Appended only when the key was destroyed.
        appendAuditEntry(entry, {
          sealer: sealerOrThrow(options.auditSealer),
          onlyIf: PREVIOUS_CHANGED_ONE_ROW,
        }),
      ]);
      if (!written) return "chain_position_taken";
      return written[0]?.rowsAffected === 1 ? "destroyed" : "kept";
    },

    async scrub() {
      if (options.embedded) {
        await db.run(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
      }
    },

    async listPlainAddresses({ userId, afterId, limit }) {
      return await db.select({
        id: orders.id,
        userId: orders.userId,
        address: orders.shippingAddress,
      }).from(orders).where(and(
        sql`NOT (${orders.shippingAddress} GLOB ${ENCRYPTED})`,
        userId === undefined ? undefined : eq(orders.userId, userId),
        afterId === undefined ? undefined : gt(orders.id, afterId),
      )).orderBy(asc(orders.id)).limit(limit);
    },

    async replacePlainAddress(row, ciphertext) {
      const result = await db.update(orders).set({
        shippingAddress: ciphertext,
      }).where(
        and(eq(orders.id, row.id), eq(orders.shippingAddress, row.address)),
      );
      return result.rowsAffected === 1;
    },

    async listPlainResponses({ orderUserId, after, limit }) {
      const rows = await db.select({
        userId: idempotencyKeys.userId,
        key: idempotencyKeys.key,
        body: idempotencyKeys.responseBody,
      }).from(idempotencyKeys).where(and(
        plainResponseAddress,
        orderUserId === undefined
          ? undefined
          : sql`json_extract(${idempotencyKeys.responseBody}, '$.user_id') = ${orderUserId}`,
        after === undefined ? undefined : or(
          gt(idempotencyKeys.userId, after.userId),
          and(
            eq(idempotencyKeys.userId, after.userId),
            gt(idempotencyKeys.key, after.key),
          ),
        ),
      )).orderBy(asc(idempotencyKeys.userId), asc(idempotencyKeys.key))
        .limit(limit);
      return rows.flatMap((row) =>
        row.body === null ? [] : [{ ...row, body: row.body }]
      );
    },

    async replacePlainResponse(row, body) {
      const result = await db.update(idempotencyKeys).set({
        responseBody: body,
      }).where(and(
        eq(idempotencyKeys.userId, row.userId),
        eq(idempotencyKeys.key, row.key),
        eq(idempotencyKeys.responseBody, row.body),
      ));
      return result.rowsAffected === 1;
    },

    async countPlainAuditEntries() {
      const plain = (path: string) =>
        sql`(json_type(${auditLog.changes}, ${path}) = 'text'
          AND NOT (json_extract(${auditLog.changes}, ${path}) GLOB ${ENCRYPTED}))`;
      const [row] = await db.select({ n: count() }).from(
        auditLog,
      ).where(and(
        sql`json_valid(${auditLog.changes})`,
        or(
          plain("$.shipping_address.from"),
          plain("$.shipping_address.to"),
        ),
      ));
      return Number(row?.n ?? 0);
    },

    async listKeysNotWrappedBy(masterId, { afterKeyId, limit }) {
      return await db.select().from(userKeys).where(and(
        isNull(userKeys.destroyedAt),
        sql`NOT (${userKeys.wrappedKey} GLOB ${`${masterId}.*`})`,
        afterKeyId === undefined ? undefined : gt(userKeys.keyId, afterKeyId),
      )).orderBy(asc(userKeys.keyId)).limit(limit);
    },

    async replaceWrappedKey(keyId, from, to) {
      const result = await db.update(userKeys).set({ wrappedKey: to }).where(
        and(
          eq(userKeys.keyId, keyId),
          eq(userKeys.wrappedKey, from),
          isNull(userKeys.destroyedAt),
        ),
      );
      return result.rowsAffected === 1;
    },

    async countKeysNotWrappedBy(masterIds) {
      const masterOf =
        sql`substr(${userKeys.wrappedKey}, 1, instr(${userKeys.wrappedKey}, '.') - 1)`;
      const [row] = await db.select({ n: count() }).from(
        userKeys,
      ).where(and(
        isNull(userKeys.destroyedAt),
        masterIds.length === 0
          ? undefined
          : notInArray(masterOf, [...masterIds]),
      ));
      return Number(row?.n ?? 0);
    },
  };
}

/** The store's sealer; a store opened without one cannot append. */
function sealerOrThrow(sealer: AuditSealer | undefined): AuditSealer {
  if (sealer === undefined) {
    throw new Error(
      "This personal data store was opened without the audit key: it cannot append an audit entry",
    );
  }
  return sealer;
}
