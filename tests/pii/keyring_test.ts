/**
 * The keyring over the real `user_keys` table: one live key per user even
 * when two instances create it at once, data keys stored only wrapped,
 * a cache that expires and stays bounded, and destroyed keys reported as
 * such.
 */
import assert from "node:assert/strict";
import { type Database } from "../../db/client.ts";

import {
  createPersonalDataStore,
  type PersonalDataStore,
} from "../../db/personal_data_store.ts";
import {
  decryptField,
  DecryptionError,
  encryptField,
  importMasterKeys,
} from "../../pii/cipher.ts";
import {
  createKeyring,
  type DataKeyStore,
  KEY_CACHE_MAX_ENTRIES,
  KEY_CACHE_TTL_MS,
} from "../../pii/keyring.ts";
import {
  TEST_PII_KEY,
  testClock,
  withMigratedDatabase,
} from "../fixtures/mod.ts";

const OTHER_PII_KEY = btoa("another-test-pii-master-key-0002");

interface Fixture {
  database: Database;
  store: PersonalDataStore;
  clock: ReturnType<typeof testClock>;
}

function fixture(database: Database): Fixture {
  return {
    database,
    store: createPersonalDataStore(database.db, { embedded: true }),
    clock: testClock(),
  };
}

/** Runs `fn` on a fixture over a fresh database. */
function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  return withMigratedDatabase((database) => fn(fixture(database)));
}

/**
 * A keyring on the fixture's clock over `store` (the fixture's by default),
 * with the test master key unless `masters` names others.
 */
async function keyringOf(
  f: Fixture,
  options: {
    store?: DataKeyStore;
    masters?: { current: string; previous?: string };
    maxCachedKeys?: number;
  } = {},
) {
  const { store = f.store, masters = { current: TEST_PII_KEY }, ...rest } =
    options;
  return createKeyring(store, {
    masters: await importMasterKeys(masters),
    clock: f.clock,
    ...rest,
  });
}

/** The real store, counting the reads that reach the database. */
function counting(store: DataKeyStore): DataKeyStore & { reads(): number } {
  let reads = 0;
  return {
    findKeys: (ids) => (reads++, store.findKeys(ids)),
    insertLiveKey: (key) => store.insertLiveKey(key),
    reads: () => reads,
  };
}

const context = { userId: 42, record: "order:x", field: "shipping_address" };

Deno.test("two instances creating a user's first key at once agree on one live key", () =>
  withFixture(async (f) => {
    const masters = await importMasterKeys({ current: TEST_PII_KEY });
    const a = createKeyring(f.store, { masters, clock: f.clock });
    const b = createKeyring(f.store, { masters, clock: f.clock });
    const keys = await Promise.all([
      a.liveKey(42),
      b.liveKey(42),
      a.liveKey(42),
      b.liveKey(42),
    ]);
    assert.equal(new Set(keys.map((k) => k.keyId)).size, 1);
    const rows = await f.database.client.execute(
      "SELECT key_id, wrapped_key FROM user_keys WHERE user_id = 42",
    );
    assert.equal(rows.rows.length, 1);
    // What one encrypts, the other decrypts: it is the same key.
    const [first, second] = keys;
    assert.ok(first && second);
    const sealed = await encryptField(first, "1 Main St", context);
    assert.equal(await decryptField(second, sealed, context), "1 Main St");
    // Stored only wrapped, under the master key's fingerprint.
    assert.match(
      String(rows.rows[0]?.wrapped_key),
      new RegExp(`^${masters[0]?.id}\\.`),
    );
  }));

Deno.test("a second live key for the same user is refused by the database", () =>
  withFixture(async (f) => {
    await f.database.client.execute(
      "INSERT INTO user_keys VALUES ('k1', 42, 'm.x', 0, NULL)",
    );
    await assert.rejects(() =>
      f.database.client.execute(
        "INSERT INTO user_keys VALUES ('k2', 42, 'm.y', 0, NULL)",
      )
    );
    // A destroyed key stays destroyed and its row stays.
    await f.database.client.execute(
      "UPDATE user_keys SET wrapped_key = NULL, destroyed_at = 1 WHERE key_id = 'k1'",
    );
    await assert.rejects(
      () =>
        f.database.client.execute(
          "UPDATE user_keys SET wrapped_key = 'm.x', destroyed_at = NULL WHERE key_id = 'k1'",
        ),
      /destroyed key stays destroyed/,
    );
    await assert.rejects(
      () => f.database.client.execute("DELETE FROM user_keys"),
      /never deleted/,
    );
    await f.database.client.execute(
      "INSERT INTO user_keys VALUES ('k2', 42, 'm.y', 0, NULL)",
    );
  }));

Deno.test("unwrapped keys are cached for at most KEY_CACHE_TTL_MS", () =>
  withFixture(async (f) => {
    const store = counting(f.store);
    const keyring = await keyringOf(f, { store });
    const { keyId } = await keyring.liveKey(42);
    const reads = store.reads();
    await keyring.liveKey(42);
    await keyring.keys([keyId]);
    f.clock.advance(KEY_CACHE_TTL_MS - 1);
    await keyring.keys([keyId]);
    assert.equal(store.reads(), reads, "served from memory");
    f.clock.advance(1);
    await keyring.keys([keyId]);
    assert.equal(store.reads(), reads + 1, "read again once expired");
    keyring.forget(42);
    await keyring.keys([keyId]);
    assert.equal(store.reads(), reads + 2, "read again once forgotten");
  }));

Deno.test("the cache keeps at most its bound of keys, dropping the oldest", async () => {
  assert.ok(KEY_CACHE_MAX_ENTRIES <= 1000);
  await withFixture(async (f) => {
    const store = counting(f.store);
    const keyring = await keyringOf(f, { store, maxCachedKeys: 3 });
    const ids: string[] = [];
    for (let user = 1; user <= 4; user++) {
      ids.push((await keyring.liveKey(user)).keyId);
    }
    const reads = store.reads();
    await keyring.keys(ids.slice(1));
    assert.equal(store.reads(), reads, "the 3 newest are cached");
    await keyring.keys(ids.slice(0, 1));
    assert.equal(store.reads(), reads + 1, "the oldest was dropped");
  });
});

Deno.test("keys() reports destroyed keys, and refuses unknown ids and foreign master keys", () =>
  withFixture(async (f) => {
    const keyring = await keyringOf(f);
    const live = await keyring.liveKey(42);
    const destroyed = await keyring.liveKey(43);
    await f.database.client.execute({
      sql:
        "UPDATE user_keys SET wrapped_key = NULL, destroyed_at = 1 WHERE key_id = ?",
      args: [destroyed.keyId],
    });
    keyring.forget(43);
    const states = await keyring.keys([live.keyId, destroyed.keyId]);
    assert.equal(states.get(live.keyId)?.state, "live");
    assert.deepEqual(states.get(destroyed.keyId), {
      state: "destroyed",
      keyId: destroyed.keyId,
      userId: 43,
    });
    // After a destruction the user gets a new key.
    const next = await keyring.liveKey(43);
    assert.notEqual(next.keyId, destroyed.keyId);

    await assert.rejects(() => keyring.keys(["no-such-key"]), DecryptionError);
    const foreign = await keyringOf(f, {
      masters: { current: OTHER_PII_KEY },
    });
    await assert.rejects(() => foreign.keys([live.keyId]), DecryptionError);
    // With the old master key as the previous one, it unwraps.
    const rotating = await keyringOf(f, {
      masters: { current: OTHER_PII_KEY, previous: TEST_PII_KEY },
    });
    assert.equal(
      (await rotating.keys([live.keyId])).get(live.keyId)?.state,
      "live",
    );
  }));
