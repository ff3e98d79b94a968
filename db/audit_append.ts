/**
 * The one path by which an audit entry reaches the log. A store is given a
 * draft placed in its chain (`PlacedAuditDraft`); `appendAuditEntry` seals
 * it over exactly what is stored and returns the statement that appends it,
 * which the store runs in the same batch as the change the entry records;
 * `writeAppendingBatch` runs such a batch and turns a taken chain position
 * into a lost race for the caller to retry.
 */
import { getTableName } from "drizzle-orm";
import type { Client, InStatement, ResultSet } from "@libsql/client/web";
import {
  type AuditEntry,
  type AuditSealer,
  type PlacedAuditDraft,
  sealAuditEntry,
} from "../domain/audit.ts";
import { auditToRow } from "./audit_rows.ts";
import { auditLog } from "./schema.ts";
import { type Guard, insertRows, sqlText } from "./sql.ts";

/** Holds when the statement before it in the batch changed exactly one row. */
export const PREVIOUS_CHANGED_ONE_ROW: Guard = {
  sql: sqlText`changes() = 1`,
  args: [],
};

/** An entry's `INSERT`, and the entry as sealed (its hash is the receipt). */
export interface AppendedEntry {
  readonly statement: InStatement;
  readonly entry: AuditEntry;
}

/**
 * Seals `entry` at its chain position under the audit key (`sealer`,
 * HMAC-SHA256 with node:crypto, synchronously: about as fast as the
 * SHA-256 it replaced) and returns the `INSERT` that appends it, to run in
 * the caller's batch; with `onlyIf`, the entry goes in only when that guard
 * holds at the write (`PREVIOUS_CHANGED_ONE_ROW`: when the change before it
 * took effect).
 */
export function appendAuditEntry(
  entry: PlacedAuditDraft,
  options: { sealer: AuditSealer; onlyIf?: Guard | undefined },
): InStatement {
  return appendSealedEntry(entry, options).statement;
}

/** `appendAuditEntry`, with the sealed entry beside its statement. */
export function appendSealedEntry(
  entry: PlacedAuditDraft,
  options: { sealer: AuditSealer; onlyIf?: Guard | undefined },
): AppendedEntry {
  const { chainId, chainSeq, prevHash, ...draft } = entry;
  const sealed = sealAuditEntry(
    draft,
    { chainId, chainSeq, prevHash },
    options.sealer,
  );
  return {
    statement: insertRows(auditLog, [auditToRow(sealed)], options.onlyIf),
    entry: sealed,
  };
}

/** What SQLite says when `(chain_id, chain_seq)` is taken. */
const POSITION_TAKEN = `UNIQUE constraint failed: ${
  getTableName(auditLog)
}.${auditLog.chainId.name}`;

/** Whether a write failed because its audit chain position was taken. */
function isChainPositionTaken(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e.message.includes(POSITION_TAKEN)) return true;
  }
  return false;
}

/**
 * Runs a write batch that appends an audit entry, as one transaction.
 * Resolves to undefined, with nothing written, when the entry's chain
 * position was taken: another writer got there first, a lost race the
 * caller retries after reading the chain again.
 */
export async function writeAppendingBatch(
  client: Client,
  statements: InStatement[],
): Promise<ResultSet[] | undefined> {
  try {
    return await client.batch(statements, "write");
  } catch (error) {
    if (isChainPositionTaken(error)) return undefined;
    throw error;
  }
}
