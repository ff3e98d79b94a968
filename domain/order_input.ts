/**
 * Validation of order requests. One schema per request body; the same
 * schemas document the API.
 */
import { z } from "zod";
import { DomainError, validated } from "./errors.ts";
import {
  computeTotalCents,
  formatCents,
  MAX_PRICE,
  MAX_TOTAL_CENTS,
  parsePrice,
} from "./money.ts";
import { type NewOrderInput, ORDER_STATUSES } from "./order.ts";
import type { OrderChange } from "./order_change.ts";
import { userIdSchema } from "./principal.ts";
import { charLength, cleanTextSchema, plainStringSchema } from "./text.ts";

/** The most items one order may have. */
export const MAX_ITEMS = 100;

/** The most of one item an order may have (at least 1). */
export const MAX_QUANTITY = 10_000;

const QUANTITY_RANGE = `Must be an integer from 1 to ${MAX_QUANTITY}`;

const productIdSchema = z.union([
  plainStringSchema("Must be a string").refine(
    (id) => id.length > 0 && charLength(id) <= 64,
    "Must be 1 to 64 characters",
  ).meta({ minLength: 1, maxLength: 64 }),
  userIdSchema,
], {
  error:
    "Must be a non-empty string of at most 64 characters or a positive integer",
}).meta({
  description:
    "The product's id in the storefront's catalogue: a string of 1–64 characters or a positive integer, returned exactly as sent.",
  examples: ["sku-1", 1042],
});

/** A decimal string the price parser accepts (its value is checked apart). */
const PRICE_TEXT = "^[0-9]+(\\.[0-9]{1,4})?$";

const priceSchema = z.unknown().meta({
  description:
    `Unit price: a JSON number or a decimal string (no exponent), from 0 to ${MAX_PRICE} with at most 4 fractional digits. Read exactly, never as binary floating point; responses echo it as a decimal string with 2–4 fractional digits.`,
  oneOf: [
    { type: "number", minimum: 0, maximum: MAX_PRICE },
    { type: "string", pattern: PRICE_TEXT },
  ],
  examples: ["12.50", 3.99, "0.3333"],
}).transform((value, ctx) => {
  const price = parsePrice(value);
  if (!price.ok) {
    ctx.addIssue({ code: "custom", message: price.message });
    return z.NEVER;
  }
  return price.units;
});

const itemSchema = z.object({
  product_id: productIdSchema,
  product_name: cleanTextSchema(200, { examples: ["Mug"] }),
  quantity: z.number({ error: QUANTITY_RANGE }).int(QUANTITY_RANGE)
    .min(1, QUANTITY_RANGE).max(MAX_QUANTITY, QUANTITY_RANGE)
    .meta({ examples: [2] }),
  price: priceSchema,
}, { error: "Must be an object" });

/** The body of `POST /v1/orders`; unknown fields are dropped. */
export const createOrderSchema = z.object({
  // An empty list or more than MAX_ITEMS is refused (400) by `parseNewOrder`
  // before this schema runs; the bounds are stated here for the document.
  items: z.array(itemSchema, { error: "Must be an array" }).meta({
    minItems: 1,
    maxItems: MAX_ITEMS,
    description:
      `1–${MAX_ITEMS} order lines. A missing or empty list, or more than ${MAX_ITEMS}, is a 400; any other defect in the lines is a 422.`,
  }),
  shipping_address: cleanTextSchema(500, {
    examples: ["1 Main St, Springfield"],
  }),
  user_id: userIdSchema.optional().meta({
    description:
      "Whose order it is; defaults to the caller (the token's `sub`). Only an admin may name another user (else 403).",
    examples: [42],
  }),
  currency: z.string().regex(
    /^[A-Z]{3}$/,
    "Must be an ISO 4217 code such as USD",
  )
    .optional().meta({
      // No JSON Schema `default`: generated clients (openapi-typescript)
      // would make a field with a default required in the request type.
      description: "ISO 4217 currency code; `USD` when absent.",
      examples: ["USD", "EUR"],
    }),
}, { error: "Must be a JSON object" }).meta({
  description:
    "A new order. The server computes `total`, `line_total`, `id`, `status` and the timestamps; any other field (`total`, `id`, `status`, …) is ignored.",
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a creation request. A missing or empty `items`, or more than
 * `MAX_ITEMS`, is a bad request (400); every other defect is a validation
 * failure (422) listing each invalid field.
 */
export function parseNewOrder(body: unknown): NewOrderInput {
  if (isPlainObject(body)) {
    const items = body.items;
    if (items === undefined || items === null) {
      throw new DomainError("bad_request", "The order has no items", [
        { path: "items", message: "Required" },
      ]);
    }
    if (Array.isArray(items) && items.length === 0) {
      throw new DomainError("bad_request", "The order has no items", [
        { path: "items", message: "Must contain at least one item" },
      ]);
    }
    if (Array.isArray(items) && items.length > MAX_ITEMS) {
      throw new DomainError("bad_request", "The order has too many items", [
        { path: "items", message: `Must contain at most ${MAX_ITEMS} items` },
      ]);
    }
  }
  const data = validated(createOrderSchema, body, "The order is not valid");
  const items = data.items.map((item) => ({
    productId: item.product_id,
    productName: item.product_name,
    quantity: item.quantity,
    unitPrice: item.price,
  }));
  const totalCents = computeTotalCents(items);
  if (totalCents > MAX_TOTAL_CENTS) {
    throw new DomainError("validation_failed", "The order total is too large", [
      {
        path: "items",
        message: `The order total must not exceed ${
          formatCents(MAX_TOTAL_CENTS)
        }`,
      },
    ]);
  }
  return {
    items,
    shippingAddress: data.shipping_address,
    userId: data.user_id,
    currency: data.currency ?? "USD",
  };
}

const STATUS_MESSAGE = `Must be one of ${ORDER_STATUSES.join(", ")}`;

/** The body of `PATCH /v1/orders/{id}`; every other field is ignored. */
export const updateOrderSchema = z.object({
  status: z.enum(ORDER_STATUSES, { error: STATUS_MESSAGE }).optional().meta({
    description:
      "The next status (fulfillment, admin: one step forward) or `cancelled` (owner, admin; while pending or processing). A value outside the five is a 400, as is a move the lifecycle does not allow; the current status of a non-terminal order is a no-op.",
    examples: ["processing"],
  }),
  shipping_address: cleanTextSchema(500, {
    description:
      "A new address (owner, admin), only while the order is pending or processing (else 400).",
    examples: ["2 Side St, Springfield"],
  }).optional(),
}, { error: "Must be a JSON object" }).meta({
  description:
    "A change to an order. A body with neither field returns the order unchanged; every other field is ignored.",
});

/** The most characters a cancellation reason may have, after cleaning. */
export const MAX_REASON_LENGTH = 500;

/** The optional body of `POST /v1/orders/{id}/cancel`. */
export const cancelOrderSchema = z.object({
  reason: cleanTextSchema(MAX_REASON_LENGTH, {
    description: "Why the order is cancelled, kept in the audit entry.",
    examples: ["Ordered the wrong size"],
  }, { optional: true }).optional(),
}, { error: "Must be a JSON object" }).meta({
  description: "An optional cancellation reason; the body itself is optional.",
});

/**
 * Validates an update request. A `status` that is not one of the five is a
 * bad request (400); any other defect, such as a body that is not an object
 * or an invalid `shipping_address`, is a validation failure (422). Fields
 * other than `status` and `shipping_address` are ignored.
 */
export function parseOrderPatch(body: unknown): OrderChange {
  if (isPlainObject(body) && body.status !== undefined) {
    const status = body.status;
    if (!(ORDER_STATUSES as readonly unknown[]).includes(status)) {
      throw new DomainError("bad_request", "The status is not valid", [
        { path: "status", message: STATUS_MESSAGE },
      ]);
    }
  }
  const update = validated(updateOrderSchema, body, "The update is not valid");
  return {
    status: update.status,
    shippingAddress: update.shipping_address,
  };
}

/**
 * Validates a cancellation request: no body at all, or an object with an
 * optional `reason` (tags stripped, at most 500 characters; an empty one
 * counts as none).
 */
export function parseCancelOrder(body: unknown): OrderChange {
  if (body === undefined) return { status: "cancelled" };
  const { reason } = validated(
    cancelOrderSchema,
    body,
    "The cancellation is not valid",
  );
  return {
    status: "cancelled",
    ...(reason !== undefined && reason !== "" && { reason }),
  };
}
