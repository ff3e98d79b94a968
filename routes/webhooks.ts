/**
 * `/v1/webhook-endpoints`: admins register, list, read, change and delete
 * the HTTPS endpoints that receive order events, rotate their secrets, send
 * them a test event and read their attempts log. Each route is declared
 * with its parameters, body and responses next to its handler; the use
 * cases are in `domain/manage_webhooks.ts`.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type AttemptsPage,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  endpointDisabledMessage,
  endpointKeptChangingMessage,
  listWebhookAttempts,
  listWebhookEndpoints,
  MAX_WEBHOOK_CHANGE_ATTEMPTS,
  NO_SUCH_RESEND_ENDPOINT,
  NO_SUCH_WEBHOOK_ENDPOINT,
  notSubscribedMessage,
  type QueuedEvent,
  readWebhookEndpoint,
  resendEvent,
  rotateWebhookSecret,
  sendWebhookTestEvent,
  tooManyEndpointsMessage,
  updateWebhookEndpoint,
  type WebhookDeps,
  type WebhookRequest,
} from "../domain/manage_webhooks.ts";
import { assertAdmin } from "../domain/policy.ts";
import {
  createWebhookEndpointSchema,
  listWebhookAttemptsQuerySchema,
  parseListWebhookAttemptsQuery,
  parseNewWebhookEndpoint,
  parseResendEvent,
  parseWebhookEndpointPatch,
  resendEventSchema,
  updateWebhookEndpointSchema,
} from "../domain/webhook_input.ts";
import { NO_SUCH_EVENT } from "../domain/read_events.ts";
import {
  DEFAULT_WEBHOOK_MAX_ENDPOINTS,
  type WebhookAttempt,
  type WebhookEndpoint,
} from "../domain/webhooks.ts";
import { newWebhookSecret } from "../webhooks/signature.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { cursorPosition } from "./events.ts";
import { orderOfChecks, WEBHOOK_CHECKS } from "./http/checks.ts";
import { createCursorCodec, type CursorBinding } from "./http/cursor.ts";
import { readJsonBody } from "./http/json_body.ts";
import { beginWrite } from "./middleware/hygiene.ts";
import { documented, named } from "./openapi/documented.ts";
import {
  type Example,
  EXAMPLE_CALLERS,
  malformedJson,
  problemExample,
  refusalExample,
} from "./openapi/examples.ts";
import {
  authenticated,
  json,
  noContent,
  problems,
} from "./openapi/responses.ts";
import {
  createdWebhookEndpointExample,
  createdWebhookEndpointSchema,
  createWebhookEndpointExamples,
  disabledWebhookEndpointExample,
  exampleSecret,
  PREVIOUS_SECRET_HOURS,
  queuedResendExample,
  queuedTestExample,
  queuedWebhookEventSchema,
  resendEventExamples,
  updateWebhookEndpointExamples,
  webhookAttemptListExample,
  type WebhookAttemptListJson,
  webhookAttemptListSchema,
  webhookEndpointExample,
  type WebhookEndpointJson,
  webhookEndpointListSchema,
  webhookEndpointSchema,
  WEBHOOKS_TAG,
  webhookSecretSchema,
} from "./openapi/webhook_schemas.ts";

/** The request bodies, as named schemas of the document. */
const CreateWebhookEndpointRequest = named(
  createWebhookEndpointSchema,
  "CreateWebhookEndpointRequest",
);
const UpdateWebhookEndpointRequest = named(
  updateWebhookEndpointSchema,
  "UpdateWebhookEndpointRequest",
);
const ResendEventRequest = named(resendEventSchema, "ResendEventRequest");

const EXAMPLE_ID = webhookEndpointExample.id;

/** The `{id}` path parameter. */
const ENDPOINT_ID_PARAMS = {
  params: z.object({
    id: z.string().meta({
      format: "uuid",
      description:
        "The endpoint's id, matched case-insensitively. An id that is not a UUID is answered 404, like an unknown one.",
      example: EXAMPLE_ID,
    }),
  }),
};

/** The use cases' dependencies, from the app's. */
function webhookDeps(deps: AppDeps): WebhookDeps {
  return {
    webhooks: deps.webhooks,
    clock: deps.clock,
    newId: deps.newId,
    newSecret: newWebhookSecret,
    allowHosts: deps.webhookSettings.allowHosts,
    maxEndpoints: deps.webhookSettings.maxEndpoints,
    wakeDispatcher: deps.wakeDispatcher,
  };
}

/** Who asks, in which request, and its write gate. */
function webhookRequest(c: Context<AppEnv>): WebhookRequest {
  return {
    principal: c.get("principal"),
    requestId: c.get("serverRequestId"),
    beginWrite: () => beginWrite(c),
  };
}

/** An endpoint as responses show it: every field named, never a secret. */
function webhookEndpointJson(
  endpoint: WebhookEndpoint,
): WebhookEndpointJson {
  return {
    id: endpoint.id,
    url: endpoint.url,
    event_types: [...endpoint.eventTypes],
    description: endpoint.description,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason,
    created_at: new Date(endpoint.createdAt).toISOString(),
    updated_at: new Date(endpoint.updatedAt).toISOString(),
  };
}

/** What a test or a resend queued, as the 202 shows it. */
function queuedEventJson(
  queued: QueuedEvent,
): z.infer<typeof queuedWebhookEventSchema> {
  return { event_id: queued.eventId, endpoint_ids: [...queued.endpointIds] };
}

function attemptJson(
  attempt: WebhookAttempt,
): WebhookAttemptListJson["attempts"][number] {
  return {
    event_id: attempt.eventId,
    event_type: attempt.eventType,
    attempt: attempt.attempt,
    at: new Date(attempt.at).toISOString(),
    outcome: attempt.outcome,
    response_status: attempt.responseStatus,
    duration_ms: attempt.durationMs,
  };
}

/** What an attempts cursor is bound to: the caller and the endpoint. */
function attemptsBinding(userId: number, endpointId: string): CursorBinding {
  return {
    kind: "webhook_attempts",
    userId,
    scope: { endpoint_id: endpointId },
  };
}

/** The 403 every route answers a caller who is not an admin. */
const NOT_AN_ADMIN = problems("The caller is not an admin.", [
  refusalExample(
    "The caller is not an admin",
    () => assertAdmin(EXAMPLE_CALLERS.owner, "manage_webhooks"),
  ),
]);

const NO_SUCH_ENDPOINT = problems(
  "No such endpoint, or an id that is not a UUID.",
  [problemExample(
    "not_found",
    "No such endpoint (or an id that is not a UUID)",
    NO_SUCH_WEBHOOK_ENDPOINT,
  )],
);

const LOST_RACES = problems(
  `Other changes to the endpoint (by admins or deliveries) won ${MAX_WEBHOOK_CHANGE_ATTEMPTS} races in a row while this request ran; nothing was written and the request can be retried as is.`,
  [problemExample(
    "conflict",
    `Lost ${MAX_WEBHOOK_CHANGE_ATTEMPTS} races in a row`,
    endpointKeptChangingMessage(EXAMPLE_ID),
  )],
);

const MALFORMED_BODY = problems("The body is not JSON (or missing).", [
  malformedJson,
]);

/** The examples of a request body of `schema`. */
function jsonBody<S extends z.ZodType>(
  schema: S,
  examples: Record<string, Example>,
) {
  return {
    body: {
      required: true,
      content: { "application/json": { schema, examples } },
    },
  };
}

/** The webhook endpoints sub-app. */
export function webhookEndpointsRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const manage = webhookDeps(deps);
  const cursors = createCursorCodec(deps.cursorSecret);
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "post",
    path: "/",
    operationId: "createWebhookEndpoint",
    tags: [WEBHOOKS_TAG],
    summary: "Register a webhook endpoint",
    description:
      `Registers an endpoint, enabled, and answers with its signing secret: the only time it is shown (rotate it to get a new one). From now on every order event of a subscribed type committed is delivered to it as a signed \`POST\` (see \`webhooks\` in this document). At most \`WEBHOOK_MAX_ENDPOINTS\` (default ${DEFAULT_WEBHOOK_MAX_ENDPOINTS}) endpoints may be registered. Audited as \`webhook_endpoint.created\` (never the secret).\n\n${
        orderOfChecks(WEBHOOK_CHECKS.create)
      }`,
    request: jsonBody(
      CreateWebhookEndpointRequest,
      createWebhookEndpointExamples,
    ),
    responses: authenticated({
      201: json(
        "The new endpoint, with its secret.",
        createdWebhookEndpointSchema,
        {
          examples: {
            created: {
              summary: "A new endpoint",
              value: createdWebhookEndpointExample,
            },
          },
        },
      ),
      400: MALFORMED_BODY,
      403: NOT_AN_ADMIN,
      409: problems(
        "`WEBHOOK_MAX_ENDPOINTS` endpoints are registered already: delete one first.",
        [problemExample(
          "conflict",
          "Too many endpoints",
          tooManyEndpointsMessage(DEFAULT_WEBHOOK_MAX_ENDPOINTS),
        )],
      ),
      422: problems(
        "An invalid field (one `errors` entry each): a `url` that is not an absolute `https://` URL, too long, with user info or a fragment, or pointing to `localhost` or a non-public IP address; an unknown or repeated event type; a `description` too long or holding refused characters.",
        [
          refusalExample(
            "A URL pointing to a private address",
            () =>
              parseNewWebhookEndpoint(
                { url: "https://192.168.1.20/hooks" },
                new Set(),
              ),
          ),
          refusalExample(
            "A URL in another notation of loopback",
            () =>
              parseNewWebhookEndpoint(
                { url: "https://0x7f000001/hooks" },
                new Set(),
              ),
          ),
          refusalExample(
            "An unknown event type",
            () =>
              parseNewWebhookEndpoint({
                url: "https://hooks.example.com/orders",
                event_types: ["order.shipped"],
              }, new Set()),
          ),
        ],
      ),
    }, { body: true }),
  }, async (c) => {
    const { endpoint, secret } = await createWebhookEndpoint(manage, {
      ...webhookRequest(c),
      readBody: () => readJsonBody(c),
    });
    return c.json({ ...webhookEndpointJson(endpoint), secret }, 201);
  });

  documented(app, {
    method: "get",
    path: "/",
    operationId: "listWebhookEndpoints",
    tags: [WEBHOOKS_TAG],
    summary: "List webhook endpoints",
    description: `Every endpoint, oldest first, without secrets.\n\n${
      orderOfChecks(WEBHOOK_CHECKS.read.slice(0, -1))
    }`,
    responses: authenticated({
      200: json("Every endpoint.", webhookEndpointListSchema, {
        examples: {
          two: {
            summary: "One enabled endpoint, one disabled",
            value: {
              endpoints: [webhookEndpointExample, {
                ...disabledWebhookEndpointExample,
                id: "6a1f0e2d-3c4b-4a59-8d7e-0f1a2b3c4d5e",
                url: "https://erp.example.com/webhooks/orders",
                event_types: [],
                description: null,
              }],
            },
          },
        },
      }),
      403: NOT_AN_ADMIN,
    }),
  }, async (c) => {
    const endpoints = await listWebhookEndpoints(manage, c.get("principal"));
    return c.json({ endpoints: endpoints.map(webhookEndpointJson) }, 200);
  });

  documented(app, {
    method: "get",
    path: "/{id}",
    operationId: "getWebhookEndpoint",
    tags: [WEBHOOKS_TAG],
    summary: "Read a webhook endpoint",
    description: `One endpoint, without its secret.\n\n${
      orderOfChecks(WEBHOOK_CHECKS.read)
    }`,
    request: ENDPOINT_ID_PARAMS,
    responses: authenticated({
      200: json("The endpoint.", webhookEndpointSchema, {
        examples: {
          enabled: { summary: "An endpoint", value: webhookEndpointExample },
          disabled: {
            summary: "An endpoint an admin disabled",
            value: disabledWebhookEndpointExample,
          },
        },
      }),
      403: NOT_AN_ADMIN,
      404: NO_SUCH_ENDPOINT,
    }),
  }, async (c) => {
    const endpoint = await readWebhookEndpoint(manage, {
      principal: c.get("principal"),
      id: c.req.param("id"),
    });
    return c.json(webhookEndpointJson(endpoint), 200);
  });

  documented(app, {
    method: "patch",
    path: "/{id}",
    operationId: "updateWebhookEndpoint",
    tags: [WEBHOOKS_TAG],
    summary: "Change a webhook endpoint",
    description:
      `Changes the fields the body names. Disabling stops deliveries (events committed meanwhile are not delivered later: resend them); enabling again resets the count of failed deliveries. A body that changes nothing writes nothing and answers the endpoint as it is; a change is audited as \`webhook_endpoint.updated\`. Deliveries already queued go to the endpoint's current URL.\n\n${
        orderOfChecks(WEBHOOK_CHECKS.change)
      }`,
    request: {
      ...ENDPOINT_ID_PARAMS,
      ...jsonBody(UpdateWebhookEndpointRequest, updateWebhookEndpointExamples),
    },
    responses: authenticated({
      200: json("The endpoint after the change.", webhookEndpointSchema, {
        examples: {
          disabled: {
            summary: "Disabled by an admin",
            value: disabledWebhookEndpointExample,
          },
        },
      }),
      400: MALFORMED_BODY,
      403: NOT_AN_ADMIN,
      404: NO_SUCH_ENDPOINT,
      409: LOST_RACES,
      422: problems(
        "A body naming none of the fields, or an invalid field (one `errors` entry each), as on registration.",
        [
          refusalExample(
            "No field to change",
            () => parseWebhookEndpointPatch({}, new Set()),
          ),
          refusalExample(
            "enabled is not a boolean",
            () => parseWebhookEndpointPatch({ enabled: "no" }, new Set()),
          ),
        ],
      ),
    }, { body: true }),
  }, async (c) => {
    const endpoint = await updateWebhookEndpoint(manage, {
      ...webhookRequest(c),
      id: c.req.param("id"),
      readBody: () => readJsonBody(c),
    });
    return c.json(webhookEndpointJson(endpoint), 200);
  });

  documented(app, {
    method: "delete",
    path: "/{id}",
    operationId: "deleteWebhookEndpoint",
    tags: [WEBHOOKS_TAG],
    summary: "Delete a webhook endpoint",
    description:
      `Deletes the endpoint with its pending deliveries (an attempt already in flight may still arrive) and its attempts log. Audited as \`webhook_endpoint.deleted\`.\n\n${
        orderOfChecks(WEBHOOK_CHECKS.act)
      }`,
    request: ENDPOINT_ID_PARAMS,
    responses: authenticated({
      204: noContent("The endpoint is deleted."),
      403: NOT_AN_ADMIN,
      404: NO_SUCH_ENDPOINT,
      409: LOST_RACES,
    }),
  }, async (c) => {
    await deleteWebhookEndpoint(manage, {
      ...webhookRequest(c),
      id: c.req.param("id"),
    });
    return c.body(null, 204);
  });

  documented(app, {
    method: "post",
    path: "/{id}/rotate-secret",
    operationId: "rotateWebhookSecret",
    tags: [WEBHOOKS_TAG],
    summary: "Rotate an endpoint's secret",
    description:
      `Gives the endpoint a new secret, shown only in this response. For ${PREVIOUS_SECRET_HOURS} hours every delivery carries two signatures, by the new and the previous secret, so the receiver can switch at its pace; then only the new one. Rotating again within that time drops the oldest secret at once. Takes no body (one sent is ignored). Audited as \`webhook_endpoint.secret_rotated\` (never a secret).\n\n${
        orderOfChecks(WEBHOOK_CHECKS.act)
      }`,
    request: ENDPOINT_ID_PARAMS,
    responses: authenticated({
      200: json("The new secret.", webhookSecretSchema, {
        examples: {
          rotated: {
            summary: "A new secret",
            value: { secret: exampleSecret },
          },
        },
      }),
      403: NOT_AN_ADMIN,
      404: NO_SUCH_ENDPOINT,
      409: LOST_RACES,
    }),
  }, async (c) => {
    const { secret } = await rotateWebhookSecret(manage, {
      ...webhookRequest(c),
      id: c.req.param("id"),
    });
    return c.json({ secret }, 200);
  });

  documented(app, {
    method: "post",
    path: "/{id}/test",
    operationId: "testWebhookEndpoint",
    tags: [WEBHOOKS_TAG],
    summary: "Send a test event",
    description:
      `Queues a \`webhook.test\` event (\`data: { "endpoint_id" }\`) for the endpoint, delivered, signed, retried and logged like any other; its outcome is in the attempts log under the \`event_id\` answered. A disabled endpoint is refused (409): enable it first. Takes no body (one sent is ignored).\n\n${
        orderOfChecks(WEBHOOK_CHECKS.test)
      }`,
    request: ENDPOINT_ID_PARAMS,
    responses: authenticated({
      202: json("The test event is queued.", queuedWebhookEventSchema, {
        examples: { queued: { summary: "Queued", value: queuedTestExample } },
      }),
      403: NOT_AN_ADMIN,
      404: NO_SUCH_ENDPOINT,
      409: problems("The endpoint is disabled.", [problemExample(
        "conflict",
        "A disabled endpoint",
        endpointDisabledMessage(EXAMPLE_ID),
      )]),
    }),
  }, async (c) => {
    const queued = await sendWebhookTestEvent(manage, {
      ...webhookRequest(c),
      id: c.req.param("id"),
    });
    return c.json(queuedEventJson(queued), 202);
  });

  documented(app, {
    method: "get",
    path: "/{id}/attempts",
    operationId: "listWebhookAttempts",
    tags: [WEBHOOKS_TAG],
    summary: "Read an endpoint's attempts log",
    description:
      `Every attempt to deliver to the endpoint, newest first, one page at a time: pass \`next_cursor\` back as \`cursor\` for the older ones; it is null on the last page. A cursor is bound to the caller and the endpoint. Attempts are kept as long as events (\`EVENT_RETENTION_DAYS\`).\n\n${
        orderOfChecks(WEBHOOK_CHECKS.attempts)
      }`,
    request: { ...ENDPOINT_ID_PARAMS, query: listWebhookAttemptsQuerySchema },
    responses: authenticated({
      200: json("One page of attempts.", webhookAttemptListSchema, {
        examples: {
          page: {
            summary: "A failure and its retry",
            value: webhookAttemptListExample,
          },
        },
      }),
      400: problems(
        "A `cursor` that was altered or issued to another caller or for another endpoint.",
        [refusalExample(
          "A cursor not issued for this request",
          () =>
            createCursorCodec("example").decode(
              attemptsBinding(1, EXAMPLE_ID),
              "WzE3XQ.x",
            ),
        )],
      ),
      403: NOT_AN_ADMIN,
      404: NO_SUCH_ENDPOINT,
      422: problems(
        "A query parameter out of range or of the wrong type (one `errors` entry each).",
        [refusalExample(
          "limit out of range",
          () => parseListWebhookAttemptsQuery({ limit: "0" }),
        )],
      ),
    }),
  }, async (c) => {
    const principal = c.get("principal");
    const page: AttemptsPage = await listWebhookAttempts(manage, {
      principal,
      id: c.req.param("id"),
      query: c.req.query(),
      decodeCursor: (cursor, endpointId) =>
        cursorPosition(
          cursors.decode(
            attemptsBinding(principal.userId, endpointId),
            cursor,
          ),
        ),
    });
    const last = page.attempts.at(-1);
    return c.json({
      attempts: page.attempts.map(attemptJson),
      next_cursor: page.hasMore && last !== undefined
        ? cursors.encode(
          attemptsBinding(principal.userId, page.endpointId),
          [last.seq],
        )
        : null,
    }, 200);
  });

  return app;
}

/** The `{id}` path parameter of an event. */
const EVENT_ID_PARAMS = z.object({
  id: z.string().meta({
    description: "The event's id (`evt_…`).",
    example: queuedResendExample.event_id,
  }),
});

/**
 * `POST /v1/events/{id}/resend`, mounted beside the events sub-app
 * (`routes/events.ts`) at `/v1/events`: it acts on webhook deliveries.
 */
export function eventResendRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const resend = { ...webhookDeps(deps), events: deps.events };
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "post",
    path: "/{id}/resend",
    operationId: "resendEvent",
    tags: [WEBHOOKS_TAG],
    summary: "Resend an event to webhook endpoints",
    description:
      `Queues the event again, exactly as \`GET /v1/events/{id}\` shows it (so with the same \`webhook-id\`: receivers that already have it deduplicate it), for the endpoint \`endpoint_id\` names, or without one for every enabled endpoint subscribed to its type (possibly none: \`endpoint_ids\` is then empty). It is delivered in order with the order's other events to that endpoint. A named endpoint must be enabled and subscribed to the event's type (else 409). The body is optional. Admins only.\n\n${
        orderOfChecks(WEBHOOK_CHECKS.resend)
      }`,
    request: {
      params: EVENT_ID_PARAMS,
      body: {
        required: false,
        content: {
          "application/json": {
            schema: ResendEventRequest,
            examples: resendEventExamples,
          },
        },
      },
    },
    responses: authenticated({
      202: json("The event is queued.", queuedWebhookEventSchema, {
        examples: {
          queued: {
            summary: "Queued for one endpoint",
            value: queuedResendExample,
          },
        },
      }),
      400: problems("The body is not JSON.", [malformedJson]),
      403: problems("The caller is not an admin.", [refusalExample(
        "The caller is not an admin",
        () => assertAdmin(EXAMPLE_CALLERS.owner, "resend_event"),
      )]),
      404: problems("No such event (or one no longer kept).", [
        problemExample("not_found", "No such event", NO_SUCH_EVENT),
      ]),
      409: problems(
        "The named endpoint is disabled, or not subscribed to the event's type.",
        [
          problemExample(
            "conflict",
            "A disabled endpoint",
            endpointDisabledMessage(webhookEndpointExample.id),
          ),
          problemExample(
            "conflict",
            "An endpoint not subscribed to the type",
            notSubscribedMessage(webhookEndpointExample.id, "order.updated"),
          ),
        ],
      ),
      422: problems(
        "An `endpoint_id` that names no endpoint (an id that is not a UUID names none), or is not a string.",
        [
          problemExample(
            "validation_failed",
            "No such endpoint",
            NO_SUCH_RESEND_ENDPOINT,
            [{ path: "endpoint_id", message: NO_SUCH_WEBHOOK_ENDPOINT }],
          ),
          refusalExample(
            "endpoint_id is not a string",
            () => parseResendEvent({ endpoint_id: 7 }),
          ),
        ],
      ),
    }, { body: true }),
  }, async (c) => {
    const queued = await resendEvent(resend, {
      ...webhookRequest(c),
      eventId: c.req.param("id"),
      readBody: () => readJsonBody(c, { optional: true }),
    });
    return c.json(queuedEventJson(queued), 202);
  });

  return app;
}
