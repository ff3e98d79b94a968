/**
 * `/v1/events`: the feed of order events, in commit order, and one event
 * by id. Each route is declared with its parameters and responses next to
 * its handler.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { orderChangedEntry, orderCreatedEntry } from "../domain/audit.ts";
import {
  listEventsQuerySchema,
  parseListEventsQuery,
} from "../domain/event_query.ts";
import type { Order } from "../domain/order.ts";
import { orderEventOf } from "../domain/order_events.ts";
import { eventScope } from "../domain/policy.ts";
import {
  CURSOR_EXPIRED,
  NO_SUCH_EVENT,
  readEvent,
  readEventFeed,
} from "../domain/read_events.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { afterAdmission } from "./middleware/rate_limit.ts";
import { createCursorCodec, invalidCursor } from "./http/cursor.ts";
import { eventJson } from "./http/event_json.ts";
import { documented } from "./openapi/documented.ts";
import { eventListSchema, eventSchema } from "./openapi/event_schemas.ts";
import {
  EXAMPLE_CALLERS,
  EXAMPLE_ORDER,
  problemExample,
  refusalExample,
} from "./openapi/examples.ts";
import { authenticated, json, problems } from "./openapi/responses.ts";

/** Events of the example order: created, then moved to processing. */
const EXAMPLE_EVENTS = (() => {
  const created = orderEventOf(
    orderCreatedEntry(EXAMPLE_ORDER, EXAMPLE_CALLERS.owner, "req-1"),
    EXAMPLE_ORDER,
    "0192f0c4-7b1e-4c8f-9a51-2f6d3e1a9b70",
  );
  const processing: Order = {
    ...EXAMPLE_ORDER,
    status: "processing",
    version: 2,
    updatedAt: EXAMPLE_ORDER.createdAt + 60_000,
  };
  const moved = orderEventOf(
    {
      ...orderChangedEntry(EXAMPLE_ORDER, processing, {
        actor: EXAMPLE_CALLERS.fulfillment,
        requestId: "req-2",
      }),
      at: processing.updatedAt,
    },
    processing,
    "0192f0c5-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
  );
  return [eventJson(created), eventJson(moved)];
})();

/** What a cursor of the examples was made for. */
const EXAMPLE_BINDING = { kind: "events", userId: 42, scope: {} };

const EVENT_ID_PARAMS = z.object({
  id: z.string().meta({
    description: "The event's id (`evt_…`).",
    example: EXAMPLE_EVENTS[0]!.id,
  }),
});

/** The events sub-app. */
export function eventsRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const { events } = deps;
  const cursors = createCursorCodec(deps.cursorSecret);
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "get",
    path: "/",
    operationId: "listEvents",
    tags: ["Events"],
    summary: "Read the events feed",
    description:
      "What happened to orders, oldest first, in the order the changes were committed. Poll with `next_cursor`: each call returns only events committed after the previous page, so a consumer sees every event exactly once and in order, even while many requests change orders at once. Admins and fulfillment see every event; a user sees the events of their own orders, without review holds (a rejection is shown as the `order.cancelled` it amounts to). A cursor is bound to its caller and to the `type` and `order_id` it was made with.",
    request: { query: listEventsQuerySchema },
    responses: authenticated({
      200: json("One page of the feed.", eventListSchema, {
        examples: {
          page: {
            summary: "Two events of one order",
            value: {
              events: EXAMPLE_EVENTS,
              next_cursor: "WzE3XQ.c2lnbmF0dXJl",
              has_more: false,
            },
          },
        },
      }),
      400: problems(
        "A `cursor` that was altered, issued to another caller, or made with other filters.",
        [refusalExample(
          "A cursor not issued for this request",
          () =>
            createCursorCodec("example").decode(EXAMPLE_BINDING, "WzE3XQ.x"),
        )],
      ),
      410: problems(
        "Events after the cursor's position were purged (they are kept `EVENT_RETENTION_DAYS` days): resynchronise and start again without a cursor.",
        [problemExample("cursor_expired", "A cursor too old", CURSOR_EXPIRED)],
      ),
      422: problems(
        "A query parameter out of range or of the wrong type (one `errors` entry each).",
        [refusalExample(
          "limit out of range",
          () => parseListEventsQuery({ limit: "0" }),
        )],
      ),
    }),
  }, async (c) => {
    const principal = c.get("principal");
    // Read ahead only with room (`readsAheadWithRoom`), decided after the
    // verdict.
    const { binding, page } = await afterAdmission(c, async () => {
      const query = parseListEventsQuery(c.req.query());
      const binding = {
        kind: "events",
        userId: principal.userId,
        scope: {
          all: eventScope(principal).seesReviews,
          type: query.type ?? null,
          order_id: query.orderId ?? null,
        },
      };
      const after = query.cursor === undefined
        ? undefined
        : cursorPosition(cursors.decode(binding, query.cursor));
      const page = await readEventFeed(events, principal, {
        after,
        limit: query.limit,
        type: query.type,
        orderId: query.orderId,
      });
      return { binding, page };
    });
    return c.json({
      events: page.events.map(eventJson),
      next_cursor: cursors.encode(binding, [page.position]),
      has_more: page.hasMore,
    }, 200);
  });

  documented(app, {
    method: "get",
    path: "/{id}",
    operationId: "getEvent",
    tags: ["Events"],
    summary: "Read one event",
    description:
      "One event, as the feed shows it to the caller. Another user's event is 404, like an unknown one: event ids of other users' orders are not confirmed.",
    request: { params: EVENT_ID_PARAMS },
    responses: authenticated({
      200: json("The event.", eventSchema, {
        examples: {
          created: { summary: "An order created", value: EXAMPLE_EVENTS[0]! },
        },
      }),
      404: problems("No such event, or another user's.", [
        problemExample("not_found", "No such event", NO_SUCH_EVENT),
      ]),
    }),
  }, async (c) => {
    const event = await readEvent(
      events,
      c.get("principal"),
      c.req.param("id"),
    );
    return c.json(eventJson(event), 200);
  });

  return app;
}

/**
 * The position a decoded cursor holds: one non-negative integer (a feed's
 * or a log's `seq`); anything else is the 400 of an invalid cursor.
 */
export function cursorPosition(position: (string | number)[]): number {
  const [seq, ...rest] = position;
  if (
    typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0 ||
    rest.length > 0
  ) {
    throw invalidCursor();
  }
  return seq;
}
