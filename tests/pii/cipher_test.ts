import assert from "node:assert/strict";
import {
  decryptField,
  DecryptionError,
  encryptField,
  fieldKeyId,
  generateDataKeyBytes,
  importDataKey,
  importMasterKey,
  unwrapDataKey,
  wrapDataKey,
} from "../../pii/cipher.ts";

function randomMasterBase64(): string {
  return btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))),
  );
}

async function dataKey(keyId = "k1") {
  return { keyId, key: await importDataKey(generateDataKeyBytes()) };
}

const context = { userId: 42, record: "order:abc", field: "shipping_address" };

Deno.test("encryptField round-trips and never repeats a ciphertext", async () => {
  const key = await dataKey();
  const a = await encryptField(key, "1 Main St", context);
  const b = await encryptField(key, "1 Main St", context);
  assert.notEqual(a, b);
  assert.ok(!a.includes("Main"));
  assert.equal(fieldKeyId(a), "k1");
  assert.equal(await decryptField(key, a, context), "1 Main St");
  assert.equal(await decryptField(key, b, context), "1 Main St");
});

Deno.test("a ciphertext moved to another user, row or field fails to decrypt", async () => {
  const key = await dataKey();
  const sealed = await encryptField(key, "1 Main St", context);
  for (
    const other of [
      { ...context, userId: 43 },
      { ...context, record: "order:other" },
      { ...context, field: "note" },
    ]
  ) {
    await assert.rejects(
      () => decryptField(key, sealed, other),
      DecryptionError,
    );
  }
  await assert.rejects(
    async () => decryptField(await dataKey(), sealed, context),
    DecryptionError,
  );
  const tampered = sealed.slice(0, -4) +
    (sealed.endsWith("AAAA") ? "BBBB" : "AAAA");
  await assert.rejects(
    () => decryptField(key, tampered, context),
    DecryptionError,
  );
});

Deno.test("data keys unwrap only with the master key that wrapped them, for their owner", async () => {
  const current = await importMasterKey(randomMasterBase64());
  const previous = await importMasterKey(randomMasterBase64());
  const raw = generateDataKeyBytes();
  const owner = { keyId: "k1", userId: 42 };
  const wrapped = await wrapDataKey(previous, raw, owner);
  assert.deepEqual(
    await unwrapDataKey([current, previous], wrapped, owner),
    raw,
  );
  await assert.rejects(
    () => unwrapDataKey([current], wrapped, owner),
    DecryptionError,
  );
  await assert.rejects(
    () => unwrapDataKey([previous], wrapped, { keyId: "k1", userId: 43 }),
    DecryptionError,
  );
});

Deno.test("importMasterKey demands exactly 32 bytes of base64", async () => {
  await assert.rejects(() => importMasterKey(btoa("short")), RangeError);
  await assert.rejects(() => importMasterKey("not base64!"), RangeError);
  const key = await importMasterKey(randomMasterBase64());
  assert.match(key.id, /^[0-9a-f]{16}$/);
});
