/**
 * Verifies the audit log's hash chains: every chain runs 1..n without gaps,
 * each entry's `prev_hash` is the hash of the entry before it (the genesis
 * hash for the first), each `hash` is the entry's seal over its stored
 * content (HMAC-SHA256 under the audit key its `key_id` names, or, for the
 * entries written before the log was keyed, SHA-256), every order's chain
 * ends at the order's current version, and every destroyed data key has its
 * `user.personal_data_erased` entry in its user's chain (and every such
 * entry names a destroyed key). Chains of users (`user:<id>`) are checked
 * the same way, except for the tail: no row records how long they should be.
 *
 * Given signed checkpoints (`domain/audit_checkpoint.ts`, their signatures
 * checked by the caller), it also holds the database to them: every head a
 * checkpoint lists is still there with its hash, and the heads of every
 * chain as of each checkpoint's mark give its root and counts. That needs
 * no trust in the database, nor the audit key.
 */
import {
  and,
  asc,
  count,
  eq,
  isNotNull,
  max,
  ne,
  notExists,
  type SQL,
  sql,
} from "drizzle-orm";
import { createHash } from "node:crypto";
import {
  AUDIT_SEAL_SCHEMES,
  auditHashInput,
  type AuditSealer,
  GENESIS_HASH,
  orderChainId,
  parseAuditAction,
  sha256Hex,
  userChainId,
} from "../domain/audit.ts";
import {
  type AuditCheckpoint,
  type MerkleBuilder,
  merkleBuilder,
} from "../domain/audit_checkpoint.ts";
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
  /** Entries sealed with unkeyed SHA-256 (written before the audit key). */
  readonly unkeyed: number;
  /** Keyed entries whose seal was not checked: no audit key was given. */
  readonly sealsUnchecked: number;
  /**
   * A checkpoint the database departs from where no single entry can be
   * named (its root or counts differ, every head it lists being intact).
   */
  readonly checkpointMismatch: string | undefined;
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
 * Options of `verifyAuditLog`; by default 2,000 rows a page and a progress
 * report every 10,000 entries. `keys` are the audit keys by id (`AUDIT_KEY`
 * and `AUDIT_KEY_PREVIOUS`): without them keyed seals are not checked (the
 * links still are), and an entry sealed under a key not among them is
 * broken. `checkpoints` are signed checkpoints whose signatures hold.
 */
export type VerifyAuditLogOptions = WalkOptions<AuditProgress> & {
  readonly keys?: ReadonlyMap<string, AuditSealer> | undefined;
  readonly checkpoints?: readonly AuditCheckpoint[] | undefined;
};

/** An entry's place in the log: what a checkpoint's mark is compared with. */
interface Placed {
  readonly rowSeq: number;
  readonly chainSeq: number;
  readonly hash: string;
}

/**
 * Walks every chain in (chain id, seq) order and reports the first broken
 * entry. It hashes the exact stored `changes` text, so any edit of a row is
 * found, as is a removed or reordered entry; with checkpoints, so is a
 * consistent rewrite, truncation or removal of what they covered.
 */
export async function verifyAuditLog(
  db: Db,
  options: VerifyAuditLogOptions = {},
): Promise<AuditVerification> {
  const walk = walkSettings(options, {
    pageSize: 2_000,
    progressEvery: 10_000,
  });
  // Counted only for a caller that shows progress: one more query.
  let total = walk.onProgress ? await countEntries(db) : 0;
  const evidence = checkpointEvidence(options.checkpoints ?? []);
  let chains = 0;
  let entries = 0;
  let unkeyed = 0;
  let sealsUnchecked = 0;
  let previous: AuditRow | undefined;
  let chainKeyed = false;
  let chainEntries: Placed[] = [];
  let broken: BrokenEntry | undefined;
  const seen = new Set<string>();

  /** The checkpoints' say on the chain just walked: its tail, its heads. */
  const closeChain = () => {
    if (previous === undefined) return;
    broken = earlier(
      broken,
      evidence.afterChain(previous.chainId, previous.chainSeq),
    );
    evidence.addChain(previous.chainId, chainEntries);
  };

  await walkPages<AuditRow>(
    (after, limit) =>
      db.select().from(auditLog).where(
        // A row value, which SQLite seeks in the (chain_id, chain_seq)
        // index; the equivalent OR is planned as a scan, page after page.
        after === undefined
          ? undefined
          : sql`(${auditLog.chainId}, ${auditLog.chainSeq}) > (${after.chainId}, ${after.chainSeq})`,
      ).orderBy(asc(auditLog.chainId), asc(auditLog.chainSeq)).limit(limit),
    async (row) => {
      const sameChain = previous?.chainId === row.chainId;
      if (!sameChain) {
        closeChain();
        chains++;
        chainKeyed = false;
        chainEntries = [];
        seen.add(row.chainId);
      }
      const expectedSeq = sameChain && previous ? previous.chainSeq + 1 : 1;
      const expectedPrev = sameChain && previous ? previous.hash : GENESIS_HASH;
      const problem = await checkEntry(row, {
        expectedSeq,
        expectedPrev,
        afterKeyed: chainKeyed,
        keys: options.keys,
      }) ?? evidence.atEntry(row.chainId, row.chainSeq, row.hash);
      if (problem !== undefined) {
        broken = earlier(broken, {
          chainId: row.chainId,
          chainSeq: problem.missing ? expectedSeq : row.chainSeq,
          reason: problem.reason,
        });
        return false;
      }
      if (row.seal === "sha256") unkeyed++;
      else if (options.keys === undefined) sealsUnchecked++;
      chainKeyed ||= row.seal !== "sha256";
      chainEntries.push({
        rowSeq: row.seq,
        chainSeq: row.chainSeq,
        hash: row.hash,
      });
      entries++;
      previous = row;
      if (walk.onProgress && entries % walk.progressEvery === 0) {
        if (entries > total) total = await countEntries(db);
        walk.onProgress({ entries, chains, total });
      }
    },
    walk,
  );
  const complete = broken === undefined;
  if (complete) closeChain();
  broken = earlier(broken, evidence.missingChains(seen));

  for (const check of [firstOrderOutOfStep, firstErasureOutOfStep]) {
    broken = earlier(broken, await check(db));
  }
  return {
    chains,
    entries,
    broken,
    unkeyed,
    sealsUnchecked,
    checkpointMismatch: complete && broken === undefined
      ? evidence.rootMismatch()
      : undefined,
  };
}

/** The number of entries in the log. */
async function countEntries(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(auditLog);
  return row?.n ?? 0;
}

/** A problem with one entry; `missing` when the entry expected is absent. */
interface EntryProblem {
  reason: string;
  missing?: boolean;
}

async function checkEntry(
  row: AuditRow,
  expected: {
    expectedSeq: number;
    expectedPrev: string;
    afterKeyed: boolean;
    keys: ReadonlyMap<string, AuditSealer> | undefined;
  },
): Promise<EntryProblem | undefined> {
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
  const input = {
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
  };
  const scheme = row.seal as string;
  if (scheme === "sha256") {
    if (expected.afterKeyed || row.keyId !== null) {
      return {
        reason: expected.afterKeyed
          ? `an unkeyed (${scheme}) entry after a keyed one: every entry since the first keyed one is sealed under the audit key`
          : `an unkeyed (${scheme}) entry names a ${auditLog.keyId.name}`,
      };
    }
    if ((await sha256Hex(auditHashInput(input))) !== row.hash) {
      return { reason: "hash does not match the entry's content" };
    }
    return undefined;
  }
  if (
    !(AUDIT_SEAL_SCHEMES as readonly string[]).includes(scheme) ||
    row.keyId === null
  ) {
    return {
      reason: `${auditLog.seal.name} "${scheme}" with ${auditLog.keyId.name} ${
        JSON.stringify(row.keyId)
      } is not a seal this service writes`,
    };
  }
  if (expected.keys === undefined) return undefined;
  const key = expected.keys.get(row.keyId);
  if (key === undefined) {
    return {
      reason:
        `sealed under audit key ${row.keyId}, which is neither AUDIT_KEY nor AUDIT_KEY_PREVIOUS`,
    };
  }
  const mac = key.mac(
    auditHashInput({ ...input, seal: row.seal, keyId: row.keyId }),
  );
  if (mac !== row.hash) {
    return {
      reason:
        `hash does not match the entry's content under audit key ${row.keyId}`,
    };
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

/** How a checkpoint is named in a finding. */
export function describeCheckpoint(checkpoint: AuditCheckpoint): string {
  return `checkpoint ${checkpoint.n} of instance ${checkpoint.instance} (${
    new Date(checkpoint.at).toISOString()
  }, entries up to seq ${checkpoint.mark})`;
}

/** What the checkpoints say, asked chain by chain during the walk. */
interface CheckpointEvidence {
  /** A departure at this entry: its hash is not the one a checkpoint lists. */
  atEntry(chainId: string, seq: number, hash: string): EntryProblem | undefined;
  /** A departure after a chain's last entry: a listed head is gone. */
  afterChain(chainId: string, lastSeq: number): BrokenEntry | undefined;
  /** Adds a walked chain's heads to every checkpoint's root. */
  addChain(chainId: string, entries: readonly Placed[]): void;
  /** The first listed chain not in the database. */
  missingChains(seen: ReadonlySet<string>): BrokenEntry | undefined;
  /** The first checkpoint whose root or counts the database does not give. */
  rootMismatch(): string | undefined;
}

/** Indexes the checkpoints' heads and builds one root per distinct mark. */
function checkpointEvidence(
  checkpoints: readonly AuditCheckpoint[],
): CheckpointEvidence {
  // chain → seq → the first checkpoint listing that head.
  const facts = new Map<
    string,
    Map<number, { hash: string; by: AuditCheckpoint }>
  >();
  for (const checkpoint of checkpoints) {
    for (const head of checkpoint.heads) {
      let bySeq = facts.get(head.chainId);
      if (!bySeq) facts.set(head.chainId, bySeq = new Map());
      if (!bySeq.has(head.seq)) {
        bySeq.set(head.seq, { hash: head.hash, by: checkpoint });
      }
    }
  }
  const marks = [...new Set(checkpoints.map((c) => c.mark))].sort((a, b) =>
    a - b
  );
  const roots = new Map<
    number,
    { tree: MerkleBuilder; chains: number; entries: number }
  >(marks.map((
    mark,
  ) => [mark, { tree: merkleBuilder(sha256), chains: 0, entries: 0 }]));
  return {
    atEntry(chainId, seq, hash) {
      const fact = facts.get(chainId)?.get(seq);
      if (fact === undefined || fact.hash === hash) return undefined;
      return {
        reason: `hash is not the one ${
          describeCheckpoint(fact.by)
        } recorded for this entry (${fact.hash}): the chain was rewritten`,
      };
    },
    afterChain(chainId, lastSeq) {
      const bySeq = facts.get(chainId);
      if (!bySeq) return undefined;
      let furthest: { seq: number; by: AuditCheckpoint } | undefined;
      for (const [seq, fact] of bySeq) {
        if (seq > lastSeq && (!furthest || seq > furthest.seq)) {
          furthest = { seq, by: fact.by };
        }
      }
      return furthest && {
        chainId,
        chainSeq: lastSeq + 1,
        reason: `entry ${lastSeq + 1} is missing: ${
          describeCheckpoint(furthest.by)
        } recorded this chain up to entry ${furthest.seq}`,
      };
    },
    addChain(chainId, entries) {
      for (const mark of marks) {
        let head: Placed | undefined;
        let count = 0;
        for (const entry of entries) {
          if (entry.rowSeq > mark) continue;
          count++;
          if (!head || entry.chainSeq > head.chainSeq) head = entry;
        }
        if (!head) continue;
        const root = roots.get(mark)!;
        root.tree.add({ chainId, seq: head.chainSeq, hash: head.hash });
        root.chains++;
        root.entries += count;
      }
    },
    missingChains(seen) {
      let first: BrokenEntry | undefined;
      for (const [chainId, bySeq] of facts) {
        if (seen.has(chainId)) continue;
        const [seq, fact] = [...bySeq].sort(([a], [b]) => b - a)[0]!;
        first = earlier(first, {
          chainId,
          chainSeq: 1,
          reason: `the chain is missing: ${
            describeCheckpoint(fact.by)
          } recorded it up to entry ${seq}`,
        });
      }
      return first;
    },
    rootMismatch() {
      for (const checkpoint of checkpoints) {
        const root = roots.get(checkpoint.mark)!;
        const computed = root.tree.root();
        if (
          computed !== checkpoint.root || root.chains !== checkpoint.chains ||
          root.entries !== checkpoint.entries
        ) {
          return `the chains as of ${
            describeCheckpoint(checkpoint)
          } do not give its root: the database has ${root.chains} chains and ${root.entries} entries up to that mark (root ${computed}), the checkpoint recorded ${checkpoint.chains} and ${checkpoint.entries} (root ${checkpoint.root})`;
        }
      }
      return undefined;
    },
  };
}

/** SHA-256 of bytes with node:crypto, for the checkpoints' Merkle trees. */
function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
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
