/**
 * The order store with personal data encrypted at rest. It wraps the
 * database store: every address is encrypted with its owner's data key
 * before it is written (order rows, audit `changes`, stored idempotent
 * responses) and decrypted when read; values under a destroyed key read as
 * `null` with `personalDataErased`.
 *
 * The domain hands the store unsealed audit drafts; this adapter encrypts
 * their personal values for the entry's chain position, and the database
 * store seals the result once, so the stored hash covers exactly the stored
 * (encrypted) text and `audit:verify` checks what the database holds, before
 * and after an erasure.
 */
import {
  type AuditDraft,
  type AuditEntry,
  orderChainId,
} from "../domain/audit.ts";
import type { OrderStore } from "../domain/ports.ts";
import type { DataKey, Keyring } from "./keyring.ts";
import {
  encryptChanges,
  encryptOrder,
  eraseAddresses,
  protectResponseBody,
  revealEntries,
  revealOrders,
  revealResponseBody,
} from "./personal_fields.ts";

/**
 * How many times a write is tried with a fresh live key after the database
 * refused it because its key had been destroyed meanwhile.
 */
const MAX_KEY_ATTEMPTS = 3;

/** Wraps `inner` so that personal data is stored only encrypted. */
export function encryptedOrderStore(
  inner: OrderStore,
  keyring: Keyring,
): OrderStore {
  async function withLiveKey<T>(
    userId: number,
    write: (dataKey: DataKey) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const dataKey = await keyring.liveKey(userId);
      try {
        return await write(dataKey);
      } catch (error) {
        // An erasure (perhaps on another instance) destroyed the key this
        // instance still had cached; the whole batch was refused.
        if (!isKeyNotLive(error) || attempt >= MAX_KEY_ATTEMPTS) throw error;
        keyring.forget(userId);
      }
    }
  }

  /** The draft with its personal values encrypted for its chain position. */
  async function encryptDraft(
    draft: AuditDraft,
    position: { orderId: string; chainSeq: number },
    dataKey: DataKey,
  ): Promise<AuditDraft> {
    return {
      ...draft,
      changes: await encryptChanges({
        chainId: orderChainId(position.orderId),
        chainSeq: position.chainSeq,
        changes: draft.changes,
      }, dataKey),
    };
  }

  /**
   * An order's entries as their readers see them. Entries written before
   * encryption hold plain text; once the owner's data is erased they are
   * shown as erased too.
   */
  async function revealHistory(
    stored: AuditEntry[],
    orderErased: () => Promise<boolean>,
  ): Promise<AuditEntry[]> {
    const { entries, erased, plain } = await revealEntries(stored, keyring);
    if (erased || (plain && await orderErased())) {
      return eraseAddresses(entries);
    }
    return entries;
  }

  async function findOrder(id: string) {
    const order = await inner.findOrder(id);
    return order && (await revealOrders([order], keyring))[0];
  }

  return {
    insertOrder(order, entry, completion, guard) {
      return withLiveKey(order.userId, async (dataKey) => {
        const stored = await encryptOrder(order, dataKey);
        return await inner.insertOrder(
          stored,
          await encryptDraft(
            entry,
            { orderId: order.id, chainSeq: 1 },
            dataKey,
          ),
          completion && {
            ...completion,
            responseBody: protectResponseBody(
              completion.responseBody,
              stored.shippingAddress,
            ),
          },
          guard,
        );
      });
    },

    async prepareWrites(userId) {
      await keyring.liveKey(userId);
    },

    countOwnOrdersSince(userId, since) {
      return inner.countOwnOrdersSince(userId, since);
    },

    async findIdempotencyKey(use) {
      const record = await inner.findIdempotencyKey(use);
      if (!record || record.responseBody === null) return record;
      return {
        ...record,
        responseBody: await revealResponseBody(record.responseBody, keyring),
      };
    },

    purgeIdempotencyKeys(cutoff) {
      return inner.purgeIdempotencyKeys(cutoff);
    },

    findOrder,

    async findOrderForChange(id) {
      const snapshot = await inner.findOrderForChange(id);
      if (!snapshot) return undefined;
      const [order] = await revealOrders([snapshot.order], keyring);
      return order && { ...snapshot, order };
    },

    updateOrder(order, entry, prevHash) {
      return withLiveKey(
        order.userId,
        async (dataKey) =>
          await inner.updateOrder(
            await encryptOrder(order, dataKey),
            await encryptDraft(
              entry,
              { orderId: order.id, chainSeq: order.version },
              dataKey,
            ),
            prevHash,
          ),
      );
    },

    async listOrderHistory(id) {
      return await revealHistory(
        await inner.listOrderHistory(id),
        async () => (await findOrder(id))?.personalDataErased === true,
      );
    },

    async findOrderWithHistory(id) {
      const found = await inner.findOrderWithHistory(id);
      if (!found) return undefined;
      const [order] = await revealOrders([found.order], keyring);
      if (!order) return undefined;
      const history = await revealHistory(
        found.history,
        () => Promise.resolve(order.personalDataErased === true),
      );
      return { order, history };
    },

    async listOrders(query) {
      const page = await inner.listOrders(query);
      return { ...page, orders: await revealOrders(page.orders, keyring) };
    },

    async listOrdersWithHistory(query) {
      const page = await inner.listOrdersWithHistory(query);
      const orders = await revealOrders(
        page.map(({ order }) => order),
        keyring,
      );
      return await Promise.all(orders.map(async (order, i) => ({
        order,
        history: await revealHistory(
          page[i]!.history,
          () => Promise.resolve(order.personalDataErased === true),
        ),
      })));
    },

    ping() {
      return inner.ping();
    },
  };
}

/** Whether the database refused a write because its data key is not live. */
export function isKeyNotLive(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e.message.includes("personal data key is not live")) return true;
  }
  return false;
}
