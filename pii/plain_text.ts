/**
 * Personal data written before encryption was enabled: finding it and
 * encrypting it in place (`deno task pii:encrypt-existing`, and for one
 * user right before their erasure). Audit entries are append-only and
 * hash-chained, so plain text in them cannot be rewritten: it is counted
 * and reported, never changed.
 */
import {
  type WalkOptions,
  walkPages,
  walkSettings,
} from "../domain/paged_walk.ts";
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

/**
 * Options of `encryptPlainPersonalData`; by default 200 rows a page and a
 * progress report every 1,000 rows.
 */
export interface PlainTextOptions extends WalkOptions<PlainTextProgress> {
  /** Only this user's orders (and the stored responses of them). */
  readonly userId?: number | undefined;
}

/**
 * Encrypts every plain-text address in order rows and stored responses
 * (of one user's orders with `userId`) under the owner's live data key.
 */
export async function encryptPlainPersonalData(
  store: PlainTextStore,
  keyring: Keyring,
  options: PlainTextOptions = {},
): Promise<PlainTextEncryption> {
  const walk = walkSettings(options, { pageSize: 200, progressEvery: 1_000 });
  let orders = 0;
  let responses = 0;
  let handledRows = 0;
  function handled(): void {
    handledRows++;
    if (walk.onProgress && handledRows % walk.progressEvery === 0) {
      walk.onProgress({ rows: handledRows, orders, responses });
    }
  }

  await walkPages<PlainAddress>(
    (after, limit) =>
      store.listPlainAddresses({
        userId: options.userId,
        afterId: after?.id,
        limit,
      }),
    async (row) => {
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
      handled();
    },
    walk,
  );

  await walkPages<PlainResponse>(
    (after, limit) =>
      store.listPlainResponses({
        orderUserId: options.userId,
        after: after && { userId: after.userId, key: after.key },
        limit,
      }),
    async (row) => {
      const json = JSON.parse(row.body) as Record<string, unknown>;
      const { id, user_id: userId, shipping_address: address } = json;
      if (
        typeof id !== "string" || typeof userId !== "number" ||
        typeof address !== "string"
      ) {
        handled();
        return;
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
    },
    walk,
  );
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
