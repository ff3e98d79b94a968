/**
 * Personal data written before encryption was enabled: finding it and
 * encrypting it in place (`deno task pii:encrypt-existing`, and for one
 * user right before their erasure). Audit entries are append-only and
 * hash-chained, so plain text in them cannot be rewritten: it is counted
 * and reported, never changed.
 */
import { encryptField } from "./cipher.ts";
import { isKeyNotLive } from "./encrypted_order_store.ts";
import type { DataKey, Keyring } from "./keyring.ts";
import { orderAddressContext, protectResponseBody } from "./personal_fields.ts";

/** An order whose address is still plain text. */
export interface PlainAddress {
  readonly id: string;
  readonly userId: number;
  readonly address: string;
}

/** A stored idempotent response whose address is still plain text. */
export interface PlainResponse {
  readonly userId: number;
  readonly key: string;
  readonly body: string;
}

/** Where plain-text personal data may remain. */
export interface PlainTextStore {
  /** Orders with a plain-text address, by id, after `afterId`. */
  listPlainAddresses(options: {
    userId?: number | undefined;
    afterId?: string | undefined;
    limit: number;
  }): Promise<PlainAddress[]>;
  /** Replaces a plain address with its ciphertext, unless it changed meanwhile. */
  replacePlainAddress(
    row: PlainAddress,
    ciphertext: string,
  ): Promise<boolean>;
  /**
   * Stored responses with a plain-text address, by (user, key), after
   * `after`; with `orderUserId`, only responses of that user's orders.
   */
  listPlainResponses(options: {
    orderUserId?: number | undefined;
    after?: { userId: number; key: string } | undefined;
    limit: number;
  }): Promise<PlainResponse[]>;
  /** Replaces a stored response, unless it changed meanwhile. */
  replacePlainResponse(row: PlainResponse, body: string): Promise<boolean>;
  /** Audit entries holding a plain-text address (which stay as written). */
  countPlainAuditEntries(): Promise<number>;
}

/** What an encryption pass changed. */
export interface PlainTextEncryption {
  readonly orders: number;
  readonly responses: number;
}

/** How far an encryption pass has got. */
export interface PlainTextProgress extends PlainTextEncryption {
  /** Plain-text rows handled so far: order rows, then stored responses. */
  readonly rows: number;
}

/** Options of `encryptPlainPersonalData`. */
export interface PlainTextOptions {
  /** Only this user's orders (and the stored responses of them). */
  readonly userId?: number | undefined;
  /** Rows read at a time (200). */
  readonly pageSize?: number | undefined;
  /** Called each time another `progressEvery` rows are handled. */
  readonly onProgress?: ((progress: PlainTextProgress) => void) | undefined;
  /** Rows between two `onProgress` calls (1,000). */
  readonly progressEvery?: number | undefined;
}

const PAGE_SIZE = 200;

/** How many rows are handled between two progress reports. */
const PROGRESS_EVERY = 1_000;

/**
 * Encrypts every plain-text address in order rows and stored responses
 * (of one user's orders with `userId`) under the owner's live data key.
 */
export async function encryptPlainPersonalData(
  store: PlainTextStore,
  keyring: Keyring,
  options: PlainTextOptions = {},
): Promise<PlainTextEncryption> {
  const limit = options.pageSize ?? PAGE_SIZE;
  const { onProgress } = options;
  const progressEvery = options.progressEvery ?? PROGRESS_EVERY;
  let orders = 0;
  let responses = 0;
  let handledRows = 0;
  function handled(): void {
    handledRows++;
    if (onProgress && handledRows % progressEvery === 0) {
      onProgress({ rows: handledRows, orders, responses });
    }
  }

  let afterId: string | undefined;
  for (;;) {
    const rows = await store.listPlainAddresses({
      userId: options.userId,
      afterId,
      limit,
    });
    for (const row of rows) {
      const replaced = await withLiveKey(
        keyring,
        row.userId,
        async (key) =>
          await store.replacePlainAddress(
            row,
            await encryptField(key, row.address, orderAddressContext(row)),
          ),
      );
      if (replaced) orders++;
      afterId = row.id;
      handled();
    }
    if (rows.length < limit) break;
  }

  let after: { userId: number; key: string } | undefined;
  for (;;) {
    const rows = await store.listPlainResponses({
      orderUserId: options.userId,
      after,
      limit,
    });
    for (const row of rows) {
      after = { userId: row.userId, key: row.key };
      const json = JSON.parse(row.body) as Record<string, unknown>;
      const { id, user_id: userId, shipping_address: address } = json;
      if (
        typeof id !== "string" || typeof userId !== "number" ||
        typeof address !== "string"
      ) {
        handled();
        continue;
      }
      const replaced = await withLiveKey(
        keyring,
        userId,
        async (key) =>
          await store.replacePlainResponse(
            row,
            protectResponseBody(
              row.body,
              await encryptField(
                key,
                address,
                orderAddressContext({ id, userId }),
              ),
            ),
          ),
      );
      if (replaced) responses++;
      handled();
    }
    if (rows.length < limit) break;
  }
  return { orders, responses };
}

async function withLiveKey<T>(
  keyring: Keyring,
  userId: number,
  write: (key: DataKey) => Promise<T>,
): Promise<T> {
  try {
    return await write(await keyring.liveKey(userId));
  } catch (error) {
    if (!isKeyNotLive(error)) throw error;
    // The cached key was destroyed elsewhere: fetch (or create) the live one.
    keyring.forget(userId);
    return await write(await keyring.liveKey(userId));
  }
}
