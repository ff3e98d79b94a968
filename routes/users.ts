/**
 * `/v1/users/{user_id}`: a user's personal data. The export of every order
 * with its history and of the erasures of the user's data (right of
 * access), and the erasure of the personal data (right to erasure, by
 * crypto-shredding). Only the user themself or an admin may do either.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { exportPersonalData } from "../domain/export_personal_data.ts";
import { assertCanManagePersonalData } from "../domain/policy.ts";
import {
  activeOrdersMessage,
  ADDRESS_NEEDED_TEXT,
  MAX_ERASURE_ATTEMPTS,
} from "../pii/erasure.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { admitted, afterAdmission } from "./middleware/rate_limit.ts";
import { beginWrite } from "./middleware/hygiene.ts";
import { PARAMETERS } from "./openapi/components.ts";
import { documented } from "./openapi/documented.ts";
import {
  erasedPersonalDataExportExample,
  EXAMPLE_CALLERS,
  noSuchUser,
  personalDataExportExample,
  problemExample,
  refusalExample,
} from "./openapi/examples.ts";
import {
  authenticated,
  json,
  noContent,
  problems,
} from "./openapi/responses.ts";
import { orderView, personalDataExportJson } from "./http/order_json.ts";
import { pathUserId } from "./http/path_user_id.ts";
import { personalDataExportSchema } from "./openapi/response_schemas.ts";
import { logRequestIds } from "./middleware/request_id.ts";
import { ERASURE_CHECKS, EXPORT_CHECKS, orderOfChecks } from "./http/checks.ts";

const notYourData = refusalExample(
  "Another user's data",
  () => assertCanManagePersonalData(EXAMPLE_CALLERS.other, 42),
);

/** The users sub-app. */
export function usersRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const { logger } = deps;
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "get",
    path: "/{user_id}/export",
    operationId: "exportPersonalData",
    tags: ["Users"],
    summary: "Export a user's data",
    description:
      `Right of access: every order of the user, newest first, each with its history, and the events of the user's own audit chain about their personal data (\`events\`: each erasure, \`user.personal_data_erased\`, with its time, actor and request id), as one JSON document. The user themself or an admin (not fulfillment); both see the same \`events\`. Orders and their history appear as the caller would read them one by one (an admin also sees review fields). After an erasure, addresses are null and orders carry \`personal_data_erased: true\`.\n\n${
        orderOfChecks(EXPORT_CHECKS)
      }`,
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
        `A \`user_id\` that is not a positive integer (up to ${Number.MAX_SAFE_INTEGER}, digits only). A user without orders is exported with none.`,
        [noSuchUser],
      ),
    }),
  }, async (c) => {
    const principal = c.get("principal");
    // Read ahead only with room (`readsAheadWithRoom`), decided after the
    // verdict.
    const exported = await afterAdmission(
      c,
      async () =>
        await exportPersonalData(deps, {
          userId: pathUserId(c.req.param("user_id")),
          principal,
          admitted: () => admitted(c),
        }),
    );
    // Logged once the export is assembled.
    logger.log("info", "personal_data.exported", {
      ...logRequestIds(c),
      user_id: exported.userId,
      actor_user_id: principal.userId,
      orders: exported.orders.length,
      events: exported.events.length,
    });
    return c.json(personalDataExportJson(exported, orderView(principal)), 200);
  });

  documented(app, {
    method: "delete",
    path: "/{user_id}/personal-data",
    operationId: "erasePersonalData",
    tags: ["Users"],
    summary: "Erase a user's personal data",
    description:
      `Right to erasure, by crypto-shredding: the user's data key is destroyed, so every shipping address of theirs (in orders and in history entries) becomes unreadable for good. Orders keep their id, items, totals, status and timestamps (financial records); they answer \`shipping_address: null\` with \`personal_data_erased: true\`, and the audit chain still verifies. The erasure is an audit event of its own (\`user.personal_data_erased\`, in the user's chain, not in any order's history), shown in the \`events\` of the user's export. Erasing again answers 204 and changes nothing; orders created afterwards get a new key. The user themself or an admin.\n\n${
        orderOfChecks(ERASURE_CHECKS)
      }`,
    parameters: [PARAMETERS.UserId],
    responses: authenticated({
      204: noContent("Erased, or nothing left to erase. No body."),
      403: problems("Another user's data, and the caller is not an admin.", [
        notYourData,
      ]),
      404: problems(
        `A \`user_id\` that is not a positive integer (up to ${Number.MAX_SAFE_INTEGER}, digits only).`,
        [noSuchUser],
      ),
      409: problems(
        `An order of the user is still ${ADDRESS_NEEDED_TEXT} and needs its address: cancel it or wait until it is delivered. Also after ${MAX_ERASURE_ATTEMPTS} lost races in a row with concurrent changes (retry). Nothing was erased.`,
        [problemExample(
          "conflict",
          "An order is still active",
          activeOrdersMessage(42),
        )],
      ),
    }),
  }, async (c) => {
    const userId = pathUserId(c.req.param("user_id"));
    assertCanManagePersonalData(c.get("principal"), userId);
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
