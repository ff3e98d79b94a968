/**
 * Erasure of a user's personal data by crypto-shredding: the user's data
 * key is destroyed, so every value encrypted with it (order rows, audit
 * entries, stored responses) is unreadable from then on, while the rows
 * themselves, their hashes and the audit chains stay whole.
 */
import {
  type ChainHead,
  nextChainPosition,
  personalDataErasedEntry,
  type PlacedAuditDraft,
  userChainId,
} from "../domain/audit.ts";
import { DomainError } from "../domain/errors.ts";
import { ADDRESS_NEEDED_STATUSES } from "../domain/lifecycle.ts";
import type { Clock, PersonalDataEraser } from "../domain/ports.ts";
import type { DataKeyRecord, Keyring } from "./keyring.ts";
import { encryptPlainPersonalData, type PlainTextStore } from "./plain_text.ts";

/** What an erasure needs from the database. */
export interface ErasureStore extends PlainTextStore {
  /** The user's live data key, read from the database (never a cache). */
  findLiveKey(userId: number): Promise<DataKeyRecord | undefined>;
  /**
   * Whether an order of the user still needs its address (is in one of
   * `ADDRESS_NEEDED_STATUSES`).
   */
  hasOrderNeedingAddress(userId: number): Promise<boolean>;
  /** The last entry of the user's own audit chain, if any. */
  userChainHead(userId: number): Promise<ChainHead | undefined>;
  /**
   * In one atomic write: destroys the key only if it is still live and no
   * order of its user needs an address, and appends `entry` at its chain
   * position (the store seals it) only if the key was destroyed. "kept"
   * when the guard stopped it; "chain_position_taken" (nothing written)
   * when another entry took the entry's place first.
   */
  destroyKey(
    key: Pick<DataKeyRecord, "keyId" | "userId">,
    entry: PlacedAuditDraft,
  ): Promise<"destroyed" | "kept" | "chain_position_taken">;
  /**
   * Best effort, after a key was destroyed: makes the storage overwrite
   * the old copies of the changed pages (an embedded database checkpoints
   * and truncates its write-ahead log).
   */
  scrub(): Promise<void>;
}

/** The statuses in which an order needs its address, as prose: `a, b or c`. */
export const ADDRESS_NEEDED_TEXT = `${
  ADDRESS_NEEDED_STATUSES.slice(0, -1).join(", ")
} or ${ADDRESS_NEEDED_STATUSES.at(-1)}`;

/** Why an erasure is refused while an order still needs its address (409). */
export function activeOrdersMessage(userId: number): string {
  return `Cannot erase the personal data of user ${userId}: an order of theirs is still ${ADDRESS_NEEDED_TEXT}`;
}

/** How often an erasure re-reads and retries after losing a race. */
export const MAX_ERASURE_ATTEMPTS = 5;

/** The erasure service. */
export function createPersonalDataEraser(
  deps: { store: ErasureStore; keyring: Keyring; clock: Clock },
): PersonalDataEraser {
  const { store, keyring, clock } = deps;
  return {
    async erase(userId, { actor, requestId, beginWrite }) {
      for (let attempt = 1; attempt <= MAX_ERASURE_ATTEMPTS; attempt++) {
        if (await store.hasOrderNeedingAddress(userId)) {
          throw new DomainError("conflict", activeOrdersMessage(userId));
        }
        // Rows written before encryption was enabled are encrypted first, so
        // that destroying the key reaches them too.
        if (attempt === 1) {
          beginWrite?.();
          await encryptPlainPersonalData(store, keyring, { userId });
        }
        const key = await store.findLiveKey(userId);
        if (!key) return "unchanged";
        const head = await store.userChainHead(userId);
        const entry = {
          ...personalDataErasedEntry(
            { userId, keyId: key.keyId, at: clock.now() },
            { actor, requestId },
          ),
          ...nextChainPosition(userChainId(userId), head),
        };
        beginWrite?.();
        const outcome = await store.destroyKey(key, entry);
        if (outcome === "destroyed") {
          keyring.forget(userId);
          // The erasure holds without it: the key is gone from the live
          // database either way; this only shortens how long old page
          // copies linger in the file.
          await store.scrub().catch(() => {});
          return "erased";
        }
        // Kept: an order that needs the address appeared, or a concurrent
        // erasure destroyed the key first. Taken: a concurrent erasure wrote
        // its entry first. Either way, look again.
      }
      throw new DomainError(
        "conflict",
        `Cannot erase the personal data of user ${userId}: it kept changing while this request ran; retry it`,
      );
    },
  };
}
