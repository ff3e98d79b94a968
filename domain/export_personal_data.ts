/**
 * Exporting a user's personal data (right of access): the use case behind
 * `GET /v1/users/{user_id}/export`. Every order of the user, newest first,
 * each with its history, and the events of the user's own audit chain about
 * their personal data.
 */
import { type AuditEntry, EXPORTED_USER_ACTIONS } from "./audit.ts";
import { assertCanManagePersonalData } from "./policy.ts";
import type {
  AccountStore,
  Clock,
  OrderStore,
  OrderWithHistory,
} from "./ports.ts";
import type { Principal } from "./principal.ts";

/** How many orders the export reads at a time. */
const EXPORT_PAGE_SIZE = 100;

/** What exporting needs. */
export interface ExportPersonalDataDeps {
  readonly store: OrderStore;
  readonly accounts: AccountStore;
  readonly clock: Clock;
}

/** One request for a user's export. */
export interface ExportPersonalDataCommand {
  /** The user the export is about. */
  readonly userId: number;
  readonly principal: Principal;
  /**
   * Settles once the request may go on (see `admitted` in
   * routes/middleware/rate_limit.ts); the export reads its first page of
   * orders before, and waits for it before reading more, so a refused
   * request reads at most one page. Unset: at once.
   */
  readonly admitted?: () => Promise<void>;
}

/** Everything the service holds about a user. */
export interface PersonalDataExport {
  readonly userId: number;
  /** When the export began, in milliseconds since the epoch. */
  readonly exportedAt: number;
  /** Every order of the user, newest first, each with its history. */
  readonly orders: readonly OrderWithHistory[];
  /**
   * The entries of the user's own chain about their personal data (each
   * erasure, with who asked and when), oldest first.
   */
  readonly events: readonly AuditEntry[];
}

/**
 * The user's export, if the caller may have it: the user themself or an
 * admin (else `forbidden`, before anything is read). A user without orders
 * is exported with none.
 */
export async function exportPersonalData(
  deps: ExportPersonalDataDeps,
  command: ExportPersonalDataCommand,
): Promise<PersonalDataExport> {
  const { store, accounts, clock } = deps;
  const { userId } = command;
  assertCanManagePersonalData(command.principal, userId);
  const exportedAt = clock.now();
  // The user's own chain is read while their orders are (at the edge each
  // read is a round trip), and each page of orders with their histories.
  const [orders, chain] = await Promise.all([
    allOrdersOf(store, userId, command.admitted),
    accounts.listUserEvents(userId),
  ]);
  const events = chain.filter((entry) =>
    EXPORTED_USER_ACTIONS.has(entry.action)
  );
  return { userId, exportedAt, orders, events };
}

/**
 * Every order of the user, newest first (as the listing orders them), each
 * with its history; pages after the first once `admitted`.
 */
async function allOrdersOf(
  store: OrderStore,
  userId: number,
  admitted: (() => Promise<void>) | undefined,
): Promise<OrderWithHistory[]> {
  const seen = new Set<string>();
  const orders: OrderWithHistory[] = [];
  for (let offset = 0;; offset += EXPORT_PAGE_SIZE) {
    if (offset > 0) await admitted?.();
    const page = await store.listOrdersWithHistory({
      userId,
      status: undefined,
      limit: EXPORT_PAGE_SIZE,
      offset,
    });
    for (const found of page) {
      // An order created while the export runs shifts later pages by one.
      if (!seen.has(found.order.id)) {
        seen.add(found.order.id);
        orders.push(found);
      }
    }
    if (page.length < EXPORT_PAGE_SIZE) return orders;
  }
}
