/**
 * Audit entries and their hash chains. Each chain (one per order, and one
 * per user for the user's own events and what admins did to the account)
 * starts from `GENESIS_HASH`; an entry's hash covers the previous entry's
 * hash and the entry's own content, so changing, removing or reordering an
 * entry breaks every hash after it.
 */
import { formatCents, formatPrice } from "./money.ts";
import type { Order } from "./order.ts";
import type { Principal, Role } from "./principal.ts";

/**
 * Every action the audit log records: the one list of what is written to
 * it, and by whom.
 *
 * - `order.created`: a new order, with every field (`orderCreatedEntry`).
 * - `order.updated`: a status move and/or an address change
 *   (`orderChangedEntry`, from `planOrderChange`).
 * - `order.cancelled`: a cancellation by the owner or an admin, with its
 *   reason (`orderChangedEntry`).
 * - `order.review_approved`, `order.review_rejected`: an admin's decision on
 *   a held order, with its note (`review.ts`); a rejection also cancels.
 * - `user.personal_data_erased`: the user's data key was destroyed
 *   (`personalDataErasedEntry`), in the user's own chain.
 * - `account.disabled`, `account.enabled`, `account.tokens_revoked`: an
 *   admin's action on an account (`account.ts`), in the user's own chain.
 */
export const AUDIT_ACTIONS = [
  "order.created",
  "order.updated",
  "order.cancelled",
  "order.review_approved",
  "order.review_rejected",
  "user.personal_data_erased",
  "account.disabled",
  "account.enabled",
  "account.tokens_revoked",
] as const;

/** An action the audit log records. */
export type AuditAction = typeof AUDIT_ACTIONS[number];

/** The action stored text names; throws on one this code does not know. */
export function parseAuditAction(text: string): AuditAction {
  if ((AUDIT_ACTIONS as readonly string[]).includes(text)) {
    return text as AuditAction;
  }
  throw new Error(`Unknown audit action "${text}"`);
}

/** The `prev_hash` of the first entry of every chain. */
export const GENESIS_HASH = "0".repeat(64);

/** One field's change. */
export interface FieldChange {
  readonly from: unknown;
  readonly to: unknown;
}

/** An audit entry with its place in its chain and its hash. */
export interface AuditEntry {
  readonly chainId: string;
  readonly chainSeq: number;
  readonly orderId: string | null;
  readonly action: AuditAction;
  readonly actorUserId: number;
  readonly actorRoles: readonly Role[];
  readonly requestId: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly changes: Readonly<Record<string, FieldChange>>;
  readonly prevHash: string;
  readonly hash: string;
}

/** What an action records, before it has a place in a chain. */
export type AuditDraft = Omit<
  AuditEntry,
  "chainId" | "chainSeq" | "prevHash" | "hash"
>;

/** The chain an order's entries belong to. */
export function orderChainId(orderId: string): string {
  return `order:${orderId}`;
}

/** The chain of a user's own entries: erasure, and admin actions on the account. */
export function userChainId(userId: number): string {
  return `user:${userId}`;
}

/** The action of the entry an erasure appends to the user's own chain. */
export const PERSONAL_DATA_ERASED: AuditAction = "user.personal_data_erased";

/**
 * The actions of the user's own chain that the user's export shows: what
 * was done to their personal data. Admins' account actions (disable,
 * enable, revoke tokens) are incident response and stay in the audit log.
 */
export const EXPORTED_USER_ACTIONS: ReadonlySet<AuditAction> = new Set([
  PERSONAL_DATA_ERASED,
]);

/**
 * The `user.personal_data_erased` entry: the user's data key was destroyed,
 * so every value encrypted with it is unreadable from now on.
 */
export function personalDataErasedEntry(
  erasure: { userId: number; keyId: string; at: number },
  options: { actor: Principal; requestId: string },
): AuditDraft {
  return {
    orderId: null,
    action: PERSONAL_DATA_ERASED,
    actorUserId: options.actor.userId,
    actorRoles: options.actor.roles,
    requestId: options.requestId,
    at: erasure.at,
    changes: {
      user_id: { from: erasure.userId, to: erasure.userId },
      data_key: { from: erasure.keyId, to: null },
    },
  };
}

/**
 * The canonical text an entry's hash covers. `changes` is kept as the exact
 * JSON text that is stored, so the verifier hashes what the database holds.
 */
export function auditHashInput(
  entry: Omit<AuditEntry, "hash" | "changes"> & { changesJson: string },
): string {
  return JSON.stringify([
    entry.chainId,
    entry.chainSeq,
    entry.prevHash,
    entry.orderId,
    entry.action,
    entry.actorUserId,
    entry.actorRoles,
    entry.requestId,
    entry.at,
    entry.changesJson,
  ]);
}

/** SHA-256 of a text, as lowercase hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * Places a draft in a chain after `prevHash` and computes its hash, with
 * `digest` (SHA-256 as lowercase hex; an adapter may pass a faster one than
 * WebCrypto's, which the audit verifier's checks keep honest).
 */
export async function sealAuditEntry(
  draft: AuditDraft,
  chain: { chainId: string; chainSeq: number; prevHash: string },
  digest: (text: string) => string | Promise<string> = sha256Hex,
): Promise<AuditEntry> {
  const unsealed = { ...draft, ...chain };
  const hash = await digest(
    auditHashInput({ ...unsealed, changesJson: JSON.stringify(draft.changes) }),
  );
  return { ...unsealed, hash };
}

/** The JSON form of an order's lines, as the audit log and API show them. */
export function itemsForAudit(order: Order): unknown[] {
  return order.items.map((item) => ({
    product_id: item.productId,
    product_name: item.productName,
    quantity: item.quantity,
    price: formatPrice(item.unitPrice),
  }));
}

/**
 * The `order.created` entry for a new order; a hold for review is recorded
 * as the change of `review` from null.
 */
export function orderCreatedEntry(
  order: Order,
  actor: Principal,
  requestId: string,
): AuditDraft {
  return {
    orderId: order.id,
    action: "order.created",
    actorUserId: actor.userId,
    actorRoles: actor.roles,
    requestId,
    at: order.createdAt,
    changes: {
      user_id: { from: null, to: order.userId },
      status: { from: null, to: order.status },
      items: { from: null, to: itemsForAudit(order) },
      total: { from: null, to: formatCents(order.totalCents) },
      currency: { from: null, to: order.currency },
      shipping_address: { from: null, to: order.shippingAddress },
      ...(order.review && {
        review: {
          from: null,
          to: { state: order.review.state, reasons: [...order.review.reasons] },
        },
      }),
    },
  };
}

/**
 * The entry for a change to an existing order: `order.cancelled` when it
 * cancels the order, else `order.updated`, with the from/to of every field
 * that changed. A cancellation's reason is recorded as the change of
 * `cancellation_reason` from null.
 */
export function orderChangedEntry(
  before: Order,
  after: Order,
  options: { actor: Principal; requestId: string; reason?: string | undefined },
): AuditDraft {
  const changes: Record<string, FieldChange> = {};
  if (before.status !== after.status) {
    changes.status = { from: before.status, to: after.status };
  }
  if (before.shippingAddress !== after.shippingAddress) {
    changes.shipping_address = {
      from: before.shippingAddress,
      to: after.shippingAddress,
    };
  }
  const cancels = after.status === "cancelled" &&
    before.status !== "cancelled";
  if (cancels && options.reason !== undefined) {
    changes.cancellation_reason = { from: null, to: options.reason };
  }
  return {
    orderId: after.id,
    action: cancels ? "order.cancelled" : "order.updated",
    actorUserId: options.actor.userId,
    actorRoles: options.actor.roles,
    requestId: options.requestId,
    at: after.updatedAt,
    changes,
  };
}
