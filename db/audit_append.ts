/**
 * The one path by which an audit entry reaches the log. A store is given a
 * draft placed in its chain (`PlacedAuditDraft`); `appendAuditEntry` seals
 * it over exactly what is stored and returns the statement that appends it,
 * which the store runs in the same batch as the change the entry records;
 * `writeAppendingBatch` runs such a batch and turns a taken chain position
 * into a lost race for the caller to retry.
 */
import { createHash } from "node:crypto";
import { getTableName } from "drizzle-orm";
import type { Client, InStatement, ResultSet } from "@libsql/client/web";
import { type PlacedAuditDraft, sealAuditEntry } from "../domain/audit.ts";
import { auditToRow } from "./audit_rows.ts";
import { auditLog } from "./schema.ts";
import { type Guard, insertRows, sqlText } from "./sql.ts";

/**
 * SHA-256 as lowercase hex, synchronously: the seal of every write
 * (WebCrypto's digest costs about 28 µs against 3–5 µs here). The audit
 * verifier hashes with WebCrypto, so a difference could not go unnoticed.
 */
function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Holds when the statement before it in the batch changed exactly one row. */
export const PREVIOUS_CHANGED_ONE_ROW: Guard = {
  sql: sqlText`changes() = 1`,
  args: [],
};

/**
 * Seals `entry` at its chain position and returns the `INSERT` that appends
 * it, to run in the caller's batch; with `onlyIf`, the entry goes in only
 * when that guard holds at the write (`PREVIOUS_CHANGED_ONE_ROW`: when the
 * change before it took effect).
 */
export async function appendAuditEntry(
  entry: PlacedAuditDraft,
  options: { onlyIf?: Guard | undefined } = {},
): Promise<InStatement> {
  const { chainId, chainSeq, prevHash, ...draft } = entry;
  const sealed = await sealAuditEntry(
    draft,
    { chainId, chainSeq, prevHash },
    sha256,
  );
  return insertRows(auditLog, [auditToRow(sealed)], options.onlyIf);
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
