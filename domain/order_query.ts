/**
 * Validation of the order listing's query parameters.
 */
import { z } from "zod";
import { DomainError } from "./errors.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";
import { fieldErrors } from "./errors.ts";
import { parseUserIdText } from "./principal.ts";

/**
 * A query integer: a string of digits on the wire, documented as the
 * integer it stands for (the OpenAPI way to describe a query value).
 */
function integerParam(min: number, max: number, fallback: number) {
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

/** The query of `GET /v1/orders`; unknown parameters are ignored. */
export const listOrdersQuerySchema = z.object({
  limit: integerParam(1, 100, 20).meta({
    description: "How many orders to return at most.",
  }),
  offset: integerParam(0, 100_000, 0).meta({
    description: "How many matching orders to skip (newest first).",
  }),
  status: z.enum(ORDER_STATUSES, {
    error: `Must be one of ${ORDER_STATUSES.join(", ")}`,
  }).optional().meta({ description: "Only orders in this status." }),
  user_id: z.string().meta({
    type: "integer",
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description:
      "Only this user's orders. A user may name only themself (else 403); fulfillment and admin may name anyone.",
  }).optional().transform((text, ctx) => {
    if (text === undefined) return undefined;
    const id = parseUserIdText(text);
    if (id === undefined) {
      ctx.addIssue({ code: "custom", message: "Must be a positive integer" });
      return z.NEVER;
    }
    return id;
  }),
});

/** A validated listing query. */
export interface ListOrdersQuery {
  limit: number;
  offset: number;
  status: OrderStatus | undefined;
  userId: number | undefined;
}

/** Validates the listing query, or throws a 422-mapped `DomainError`. */
export function parseListOrdersQuery(
  query: Record<string, string>,
): ListOrdersQuery {
  const parsed = listOrdersQuerySchema.safeParse(query);
  if (!parsed.success) {
    throw new DomainError(
      "validation_failed",
      "The query parameters are not valid",
      fieldErrors(parsed.error),
    );
  }
  return {
    limit: parsed.data.limit,
    offset: parsed.data.offset,
    status: parsed.data.status,
    userId: parsed.data.user_id,
  };
}
