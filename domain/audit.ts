/**
 * Audit entries and their hash chains. Each chain (one per order, and one
 * per user for the user's own events and what admins did to the account)
 * starts from `GENESIS_HASH`; an entry's hash covers the previous entry's
 * hash and the entry's own content, so changing, removing or reordering an
 * entry breaks every hash after it.
 */
import { formatCents, formatPrice } from "./money.ts";
import type {
  Order,
  OrderItem,
  OrderReview,
  ReviewReason,
  ReviewState,
} from "./order.ts";
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
 *   a held order, with its note (`reviewDecidedEntry`, from `review.ts`); a
 *   rejection also cancels.
 * - `user.personal_data_erased`: the user's data key was destroyed
 *   (`personalDataErasedEntry`), in the user's own chain.
 * - `account.disabled`, `account.enabled`, `account.tokens_revoked`: an
 *   admin's action on an account (`accountChangedEntry`, from `account.ts`),
 *   in the user's own chain.
 *
 * Every entry is built by one of these functions and written by one path:
 * the stores place the draft in its chain and `db/audit_append.ts` seals
 * and appends it in the batch of the change it records.
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

/** Where an entry goes: its chain, its place in it, the hash before it. */
export type ChainPosition = Pick<
  AuditEntry,
  "chainId" | "chainSeq" | "prevHash"
>;

/**
 * A draft placed in its chain, not yet sealed: what a store is given to
 * append (it seals the entry over what it stores).
 */
export type PlacedAuditDraft = AuditDraft & ChainPosition;

/** The last entry of a chain: its position and hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * The position after a chain's head: the first (after `GENESIS_HASH`) when
 * the chain is empty (no head, or a head at 0).
 */
export function nextChainPosition(
  chainId: string,
  head: ChainHead | undefined,
): ChainPosition {
  return head === undefined || head.seq === 0
    ? { chainId, chainSeq: 1, prevHash: GENESIS_HASH }
    : { chainId, chainSeq: head.seq + 1, prevHash: head.hash };
}

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
 * WebCrypto's, which the audit verifier's checks keep honest). Only the
 * write path, `db/audit_append.ts`, seals; domain code hands stores drafts.
 */
export async function sealAuditEntry(
  draft: AuditDraft,
  chain: ChainPosition,
  digest: (text: string) => string | Promise<string> = sha256Hex,
): Promise<AuditEntry> {
  const unsealed = { ...draft, ...chain };
  const hash = await digest(
    auditHashInput({ ...unsealed, changesJson: JSON.stringify(draft.changes) }),
  );
  return { ...unsealed, hash };
}

/** An order line as the audit log and the API show it. */
export function orderLineJson(item: OrderItem): {
  product_id: string | number;
  product_name: string;
  quantity: number;
  price: string;
} {
  return {
    product_id: item.productId,
    product_name: item.productName,
    quantity: item.quantity,
    price: formatPrice(item.unitPrice),
  };
}

/** A review as the audit log and the API show it. */
export function reviewJson(
  review: OrderReview,
): { state: ReviewState; reasons: ReviewReason[] } {
  return { state: review.state, reasons: [...review.reasons] };
}

/** Who recorded an entry, in which request. */
function recordedBy(
  actor: Principal,
  requestId: string,
): Pick<AuditDraft, "actorUserId" | "actorRoles" | "requestId"> {
  return { actorUserId: actor.userId, actorRoles: actor.roles, requestId };
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
    ...recordedBy(actor, requestId),
    at: order.createdAt,
    changes: {
      user_id: { from: null, to: order.userId },
      status: { from: null, to: order.status },
      items: { from: null, to: order.items.map(orderLineJson) },
      total: { from: null, to: formatCents(order.totalCents) },
      currency: { from: null, to: order.currency },
      shipping_address: { from: null, to: order.shippingAddress },
      ...(order.review && {
        review: { from: null, to: reviewJson(order.review) },
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
    ...recordedBy(options.actor, options.requestId),
    at: after.updatedAt,
    changes,
  };
}

/**
 * The `order.review_approved` / `order.review_rejected` entry: the review's
 * from/to, the status when a rejection cancels, and the note.
 */
export function reviewDecidedEntry(
  before: Order,
  after: Order,
  options: { actor: Principal; requestId: string; note?: string | undefined },
): AuditDraft {
  const changes: Record<string, FieldChange> = {
    review: {
      from: before.review ? reviewJson(before.review) : null,
      to: after.review ? reviewJson(after.review) : null,
    },
  };
  if (before.status !== after.status) {
    changes.status = { from: before.status, to: after.status };
  }
  if (options.note !== undefined) {
    changes.review_note = { from: null, to: options.note };
  }
  return {
    orderId: after.id,
    action: after.review?.state === "approved"
      ? "order.review_approved"
      : "order.review_rejected",
    ...recordedBy(options.actor, options.requestId),
    at: after.updatedAt,
    changes,
  };
}

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
    ...recordedBy(options.actor, options.requestId),
    at: erasure.at,
    changes: {
      user_id: { from: erasure.userId, to: erasure.userId },
      data_key: { from: erasure.keyId, to: null },
    },
  };
}

/** What an account entry records of an account's state (`AccountState`). */
export interface AccountFields {
  /** Milliseconds since the epoch; null when enabled. */
  readonly disabledAt: number | null;
  /** Epoch seconds; null when no revocation happened. */
  readonly tokensRevokedBefore: number | null;
}

/**
 * The entry of an admin's action on an account (`account.disabled`,
 * `account.enabled`, `account.tokens_revoked`): the from/to of every field
 * that changed, as ISO 8601 times (null for none).
 */
export function accountChangedEntry(
  before: AccountFields,
  after: AccountFields,
  options: {
    action: AuditAction;
    actor: Principal;
    requestId: string;
    at: number;
  },
): AuditDraft {
  const changes: Record<string, FieldChange> = {};
  if (before.disabledAt !== after.disabledAt) {
    changes.disabled_at = {
      from: isoOrNull(before.disabledAt),
      to: isoOrNull(after.disabledAt),
    };
  }
  if (before.tokensRevokedBefore !== after.tokensRevokedBefore) {
    changes.tokens_revoked_before = {
      from: isoOrNull(secondsToMs(before.tokensRevokedBefore)),
      to: isoOrNull(secondsToMs(after.tokensRevokedBefore)),
    };
  }
  return {
    orderId: null,
    action: options.action,
    ...recordedBy(options.actor, options.requestId),
    at: options.at,
    changes,
  };
}

function secondsToMs(seconds: number | null): number | null {
  return seconds === null ? null : seconds * 1000;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
