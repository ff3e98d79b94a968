/**
 * Audit log rows, shared by every store that appends to a chain: the stored
 * form of an entry and back, the guarded append, the chain head and the
 * "position taken" failure.
 */
import { desc, eq, getTableName } from "drizzle-orm";
import type { InStatement, Row } from "@libsql/client/web";
import type { AuditEntry, FieldChange } from "../domain/audit.ts";
import { AUDIT_ACTIONS, parseAuditAction } from "../domain/audit.ts";
import type { Role } from "../domain/principal.ts";
import type { Db } from "./database.ts";
import { auditLog, type AuditRow } from "./schema.ts";
import {
  enumValue,
  insertRows,
  integerValue,
  nullableText,
  selectAs,
  selectList,
  sqlText,
  textValue,
} from "./sql.ts";

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

/** An audit entry read back from its row. */
export function rowToAuditEntry(row: AuditRow): AuditEntry {
  return {
    chainId: row.chainId,
    chainSeq: row.chainSeq,
    orderId: row.orderId,
    // Checked: the column's type says what the code writes, not what a
    // database edited by hand may hold.
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

/** Holds when the statement before it in the batch changed exactly one row. */
const CHANGED_ONE_ROW = { sql: sqlText`changes() = 1`, args: [] };

/**
 * `INSERT INTO audit_log … SELECT … WHERE changes() = 1`: appends the entry
 * only if the statement before it changed exactly one row.
 */
export function insertAuditIfChanged(entry: AuditEntry): InStatement {
  return insertRows(auditLog, [auditToRow(entry)], CHANGED_ONE_ROW);
}

/** What SQLite says when `(chain_id, chain_seq)` is taken. */
const POSITION_TAKEN = `UNIQUE constraint failed: ${
  getTableName(auditLog)
}.${auditLog.chainId.name}`;

/** Whether a write failed because its audit chain position was taken. */
export function isChainPositionTaken(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e.message.includes(POSITION_TAKEN)) return true;
  }
  return false;
}

/** The head of a chain: its last entry's position and hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * The head of the chain given as the one argument, as fixed SQL for reads
 * batched with other fixed statements; `readChainHead` reads its row.
 */
export const CHAIN_HEAD_SQL = sqlText`SELECT ${
  selectList({ seq: auditLog.chainSeq, hash: auditLog.hash })
} FROM ${auditLog} WHERE ${auditLog.chainId} = ?
  ORDER BY ${auditLog.chainSeq} DESC LIMIT 1`;

/** The head a `CHAIN_HEAD_SQL` row names; undefined for an empty chain. */
export function readChainHead(row: Row | undefined): ChainHead | undefined {
  return row && { seq: integerValue(row.seq), hash: textValue(row.hash) };
}

/** The head of a chain, as a query to await or batch. */
export function chainHeadQuery(db: Db, chainId: string) {
  return db.select({ seq: auditLog.chainSeq, hash: auditLog.hash })
    .from(auditLog)
    .where(eq(auditLog.chainId, chainId))
    .orderBy(desc(auditLog.chainSeq)).limit(1);
}

/**
 * Every entry of the chain given as the one argument, oldest first, as fixed
 * SQL for reads batched with other fixed statements; `readAuditRow` reads
 * its rows.
 */
export const CHAIN_SQL = sqlText`${
  selectAs(auditLog)
} WHERE ${auditLog.chainId} = ?
  ORDER BY ${auditLog.chainSeq}`;

/** The row of a `CHAIN_SQL` result, typed. */
export function readAuditRow(row: Row): AuditRow {
  return {
    seq: integerValue(row.seq),
    chainId: textValue(row.chainId),
    chainSeq: integerValue(row.chainSeq),
    orderId: nullableText(row.orderId),
    action: enumValue(AUDIT_ACTIONS, row.action),
    actorUserId: integerValue(row.actorUserId),
    actorRoles: textValue(row.actorRoles),
    requestId: textValue(row.requestId),
    at: integerValue(row.at),
    changes: textValue(row.changes),
    prevHash: textValue(row.prevHash),
    hash: textValue(row.hash),
  };
}

/** Every entry of a chain, oldest first. */
export async function listChain(
  db: Db,
  chainId: string,
): Promise<AuditEntry[]> {
  const { rows } = await db.$client.execute({
    sql: CHAIN_SQL,
    args: [chainId],
  });
  return rows.map((row) => rowToAuditEntry(readAuditRow(row)));
}
