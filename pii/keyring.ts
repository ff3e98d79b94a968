/**
 * The keyring: one random data key per user, created on first use and
 * stored only wrapped by the master key; unwrapped on demand and cached in
 * memory briefly (`KEY_CACHE_TTL_MS`) and in bounded number
 * (`KEY_CACHE_MAX_ENTRIES`), as non-extractable `CryptoKey`s.
 */
import type { Clock } from "../domain/ports.ts";
import {
  type DataKeyMaterial,
  DecryptionError,
  generateDataKeyBytes,
  importDataKey,
  type MasterKey,
  unwrapDataKey,
  wrapDataKey,
} from "./cipher.ts";

/** How long an unwrapped data key (or a key's state) stays in memory. */
export const KEY_CACHE_TTL_MS = 30_000;

/** How many data keys (and users' live key ids) are kept in memory at most. */
export const KEY_CACHE_MAX_ENTRIES = 1000;

/** A stored data key. */
export interface DataKeyRecord {
  readonly keyId: string;
  readonly userId: number;
  /** `<master key id>.<base64>`; null once the key is destroyed. */
  readonly wrappedKey: string | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Milliseconds since the epoch; null while the key is live. */
  readonly destroyedAt: number | null;
}

/** Where wrapped data keys are kept. */
export interface DataKeyStore {
  /** The stored keys among these ids. */
  findKeys(keyIds: readonly string[]): Promise<DataKeyRecord[]>;
  /**
   * Stores `key` as the user's live key unless they already have one (a
   * concurrent request or instance may have created it first), and returns
   * the user's live key either way.
   */
  insertLiveKey(key: DataKeyRecord): Promise<DataKeyRecord>;
}

/** An unwrapped data key, ready to encrypt and decrypt its user's fields. */
export interface DataKey {
  readonly keyId: string;
  readonly userId: number;
  readonly key: DataKeyMaterial;
  /**
   * Values this key decrypted, by context and ciphertext: lives and dies
   * with the unwrapped key (at most `KEY_CACHE_TTL_MS` in the cache), so it
   * keeps plain text no longer than the key itself is kept.
   */
  readonly revealed: Map<string, string>;
}

/** How many decrypted values one data key remembers. */
export const REVEALED_PER_KEY = 32;

/** What a key id stands for now. */
export type KeyState =
  | { readonly state: "live"; readonly dataKey: DataKey }
  | {
    readonly state: "destroyed";
    readonly keyId: string;
    readonly userId: number;
  };

/** Access to users' data keys. */
export interface Keyring {
  /** The user's live data key, created (and stored wrapped) on first use. */
  liveKey(userId: number): Promise<DataKey>;
  /**
   * The state of each key id. Throws a `DecryptionError` for an id that
   * names no stored key, or a key no configured master key can unwrap.
   */
  keys(keyIds: Iterable<string>): Promise<Map<string, KeyState>>;
  /**
   * Keeps keys a read brought along (their owner's, `ownerKeys` of
   * db/order_store.ts), so decrypting what it read needs no read of its
   * own. Keys already cached are left as they are; one that cannot be
   * unwrapped is skipped (`keys` says why when it is needed).
   */
  learn(records: readonly DataKeyRecord[]): Promise<void>;
  /**
   * Drops everything cached about the user's keys: after an erasure, or
   * when the database refused a write under a key destroyed elsewhere.
   */
  forget(userId: number): void;
}

/**
 * Creates a keyring over a key store. `masters` lists the current master
 * key first (it wraps new keys), then the previous one during a rotation
 * (it only unwraps).
 */
export function createKeyring(
  store: DataKeyStore,
  options: {
    masters: readonly MasterKey[];
    clock: Clock;
    /**
     * The clock cached keys expire by; `clock` by default (a harness may
     * run it ahead, see `AppDeps.cacheClock`).
     */
    cacheClock?: Clock;
    newKeyId?: () => string;
    cacheTtlMs?: number;
    maxCachedKeys?: number;
  },
): Keyring {
  const current = options.masters[0];
  if (!current) throw new Error("A keyring needs a master key");
  const wrapping: MasterKey = current;
  const newKeyId = options.newKeyId ?? (() => crypto.randomUUID());
  const ttl = options.cacheTtlMs ?? KEY_CACHE_TTL_MS;
  const max = options.maxCachedKeys ?? KEY_CACHE_MAX_ENTRIES;
  const now = () => options.clock.now();
  const cacheClock = options.cacheClock ?? options.clock;
  const cacheNow = () => cacheClock.now();
  const states = createTtlCache<string, KeyState>(ttl, max, cacheNow);
  const liveIds = createTtlCache<number, string>(ttl, max, cacheNow);

  async function unwrap(record: DataKeyRecord): Promise<KeyState> {
    if (record.wrappedKey === null) {
      return { state: "destroyed", keyId: record.keyId, userId: record.userId };
    }
    const bytes = await unwrapDataKey(options.masters, record.wrappedKey, {
      keyId: record.keyId,
      userId: record.userId,
    });
    try {
      const key = await importDataKey(bytes);
      return {
        state: "live",
        dataKey: {
          keyId: record.keyId,
          userId: record.userId,
          key,
          revealed: new Map(),
        },
      };
    } finally {
      bytes.fill(0);
    }
  }

  function remember(state: KeyState): void {
    const keyId = state.state === "live" ? state.dataKey.keyId : state.keyId;
    states.set(keyId, state);
  }

  async function createLiveKey(userId: number): Promise<DataKey> {
    const keyId = newKeyId();
    const bytes = generateDataKeyBytes();
    try {
      const stored = await store.insertLiveKey({
        keyId,
        userId,
        wrappedKey: await wrapDataKey(wrapping, bytes, { keyId, userId }),
        createdAt: now(),
        destroyedAt: null,
      });
      if (stored.keyId === keyId) {
        return {
          keyId,
          userId,
          key: await importDataKey(bytes),
          revealed: new Map(),
        };
      }
      // Another request created the user's key first: use theirs.
      const state = await unwrap(stored);
      if (state.state !== "live") {
        throw new Error(`The live key of user ${userId} is destroyed`);
      }
      return state.dataKey;
    } finally {
      bytes.fill(0);
    }
  }

  /** Unwraps a stored key and caches what it stands for. */
  async function rememberRecord(record: DataKeyRecord): Promise<KeyState> {
    const state = await unwrap(record);
    remember(state);
    // A user has one live key: read here, it is the one their next write
    // uses, so that write offers none (one round trip fewer for a change
    // after the cache expired).
    if (state.state === "live" && record.destroyedAt === null) {
      liveIds.set(record.userId, record.keyId);
    }
    return state;
  }

  /** Loads in progress, by user: concurrent requests share one. */
  const loading = new Map<number, Promise<DataKey>>();

  /**
   * Loads the user's live key in one round trip, whether or not they have
   * one: a new key is offered, and the stored live key (this one, or one
   * stored earlier) comes back. Cached unless `forget` came meanwhile.
   */
  function loadLiveKey(userId: number): Promise<DataKey> {
    const load: Promise<DataKey> = createLiveKey(userId).then((dataKey) => {
      if (loading.get(userId) === load) {
        remember({ state: "live", dataKey });
        liveIds.set(userId, dataKey.keyId);
      }
      return dataKey;
    }).finally(() => {
      if (loading.get(userId) === load) loading.delete(userId);
    });
    loading.set(userId, load);
    return load;
  }

  return {
    liveKey(userId) {
      const cachedId = liveIds.get(userId);
      const cached = cachedId === undefined ? undefined : states.get(cachedId);
      if (cached?.state === "live") return Promise.resolve(cached.dataKey);
      return loading.get(userId) ?? loadLiveKey(userId);
    },

    async keys(keyIds) {
      const found = new Map<string, KeyState>();
      const missing: string[] = [];
      for (const keyId of new Set(keyIds)) {
        const cached = states.get(keyId);
        if (cached) found.set(keyId, cached);
        else missing.push(keyId);
      }
      if (missing.length === 0) return found;
      const records = await store.findKeys(missing);
      for (const record of records) {
        found.set(record.keyId, await rememberRecord(record));
      }
      for (const keyId of missing) {
        if (!found.has(keyId)) {
          throw new DecryptionError(
            "A value names a data key that does not exist",
          );
        }
      }
      return found;
    },

    async learn(records) {
      for (const record of records) {
        if (states.get(record.keyId) !== undefined) continue;
        try {
          await rememberRecord(record);
        } catch {
          // Left to `keys`, which throws for a key a value needs.
        }
      }
    },

    forget(userId) {
      loading.delete(userId);
      liveIds.delete(userId);
      states.deleteWhere((state) =>
        (state.state === "live" ? state.dataKey.userId : state.userId) ===
          userId
      );
    },
  };
}

/** A map whose entries expire after `ttlMs` and which keeps at most `max`. */
interface TtlCache<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
  deleteWhere(predicate: (value: V) => boolean): void;
  readonly size: number;
}

function createTtlCache<K, V>(
  ttlMs: number,
  max: number,
  now: () => number,
): TtlCache<K, V> {
  const entries = new Map<K, { value: V; expiresAt: number }>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value) {
      entries.delete(key);
      entries.set(key, { value, expiresAt: now() + ttlMs });
      // Maps iterate in insertion order: the first entries are the oldest.
      for (const oldest of entries.keys()) {
        if (entries.size <= max) break;
        entries.delete(oldest);
      }
    },
    delete(key) {
      entries.delete(key);
    },
    deleteWhere(predicate) {
      for (const [key, entry] of entries) {
        if (predicate(entry.value)) entries.delete(key);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
