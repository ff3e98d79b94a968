/**
 * Receipts for clients: the chain position and hash of the audit entry a
 * request's change wrote, which the response carries as
 * `Audit-Entry: <chain seq>;<hash>`. The order store records an entry once
 * its batch is committed (never one that lost its race), by the service's
 * own request id, which every entry records; the route takes it back for
 * its response. No database round trip: the hash is the one just sealed.
 */
import type { AuditEntry } from "../domain/audit.ts";

/** The response header that carries a receipt. */
export const AUDIT_ENTRY_HEADER = "Audit-Entry";

/** The most receipts kept waiting for their response (the oldest go first). */
export const MAX_PENDING_RECEIPTS = 10_000;

/** An entry's position in its chain and its hash. */
export interface AuditReceipt {
  readonly chainSeq: number;
  readonly hash: string;
}

/** Receipts by request id, between the store's commit and the response. */
export interface AuditReceipts {
  /** Records a committed entry under its request id (the last one wins). */
  record(entry: AuditEntry): void;
  /** The receipt of a request, removed; undefined when it wrote none. */
  take(requestId: string): AuditReceipt | undefined;
}

/** Creates the receipts of one service instance. */
export function createAuditReceipts(): AuditReceipts {
  const pending = new Map<string, AuditReceipt>();
  return {
    record(entry) {
      pending.delete(entry.requestId);
      pending.set(entry.requestId, {
        chainSeq: entry.chainSeq,
        hash: entry.hash,
      });
      if (pending.size > MAX_PENDING_RECEIPTS) {
        pending.delete(pending.keys().next().value!);
      }
    },
    take(requestId) {
      const receipt = pending.get(requestId);
      pending.delete(requestId);
      return receipt;
    },
  };
}

/** The header value of a receipt: `<chain seq>;<hash>`. */
export function auditEntryHeader(receipt: AuditReceipt): string {
  return `${receipt.chainSeq};${receipt.hash}`;
}
