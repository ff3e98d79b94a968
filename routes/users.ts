/**
 * `/v1/users/{user_id}`: a user's personal data. The export of every order
 * with its history and of the erasures of the user's data (right of
 * access), and the erasure of the personal data (right to erasure, by
 * crypto-shredding). Only the user themself or an admin may do either.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { EXPORTED_USER_ACTIONS } from "../domain/audit.ts";
import { DomainError } from "../domain/errors.ts";
import type { Order } from "../domain/order.ts";
import { canManagePersonalData } from "../domain/policy.ts";
import type { OrderStore } from "../domain/ports.ts";
import { activeOrdersMessage } from "../pii/erasure.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { beginWrite } from "./middleware/hygiene.ts";
import { PARAMETERS } from "./openapi/components.ts";
import { documented } from "./openapi/documented.ts";
import {
  erasedPersonalDataExportExample,
  noSuchUser,
  personalDataExportExample,
  problemExample,
} from "./openapi/examples.ts";
import {
  authenticated,
  json,
  noContent,
  problems,
} from "./openapi/responses.ts";
import {
  historyEventJson,
  orderJson,
  orderView,
  userEventJson,
} from "./http/order_json.ts";
import { pathUserId } from "./http/path_user_id.ts";
import { personalDataExportSchema } from "./openapi/response_schemas.ts";
import { logRequestIds } from "./middleware/request_id.ts";

/** How many orders the export reads at a time. */
const EXPORT_PAGE_SIZE = 100;

/** Why a user who is not an admin may not manage another's data (403). */
export const NOT_YOUR_PERSONAL_DATA =
  "Only the user themself or an admin may manage their personal data";

const notYourData = problemExample(
  "forbidden",
  "Another user's data",
  NOT_YOUR_PERSONAL_DATA,
);

/** The users sub-app. */
export function usersRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const { store, accounts, clock, logger } = deps;
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "get",
    path: "/{user_id}/export",
    operationId: "exportPersonalData",
    tags: ["Users"],
    summary: "Export a user's data",
    description:
      "Right of access: every order of the user, newest first, each with its history, and the events of the user's own audit chain about their personal data (`events`: each erasure, `user.personal_data_erased`, with its time, actor and request id), as one JSON document. The user themself or an admin (not fulfillment); both see the same `events`. Orders and their history appear as the caller would read them one by one (an admin also sees review fields). After an erasure, addresses are null and orders carry `personal_data_erased: true`.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), the `user_id` (404), the caller's right (403).",
    parameters: [PARAMETERS.UserId],
    responses: authenticated({
      200: json("The export.", personalDataExportSchema, {
        examples: {
          export: {
            summary: "A user with one cancelled order",
            value: personalDataExportExample,
          },
          erased: {
            summary: "The same user after an admin erased their data",
            value: erasedPersonalDataExportExample,
          },
        },
      }),
      403: problems("Another user's data, and the caller is not an admin.", [
        notYourData,
      ]),
      404: problems(
        "A `user_id` that is not a positive integer (up to 9007199254740991, digits only). A user without orders is exported with none.",
        [noSuchUser],
      ),
    }),
  }, async (c) => {
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
      ...logRequestIds(c),
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
    }, 200);
  });

  documented(app, {
    method: "delete",
    path: "/{user_id}/personal-data",
    operationId: "erasePersonalData",
    tags: ["Users"],
    summary: "Erase a user's personal data",
    description:
      "Right to erasure, by crypto-shredding: the user's data key is destroyed, so every shipping address of theirs (in orders and in history entries) becomes unreadable for good. Orders keep their id, items, totals, status and timestamps (financial records); they answer `shipping_address: null` with `personal_data_erased: true`, and the audit chain still verifies. The erasure is an audit event of its own (`user.personal_data_erased`, in the user's chain, not in any order's history), shown in the `events` of the user's export. Erasing again answers 204 and changes nothing; orders created afterwards get a new key. The user themself or an admin.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), the `user_id` (404), the caller's right (403), active orders (409).",
    parameters: [PARAMETERS.UserId],
    responses: authenticated({
      204: noContent("Erased, or nothing left to erase. No body."),
      403: problems("Another user's data, and the caller is not an admin.", [
        notYourData,
      ]),
      404: problems(
        "A `user_id` that is not a positive integer (up to 9007199254740991, digits only).",
        [noSuchUser],
      ),
      409: problems(
        "An order of the user is still `pending`, `processing` or `shipped` and needs its address: cancel it or wait until it is delivered. Also after 5 lost races in a row with concurrent changes (retry). Nothing was erased.",
        [problemExample(
          "conflict",
          "An order is still active",
          activeOrdersMessage(42),
        )],
      ),
    }),
  }, async (c) => {
    const userId = personalDataOwner(c, c.req.param("user_id"));
    const outcome = await deps.personalData.erase(userId, {
      actor: c.get("principal"),
      requestId: c.get("serverRequestId"),
      beginWrite: () => beginWrite(c),
    });
    logger.log("info", "personal_data.erased", {
      ...logRequestIds(c),
      user_id: userId,
      actor_user_id: c.get("principal").userId,
      outcome,
    });
    return c.body(null, 204);
  });

  return app;
}

/**
 * The user a personal-data request is about: an id that is not a positive
 * integer names no user (404); only the user themself or an admin may act
 * on it (403).
 */
function personalDataOwner(c: Context<AppEnv>, text: string): number {
  const userId = pathUserId(text);
  if (!canManagePersonalData(c.get("principal"), userId)) {
    throw new DomainError("forbidden", NOT_YOUR_PERSONAL_DATA);
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
