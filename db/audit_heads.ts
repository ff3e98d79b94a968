/**
 * What the checkpointer (`audit/checkpointer.ts`) reads of the audit log:
 * every chain's head with the last `seq` (one read transaction, so the heads
 * are exactly those as of that mark), then the entries appended since a
 * mark, in the order they were committed.
 */
import { asc, gt, max, sql } from "drizzle-orm";
import type { HeadFact } from "../domain/audit_checkpoint.ts";
import type { Db } from "./database.ts";
import { auditLog } from "./schema.ts";

/** The heads of every chain and the last `seq` they cover (0 for an empty log). */
export async function readAllHeads(
  db: Db,
): Promise<{ mark: number; heads: HeadFact[] }> {
  // SQLite takes the other columns of a row with max() from that row.
  const [marks, heads] = await db.batch([
    db.select({ mark: max(auditLog.seq) }).from(auditLog),
    db.select({
      chainId: auditLog.chainId,
      seq: sql<number>`max(${auditLog.chainSeq})`.mapWith(Number),
      hash: auditLog.hash,
    }).from(auditLog).groupBy(auditLog.chainId),
  ]);
  return { mark: marks[0]?.mark ?? 0, heads };
}

/** Up to `limit` entries after `mark`, in `seq` order: where chains moved. */
export async function readEntriesAfter(
  db: Db,
  mark: number,
  limit: number,
): Promise<{ rowSeq: number; chainId: string; seq: number; hash: string }[]> {
  return await db.select({
    rowSeq: auditLog.seq,
    chainId: auditLog.chainId,
    seq: auditLog.chainSeq,
    hash: auditLog.hash,
  }).from(auditLog).where(gt(auditLog.seq, mark)).orderBy(asc(auditLog.seq))
    .limit(limit);
}
