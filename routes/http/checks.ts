/**
 * The order in which a request's checks are made, and so which refusal a
 * request with several faults gets: one ordered list per kind of request,
 * from which every description of the order is written (the OpenAPI
 * document, `docs/`). The middleware chain of `routes/app.ts` makes the
 * checks every `/v1` request meets in the order of `V1_CHECKS` (a test
 * holds it to that); the use cases make the rest in the order listed here
 * (their tests hold them to it).
 */
import { MAX_BODY_BYTES } from "../middleware/hygiene.ts";

/** One check, as a description of the order names it. */
export interface Check {
  /** What is checked. */
  readonly what: string;
  /** The status (and problem) it answers, and when it needs saying, why. */
  readonly answers: string;
  /**
   * The middleware of `routes/app.ts` that makes the check, for the checks
   * made before any handler.
   */
  readonly middleware?: string;
}

/** A check, as the lists below spell one. */
function check(what: string, answers: string, middleware?: string): Check {
  return middleware === undefined
    ? { what, answers }
    : { what, answers, middleware };
}

/** A declared body over the limit, refused before anything else. */
export const DECLARED_BODY_LIMIT = check(
  "a declared `Content-Length` over " + MAX_BODY_BYTES + " bytes",
  "413, before the token is looked at, so it is no failed authentication",
  "declaredBodyLimit",
);

const AUTHENTICATION = check("authentication", "401", "authenticate");

const ACCOUNT_STATE = check(
  "the account state",
  "403 `account-disabled`",
  "accountState",
);

const RATE_LIMITS = check("rate limits", "429", "userRateLimits");

/** The checks every `/v1` request meets before its handler, in order. */
export const V1_CHECKS: readonly Check[] = [
  AUTHENTICATION,
  ACCOUNT_STATE,
  RATE_LIMITS,
];

const ORDER_EXISTS = check(
  "existence",
  "404; an id that is not a UUID is unknown",
);

const ORDER_VISIBLE = check("the caller's right to see the order", "403");

const IF_MATCH = check(
  "`If-Match`",
  "412, before anything about the body, even its media type",
);

const CHANGE_BODY = check(
  "the body",
  "415, 400 malformed JSON, 400/422 validation",
);

const CHANGE_RIGHT = check("the caller's right to make the change", "403");

const BUSINESS_RULES = check("the business rules", "400, 409");

/**
 * Changing an order (update, cancellation, review decision), with and
 * without `If-Match` (`applyOrderChange` in `domain/apply_order_change.ts`).
 */
export const ORDER_CHANGE_CHECKS = {
  withoutIfMatch: [
    ...V1_CHECKS,
    CHANGE_BODY,
    ORDER_EXISTS,
    ORDER_VISIBLE,
    CHANGE_RIGHT,
    BUSINESS_RULES,
  ],
  withIfMatch: [
    ...V1_CHECKS,
    ORDER_EXISTS,
    ORDER_VISIBLE,
    IF_MATCH,
    CHANGE_BODY,
    CHANGE_RIGHT,
    BUSINESS_RULES,
  ],
} as const satisfies Record<string, readonly Check[]>;

/** Creating an order (`createOrder` in `domain/create_order.ts`). */
export const CREATE_ORDER_CHECKS: readonly Check[] = [
  ...V1_CHECKS,
  { what: "media type", answers: "415" },
  { what: "JSON", answers: "400" },
  {
    what: "the `Idempotency-Key`",
    answers:
      "400 malformed, replay, 409 for an in-flight claim of an earlier version, 422 other body",
  },
  { what: "the creation limit", answers: "429" },
  { what: "validation", answers: "400 for the item count, else 422" },
  { what: "ownership", answers: "403" },
];

/** Reading one order, or its history. */
export const READ_ORDER_CHECKS: readonly Check[] = [
  ...V1_CHECKS,
  ORDER_EXISTS,
  ORDER_VISIBLE,
];

const USER_ID = check("the `user_id`", "404, for every caller");

/** Exporting a user's personal data. */
export const EXPORT_CHECKS: readonly Check[] = [
  ...V1_CHECKS,
  USER_ID,
  { what: "the caller's right", answers: "403" },
];

/** Erasing a user's personal data. */
export const ERASURE_CHECKS: readonly Check[] = [
  ...EXPORT_CHECKS,
  { what: "active orders", answers: "409" },
];

/** An admin's action on an account. */
export const ACCOUNT_ACTION_CHECKS: readonly Check[] = [
  ...V1_CHECKS,
  USER_ID,
  { what: "the admin role", answers: "403" },
];

const ADMIN_ROLE = check(
  "the admin role",
  "403, before anything about the request is looked at: the whole resource is admins'",
);

const WEBHOOK_BODY = check(
  "the body",
  "415, 400 malformed JSON, 422 validation",
);

const ENDPOINT_EXISTS = check(
  "existence",
  "404; an id that is not a UUID is unknown",
);

const LOST_RACES = check(
  "concurrent changes",
  "409 after losing every race, nothing written",
);

/**
 * Managing webhook endpoints and resending an event to them
 * (`domain/manage_webhooks.ts`), by kind of request.
 */
export const WEBHOOK_CHECKS = {
  create: [
    ...V1_CHECKS,
    ADMIN_ROLE,
    WEBHOOK_BODY,
    check("the endpoint limit", "409"),
  ],
  read: [...V1_CHECKS, ADMIN_ROLE, ENDPOINT_EXISTS],
  change: [
    ...V1_CHECKS,
    ADMIN_ROLE,
    WEBHOOK_BODY,
    ENDPOINT_EXISTS,
    LOST_RACES,
  ],
  act: [...V1_CHECKS, ADMIN_ROLE, ENDPOINT_EXISTS, LOST_RACES],
  test: [
    ...V1_CHECKS,
    ADMIN_ROLE,
    ENDPOINT_EXISTS,
    check("the endpoint's state", "409 when it is disabled"),
  ],
  attempts: [
    ...V1_CHECKS,
    ADMIN_ROLE,
    check("the query", "422"),
    check("the cursor", "400"),
    ENDPOINT_EXISTS,
  ],
  resend: [
    ...V1_CHECKS,
    ADMIN_ROLE,
    check(
      "the body (optional)",
      "415, 400 malformed JSON, 422 validation",
    ),
    check("the event's existence", "404"),
    check("the named endpoint's existence", "422 naming `endpoint_id`"),
    check(
      "the named endpoint's state",
      "409 when it is disabled or not subscribed to the event's type",
    ),
  ],
} as const satisfies Record<string, readonly Check[]>;

/** Every request: the checks any route may make, in order. */
export const ALL_CHECKS: readonly Check[] = [
  DECLARED_BODY_LIMIT,
  ...V1_CHECKS,
  {
    what: "validation",
    answers: "400/422, and 413 for a body without `Content-Length`, " +
      "counted while it is read",
  },
  { what: "existence", answers: "404" },
  { what: "rights", answers: "403" },
  { what: "business rules", answers: "400/409/412" },
];

/** The checks as prose: `authentication (401), the account state (…), …`. */
export function describeChecks(checks: readonly Check[]): string {
  return checks.map((check) => `${check.what} (${check.answers})`).join(
    ", ",
  );
}

/** The checks as a sentence of a description: `Order of checks: … .` */
export function orderOfChecks(checks: readonly Check[]): string {
  return `Order of checks: ${describeChecks(checks)}.`;
}
