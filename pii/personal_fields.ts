/**
 * Where personal data sits in what the service stores, and how each place
 * is encrypted and read back: the order row's `shipping_address`, the
 * `shipping_address` from/to of audit entries, and the address inside a
 * stored idempotent response. Each ciphertext is bound to its place
 * (the owner, the row, the field), so it cannot be moved elsewhere.
 */
import type { AuditEntry, FieldChange } from "../domain/audit.ts";
import type { Order } from "../domain/order.ts";
import {
  decryptField,
  DecryptionError,
  encryptField,
  type FieldContext,
  fieldKeyId,
} from "./cipher.ts";
import {
  type DataKey,
  type Keyring,
  type KeyState,
  REVEALED_PER_KEY,
} from "./keyring.ts";

/** The field of orders (and of audit `changes`) that holds personal data. */
export const ADDRESS_FIELD = "shipping_address";

/**
 * The fields of audit `changes` that hold personal data: the address, and
 * the free text a customer may give when cancelling. Both are encrypted with
 * the order owner's data key, so an erasure shreds them alike.
 */
export const PERSONAL_CHANGE_FIELDS = [
  ADDRESS_FIELD,
  "cancellation_reason",
] as const;

/** Whether a stored value is a ciphertext (else legacy plain text). */
export function isEncrypted(value: unknown): value is string {
  return typeof value === "string" && fieldKeyId(value) !== undefined;
}

/** The context of an order row's address (also used in stored responses). */
export function orderAddressContext(
  order: { id: string; userId: number },
): FieldContext {
  return {
    userId: order.userId,
    record: `order:${order.id}`,
    field: ADDRESS_FIELD,
  };
}

/** The context of a personal value in an audit entry's `changes`. */
export function auditFieldContext(
  entry: { chainId: string; chainSeq: number },
  value: { userId: number; field: string; side: "from" | "to" },
): FieldContext {
  const { userId, field, side } = value;
  return {
    userId,
    record: `audit:${entry.chainId}:${entry.chainSeq}`,
    field: `${field}.${side}`,
  };
}

/** Every data key id named by these values. */
export function keyIdsOf(values: Iterable<unknown>): string[] {
  const ids: string[] = [];
  for (const value of values) {
    const id = typeof value === "string" ? fieldKeyId(value) : undefined;
    if (id !== undefined) ids.push(id);
  }
  return ids;
}

/**
 * Reads one stored value: plain text is returned as is, a ciphertext under
 * a destroyed key is `null` (erased), and any other ciphertext is decrypted
 * in `context` (a failure throws: the data or the key is corrupt).
 */
export async function revealValue(
  value: string,
  lookup: {
    states: ReadonlyMap<string, KeyState>;
    context: (dataKey: DataKey) => FieldContext;
  },
): Promise<{ value: string | null; erased: boolean }> {
  const { states, context } = lookup;
  const keyId = fieldKeyId(value);
  if (keyId === undefined) return { value, erased: false };
  const state = states.get(keyId);
  if (!state) {
    throw new DecryptionError("The value's data key was not looked up");
  }
  if (state.state === "destroyed") return { value: null, erased: true };
  const dataKey = state.dataKey;
  const where = context(dataKey);
  // The context is part of the cache key: a ciphertext copied to another row
  // must still fail, as its decryption would.
  const cacheKey = `${where.userId}|${where.record}|${where.field}|${value}`;
  let plain = dataKey.revealed.get(cacheKey);
  if (plain === undefined) {
    plain = await decryptField(dataKey, value, where);
    if (dataKey.revealed.size >= REVEALED_PER_KEY) {
      dataKey.revealed.delete(dataKey.revealed.keys().next().value as string);
    }
    dataKey.revealed.set(cacheKey, plain);
  }
  return { value: plain, erased: false };
}

/** The order with its address encrypted under `dataKey`. */
export async function encryptOrder(
  order: Order,
  dataKey: DataKey,
): Promise<Order & { readonly shippingAddress: string }> {
  if (order.shippingAddress === null) {
    throw new Error(
      `Cannot write order "${order.id}": its personal data is erased`,
    );
  }
  return {
    ...order,
    shippingAddress: await encryptField(
      dataKey,
      order.shippingAddress,
      orderAddressContext(order),
    ),
  };
}

/** Orders as stored, with their addresses decrypted (or erased). */
export async function revealOrders(
  orders: readonly Order[],
  keyring: Keyring,
): Promise<Order[]> {
  const states = await keyring.keys(
    keyIdsOf(orders.map((o) => o.shippingAddress)),
  );
  return await Promise.all(orders.map(async (order) => {
    if (order.shippingAddress === null) return order;
    const { value, erased } = await revealValue(order.shippingAddress, {
      states,
      context: () => orderAddressContext(order),
    });
    return erased
      ? { ...order, shippingAddress: null, personalDataErased: true }
      : { ...order, shippingAddress: value };
  }));
}

/**
 * The entry's `changes` with every personal value encrypted under `dataKey`
 * (the order owner's), bound to the entry's chain position and field.
 */
export async function encryptChanges(
  entry: Pick<AuditEntry, "chainId" | "chainSeq" | "changes">,
  dataKey: DataKey,
): Promise<Record<string, FieldChange>> {
  const changes: Record<string, FieldChange> = { ...entry.changes };
  for (const field of PERSONAL_CHANGE_FIELDS) {
    const change = changes[field];
    if (change === undefined) continue;
    // Every string is a plain value from the domain, even one that happens
    // to look like a ciphertext.
    const seal = async (value: unknown, side: "from" | "to") =>
      typeof value === "string"
        ? await encryptField(
          dataKey,
          value,
          auditFieldContext(entry, { userId: dataKey.userId, field, side }),
        )
        : value;
    changes[field] = {
      from: await seal(change.from, "from"),
      to: await seal(change.to, "to"),
    };
  }
  return changes;
}

/**
 * Audit entries with their personal values decrypted; values under a
 * destroyed key become `null`. `erased` tells whether any did.
 */
export async function revealEntries(
  entries: readonly AuditEntry[],
  keyring: Keyring,
): Promise<{ entries: AuditEntry[]; erased: boolean; plain: boolean }> {
  const values = entries.flatMap((entry) =>
    PERSONAL_CHANGE_FIELDS.flatMap((field) => {
      const change = entry.changes[field];
      return change ? [change.from, change.to] : [];
    })
  );
  const states = await keyring.keys(keyIdsOf(values));
  let erased = false;
  let plain = false;
  const revealed = await Promise.all(entries.map(async (entry) => {
    if (!PERSONAL_CHANGE_FIELDS.some((field) => entry.changes[field])) {
      return entry;
    }
    const changes: Record<string, FieldChange> = { ...entry.changes };
    for (const field of PERSONAL_CHANGE_FIELDS) {
      const change = entry.changes[field];
      if (!change) continue;
      const reveal = async (value: unknown, side: "from" | "to") => {
        if (typeof value !== "string") return value;
        const result = await revealValue(value, {
          states,
          context: (dataKey) =>
            auditFieldContext(entry, { userId: dataKey.userId, field, side }),
        });
        erased ||= result.erased;
        // Only an address written before encryption counts as legacy plain
        // text; a plain cancellation reason is from the same era.
        plain ||= !isEncrypted(value);
        return result.value;
      };
      changes[field] = {
        from: await reveal(change.from, "from"),
        to: await reveal(change.to, "to"),
      };
    }
    return { ...entry, changes };
  }));
  return { entries: revealed, erased, plain };
}

/** The entries with every personal value shown as erased (`null`). */
export function eraseAddresses(entries: readonly AuditEntry[]): AuditEntry[] {
  return entries.map((entry) => {
    if (!PERSONAL_CHANGE_FIELDS.some((field) => entry.changes[field])) {
      return entry;
    }
    const changes: Record<string, FieldChange> = { ...entry.changes };
    for (const field of PERSONAL_CHANGE_FIELDS) {
      if (changes[field]) changes[field] = { from: null, to: null };
    }
    return { ...entry, changes };
  });
}

/**
 * A stored response body (an order's JSON) with its address replaced by
 * `ciphertext`, the order row's own ciphertext.
 */
export function protectResponseBody(body: string, ciphertext: string): string {
  const json = JSON.parse(body) as Record<string, unknown>;
  if (typeof json[ADDRESS_FIELD] !== "string") return body;
  json[ADDRESS_FIELD] = ciphertext;
  return JSON.stringify(json);
}

/**
 * A stored response body with its address decrypted, or, when the owner's
 * data is erased, `null` followed by `"personal_data_erased": true` (as
 * the order itself reads).
 */
export async function revealResponseBody(
  body: string,
  keyring: Keyring,
): Promise<string> {
  const json = JSON.parse(body) as Record<string, unknown>;
  const address = json[ADDRESS_FIELD];
  if (
    !isEncrypted(address) || typeof json.id !== "string" ||
    typeof json.user_id !== "number"
  ) {
    return body;
  }
  const order = { id: json.id, userId: json.user_id };
  const states = await keyring.keys(keyIdsOf([address]));
  const { value, erased } = await revealValue(address, {
    states,
    context: () => orderAddressContext(order),
  });
  const revealed: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(json)) {
    revealed[name] = name === ADDRESS_FIELD ? value : field;
    if (name === ADDRESS_FIELD && erased) revealed.personal_data_erased = true;
  }
  return JSON.stringify(revealed);
}
