/**
 * Audit log rows, shared by every store that keeps a chain: the stored form
 * of an entry and back, and reading a chain and its head. Entries are
 * appended through `audit_append.ts`.
 */
import { desc, eq } from "drizzle-orm";
import type { Row } from "@libsql/client/web";
import type { AuditEntry, ChainHead, FieldChange } from "../domain/audit.ts";
import {
  AUDIT_ACTIONS,
  AUDIT_SEAL_SCHEMES,
  parseAuditAction,
} from "../domain/audit.ts";
import type { Role } from "../domain/principal.ts";
import type { Db } from "./database.ts";
import { auditLog, type AuditRow } from "./schema.ts";
import {
  enumValue,
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
    seal: entry.seal,
    keyId: entry.keyId,
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
    seal: row.seal,
    keyId: row.keyId,
  };
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
    seal: enumValue(AUDIT_SEAL_SCHEMES, row.seal),
    keyId: nullableText(row.keyId),
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
