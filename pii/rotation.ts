/**
 * Master-key rotation: every live data key is unwrapped with whichever
 * configured master key wrapped it and wrapped again under the current one
 * (`deno task pii:rotate`). Data keys themselves never change, so no
 * encrypted field is touched and the audit log stays as it is.
 */
import {
  DecryptionError,
  type MasterKey,
  unwrapDataKey,
  wrapDataKey,
} from "./cipher.ts";
import {
  type WalkOptions,
  walkPages,
  walkSettings,
} from "../domain/paged_walk.ts";
import type { DataKeyRecord } from "./keyring.ts";

/** What a rotation needs from the database. */
export interface RotationStore {
  /** Live keys not wrapped by `masterId`, by key id, after `afterKeyId`. */
  listKeysNotWrappedBy(
    masterId: string,
    options: { afterKeyId?: string | undefined; limit: number },
  ): Promise<DataKeyRecord[]>;
  /** Replaces a key's wrapping, unless it changed or was destroyed meanwhile. */
  replaceWrappedKey(keyId: string, from: string, to: string): Promise<boolean>;
  /** How many live keys are wrapped by none of these master keys. */
  countKeysNotWrappedBy(masterIds: readonly string[]): Promise<number>;
}

/** What a rotation did. */
export interface RotationReport {
  /** Keys now wrapped by the current master key. */
  readonly rewrapped: number;
  /** Keys no configured master key could unwrap (left as they were). */
  readonly unreadable: number;
  /** Keys destroyed or re-wrapped by someone else meanwhile. */
  readonly skipped: number;
}

/** How far a rotation has got. */
export interface RotationProgress extends RotationReport {
  /** Keys handled so far (re-wrapped, unreadable or skipped). */
  readonly done: number;
  /** Keys to handle: those not wrapped by the current key when it began. */
  readonly total: number;
}

/**
 * Options of `rewrapDataKeys`; by default 200 keys a page and a progress
 * report every 1,000 keys.
 */
export type RewrapOptions = WalkOptions<RotationProgress>;

/**
 * Re-wraps every live data key under `masters[0]`, unwrapping with any of
 * `masters` (the current key and the previous one).
 */
export async function rewrapDataKeys(
  store: RotationStore,
  masters: readonly MasterKey[],
  options: RewrapOptions = {},
): Promise<RotationReport> {
  const current = masters[0];
  if (!current) throw new Error("A rotation needs the current master key");
  const walk = walkSettings(options, { pageSize: 200, progressEvery: 1_000 });
  // Counted only for a caller that shows progress: one more query.
  const total = walk.onProgress
    ? await store.countKeysNotWrappedBy([current.id])
    : 0;
  let rewrapped = 0;
  let unreadable = 0;
  let skipped = 0;
  await walkPages<DataKeyRecord>(
    (after, limit) =>
      store.listKeysNotWrappedBy(current.id, {
        afterKeyId: after?.keyId,
        limit,
      }),
    async (key) => {
      const outcome = await rewrap(store, masters, current, key);
      if (outcome === "rewrapped") rewrapped++;
      else if (outcome === "unreadable") unreadable++;
      else skipped++;
      const done = rewrapped + unreadable + skipped;
      if (walk.onProgress && done % walk.progressEvery === 0) {
        walk.onProgress({ done, total, rewrapped, unreadable, skipped });
      }
    },
    walk,
  );
  return { rewrapped, unreadable, skipped };
}

async function rewrap(
  store: RotationStore,
  masters: readonly MasterKey[],
  current: MasterKey,
  key: DataKeyRecord,
): Promise<"rewrapped" | "unreadable" | "skipped"> {
  if (key.wrappedKey === null) return "skipped";
  const owner = { keyId: key.keyId, userId: key.userId };
  let bytes: Uint8Array;
  try {
    bytes = await unwrapDataKey(masters, key.wrappedKey, owner);
  } catch (error) {
    if (error instanceof DecryptionError) return "unreadable";
    throw error;
  }
  try {
    const wrapped = await wrapDataKey(current, bytes, owner);
    return await store.replaceWrappedKey(key.keyId, key.wrappedKey, wrapped)
      ? "rewrapped"
      : "skipped";
  } finally {
    bytes.fill(0);
  }
}
