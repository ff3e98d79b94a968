/**
 * Exporting a user's personal data (right of access): the use case behind
 * `GET /v1/users/{user_id}/export`. Every order of the user, newest first,
 * each with its history, and the events of the user's own audit chain about
 * their personal data.
 */
import { type AuditEntry, EXPORTED_USER_ACTIONS } from "./audit.ts";
import type { Order } from "./order.ts";
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
  // read is a round trip), and the histories a few at a time.
  const [orders, chain] = await Promise.all([
    allOrdersOf(store, userId).then((found) => withHistories(store, found)),
    accounts.listUserEvents(userId),
  ]);
  const events = chain.filter((entry) =>
    EXPORTED_USER_ACTIONS.has(entry.action)
  );
  return { userId, exportedAt, orders, events };
}

/** How many order histories the export reads at once. */
const HISTORIES_AT_ONCE = 10;

/** Each order with its history, in the orders' order. */
async function withHistories(
  store: OrderStore,
  orders: readonly Order[],
): Promise<OrderWithHistory[]> {
  const found: OrderWithHistory[] = [];
  for (let i = 0; i < orders.length; i += HISTORIES_AT_ONCE) {
    found.push(
      ...await Promise.all(
        orders.slice(i, i + HISTORIES_AT_ONCE).map(async (order) => ({
          order,
          history: await store.listOrderHistory(order.id),
        })),
      ),
    );
  }
  return found;
}

/** Every order of the user, newest first (as the listing orders them). */
async function allOrdersOf(
  store: OrderStore,
  userId: number,
): Promise<Order[]> {
  const seen = new Set<string>();
  const orders: Order[] = [];
  for (let offset = 0;; offset += EXPORT_PAGE_SIZE) {
    const page = await store.listOrders({
      userId,
      status: undefined,
      limit: EXPORT_PAGE_SIZE,
      offset,
    });
    for (const order of page.orders) {
      // An order created while the export runs shifts later pages by one.
      if (!seen.has(order.id)) {
        seen.add(order.id);
        orders.push(order);
      }
    }
    if (page.orders.length < EXPORT_PAGE_SIZE) return orders;
  }
}
