/**
 * The checkpoints an auditor holds, read back from where the service
 * published them (a file of its log lines, among other lines, or the Redis
 * list) and checked before the database is held to them: each signature by
 * a trusted key, and each instance's numbering (a checkpoint shown again
 * after a later one is a replay; a gap is reported, not fatal: a log
 * shipper may have lost a line).
 */
import type { Redis } from "@upstash/redis";
import {
  type AuditCheckpoint,
  CHECKPOINT_EVENT,
  CHECKPOINT_REDIS_KEY,
  checkpointJson,
  parseCheckpointJson,
  type SignedCheckpoint,
} from "../domain/audit_checkpoint.ts";
import type { CheckpointVerifier } from "./keys.ts";

/** A checkpoint with where it was read. */
export interface ReadCheckpoint {
  readonly signed: SignedCheckpoint;
  /** `line 12`, `item 3`: where the evidence holds it. */
  readonly where: string;
}

/**
 * The checkpoints among the lines of a text: every line that carries the
 * `audit.checkpoint` event, from its first `{` (a log shipper may put a
 * prefix before it). A line that names the event but is not a checkpoint
 * is counted in `unreadable`.
 */
export function checkpointsInText(
  text: string,
): { checkpoints: ReadCheckpoint[]; unreadable: string[] } {
  const checkpoints: ReadCheckpoint[] = [];
  const unreadable: string[] = [];
  const marker = `"${CHECKPOINT_EVENT}"`;
  for (const [index, line] of text.split("\n").entries()) {
    if (!line.includes(marker)) continue;
    const where = `line ${index + 1}`;
    const signed = parseLine(line.slice(Math.max(0, line.indexOf("{"))));
    if (signed) checkpoints.push({ signed, where });
    else unreadable.push(where);
  }
  return { checkpoints, unreadable };
}

function parseLine(text: string): SignedCheckpoint | undefined {
  try {
    return parseCheckpointJson(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The Redis list of checkpoints (over Upstash's REST API). */
export interface CheckpointList {
  append(signed: SignedCheckpoint): Promise<void>;
  readAll(): Promise<{ checkpoints: ReadCheckpoint[]; unreadable: string[] }>;
}

/** The checkpoint list in `CHECKPOINT_REDIS_KEY` of an Upstash Redis. */
export function upstashCheckpointList(redis: Redis): CheckpointList {
  return {
    async append(signed) {
      await redis.rpush(
        CHECKPOINT_REDIS_KEY,
        JSON.stringify(checkpointJson(signed)),
      );
    },
    async readAll() {
      const items = await redis.lrange<string>(CHECKPOINT_REDIS_KEY, 0, -1);
      const checkpoints: ReadCheckpoint[] = [];
      const unreadable: string[] = [];
      for (const [index, item] of items.entries()) {
        const where = `item ${index + 1}`;
        const signed = typeof item === "string"
          ? parseLine(item)
          : parseCheckpointJson(item);
        if (signed) checkpoints.push({ signed, where });
        else unreadable.push(where);
      }
      return { checkpoints, unreadable };
    },
  };
}

/** The checkpoints that hold, or the first that does not and why. */
export interface CheckedEvidence {
  /** Every checkpoint read, when all hold. */
  readonly accepted: readonly AuditCheckpoint[];
  /** The first checkpoint refused, and why; then `accepted` is empty. */
  readonly refused: string | undefined;
  /** Checkpoints an instance's numbering says are not in the evidence. */
  readonly gaps: readonly string[];
}

/** Checks the signature and the numbering of every checkpoint, in order. */
export function checkEvidence(
  read: readonly ReadCheckpoint[],
  verifier: CheckpointVerifier,
): CheckedEvidence {
  const last = new Map<string, AuditCheckpoint>();
  const gaps: string[] = [];
  const refuse = (refused: string) => ({ accepted: [], refused, gaps });
  for (const { signed, where } of read) {
    const c = signed.checkpoint;
    const name = `checkpoint ${c.n} of instance ${c.instance} (${where})`;
    if (!verifier.keyIds.includes(c.signer)) {
      return refuse(
        `${name} is signed by key ${c.signer}, which is not a trusted audit signing key (trusted: ${
          verifier.keyIds.join(", ")
        })`,
      );
    }
    if (!verifier.verify(signed)) {
      return refuse(
        `${name}: its signature does not verify under key ${c.signer}: the checkpoint was altered or forged`,
      );
    }
    const before = last.get(c.instance);
    if (before && c.n <= before.n) {
      return refuse(
        `${name} comes after checkpoint ${before.n} of the same instance: an old checkpoint was replayed`,
      );
    }
    if (before && c.mark < before.mark) {
      return refuse(
        `${name} covers less of the log (up to seq ${c.mark}) than checkpoint ${before.n} before it (up to seq ${before.mark})`,
      );
    }
    if (before && c.n > before.n + 1) {
      gaps.push(
        `checkpoints ${before.n + 1}–${
          c.n - 1
        } of instance ${c.instance} are not in the evidence`,
      );
    }
    last.set(c.instance, c);
  }
  return {
    accepted: read.map((r) => r.signed.checkpoint),
    refused: undefined,
    gaps,
  };
}
