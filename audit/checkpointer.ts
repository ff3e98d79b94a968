/**
 * Makes the audit log's signed checkpoints, off the request path: the
 * service calls `checkpoint()` every `AUDIT_CHECKPOINT_SECONDS` and once
 * more on a graceful shutdown. It keeps every chain's head in memory (read
 * in full once, then only the entries appended since its last mark), so a
 * checkpoint costs one small read, a sort and a hash per chain, and nothing
 * is published when no entry was appended since the last one.
 */
import {
  type AuditCheckpoint,
  type HeadFact,
  MAX_CHECKPOINT_HEADS,
  merkleBuilder,
  type SignedCheckpoint,
} from "../domain/audit_checkpoint.ts";
import { readAllHeads, readEntriesAfter } from "../db/audit_heads.ts";
import type { Db } from "../db/database.ts";
import { type CheckpointSigner, sha256Bytes } from "./keys.ts";

/** How many appended entries one read takes. */
const PAGE = 5_000;

/** Makes checkpoints; runs never overlap. */
export interface Checkpointer {
  /**
   * Reads what changed, and when anything did, signs a checkpoint and
   * publishes it; resolves to it, or to undefined when nothing changed.
   */
  checkpoint(): Promise<SignedCheckpoint | undefined>;
}

/** What a checkpointer works with. */
export interface CheckpointerDeps {
  readonly db: Db;
  readonly signer: CheckpointSigner;
  readonly clock: { now(): number };
  /** This process's id, which its checkpoints carry. */
  readonly instance: string;
  /** Publishes a signed checkpoint outside the database. */
  publish(signed: SignedCheckpoint): Promise<void>;
}

/** Creates the checkpointer of one service instance. */
export function createCheckpointer(deps: CheckpointerDeps): Checkpointer {
  let heads: Map<string, { seq: number; hash: string }> | undefined;
  let mark = 0;
  let published = 0;
  let n = 0;
  const moved = new Set<string>();
  let running: Promise<SignedCheckpoint | undefined> = Promise.resolve(
    undefined,
  );

  async function catchUp(): Promise<
    Map<string, { seq: number; hash: string }>
  > {
    if (heads === undefined) {
      const all = await readAllHeads(deps.db);
      heads = new Map(all.heads.map((h) => [h.chainId, h]));
      for (const chainId of heads.keys()) moved.add(chainId);
      mark = all.mark;
      return heads;
    }
    for (;;) {
      const rows = await readEntriesAfter(deps.db, mark, PAGE);
      for (const row of rows) {
        const head = heads.get(row.chainId);
        if (!head || row.seq > head.seq) {
          heads.set(row.chainId, { seq: row.seq, hash: row.hash });
        }
        moved.add(row.chainId);
        mark = row.rowSeq;
      }
      if (rows.length < PAGE) return heads;
    }
  }

  async function run(): Promise<SignedCheckpoint | undefined> {
    const current = await catchUp();
    if (mark === published) return undefined;
    const chainIds = [...current.keys()].sort();
    const tree = merkleBuilder(sha256Bytes);
    let entries = 0;
    for (const chainId of chainIds) {
      const head = current.get(chainId)!;
      tree.add({ chainId, seq: head.seq, hash: head.hash });
      entries += head.seq;
    }
    const listed: HeadFact[] = [...moved].sort().slice(0, MAX_CHECKPOINT_HEADS)
      .map((chainId) => ({ chainId, ...current.get(chainId)! }));
    const content: Omit<AuditCheckpoint, "signer"> = {
      instance: deps.instance,
      n: n + 1,
      at: deps.clock.now(),
      mark,
      chains: chainIds.length,
      entries,
      root: tree.root(),
      heads: listed,
      headsOmitted: moved.size - listed.length,
    };
    const signed = deps.signer.sign(content);
    await deps.publish(signed);
    n++;
    published = mark;
    moved.clear();
    return signed;
  }

  return {
    checkpoint() {
      running = running.catch(() => undefined).then(run);
      return running;
    },
  };
}
