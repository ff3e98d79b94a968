/**
 * The audit's keys, with node:crypto, which runs them synchronously: the
 * audit key (HMAC-SHA256) that seals every new entry on the write path, and
 * the Ed25519 signing key of checkpoints with its public half. A key's id is
 * public and reveals nothing of the key: the audit key's is the first 8
 * bytes of an HMAC under it, the signing key's the first 8 bytes of the
 * SHA-256 of its public key, both as hex.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import type { AuditSealer } from "../domain/audit.ts";
import {
  type AuditCheckpoint,
  checkpointSigningText,
  type Sha256,
  type SignedCheckpoint,
} from "../domain/audit_checkpoint.ts";

/** The length of the audit key and of the signing key's seed, in bytes. */
export const AUDIT_KEY_BYTES = 32;

/** The bytes of a base64 key of `AUDIT_KEY_BYTES`; undefined when it is not one. */
export function base64Key(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text.trim());
  } catch {
    return undefined;
  }
  if (binary.length !== AUDIT_KEY_BYTES) return undefined;
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The sealer of an audit key (32 bytes): HMAC-SHA256 as hex, and its id. */
export function createAuditSealer(key: Uint8Array): AuditSealer {
  // Imported once: an HMAC over a KeyObject skips the key's import each time.
  const secret = createSecretKey(key);
  const keyId = createHmac("sha256", secret).update("orders-api audit key id")
    .digest("hex").slice(0, 16);
  return {
    keyId,
    mac: (text) => createHmac("sha256", secret).update(text).digest("hex"),
  };
}

/** SHA-256 of bytes, synchronously. */
export const sha256Bytes: Sha256 = (data) =>
  new Uint8Array(createHash("sha256").update(data).digest());

/** The bytes of a hex string. */
function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** The DER prefix that makes a 32-byte Ed25519 seed a PKCS#8 private key. */
const ED25519_PKCS8_PREFIX = hexBytes("302e020100300506032b657004220420");

/** The DER prefix of an Ed25519 public key's SubjectPublicKeyInfo. */
const ED25519_SPKI_PREFIX = hexBytes("302a300506032b6570032100");

/** Signs checkpoints with the Ed25519 key of a 32-byte seed. */
export interface CheckpointSigner {
  /** The public key, base64 of its 32 raw bytes: what an auditor is given. */
  readonly publicKey: string;
  /** The public key's id, which every checkpoint it signs names. */
  readonly keyId: string;
  sign(checkpoint: Omit<AuditCheckpoint, "signer">): SignedCheckpoint;
}

/** The signer of an Ed25519 seed (`AUDIT_SIGNING_KEY`, 32 bytes). */
export function createCheckpointSigner(seed: Uint8Array): CheckpointSigner {
  const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + seed.length);
  der.set(ED25519_PKCS8_PREFIX);
  der.set(seed, ED25519_PKCS8_PREFIX.length);
  const privateKey = createPrivateKey({
    key: der as unknown as Buffer,
    format: "der",
    type: "pkcs8",
  });
  const spki = new Uint8Array(
    createPublicKey(privateKey).export({ format: "der", type: "spki" }),
  );
  const raw = spki.subarray(ED25519_SPKI_PREFIX.length);
  const publicKey = btoa(String.fromCharCode(...raw));
  const keyId = publicKeyId(raw);
  return {
    publicKey,
    keyId,
    sign(content) {
      const checkpoint = { ...content, signer: keyId };
      const signature = sign(
        null,
        new TextEncoder().encode(checkpointSigningText(checkpoint)),
        privateKey,
      );
      return {
        checkpoint,
        signature: btoa(String.fromCharCode(...new Uint8Array(signature))),
      };
    },
  };
}

/** The id of an Ed25519 public key (its 32 raw bytes). */
function publicKeyId(raw: Uint8Array): string {
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

/** Checks checkpoints' signatures against the public keys an auditor trusts. */
export interface CheckpointVerifier {
  /** The ids of the trusted keys. */
  readonly keyIds: readonly string[];
  /** Whether `signed` carries a valid signature by one of the keys it names. */
  verify(signed: SignedCheckpoint): boolean;
}

/**
 * A verifier over public keys (base64 of 32 raw bytes each); throws a
 * RangeError naming the first that is not one.
 */
export function createCheckpointVerifier(
  publicKeys: readonly string[],
): CheckpointVerifier {
  const keys = new Map<string, KeyObject>();
  for (const [index, text] of publicKeys.entries()) {
    const raw = base64Key(text);
    if (raw === undefined) {
      throw new RangeError(
        `public key ${
          index + 1
        } is not ${AUDIT_KEY_BYTES} bytes, base64-encoded`,
      );
    }
    const der = new Uint8Array(ED25519_SPKI_PREFIX.length + raw.length);
    der.set(ED25519_SPKI_PREFIX);
    der.set(raw, ED25519_SPKI_PREFIX.length);
    keys.set(
      publicKeyId(raw),
      createPublicKey({
        key: der as unknown as Buffer,
        format: "der",
        type: "spki",
      }),
    );
  }
  return {
    keyIds: [...keys.keys()],
    verify(signed) {
      const key = keys.get(signed.checkpoint.signer);
      if (key === undefined) return false;
      let signature: Uint8Array;
      try {
        signature = Uint8Array.from(
          atob(signed.signature),
          (c) => c.charCodeAt(0),
        );
      } catch {
        return false;
      }
      return verify(
        null,
        new TextEncoder().encode(checkpointSigningText(signed.checkpoint)),
        key,
        signature,
      );
    },
  };
}
