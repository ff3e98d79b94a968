/**
 * Every endpoint of the API, one entry each: the table the OpenAPI document
 * is built from (`buildOpenApiDocument`). A test checks that it lists
 * exactly the routes the app serves.
 *
 * To document a new endpoint: name its body schemas in `SCHEMAS` (the same
 * zod schemas its handler validates with), add an entry to `OPERATIONS`
 * with its parameters and every status it answers with, and add examples.
 * The builder adds what every route of a kind shares:
 *
 * - every operation: the optional `X-Request-Id` request header, and the
 *   `X-Request-Id` response header on every response;
 * - `authenticated`: the bearer security requirement, 401, 429, 500 and
 *   503, the `account-disabled` case of 403 (added to the operation's own
 *   403), and the `RateLimit-*` headers on its other responses;
 * - `requestBody`: 413 and 415.
 *
 * A test provokes every status an entry lists, so list only statuses the
 * handler really answers with, and provoke each new one in
 * `tests/openapi_test.ts`.
 */
import type { z } from "zod";
import {
  cancelOrderSchema,
  createOrderSchema,
  updateOrderSchema,
} from "../../domain/order_input.ts";
import { listOrdersQuerySchema } from "../../domain/order_query.ts";
import { NOT_YOUR_ORDER } from "../../domain/policy.ts";
import { reviewDecisionSchema } from "../../domain/review.ts";
import {
  approvedOrderExample,
  cancelledOrderExample,
  cancelOrderExamples,
  createOrderExamples,
  erasedOrderExample,
  erasedPersonalDataExportExample,
  type Example,
  heldOrderExample,
  metricsExample,
  orderExample,
  orderHistoryExample,
  orderListExample,
  personalDataExportExample,
  problemExample,
  processingOrderExample,
  rejectedOrderExample,
  reviewDecisionExamples,
  reviewedOrderHistoryExample,
  updateOrderExamples,
} from "./examples.ts";
import {
  exportedOrderSchema,
  healthSchema,
  historyEventSchema,
  openApiDocumentSchema,
  orderHistorySchema,
  orderItemSchema,
  orderListSchema,
  orderReviewSchema,
  orderSchema,
  personalDataExportSchema,
  problemSchema,
  readinessSchema,
  userEventSchema,
} from "./schemas.ts";

/**
 * The named schemas of the document (`#/components/schemas/<name>`):
 * request bodies are the handlers' own validation schemas, documented as
 * their input; responses are the schemas of `schemas.ts`.
 */
export const SCHEMAS = {
  CreateOrderRequest: createOrderSchema,
  UpdateOrderRequest: updateOrderSchema,
  CancelOrderRequest: cancelOrderSchema,
  ReviewDecisionRequest: reviewDecisionSchema,
  Order: orderSchema,
  OrderItem: orderItemSchema,
  OrderReview: orderReviewSchema,
  OrderList: orderListSchema,
  OrderHistory: orderHistorySchema,
  HistoryEvent: historyEventSchema,
  PersonalDataExport: personalDataExportSchema,
  ExportedOrder: exportedOrderSchema,
  UserEvent: userEventSchema,
  Problem: problemSchema,
  Health: healthSchema,
  Readiness: readinessSchema,
  OpenApiDocument: openApiDocumentSchema,
} satisfies Record<string, z.ZodType>;

/** The name of a schema in `SCHEMAS`. */
export type SchemaName = keyof typeof SCHEMAS;

/** Reusable parameters (`#/components/parameters/<name>`). */
export type ParameterName = "OrderId" | "UserId" | "IdempotencyKey" | "IfMatch";

/** Reusable response headers (`#/components/headers/<name>`). */
export type HeaderName =
  | "ETag"
  | "Location"
  | "IdempotentReplayed";

/** One response of an operation. */
export interface ResponseSpec {
  description: string;
  /** A JSON body of a named schema, with examples. */
  json?: { schema: SchemaName; examples?: Record<string, Example> };
  /** A problem+json body, with one example per case. */
  problems?: Example[];
  /** An HTML page. */
  html?: true;
  /** A text body of another media type (such as Prometheus text). */
  text?: { mediaType: string; example: string };
  /** Headers beyond the ones every response of its kind carries. */
  headers?: HeaderName[];
}

/** One endpoint. */
export interface OperationSpec {
  method: "get" | "post" | "patch" | "put" | "delete";
  /** The OpenAPI path (`{id}`, not Hono's `:id`). */
  path: string;
  operationId: string;
  tag: "Orders" | "Users" | "Admin" | "Health" | "Documentation";
  summary: string;
  description: string;
  /** Whether it requires a bearer token (every `/v1` route does). */
  authenticated: boolean;
  parameters?: ParameterName[];
  /** A query schema, documented one parameter per property. */
  query?: z.ZodObject;
  requestBody?: {
    schema: SchemaName;
    required: boolean;
    description?: string;
    examples: Record<string, Example>;
  };
  /** Every status the operation answers with (shared ones are added). */
  responses: Record<number, ResponseSpec>;
}

const malformedJson = problemExample(
  "malformed_json",
  "The body is not valid JSON",
  "The request body is not valid JSON",
);

const orderNotFound = problemExample(
  "not_found",
  "No such order (or an id that is not a UUID)",
  "No such order",
);

const notYourOrder = problemExample(
  "forbidden",
  "Another user's order",
  NOT_YOUR_ORDER,
);

const staleVersion = problemExample(
  "version_mismatch",
  "If-Match names another version",
  'Order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10" has changed: If-Match does not name its current version',
);

const invalidIfMatch = problemExample(
  "bad_request",
  "An If-Match that is not a list of entity tags",
  "The If-Match header is not valid",
  [{
    path: "If-Match",
    message: 'Must be an entity tag from the ETag header, such as "3"',
  }],
);

const lostRaces = problemExample(
  "conflict",
  "Lost 5 races in a row to concurrent changes",
  'Cannot change order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10": it kept changing while this request ran; retry it',
);

const heldForReview = problemExample(
  "conflict",
  "Held for review",
  'Cannot move order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10" to processing: it is held for review until an admin decides',
);

const noSuchUser = problemExample(
  "not_found",
  "A user_id that is not a positive integer",
  "No such user",
);

const notAnAdmin = problemExample(
  "forbidden",
  "The caller is not an admin",
  "Only an admin may change an account",
);

const accountRaces = problemExample(
  "conflict",
  "Lost 5 races in a row to other admins",
  "Cannot change the account of user 42: it kept changing while this request ran; retry it",
);

const ACCOUNT_ACTION_NOTES =
  "Effective at once on the instance that served it, within 5 s on every other. Admins only; any user id may be named, even one that never called.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), the `user_id` (404, for every caller), the admin role (403).";

/** What the three account actions of an admin answer besides their 204. */
function accountActionResponses(done: string): Record<number, ResponseSpec> {
  return {
    204: { description: done },
    403: {
      description: "The caller is not an admin.",
      problems: [notAnAdmin],
    },
    404: {
      description:
        "A `user_id` that is not a positive integer (up to 9007199254740991, digits only).",
      problems: [noSuchUser],
    },
    409: {
      description:
        "Other admins changed the account 5 times in a row while this request ran; nothing was written and the request can be retried as is.",
      problems: [accountRaces],
    },
  };
}

const ORDER_CHANGE_NOTES =
  "Order of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), existence (404; an id that is not a UUID is unknown), the caller's right to see the order (403), `If-Match` (412, before anything about the body, even its media type), the body (415, 400 malformed JSON, 400/422 validation), the caller's right to make the change (403), then the business rules (400, 409). A change bumps `version`, sets `updated_at` and appends one audit entry, in one atomic write; without `If-Match` a concurrent change is never lost: the request re-checks the rules against the newer version (409 after 5 lost races in a row, nothing written).";

const ETAG_NOTE =
  'Send `If-Match: "<version>"` (the `ETag` of the order you read) to apply the change to that version only: any other current version answers 412 and nothing changes. On 412, re-read the order, re-apply your intent to it, and send again with the new `ETag`.';

/** Every endpoint the app serves. */
export const OPERATIONS: readonly OperationSpec[] = [
  {
    method: "post",
    path: "/v1/orders",
    operationId: "createOrder",
    tag: "Orders",
    summary: "Create an order",
    description:
      "Creates a `pending` order for the caller (an admin may name any `user_id`). The server computes `total` exactly from the lines (half-up to cents, once) and ignores any other field. The creation is written to the audit log in the same atomic write.\n\nWith an `Idempotency-Key`, a retry by the same user with the same key and the same JSON body within 24 h returns the original 201 with `Idempotent-Replayed: true` and creates nothing; see the header's description.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limit on all requests (429), media type (415), JSON (400), the `Idempotency-Key` (400 malformed, replay, 409 in flight, 422 other body), the creation limit (429), validation (400 for the item count, else 422), ownership (403).",
    authenticated: true,
    parameters: ["IdempotencyKey"],
    requestBody: {
      schema: "CreateOrderRequest",
      required: true,
      examples: createOrderExamples,
    },
    responses: {
      201: {
        description:
          "The new order, or (with `Idempotent-Replayed: true`) the stored answer to an earlier request with the same `Idempotency-Key`.",
        json: {
          schema: "Order",
          examples: {
            created: { summary: "A new order", value: orderExample },
          },
        },
        headers: ["Location", "ETag", "IdempotentReplayed"],
      },
      400: {
        description:
          "`items` missing, empty or over 100 lines; a malformed `Idempotency-Key`; or a body that is not JSON.",
        problems: [
          problemExample(
            "bad_request",
            "No items",
            "The order has no items",
            [{ path: "items", message: "Must contain at least one item" }],
          ),
          problemExample(
            "bad_request",
            "A malformed Idempotency-Key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
            [{
              path: "Idempotency-Key",
              message: "Must be 1 to 255 printable ASCII characters",
            }],
          ),
          malformedJson,
        ],
      },
      403: {
        description:
          "`user_id` names another user and the caller is not an admin.",
        problems: [problemExample(
          "forbidden",
          "Ordering for another user without the admin role",
          "Only an admin may create an order for another user",
        )],
      },
      409: {
        description:
          "A request with the same `Idempotency-Key` is still in flight: retry a little later.",
        problems: [problemExample(
          "conflict",
          "The first request with this key is still running",
          "A request with this Idempotency-Key is still in progress: retry later",
        )],
      },
      422: {
        description:
          "Any other invalid field (one `errors` entry each), a total over 1000000000.00, or an `Idempotency-Key` already used with a different body.",
        problems: [
          problemExample(
            "validation_failed",
            "Invalid fields",
            "The order is not valid",
            [
              {
                path: "items[0].quantity",
                message: "Must be an integer from 1 to 10000",
              },
              {
                path: "items[0].price",
                message: "Must have at most 4 fractional digits",
              },
              { path: "shipping_address", message: "Must not be empty" },
            ],
          ),
          problemExample(
            "validation_failed",
            "The key was used with another body",
            "This Idempotency-Key was used with a different request body",
            [{
              path: "Idempotency-Key",
              message: "Already used with a different request body",
            }],
          ),
        ],
      },
    },
  },
  {
    method: "get",
    path: "/v1/orders",
    operationId: "listOrders",
    tag: "Orders",
    summary: "List orders",
    description:
      "Newest first (`created_at` descending, then `id` descending). A user sees only their own orders; fulfillment and admin see all and may filter by `user_id`. Unknown query parameters are ignored.",
    authenticated: true,
    query: listOrdersQuerySchema,
    responses: {
      200: {
        description: "One page of the orders the caller may see.",
        json: {
          schema: "OrderList",
          examples: { page: { summary: "One order", value: orderListExample } },
        },
      },
      403: {
        description: "A user's `user_id` filter names another user.",
        problems: [problemExample(
          "forbidden",
          "Listing another user's orders",
          "You may list only your own orders",
        )],
      },
      422: {
        description:
          "A query parameter out of range or of the wrong type (one `errors` entry each).",
        problems: [problemExample(
          "validation_failed",
          "limit out of range",
          "The query parameters are not valid",
          [{ path: "limit", message: "Must be an integer from 1 to 100" }],
        )],
      },
    },
  },
  {
    method: "get",
    path: "/v1/orders/{id}",
    operationId: "getOrder",
    tag: "Orders",
    summary: "Read an order",
    description:
      "The order with its `ETag`. Owner, fulfillment and admin. Ids match case-insensitively. Look-ups of single orders that end in 403 or 404 count against a per-user limit (20 a minute by default); over it, every request for a single order is 429 for a while.",
    authenticated: true,
    parameters: ["OrderId"],
    responses: {
      200: {
        description: "The order.",
        json: {
          schema: "Order",
          examples: {
            order: { summary: "An order", value: orderExample },
            held: {
              summary: "A held order, as admins and fulfillment see it",
              value: heldOrderExample,
            },
            erased: {
              summary: "An order whose owner's personal data was erased",
              value: erasedOrderExample,
            },
          },
        },
        headers: ["ETag"],
      },
      403: { description: "Another user's order.", problems: [notYourOrder] },
      404: {
        description: "No such order, or an id that is not a UUID.",
        problems: [orderNotFound],
      },
    },
  },
  {
    method: "patch",
    path: "/v1/orders/{id}",
    operationId: "updateOrder",
    tag: "Orders",
    summary: "Change an order's status or address",
    description:
      "Moves the status one step forward (fulfillment, admin; an order held for review moves to `processing` only once an admin approved it, else 409), cancels (owner, admin; while pending or processing, held or not), or changes the shipping address (owner, admin; while pending or processing). With both fields, both are checked against the current status and applied as one new version. A body with neither field, or with the current values, answers 200 with the order unchanged (no new version, no audit entry).\n\n" +
      ETAG_NOTE + "\n\n" + ORDER_CHANGE_NOTES,
    authenticated: true,
    parameters: ["OrderId", "IfMatch"],
    requestBody: {
      schema: "UpdateOrderRequest",
      required: true,
      examples: updateOrderExamples,
    },
    responses: {
      200: {
        description: "The order after the change (or unchanged, for a no-op).",
        json: {
          schema: "Order",
          examples: {
            processing: {
              summary: "Moved to processing",
              value: processingOrderExample,
            },
          },
        },
        headers: ["ETag"],
      },
      400: {
        description:
          "A `status` outside the five; a move the lifecycle does not allow (skipping, backward, anything on a delivered or cancelled order); an address change after `processing`; a malformed `If-Match`; or a body that is not JSON.",
        problems: [
          problemExample(
            "bad_request",
            "Not one of the five statuses",
            "The status is not valid",
            [{
              path: "status",
              message:
                "Must be one of pending, processing, shipped, delivered, cancelled",
            }],
          ),
          problemExample(
            "bad_request",
            "A move the lifecycle does not allow",
            'Cannot move order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10" from pending to shipped: the next status may be processing or cancelled',
          ),
          invalidIfMatch,
          malformedJson,
        ],
      },
      403: {
        description:
          "The caller may not see the order, or may not make this change (a user moving the status, fulfillment changing the address or cancelling).",
        problems: [notYourOrder],
      },
      404: {
        description: "No such order, or an id that is not a UUID.",
        problems: [orderNotFound],
      },
      409: {
        description:
          "The order is held for review and may not move to `processing` until an admin approves it (`POST /v1/orders/{id}/review`); or concurrent changes won 5 races in a row (nothing was written and the request can be retried as is).",
        problems: [heldForReview, lostRaces],
      },
      412: {
        description: "`If-Match` does not name the current version.",
        problems: [staleVersion],
      },
      422: {
        description:
          "An invalid `shipping_address`, or a body that is not a JSON object.",
        problems: [problemExample(
          "validation_failed",
          "An empty address",
          "The update is not valid",
          [{ path: "shipping_address", message: "Must not be empty" }],
        )],
      },
    },
  },
  {
    method: "post",
    path: "/v1/orders/{id}/cancel",
    operationId: "cancelOrder",
    tag: "Orders",
    summary: "Cancel an order",
    description:
      'The same as `PATCH` with `{"status": "cancelled"}`, plus an optional reason kept in the audit entry. Owner and admin, while the order is pending or processing. The body is optional: no body, an empty body, or `{"reason": "…"}`.\n\n' +
      ETAG_NOTE + "\n\n" + ORDER_CHANGE_NOTES,
    authenticated: true,
    parameters: ["OrderId", "IfMatch"],
    requestBody: {
      schema: "CancelOrderRequest",
      required: false,
      examples: cancelOrderExamples,
    },
    responses: {
      200: {
        description: "The cancelled order.",
        json: {
          schema: "Order",
          examples: {
            cancelled: {
              summary: "A cancelled order",
              value: cancelledOrderExample,
            },
          },
        },
        headers: ["ETag"],
      },
      400: {
        description:
          "The order is shipped, delivered or already cancelled; a malformed `If-Match`; or a body that is not JSON.",
        problems: [
          problemExample(
            "bad_request",
            "Already shipped",
            'Cannot cancel order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10": order is shipped',
          ),
          invalidIfMatch,
          malformedJson,
        ],
      },
      403: {
        description:
          "Another user's order, or a caller whose only rights are fulfillment's.",
        problems: [notYourOrder],
      },
      404: {
        description: "No such order, or an id that is not a UUID.",
        problems: [orderNotFound],
      },
      409: {
        description:
          "Concurrent changes won 5 races in a row; nothing was written.",
        problems: [lostRaces],
      },
      412: {
        description: "`If-Match` does not name the current version.",
        problems: [staleVersion],
      },
      422: {
        description:
          "A `reason` that is not a string or is over 500 characters, or a body that is not a JSON object.",
        problems: [problemExample(
          "validation_failed",
          "A reason that is too long",
          "The cancellation is not valid",
          [{ path: "reason", message: "Must be at most 500 characters" }],
        )],
      },
    },
  },
  {
    method: "post",
    path: "/v1/orders/{id}/review",
    operationId: "reviewOrder",
    tag: "Orders",
    summary: "Decide on an order held for review",
    description:
      "An admin's decision on an order held for review (`review.state: pending`): `approve` releases it (it may then move to `processing`), `reject` also cancels it. The decision and its note are kept in the audit entry (`order.review_approved` / `order.review_rejected`). Orders are held at creation when their total is at least `REVIEW_THRESHOLD` (`total_threshold`) or their owner already created `REVIEW_VELOCITY_ORDERS` orders themself within 10 minutes (`velocity`).\n\n" +
      ETAG_NOTE + "\n\n" + ORDER_CHANGE_NOTES,
    authenticated: true,
    parameters: ["OrderId", "IfMatch"],
    requestBody: {
      schema: "ReviewDecisionRequest",
      required: true,
      examples: reviewDecisionExamples,
    },
    responses: {
      200: {
        description:
          "The order after the decision: `review.state` is `approved`, or `rejected` with the order cancelled.",
        json: {
          schema: "Order",
          examples: {
            approved: { summary: "Approved", value: approvedOrderExample },
            rejected: {
              summary: "Rejected, and so cancelled",
              value: rejectedOrderExample,
            },
          },
        },
        headers: ["ETag"],
      },
      400: {
        description: "A malformed `If-Match`, or a body that is not JSON.",
        problems: [invalidIfMatch, malformedJson],
      },
      403: {
        description:
          "The caller is not an admin (or may not even see the order).",
        problems: [
          problemExample(
            "forbidden",
            "Fulfillment or the owner deciding",
            "Only an admin may decide a review",
          ),
          notYourOrder,
        ],
      },
      404: {
        description: "No such order, or an id that is not a UUID.",
        problems: [orderNotFound],
      },
      409: {
        description:
          "The order is not held for review, its review is already decided, or it was cancelled meanwhile; or concurrent changes won 5 races in a row (nothing was written).",
        problems: [
          problemExample(
            "conflict",
            "Not held for review",
            'Cannot decide on order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10": it is not held for review',
          ),
          problemExample(
            "conflict",
            "Already decided",
            'Cannot decide on order "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10": its review is already approved',
          ),
          lostRaces,
        ],
      },
      412: {
        description: "`If-Match` does not name the current version.",
        problems: [staleVersion],
      },
      422: {
        description:
          "A `decision` other than `approve` or `reject`, a `note` that is not a string or is over 500 characters, or a body that is not a JSON object.",
        problems: [problemExample(
          "validation_failed",
          "An unknown decision",
          "The review decision is not valid",
          [{ path: "decision", message: "Must be approve or reject" }],
        )],
      },
    },
  },
  {
    method: "get",
    path: "/v1/orders/{id}/history",
    operationId: "getOrderHistory",
    tag: "Orders",
    summary: "Read an order's history",
    description:
      "The order's audit entries, oldest first: who changed what, when, and in which request. Owner and admin (not fulfillment). An admin also sees review fields and decisions (`order.review_approved`, `order.review_rejected`); the owner sees a decision as the `order.updated` or `order.cancelled` it amounts to, without its note. Events of the user's own audit chain (erasure, account changes) are not part of an order's history.",
    authenticated: true,
    parameters: ["OrderId"],
    responses: {
      200: {
        description: "The events.",
        json: {
          schema: "OrderHistory",
          examples: {
            cancelled: {
              summary: "Created, moved on, cancelled with a reason",
              value: orderHistoryExample,
            },
            reviewed: {
              summary: "Held at creation, approved by an admin (admin's view)",
              value: reviewedOrderHistoryExample,
            },
          },
        },
      },
      403: {
        description: "Another user's order, or a fulfillment caller.",
        problems: [problemExample(
          "forbidden",
          "Not the owner, not an admin",
          "Only the owner or an admin may read an order's history",
        )],
      },
      404: {
        description: "No such order, or an id that is not a UUID.",
        problems: [orderNotFound],
      },
    },
  },
  {
    method: "get",
    path: "/v1/users/{user_id}/export",
    operationId: "exportPersonalData",
    tag: "Users",
    summary: "Export a user's data",
    description:
      "Right of access: every order of the user, newest first, each with its history, and the events of the user's own audit chain about their personal data (`events`: each erasure, `user.personal_data_erased`, with its time, actor and request id), as one JSON document. The user themself or an admin (not fulfillment); both see the same `events`. Orders and their history appear as the caller would read them one by one (an admin also sees review fields). After an erasure, addresses are null and orders carry `personal_data_erased: true`.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), the `user_id` (404), the caller's right (403).",
    authenticated: true,
    parameters: ["UserId"],
    responses: {
      200: {
        description: "The export.",
        json: {
          schema: "PersonalDataExport",
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
        },
      },
      403: {
        description: "Another user's data, and the caller is not an admin.",
        problems: [problemExample(
          "forbidden",
          "Another user's data",
          "Only the user themself or an admin may manage their personal data",
        )],
      },
      404: {
        description:
          "A `user_id` that is not a positive integer (up to 9007199254740991, digits only). A user without orders is exported with none.",
        problems: [noSuchUser],
      },
    },
  },
  {
    method: "delete",
    path: "/v1/users/{user_id}/personal-data",
    operationId: "erasePersonalData",
    tag: "Users",
    summary: "Erase a user's personal data",
    description:
      "Right to erasure, by crypto-shredding: the user's data key is destroyed, so every shipping address of theirs (in orders and in history entries) becomes unreadable for good. Orders keep their id, items, totals, status and timestamps (financial records); they answer `shipping_address: null` with `personal_data_erased: true`, and the audit chain still verifies. The erasure is an audit event of its own (`user.personal_data_erased`, in the user's chain, not in any order's history), shown in the `events` of the user's export. Erasing again answers 204 and changes nothing; orders created afterwards get a new key. The user themself or an admin.\n\nOrder of checks: authentication (401), the account state (403 `account-disabled`), rate limits (429), the `user_id` (404), the caller's right (403), active orders (409).",
    authenticated: true,
    parameters: ["UserId"],
    responses: {
      204: {
        description: "Erased, or nothing left to erase. No body.",
      },
      403: {
        description: "Another user's data, and the caller is not an admin.",
        problems: [problemExample(
          "forbidden",
          "Another user's data",
          "Only the user themself or an admin may manage their personal data",
        )],
      },
      404: {
        description:
          "A `user_id` that is not a positive integer (up to 9007199254740991, digits only).",
        problems: [noSuchUser],
      },
      409: {
        description:
          "An order of the user is still `pending`, `processing` or `shipped` and needs its address: cancel it or wait until it is delivered. Also after 5 lost races in a row with concurrent changes (retry). Nothing was erased.",
        problems: [
          problemExample(
            "conflict",
            "An order is still active",
            "Cannot erase the personal data of user 42: an order of theirs is still pending, processing or shipped",
          ),
        ],
      },
    },
  },
  {
    method: "post",
    path: "/v1/admin/users/{user_id}/disable",
    operationId: "disableUser",
    tag: "Admin",
    summary: "Disable a user's account",
    description:
      `Every request of the user (any token) is refused with 403 \`urn:orders-api:problem:account-disabled\` until an admin enables the account again. Answers 204 even when it changes nothing (an account already disabled); only a change is audited (\`account.disabled\`, in the user's chain) and logged as the security event \`account.disabled\`. ${ACCOUNT_ACTION_NOTES}`,
    authenticated: true,
    parameters: ["UserId"],
    responses: accountActionResponses("The account is disabled."),
  },
  {
    method: "post",
    path: "/v1/admin/users/{user_id}/enable",
    operationId: "enableUser",
    tag: "Admin",
    summary: "Enable a user's account",
    description:
      `The user's requests are served again. Enabling does not lift a token revocation. Answers 204 even when it changes nothing (an account not disabled); only a change is audited (\`account.enabled\`, in the user's chain) and logged as the security event \`account.enabled\`. ${ACCOUNT_ACTION_NOTES}`,
    authenticated: true,
    parameters: ["UserId"],
    responses: accountActionResponses("The account is enabled."),
  },
  {
    method: "post",
    path: "/v1/admin/users/{user_id}/revoke-tokens",
    operationId: "revokeUserTokens",
    tag: "Admin",
    summary: "Revoke a user's tokens",
    description:
      `Every token of the user issued at or before the current second (\`iat\`), and every token without \`iat\`, is refused with 401 from now on (not counted as a failed authentication for the per-address limit); the user needs a token issued in a later second. Answers 204 even when it changes nothing (a second revocation within the same second); only a change is audited (\`account.tokens_revoked\`, in the user's chain) and logged as the security event \`tokens.revoked\`. ${ACCOUNT_ACTION_NOTES}`,
    authenticated: true,
    parameters: ["UserId"],
    responses: accountActionResponses("The tokens are revoked."),
  },
  {
    method: "get",
    path: "/v1/admin/metrics",
    operationId: "getMetrics",
    tag: "Admin",
    summary: "Metrics",
    description:
      "The counters of this instance in the Prometheus text format 0.0.4 (`Content-Type: text/plain; version=0.0.4; charset=utf-8`): `orders_http_responses_total{class}`, `orders_security_events_total{event}`, `orders_created_total`, `orders_cancelled_total`, `orders_held_total`, and the summary `orders_value_sum` / `orders_value_count`. Every series is present from the start, at 0. Per instance: counters never decrease while the process lives and start at 0 after a restart. Admins only.",
    authenticated: true,
    responses: {
      200: {
        description: "The Prometheus text exposition of every counter.",
        text: {
          mediaType: "text/plain; version=0.0.4",
          example: metricsExample,
        },
      },
      403: {
        description: "The caller is not an admin.",
        problems: [problemExample(
          "forbidden",
          "The caller is not an admin",
          "Only an admin may read metrics",
        )],
      },
    },
  },
  {
    method: "get",
    path: "/healthz",
    operationId: "getHealth",
    tag: "Health",
    summary: "Liveness",
    description: "200 while the process serves requests. Reveals nothing.",
    authenticated: false,
    responses: {
      200: {
        description: "The process is up.",
        json: {
          schema: "Health",
          examples: { ok: { summary: "Up", value: { status: "ok" } } },
        },
      },
    },
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "getReadiness",
    tag: "Health",
    summary: "Readiness",
    description:
      "200 when the database answers within 2 s and its schema is at the last migration this release ships (or newer), else 503 without saying why (the service logs `readiness.failed` with the reason).",
    authenticated: false,
    responses: {
      200: {
        description: "Ready to serve.",
        json: {
          schema: "Readiness",
          examples: { ready: { summary: "Ready", value: { status: "ready" } } },
        },
      },
      503: {
        description:
          "The database did not answer, or its schema lags the release.",
        problems: [problemExample(
          "unavailable",
          "Not ready",
          "The service is not ready",
        )],
      },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tag: "Documentation",
    summary: "This OpenAPI document",
    description:
      "The OpenAPI 3.1 document, generated from the zod schemas the handlers validate with. Generate a typed client from it with `openapi-typescript`.",
    authenticated: false,
    responses: {
      200: {
        description: "The OpenAPI 3.1 document.",
        json: { schema: "OpenApiDocument" },
      },
    },
  },
  {
    method: "get",
    path: "/docs",
    operationId: "getDocs",
    tag: "Documentation",
    summary: "Interactive documentation",
    description:
      "Swagger UI over `/openapi.json`. Its scripts and styles come from a CDN, pinned to one version with Subresource Integrity; the page's own Content-Security-Policy allows exactly those files.",
    authenticated: false,
    responses: {
      200: { description: "An HTML page.", html: true },
    },
  },
];
