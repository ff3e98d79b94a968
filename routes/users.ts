/**
 * `/v1/users/{user_id}`: a user's personal data. The export of every order
 * with its history and of the erasures of the user's data (right of
 * access), and the erasure of the personal data (right to erasure, by
 * crypto-shredding). Only the user themself or an admin may do either.
 */
import { type Context, Hono } from "hono";
import { EXPORTED_USER_ACTIONS } from "../domain/audit.ts";
import { DomainError } from "../domain/errors.ts";
import type { Order } from "../domain/order.ts";
import { canManagePersonalData } from "../domain/policy.ts";
import type { OrderStore } from "../domain/ports.ts";
import { parseUserIdText } from "../domain/principal.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import {
  historyEventJson,
  orderJson,
  orderView,
  userEventJson,
} from "./order_json.ts";

/** How many orders the export reads at a time. */
const EXPORT_PAGE_SIZE = 100;

/** The users sub-app. */
export function usersRoutes(deps: AppDeps): Hono<AppEnv> {
  const { store, accounts, clock, logger } = deps;

  return new Hono<AppEnv>()
    .get("/:user_id/export", async (c) => {
      const userId = personalDataOwner(c, c.req.param("user_id"));
      const exportedAt = clock.now();
      const view = orderView(c.get("principal"));
      const orders = [];
      for (const order of await allOrdersOf(store, userId)) {
        const history = await store.listOrderHistory(order.id);
        orders.push({
          ...orderJson(order, view),
          history: history.map((entry) => historyEventJson(entry, view)),
        });
      }
      // The user's own chain, as far as it concerns their personal data:
      // each erasure, with who asked and when.
      const events = (await accounts.listUserEvents(userId))
        .filter((entry) => EXPORTED_USER_ACTIONS.has(entry.action))
        .map(userEventJson);
      logger.log("info", "personal_data.exported", {
        request_id: c.get("requestId"),
        user_id: userId,
        actor_user_id: c.get("principal").userId,
        orders: orders.length,
        events: events.length,
      });
      return c.json({
        user_id: userId,
        exported_at: new Date(exportedAt).toISOString(),
        orders,
        events,
      });
    })
    .delete("/:user_id/personal-data", async (c) => {
      const userId = personalDataOwner(c, c.req.param("user_id"));
      const outcome = await deps.personalData.erase(userId, {
        actor: c.get("principal"),
        requestId: c.get("requestId"),
      });
      logger.log("info", "personal_data.erased", {
        request_id: c.get("requestId"),
        user_id: userId,
        actor_user_id: c.get("principal").userId,
        outcome,
      });
      return c.body(null, 204);
    });
}

/**
 * The user a personal-data request is about: an id that is not a positive
 * integer names no user (404); only the user themself or an admin may act
 * on it (403).
 */
function personalDataOwner(c: Context<AppEnv>, text: string): number {
  const userId = parseUserIdText(text);
  if (userId === undefined) throw new DomainError("not_found", "No such user");
  if (!canManagePersonalData(c.get("principal"), userId)) {
    throw new DomainError(
      "forbidden",
      "Only the user themself or an admin may manage their personal data",
    );
  }
  return userId;
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
