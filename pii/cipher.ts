/**
 * AES-256-GCM for personal data, through WebCrypto. Two layers: a master key
 * (`PII_ENCRYPTION_KEY`) wraps one random data key per user, and a data key
 * encrypts that user's fields. Every encryption uses a fresh 96-bit IV, and
 * every ciphertext is bound to its context (additional authenticated data),
 * so a value copied to another row, field or user fails to decrypt.
 */

import { Buffer } from "node:buffer";
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
} from "node:crypto";

/** A master key and its public fingerprint (which wrapped keys record). */
export interface MasterKey {
  /** The first 16 hex digits of the SHA-256 of the key bytes. */
  readonly id: string;
  readonly key: CryptoKey;
}

/** Where an encrypted field lives; all of it is authenticated. */
export interface FieldContext {
  readonly userId: number;
  /** The row the value belongs to, for example `order:<id>`. */
  readonly record: string;
  readonly field: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const FIELD_PREFIX = "enc:v1:";
const encoder = new TextEncoder();

/** Thrown when a ciphertext cannot be decrypted (wrong key, context or bytes). */
export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptionError";
  }
}

/** Imports a master key from its base64 form; it must be exactly 32 bytes. */
export async function importMasterKey(base64: string): Promise<MasterKey> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(base64.trim());
  } catch {
    throw new RangeError("The master key is not valid base64");
  }
  if (bytes.length !== 32) {
    throw new RangeError("The master key must be 32 bytes (base64-encoded)");
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as BufferSource),
  );
  const key = await crypto.subtle.importKey(
    "raw",
    bytes as BufferSource,
    { name: "AES-GCM" },
    false,
    ["encrypt", "decrypt"],
  );
  return { id: toHex(digest.subarray(0, 8)), key };
}

/** A new random 256-bit data key, as raw bytes. */
export function generateDataKeyBytes(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** Key material for field encryption (node:crypto, which runs AES-GCM synchronously). */
export type DataKeyMaterial = KeyObject;

/**
 * Imports raw data-key bytes for field encryption. Field encryption is on
 * every request's path, so it uses node:crypto's synchronous AES-GCM (about
 * 3× cheaper than a WebCrypto round trip here); the output format is the
 * same (IV, ciphertext, 16-byte tag).
 */
export function importDataKey(bytes: Uint8Array): Promise<DataKeyMaterial> {
  return Promise.resolve(createSecretKey(Buffer.from(bytes)));
}

/** Wraps a data key under the master key, bound to its key id and user. */
export async function wrapDataKey(
  master: MasterKey,
  dataKey: Uint8Array,
  owner: { keyId: string; userId: number },
): Promise<string> {
  const sealed = await seal(master.key, dataKey, wrapContext(owner));
  return `${master.id}.${sealed}`;
}

/**
 * Unwraps a data key with whichever of the given master keys wrapped it
 * (the current one, or the previous one during a rotation).
 */
export async function unwrapDataKey(
  masters: readonly MasterKey[],
  wrapped: string,
  owner: { keyId: string; userId: number },
): Promise<Uint8Array> {
  const dot = wrapped.indexOf(".");
  const master = masters.find((m) => m.id === wrapped.slice(0, dot));
  if (dot < 0 || !master) {
    throw new DecryptionError(
      "The data key was wrapped by an unknown master key",
    );
  }
  return await open(master.key, wrapped.slice(dot + 1), wrapContext(owner));
}

/** The id of the master key that wrapped a data key. */
export function wrappingMasterId(wrapped: string): string {
  return wrapped.slice(0, wrapped.indexOf("."));
}

/**
 * Encrypts a service secret (a webhook endpoint's signing secret) directly
 * under the master key, bound to `context` (the row and field it is stored
 * in): `<master id>.<base64 of IV and ciphertext>`.
 */
export async function encryptSecret(
  master: MasterKey,
  secret: string,
  context: string,
): Promise<string> {
  const sealed = await seal(
    master.key,
    encoder.encode(secret),
    secretContext(context),
  );
  return `${master.id}.${sealed}`;
}

/** Decrypts a secret `encryptSecret` sealed in the same context. */
export async function decryptSecret(
  masters: readonly MasterKey[],
  sealed: string,
  context: string,
): Promise<string> {
  const dot = sealed.indexOf(".");
  const master = masters.find((m) => m.id === sealed.slice(0, dot));
  if (dot < 0 || !master) {
    throw new DecryptionError("The secret was sealed by an unknown master key");
  }
  const bytes = await open(
    master.key,
    sealed.slice(dot + 1),
    secretContext(context),
  );
  return new TextDecoder().decode(bytes);
}

function secretContext(context: string): Uint8Array {
  return encoder.encode(`secret|${context}`);
}

/** Encrypts a field value: `enc:v1:<key id>:<base64 of IV and ciphertext>`. */
export function encryptField(
  dataKey: { keyId: string; key: DataKeyMaterial },
  plaintext: string,
  context: FieldContext,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const cipher = createCipheriv("aes-256-gcm", dataKey.key, iv);
  cipher.setAAD(fieldContext(dataKey.keyId, context));
  const sealed = Buffer.concat([
    iv,
    cipher.update(plaintext, "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]).toString("base64");
  return Promise.resolve(`${FIELD_PREFIX}${dataKey.keyId}:${sealed}`);
}

/** The data key id an encrypted field names, or undefined if it is not one. */
export function fieldKeyId(ciphertext: string): string | undefined {
  if (!ciphertext.startsWith(FIELD_PREFIX)) return undefined;
  const rest = ciphertext.slice(FIELD_PREFIX.length);
  const colon = rest.indexOf(":");
  return colon > 0 ? rest.slice(0, colon) : undefined;
}

/** Decrypts a field value encrypted by `encryptField` in the same context. */
export function decryptField(
  dataKey: { keyId: string; key: DataKeyMaterial },
  ciphertext: string,
  context: FieldContext,
): Promise<string> {
  if (fieldKeyId(ciphertext) !== dataKey.keyId) {
    return Promise.reject(
      new DecryptionError("The value was encrypted with another data key"),
    );
  }
  try {
    const bytes = Buffer.from(
      ciphertext.slice(FIELD_PREFIX.length + dataKey.keyId.length + 1),
      "base64",
    );
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new RangeError("Too short");
    const decipher = createDecipheriv(
      "aes-256-gcm",
      dataKey.key,
      bytes.subarray(0, IV_BYTES),
    );
    decipher.setAAD(fieldContext(dataKey.keyId, context));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plain = decipher.update(
      bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES),
      undefined,
      "utf8",
    ) + decipher.final("utf8");
    return Promise.resolve(plain);
  } catch {
    return Promise.reject(
      new DecryptionError("The value cannot be decrypted in this context"),
    );
  }
}

function wrapContext(owner: { keyId: string; userId: number }): Uint8Array {
  return encoder.encode(`datakey|${owner.keyId}|user:${owner.userId}`);
}

function fieldContext(keyId: string, context: FieldContext): Uint8Array {
  return encoder.encode(
    `field|${keyId}|user:${context.userId}|${context.record}|${context.field}`,
  );
}

async function seal(
  key: CryptoKey,
  plaintext: Uint8Array,
  additionalData: Uint8Array,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: additionalData as BufferSource },
      key,
      plaintext as BufferSource,
    ),
  );
  const out = new Uint8Array(IV_BYTES + ciphertext.length);
  out.set(iv);
  out.set(ciphertext, IV_BYTES);
  return toBase64(out);
}

async function open(
  key: CryptoKey,
  sealed: string,
  additionalData: Uint8Array,
): Promise<Uint8Array> {
  try {
    const bytes = fromBase64(sealed);
    return new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: bytes.subarray(0, IV_BYTES) as BufferSource,
          additionalData: additionalData as BufferSource,
        },
        key,
        bytes.subarray(IV_BYTES) as BufferSource,
      ),
    );
  } catch {
    throw new DecryptionError("The value cannot be decrypted in this context");
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Imports the configured master keys: the current one first (it wraps new
 * data keys), then the previous one, if any, during a rotation.
 */
export async function importMasterKeys(
  keys: { current: string; previous?: string | undefined },
): Promise<MasterKey[]> {
  const masters = [await importMasterKey(keys.current)];
  if (keys.previous !== undefined) {
    masters.push(await importMasterKey(keys.previous));
  }
  return masters;
}
