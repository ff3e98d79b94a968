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
import {
  and,
  asc,
  count,
  eq,
  gt,
  isNotNull,
  max,
  ne,
  notExists,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import {
  auditHashInput,
  GENESIS_HASH,
  orderChainId,
  parseAuditAction,
  sha256Hex,
  userChainId,
} from "../domain/audit.ts";
import {
  type WalkOptions,
  walkPages,
  walkSettings,
} from "../domain/paged_walk.ts";
import type { Role } from "../domain/principal.ts";
import type { Db } from "./database.ts";
import { auditLog, type AuditRow, orders, userKeys } from "./schema.ts";

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

/** How far a verification has got. */
export interface AuditProgress {
  /** Entries verified so far, and the chains they belong to. */
  readonly entries: number;
  readonly chains: number;
  /** Entries in the log, counted when the walk began (again if it grew past that). */
  readonly total: number;
}

/**
 * Options of `verifyAuditLog`; by default 500 rows a page and a progress
 * report every 10,000 entries.
 */
export type VerifyAuditLogOptions = WalkOptions<AuditProgress>;

/**
 * Walks every chain in (chain id, seq) order and reports the first broken
 * entry. It hashes the exact stored `changes` text, so any edit of a row is
 * found, as is a removed or reordered entry.
 */
export async function verifyAuditLog(
  db: Db,
  options: VerifyAuditLogOptions = {},
): Promise<AuditVerification> {
  const walk = walkSettings(options, { pageSize: 500, progressEvery: 10_000 });
  // Counted only for a caller that shows progress: one more query.
  let total = walk.onProgress ? await countEntries(db) : 0;
  let chains = 0;
  let entries = 0;
  let previous: AuditRow | undefined;
  let broken: BrokenEntry | undefined;

  await walkPages<AuditRow>(
    (after, limit) =>
      db.select().from(auditLog).where(
        after === undefined ? undefined : or(
          gt(auditLog.chainId, after.chainId),
          and(
            eq(auditLog.chainId, after.chainId),
            gt(auditLog.chainSeq, after.chainSeq),
          ),
        ),
      ).orderBy(asc(auditLog.chainId), asc(auditLog.chainSeq)).limit(limit),
    async (row) => {
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
        return false;
      }
      entries++;
      previous = row;
      if (walk.onProgress && entries % walk.progressEvery === 0) {
        if (entries > total) total = await countEntries(db);
        walk.onProgress({ entries, chains, total });
      }
    },
    walk,
  );

  for (const check of [firstOrderOutOfStep, firstErasureOutOfStep]) {
    broken = earlier(broken, await check(db));
  }
  return { chains, entries, broken };
}

/** The number of entries in the log. */
async function countEntries(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(auditLog);
  return row?.n ?? 0;
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
    return {
      reason:
        `${auditLog.prevHash.name} is not the hash of the entry before it`,
    };
  }
  const roles = parseRoles(row.actorRoles);
  if (roles === undefined) {
    return {
      reason:
        `${auditLog.actorRoles.name} is not a canonical JSON array of roles`,
    };
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
 * is built in SQL as `orderChainId` builds it.
 */
async function firstOrderOutOfStep(db: Db): Promise<BrokenEntry | undefined> {
  const chainId = sql<string>`${orderChainId("")} || ${orders.id}`;
  const last = lastSeqOf(db, chainId);
  const [row] = await db.select({
    id: orders.id,
    version: orders.version,
    last,
  })
    .from(orders)
    .where(ne(last, orders.version))
    .orderBy(chainId)
    .limit(1);
  if (!row) return undefined;
  return {
    chainId: orderChainId(row.id),
    chainSeq: Math.min(row.version, row.last) + 1,
    reason: row.last < row.version
      ? `entry ${
        row.last + 1
      } is missing: the order is at version ${row.version} but its chain ends at ${row.last}`
      : `the order is at version ${row.version} but its chain goes on to ${row.last}`,
  };
}

/** The last position of the chain `chainId` names (0 when empty), in SQL. */
function lastSeqOf(db: Db, chainId: SQL<string>): SQL<number> {
  return sql<number>`coalesce((${
    db.select({ seq: max(auditLog.chainSeq) }).from(auditLog)
      .where(eq(auditLog.chainId, chainId))
  }), 0)`.mapWith(Number);
}

/**
 * The first user whose data keys and erasure entries disagree: a key
 * destroyed without its `user.personal_data_erased` entry (destroyed behind
 * the service's back), or an entry naming a key that is not destroyed.
 * The chain id is built in SQL as `userChainId` builds it.
 */
async function firstErasureOutOfStep(
  db: Db,
): Promise<BrokenEntry | undefined> {
  const keyChainId = sql<string>`${USER_CHAIN_PREFIX} || ${userKeys.userId}`;
  const erasedKeyId = sql<
    string | null
  >`json_extract(${auditLog.changes}, ${ERASED_KEY_PATH})`;
  const isErasure = eq(auditLog.action, "user.personal_data_erased");
  const [unrecorded] = await db.select({
    chainId: keyChainId,
    last: lastSeqOf(db, keyChainId),
    keyId: userKeys.keyId,
  }).from(userKeys).where(and(
    isNotNull(userKeys.destroyedAt),
    notExists(
      db.select({ seq: auditLog.seq }).from(auditLog).where(and(
        isErasure,
        eq(auditLog.chainId, keyChainId),
        eq(erasedKeyId, userKeys.keyId),
      )),
    ),
  )).orderBy(keyChainId).limit(1);
  const [notDestroyed] = await db.select({
    chainId: auditLog.chainId,
    chainSeq: auditLog.chainSeq,
    keyId: erasedKeyId,
  }).from(auditLog).where(and(
    isErasure,
    notExists(
      db.select({ keyId: userKeys.keyId }).from(userKeys).where(and(
        eq(userKeys.keyId, erasedKeyId),
        eq(keyChainId, auditLog.chainId),
        isNotNull(userKeys.destroyedAt),
      )),
    ),
  )).orderBy(asc(auditLog.chainId), asc(auditLog.chainSeq)).limit(1);
  return earlier(
    unrecorded && {
      chainId: unrecorded.chainId,
      chainSeq: unrecorded.last + 1,
      reason:
        `data key "${unrecorded.keyId}" was destroyed without a user.personal_data_erased entry`,
    },
    notDestroyed && {
      chainId: notDestroyed.chainId,
      chainSeq: notDestroyed.chainSeq,
      reason:
        `the entry records the erasure of data key "${notDestroyed.keyId}", which is not a destroyed key of this user`,
    },
  );
}

/** What `userChainId` puts before the user id (`user:0` without its `0`). */
const USER_CHAIN_PREFIX = userChainId(0).slice(0, -1);

/** Where a `user.personal_data_erased` entry records the destroyed key. */
const ERASED_KEY_PATH = "$.data_key.from";

/** The one of two findings first in (chain, seq) order; `a` on a tie. */
function earlier(
  a: BrokenEntry | undefined,
  b: BrokenEntry | undefined,
): BrokenEntry | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const bFirst = b.chainId < a.chainId ||
    (b.chainId === a.chainId && b.chainSeq < a.chainSeq);
  return bFirst ? b : a;
}
