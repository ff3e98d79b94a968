/**
 * Signed checkpoints of the audit log: small digests of every chain's head
 * that the service publishes outside the database (a log line, a Redis
 * list), so an auditor who does not trust the database can check that it
 * still extends what the service once saw.
 *
 * A checkpoint covers the log up to a `mark`, the last `audit_log.seq` it
 * saw (SQLite commits one write at a time, so every entry up to the mark is
 * in and none after it). Its `root` is a Merkle tree hash (RFC 6962: leaves
 * `0x00 ‖ data`, nodes `0x01 ‖ left ‖ right`) over the heads of every chain
 * as of the mark, sorted by chain id, each leaf the JSON text
 * `[chain id, seq, hash]`; `chains` and `entries` count them. It also lists
 * the heads that moved since the instance's previous checkpoint (at most
 * `MAX_CHECKPOINT_HEADS`), which lets a verifier name the chain and entry
 * where a database departs from it. Each instance numbers its checkpoints
 * from 1 (`n`), so a checkpoint missing or shown twice stands out.
 */

/** The most heads one checkpoint lists; beyond them only its root witnesses them. */
export const MAX_CHECKPOINT_HEADS = 100;

/** How often the service checkpoints by default, in seconds. */
export const DEFAULT_CHECKPOINT_SECONDS = 60;

/** The most seconds `AUDIT_CHECKPOINT_SECONDS` allows between two checkpoints (a day). */
export const MAX_CHECKPOINT_SECONDS = 86_400;

/** The event name of the log line that publishes a checkpoint. */
export const CHECKPOINT_EVENT = "audit.checkpoint";

/** The Redis list checkpoints are appended to. */
export const CHECKPOINT_REDIS_KEY = "audit:checkpoints";

/** Where a chain stood: its last entry's position and hash. */
export interface HeadFact {
  readonly chainId: string;
  readonly seq: number;
  readonly hash: string;
}

/** A checkpoint's content: what its signature covers. */
export interface AuditCheckpoint {
  /** The id of the signing key's public half (`publicKeyId`). */
  readonly signer: string;
  /** The service instance that made it (random per process). */
  readonly instance: string;
  /** Its number among the instance's checkpoints, from 1. */
  readonly n: number;
  /** When it was made, in milliseconds since the epoch. */
  readonly at: number;
  /** The last `audit_log.seq` it covers. */
  readonly mark: number;
  readonly chains: number;
  readonly entries: number;
  /** The Merkle root over the chain heads, lowercase hex. */
  readonly root: string;
  /** Heads that moved since the instance's previous checkpoint, by chain id. */
  readonly heads: readonly HeadFact[];
  /** How many more heads moved than `heads` lists. */
  readonly headsOmitted: number;
}

/** A checkpoint with its Ed25519 signature (base64). */
export interface SignedCheckpoint {
  readonly checkpoint: AuditCheckpoint;
  readonly signature: string;
}

/** The text a checkpoint's signature covers. */
export function checkpointSigningText(checkpoint: AuditCheckpoint): string {
  return JSON.stringify([
    "orders-api audit checkpoint v1",
    checkpoint.signer,
    checkpoint.instance,
    checkpoint.n,
    checkpoint.at,
    checkpoint.mark,
    checkpoint.chains,
    checkpoint.entries,
    checkpoint.root,
    checkpoint.heads.map((h) => [h.chainId, h.seq, h.hash]),
    checkpoint.headsOmitted,
  ]);
}

/** The published form of a signed checkpoint (log line fields, Redis item). */
export function checkpointJson(signed: SignedCheckpoint): {
  checkpoint: Record<string, unknown>;
  signature: string;
} {
  const c = signed.checkpoint;
  return {
    checkpoint: {
      signer: c.signer,
      instance: c.instance,
      n: c.n,
      at: c.at,
      mark: c.mark,
      chains: c.chains,
      entries: c.entries,
      root: c.root,
      heads: c.heads.map((h) => [h.chainId, h.seq, h.hash]),
      heads_omitted: c.headsOmitted,
    },
    signature: signed.signature,
  };
}

/**
 * A signed checkpoint read back from its published JSON (a whole log line
 * or a Redis item); undefined when `value` is not one.
 */
export function parseCheckpointJson(
  value: unknown,
): SignedCheckpoint | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { checkpoint: c, signature } = value as Record<string, unknown>;
  if (typeof c !== "object" || c === null || typeof signature !== "string") {
    return undefined;
  }
  const r = c as Record<string, unknown>;
  const text = (v: unknown) => typeof v === "string";
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (
    !text(r.signer) || !text(r.instance) || !count(r.n) || !count(r.at) ||
    !count(r.mark) || !count(r.chains) || !count(r.entries) ||
    !text(r.root) || !Array.isArray(r.heads) || !count(r.heads_omitted)
  ) {
    return undefined;
  }
  const heads: HeadFact[] = [];
  for (const head of r.heads as unknown[]) {
    if (
      !Array.isArray(head) || head.length !== 3 || !text(head[0]) ||
      !count(head[1]) || !text(head[2])
    ) {
      return undefined;
    }
    heads.push({ chainId: head[0], seq: head[1], hash: head[2] });
  }
  return {
    checkpoint: {
      signer: r.signer as string,
      instance: r.instance as string,
      n: r.n as number,
      at: r.at as number,
      mark: r.mark as number,
      chains: r.chains as number,
      entries: r.entries as number,
      root: r.root as string,
      heads,
      headsOmitted: r.heads_omitted as number,
    },
    signature,
  };
}

/** SHA-256 of bytes, synchronously (an adapter passes node:crypto's). */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** Builds a Merkle tree hash from leaves given in order, in O(log n) memory. */
export interface MerkleBuilder {
  /** Adds the next chain head as a leaf. */
  add(head: HeadFact): void;
  /** The root over the leaves added so far, lowercase hex. */
  root(): string;
}

/**
 * A streaming RFC 6962 tree hash: complete subtrees are merged as soon as
 * two of a size meet, and the rest are folded right to left at the end,
 * which gives the same root as splitting at the largest power of two.
 */
export function merkleBuilder(sha256: Sha256): MerkleBuilder {
  const encoder = new TextEncoder();
  // Complete subtrees, largest first, with their leaf counts.
  const stack: { size: number; hash: Uint8Array }[] = [];
  const node = (left: Uint8Array, right: Uint8Array) => {
    const input = new Uint8Array(1 + left.length + right.length);
    input[0] = 1;
    input.set(left, 1);
    input.set(right, 1 + left.length);
    return sha256(input);
  };
  return {
    add(head) {
      const data = encoder.encode(
        JSON.stringify([head.chainId, head.seq, head.hash]),
      );
      const input = new Uint8Array(1 + data.length);
      input.set(data, 1);
      let top = { size: 1, hash: sha256(input) };
      while (stack.length > 0 && stack[stack.length - 1]!.size === top.size) {
        const left = stack.pop()!;
        top = { size: left.size * 2, hash: node(left.hash, top.hash) };
      }
      stack.push(top);
    },
    root() {
      if (stack.length === 0) return toHex(sha256(new Uint8Array()));
      let hash = stack[stack.length - 1]!.hash;
      for (let i = stack.length - 2; i >= 0; i--) {
        hash = node(stack[i]!.hash, hash);
      }
      return toHex(hash);
    },
  };
}

/** Bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
