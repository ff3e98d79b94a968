/**
 * Verifies the audit log's hash chains: every chain runs 1..n without gaps,
 * each entry's `prev_hash` is the hash of the entry before it (the genesis
 * hash for the first), each `hash` is the SHA-256 of the entry's stored
 * content, every order's chain ends at the order's current version, and
 * every destroyed data key has its `user.personal_data_erased` entry in its
 * user's chain (and every such entry names a destroyed key). Chains of users
 * (`user:<id>`) are checked the same way, except for the tail: no row records
 * how long they should be.
 */
import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import {
  auditHashInput,
  GENESIS_HASH,
  parseAuditAction,
  sha256Hex,
} from "../domain/audit.ts";
import type { Role } from "../domain/principal.ts";
import type { Db } from "./client.ts";
import { auditLog, type AuditRow } from "./schema.ts";

/** The first entry found broken: its chain, its place and what is wrong. */
export interface BrokenEntry {
  readonly chainId: string;
  readonly chainSeq: number;
  readonly reason: string;
}

/** What a verification found. */
export interface AuditVerification {
  /** Chains and entries walked (up to the first broken entry). */
  readonly chains: number;
  readonly entries: number;
  /** The first broken entry in (chain, seq) order; undefined when all hold. */
  readonly broken: BrokenEntry | undefined;
}

/** How many rows are read at a time. */
const PAGE_SIZE = 500;

/**
 * Walks every chain in (chain id, seq) order and reports the first broken
 * entry. It hashes the exact stored `changes` text, so any edit of a row is
 * found, as is a removed or reordered entry.
 */
export async function verifyAuditLog(
  db: Db,
  options: { pageSize?: number } = {},
): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? PAGE_SIZE;
  let chains = 0;
  let entries = 0;
  let previous: { chainId: string; chainSeq: number; hash: string } | undefined;
  let broken: BrokenEntry | undefined;

  walk: for (;;) {
    const after = previous;
    const rows = await db.select().from(auditLog).where(
      after === undefined ? undefined : or(
        gt(auditLog.chainId, after.chainId),
        and(
          eq(auditLog.chainId, after.chainId),
          gt(auditLog.chainSeq, after.chainSeq),
        ),
      ),
    ).orderBy(asc(auditLog.chainId), asc(auditLog.chainSeq)).limit(pageSize);
    for (const row of rows) {
      const sameChain = previous?.chainId === row.chainId;
      if (!sameChain) chains++;
      const expectedSeq = sameChain && previous ? previous.chainSeq + 1 : 1;
      const expectedPrev = sameChain && previous ? previous.hash : GENESIS_HASH;
      const problem = await checkEntry(row, { expectedSeq, expectedPrev });
      if (problem !== undefined) {
        broken = {
          chainId: row.chainId,
          chainSeq: problem.missing ? expectedSeq : row.chainSeq,
          reason: problem.reason,
        };
        break walk;
      }
      entries++;
      previous = row;
    }
    if (rows.length < pageSize) break;
  }

  for (const check of [firstOrderOutOfStep, firstErasureOutOfStep]) {
    const found = await check(db);
    if (
      found !== undefined && (broken === undefined || isBefore(found, broken))
    ) {
      broken = found;
    }
  }
  return { chains, entries, broken };
}

async function checkEntry(
  row: AuditRow,
  expected: { expectedSeq: number; expectedPrev: string },
): Promise<{ reason: string; missing?: boolean } | undefined> {
  if (row.chainSeq !== expected.expectedSeq) {
    return {
      reason:
        `entry ${expected.expectedSeq} is missing (the next one is ${row.chainSeq})`,
      missing: true,
    };
  }
  if (row.prevHash !== expected.expectedPrev) {
    return { reason: "prev_hash is not the hash of the entry before it" };
  }
  const roles = parseRoles(row.actorRoles);
  if (roles === undefined) {
    return { reason: "actor_roles is not a canonical JSON array of roles" };
  }
  const hash = await sha256Hex(auditHashInput({
    chainId: row.chainId,
    chainSeq: row.chainSeq,
    prevHash: row.prevHash,
    orderId: row.orderId,
    action: parseAuditAction(row.action),
    actorUserId: row.actorUserId,
    actorRoles: roles,
    requestId: row.requestId,
    at: row.at,
    changesJson: row.changes,
  }));
  if (hash !== row.hash) {
    return { reason: "hash does not match the entry's content" };
  }
  return undefined;
}

/** The roles of a row, only if stored exactly as the service writes them. */
function parseRoles(text: string): Role[] | undefined {
  let roles: unknown;
  try {
    roles = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    !Array.isArray(roles) || !roles.every((r) => typeof r === "string") ||
    JSON.stringify(roles) !== text
  ) {
    return undefined;
  }
  return roles as Role[];
}

/**
 * The first order whose chain does not end at its version: an entry was
 * removed from the end, or the order was changed without one. The chain id
 * is built in SQL exactly as `orderChainId` builds it.
 */
async function firstOrderOutOfStep(db: Db): Promise<BrokenEntry | undefined> {
  const result = await db.all<{ id: string; version: number; last: number }>(
    sql`SELECT o.id AS id, o.version AS version, coalesce((
          SELECT max(a.chain_seq) FROM audit_log a
          WHERE a.chain_id = 'order:' || o.id), 0) AS last
        FROM orders o
        WHERE last <> o.version
        ORDER BY 'order:' || o.id
        LIMIT 1`,
  );
  const row = result[0];
  if (!row) return undefined;
  return {
    chainId: `order:${row.id}`,
    chainSeq: Math.min(row.version, row.last) + 1,
    reason: row.last < row.version
      ? `entry ${
        row.last + 1
      } is missing: the order is at version ${row.version} but its chain ends at ${row.last}`
      : `the order is at version ${row.version} but its chain goes on to ${row.last}`,
  };
}

/**
 * The first user whose data keys and erasure entries disagree: a key
 * destroyed without its `user.personal_data_erased` entry (destroyed behind
 * the service's back), or an entry naming a key that is not destroyed.
 * The chain id is built in SQL exactly as `userChainId` builds it.
 */
async function firstErasureOutOfStep(
  db: Db,
): Promise<BrokenEntry | undefined> {
  const erasures = sql`SELECT a.chain_id AS chain_id, a.chain_seq AS chain_seq,
      json_extract(a.changes, '$.data_key.from') AS key_id
    FROM audit_log a WHERE a.action = 'user.personal_data_erased'`;
  const result = await db.all<
    { chain_id: string; chain_seq: number; key_id: string; kind: string }
  >(
    sql`SELECT * FROM (
        SELECT 'user:' || k.user_id AS chain_id, coalesce((
            SELECT max(a.chain_seq) FROM audit_log a
            WHERE a.chain_id = 'user:' || k.user_id), 0) + 1 AS chain_seq,
          k.key_id AS key_id, 'unrecorded' AS kind
        FROM user_keys k
        WHERE k.destroyed_at IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM (${erasures}) e
          WHERE e.chain_id = 'user:' || k.user_id AND e.key_id = k.key_id)
        UNION ALL
        SELECT e.chain_id, e.chain_seq, e.key_id, 'not_destroyed'
        FROM (${erasures}) e
        WHERE NOT EXISTS (
          SELECT 1 FROM user_keys k WHERE k.key_id = e.key_id
            AND 'user:' || k.user_id = e.chain_id
            AND k.destroyed_at IS NOT NULL))
      ORDER BY chain_id, chain_seq LIMIT 1`,
  );
  const row = result[0];
  if (!row) return undefined;
  return {
    chainId: row.chain_id,
    chainSeq: row.chain_seq,
    reason: row.kind === "unrecorded"
      ? `data key "${row.key_id}" was destroyed without a user.personal_data_erased entry`
      : `the entry records the erasure of data key "${row.key_id}", which is not a destroyed key of this user`,
  };
}

function isBefore(a: BrokenEntry, b: BrokenEntry): boolean {
  return a.chainId < b.chainId ||
    (a.chainId === b.chainId && a.chainSeq < b.chainSeq);
}
