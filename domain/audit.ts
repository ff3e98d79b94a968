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
 * - `webhook_endpoint.created`, `webhook_endpoint.updated`,
 *   `webhook_endpoint.deleted`, `webhook_endpoint.secret_rotated`: an
 *   admin's change to a webhook endpoint (`webhookEndpointEntry`, from
 *   `manage_webhooks.ts`), in the endpoint's own chain; never the secret.
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
  "webhook_endpoint.created",
  "webhook_endpoint.updated",
  "webhook_endpoint.deleted",
  "webhook_endpoint.secret_rotated",
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
  /** How `hash` was computed (`AUDIT_SEAL_SCHEMES`). */
  readonly seal: AuditSealScheme;
  /** The id of the audit key that sealed the entry; null for `sha256`. */
  readonly keyId: string | null;
}

/**
 * How an entry's hash is computed: `sha256`, unkeyed, for entries written
 * before the audit key (they keep verifying as they are); `hmac-sha256`
 * under the audit key its `keyId` names, for every entry written since.
 */
export const AUDIT_SEAL_SCHEMES = ["sha256", "hmac-sha256"] as const;

/** A seal scheme of the audit log. */
export type AuditSealScheme = typeof AUDIT_SEAL_SCHEMES[number];

/** The scheme every new entry is sealed with. */
export const CURRENT_SEAL_SCHEME: AuditSealScheme = "hmac-sha256";

/**
 * What seals new entries: the audit key's id and the keyed digest (HMAC-SHA256
 * as lowercase hex) under it. Built outside the domain (`audit/keys.ts`).
 */
export interface AuditSealer {
  readonly keyId: string;
  mac(text: string): string;
}

/** What an action records, before it has a place in a chain. */
export type AuditDraft = Omit<
  AuditEntry,
  "chainId" | "chainSeq" | "prevHash" | "hash" | "seal" | "keyId"
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

/** The chain of a webhook endpoint's changes: one entry per version. */
export function webhookEndpointChainId(endpointId: string): string {
  return `webhook_endpoint:${endpointId}`;
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
 * An `hmac-sha256` entry's text starts with its scheme and key id, so
 * neither can be changed without breaking the seal; a `sha256` entry's
 * (the default) is the text entries had before the audit was keyed.
 */
export function auditHashInput(
  entry:
    & Omit<AuditEntry, "hash" | "changes" | "seal" | "keyId">
    & { changesJson: string }
    & Partial<Pick<AuditEntry, "seal" | "keyId">>,
): string {
  const fields = [
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
  ];
  return JSON.stringify(
    entry.seal === undefined || entry.seal === "sha256"
      ? fields
      : [entry.seal, entry.keyId, ...fields],
  );
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
 * Places a draft in a chain after `prevHash` and seals it: its hash is the
 * `sealer`'s HMAC-SHA256 over `auditHashInput`, recorded with the scheme
 * and the key's id. Synchronous: the write path (`db/audit_append.ts`, the
 * only place that seals; domain code hands stores drafts) runs it on every
 * change.
 */
export function sealAuditEntry(
  draft: AuditDraft,
  chain: ChainPosition,
  sealer: AuditSealer,
): AuditEntry {
  const unsealed = {
    ...draft,
    ...chain,
    seal: CURRENT_SEAL_SCHEME,
    keyId: sealer.keyId,
  };
  const hash = sealer.mac(
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

/** Who did what, when, in which request: an admin's action's entry. */
export interface ActionEntryOptions {
  readonly action: AuditAction;
  readonly actor: Principal;
  readonly requestId: string;
  readonly at: number;
}

/**
 * The entry of an admin's action on an account (`account.disabled`,
 * `account.enabled`, `account.tokens_revoked`): the from/to of every field
 * that changed, as ISO 8601 times (null for none).
 */
export function accountChangedEntry(
  before: AccountFields,
  after: AccountFields,
  options: ActionEntryOptions,
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
  return actionEntry(options, changes);
}

/** The entry of an admin's action outside any order: who, when, what changed. */
function actionEntry(
  options: ActionEntryOptions,
  changes: Readonly<Record<string, FieldChange>>,
): AuditDraft {
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

/**
 * What a webhook endpoint entry records of an endpoint (`WebhookEndpoint`
 * in `webhooks.ts`): never its secret.
 */
export interface WebhookEndpointFields {
  readonly url: string;
  /** Empty: every order event type. */
  readonly eventTypes: readonly string[];
  readonly description: string | null;
  readonly enabled: boolean;
}

/** What a rotation records in place of the secrets: that one replaced the other. */
export const ROTATED_SECRET_CHANGE: FieldChange = {
  from: "(previous secret)",
  to: "(new secret)",
};

/**
 * The entry of an admin's change to a webhook endpoint: the from/to of
 * `url`, `event_types`, `description` and `enabled` that changed (from
 * null on a creation, to null on a deletion). A rotation records
 * `ROTATED_SECRET_CHANGE` as the change of `secret`: no secret material,
 * not even a hash, is ever in the log.
 */
export function webhookEndpointEntry(
  before: WebhookEndpointFields | undefined,
  after: WebhookEndpointFields | undefined,
  options: ActionEntryOptions,
): AuditDraft {
  const changes: Record<string, FieldChange> = {};
  const fields = {
    url: (e: WebhookEndpointFields) => e.url,
    event_types: (e: WebhookEndpointFields) => [...e.eventTypes],
    description: (e: WebhookEndpointFields) => e.description,
    enabled: (e: WebhookEndpointFields) => e.enabled,
  };
  for (const [name, read] of Object.entries(fields)) {
    const from = before === undefined ? null : read(before);
    const to = after === undefined ? null : read(after);
    if (JSON.stringify(from) !== JSON.stringify(to)) {
      changes[name] = { from, to };
    }
  }
  if (options.action === "webhook_endpoint.secret_rotated") {
    changes.secret = ROTATED_SECRET_CHANGE;
  }
  return actionEntry(options, changes);
}
