/**
 * A per-instance cache of account state, so that checking it costs no
 * database round trip on most requests while a disable or a revocation
 * still takes effect everywhere within a bounded time.
 *
 * - Staleness is bounded: an entry is used for `ttlMs` after its read
 *   *began*, so a change committed after that moment is seen by every
 *   instance at most `ttlMs` later. Nothing is shared between instances;
 *   each one's entries simply expire.
 * - Size is bounded: at most `maxEntries` users are remembered, the least
 *   recently read dropped first. Users without state are remembered too
 *   (the common case), as "no state".
 * - Concurrent requests of one user share one read.
 * - `forget(userId)` drops a user's entry (and ignores a read in flight),
 *   so an admin's change is effective at once on the instance that made it.
 */
import type { AccountState } from "../domain/account.ts";
import { setBounded } from "../bounded_map.ts";

/** The contract's bound on how late account state may be seen: 5 s. */
export const MAX_ACCOUNT_STATE_STALENESS_MS = 5_000;

/** How many users' state an instance remembers by default. */
export const DEFAULT_ACCOUNT_CACHE_SIZE = 100_000;

/** Account state with bounded staleness. */
export interface AccountStateCache {
  /** The user's state (undefined: none), from the cache or a fresh read. */
  get(userId: number): Promise<AccountState | undefined>;
  /**
   * The user's state when the cache holds it still fresh, without reading;
   * undefined when `get` would have to read.
   */
  cached(
    userId: number,
  ): { readonly state: AccountState | undefined } | undefined;
  /** Drops what is known about the user; the next `get` reads again. */
  forget(userId: number): void;
  /** How many users are remembered (for tests). */
  readonly size: number;
}

interface Entry {
  readonly state: AccountState | undefined;
  /** When the read that produced it began (ms since the epoch). */
  readonly readAt: number;
}

/** Creates a cache in front of `load`. */
export function createAccountStateCache(options: {
  load: (userId: number) => Promise<AccountState | undefined>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** How long an entry is used; at most `MAX_ACCOUNT_STATE_STALENESS_MS`. */
  ttlMs?: number;
  maxEntries?: number;
}): AccountStateCache {
  const ttlMs = options.ttlMs ?? MAX_ACCOUNT_STATE_STALENESS_MS;
  if (!(ttlMs >= 0 && ttlMs <= MAX_ACCOUNT_STATE_STALENESS_MS)) {
    throw new RangeError(
      `The account state TTL must be from 0 to ${MAX_ACCOUNT_STATE_STALENESS_MS} ms`,
    );
  }
  const maxEntries = options.maxEntries ?? DEFAULT_ACCOUNT_CACHE_SIZE;
  const entries = new Map<number, Entry>();
  const reads = new Map<number, Promise<AccountState | undefined>>();

  function remember(userId: number, entry: Entry): void {
    setBounded(entries, userId, entry, maxEntries);
  }

  return {
    cached(userId) {
      const entry = entries.get(userId);
      return entry !== undefined && options.now() - entry.readAt < ttlMs
        ? entry
        : undefined;
    },
    get(userId) {
      const now = options.now();
      const entry = entries.get(userId);
      if (entry !== undefined && now - entry.readAt < ttlMs) {
        return Promise.resolve(entry.state);
      }
      if (entry !== undefined) entries.delete(userId);
      const pending = reads.get(userId);
      if (pending !== undefined) return pending;
      const read = options.load(userId).then((state) => {
        // Only the read still registered may fill the cache: `forget`
        // drops one begun before an admin's change.
        if (reads.get(userId) === read) {
          reads.delete(userId);
          remember(userId, { state, readAt: now });
        }
        return state;
      }, (error) => {
        if (reads.get(userId) === read) reads.delete(userId);
        throw error;
      });
      reads.set(userId, read);
      return read;
    },
    forget(userId) {
      entries.delete(userId);
      reads.delete(userId);
    },
    get size() {
      return entries.size;
    },
  };
}
