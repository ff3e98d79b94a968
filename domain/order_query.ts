/**
 * Validation of the order listing's query parameters.
 */
import { z } from "zod";
import { DomainError, validated } from "./errors.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";
import { parseUserIdText } from "./principal.ts";

/**
 * A query integer: a string of digits on the wire, documented as the
 * integer it stands for (the OpenAPI way to describe a query value).
 */
export function integerParam(min: number, max: number, fallback: number) {
  return z.string().meta({
    type: "integer",
    minimum: min,
    maximum: max,
    default: fallback,
  }).optional().transform((text, ctx) => {
    if (text === undefined) return fallback;
    const value = /^[0-9]{1,7}$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      ctx.addIssue({
        code: "custom",
        message: `Must be an integer from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return value;
  });
}

/** An optional query value that must be one of `values`, as a filter. */
export function enumParam<const V extends readonly [string, ...string[]]>(
  values: V,
  description: string,
) {
  return z.enum(values, { error: `Must be one of ${values.join(", ")}` })
    .optional().meta({ description });
}

/**
 * An optional query text that `read` turns into a value (undefined when
 * absent), documented by `meta`; a text it cannot read is an issue with
 * `message`.
 */
export function readParam<T>(
  read: (text: string) => T | undefined,
  options: { message: string; meta: Parameters<z.ZodString["meta"]>[0] },
) {
  return z.string().meta(options.meta).optional().transform((text, ctx) => {
    if (text === undefined) return undefined;
    const value = read(text);
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: options.message });
      return z.NEVER;
    }
    return value;
  });
}

/** The most orders one page of the listing holds. */
export const MAX_LIMIT = 100;
/** How many orders a page holds when `limit` is not given. */
const DEFAULT_LIMIT = 20;
/** The largest `offset` of the listing. */
export const MAX_OFFSET = 100_000;

/** The query of `GET /v1/orders`; unknown parameters are ignored. */
export const listOrdersQuerySchema = z.object({
  limit: integerParam(1, MAX_LIMIT, DEFAULT_LIMIT).meta({
    description: "How many orders to return at most.",
  }),
  offset: integerParam(0, MAX_OFFSET, 0).meta({
    description: "How many matching orders to skip (newest first).",
  }),
  status: enumParam(ORDER_STATUSES, "Only orders in this status."),
  user_id: readParam(parseUserIdText, {
    message: "Must be a positive integer",
    meta: {
      type: "integer",
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        "Only this user's orders. A user may name only themself (else 403); fulfillment and admin may name anyone.",
    },
  }),
  cursor: z.string().optional().meta({
    description:
      'The `next_cursor` of the previous page (also in its `Link: <…>; rel="next"` header): the next page starts right after that page\'s last order. Opaque, and bound to the caller it was issued to and to the `status` and `user_id` it was made with (`limit` may change). A cursor that was altered, issued to another caller or sent with other filters, or sent with an `offset` other than 0, is refused with 400.',
  }),
});

/** Why a cursor with an `offset` is refused (400). */
export const CURSOR_WITH_OFFSET =
  "A cursor says where the page starts: send it without an offset";

/** A validated listing query. */
export interface ListOrdersQuery {
  limit: number;
  offset: number;
  status: OrderStatus | undefined;
  userId: number | undefined;
  /** The opaque `cursor` as sent; the edge reads its position. */
  cursor?: string | undefined;
}

/**
 * Validates the listing query, or throws a 422-mapped `DomainError` (a
 * value out of range or of the wrong type) or a 400 one (a cursor with an
 * `offset` other than 0: two starting points).
 */
export function parseListOrdersQuery(
  query: Record<string, string>,
): ListOrdersQuery {
  const { limit, offset, status, user_id, cursor } = validated(
    listOrdersQuerySchema,
    query,
    "The query parameters are not valid",
  );
  if (cursor !== undefined && offset !== 0) {
    throw new DomainError("bad_request", CURSOR_WITH_OFFSET, [
      { path: "offset", message: "Must be 0 (or absent) with a cursor" },
    ]);
  }
  return { limit, offset, status, userId: user_id, cursor };
}
