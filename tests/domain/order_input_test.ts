import assert from "node:assert/strict";
import { DomainError } from "../../domain/errors.ts";
import {
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
} from "../../domain/order_input.ts";
import { parseReviewDecision } from "../../domain/review.ts";
import { BIDI_FORMATTING_MESSAGE } from "../../domain/text.ts";
import { BIDI_FORMATTING } from "../fixtures/domain.ts";
import { orderBody } from "../fixtures/mod.ts";

function item(overrides: Record<string, unknown> = {}) {
  return {
    product_id: "sku-1",
    product_name: "Mug",
    quantity: 1,
    price: "1.00",
    ...overrides,
  };
}

function codeOf(body: unknown): string {
  try {
    parseNewOrder(body);
    return "ok";
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

Deno.test("parseNewOrder answers 400 for missing, empty or oversized items", async (t) => {
  const cases: [string, unknown][] = [
    ["missing items", { shipping_address: "x" }],
    ["null items", { items: null, shipping_address: "x" }],
    ["empty items", { items: [], shipping_address: "x" }],
    ["101 items", {
      items: Array.from({ length: 101 }, () => item()),
      shipping_address: "x",
    }],
  ];
  for (const [name, body] of cases) {
    await t.step(name, () => assert.equal(codeOf(body), "bad_request"));
  }
  assert.equal(
    codeOf(orderBody({ items: Array.from({ length: 100 }, () => item()) })),
    "ok",
  );
});

Deno.test("parseNewOrder answers 422 for every other malformed part", async (t) => {
  const cases: [string, unknown][] = [
    ["body is an array", []],
    ["body is a string", "order"],
    ["body is null", null],
    ["items is not an array", orderBody({ items: "sku-1" })],
    ["item is not an object", orderBody({ items: [7] })],
    ["empty product_id", orderBody({ items: [item({ product_id: "" })] })],
    [
      "65-character product_id",
      orderBody({ items: [item({ product_id: "p".repeat(65) })] }),
    ],
    ["zero product_id", orderBody({ items: [item({ product_id: 0 })] })],
    [
      "fractional product_id",
      orderBody({ items: [item({ product_id: 1.5 })] }),
    ],
    [
      "missing product_name",
      orderBody({ items: [item({ product_name: undefined })] }),
    ],
    [
      "product_name only tags",
      orderBody({ items: [item({ product_name: "<b></b>" })] }),
    ],
    [
      "201-character product_name",
      orderBody({ items: [item({ product_name: "n".repeat(201) })] }),
    ],
    ["zero quantity", orderBody({ items: [item({ quantity: 0 })] })],
    ["negative quantity", orderBody({ items: [item({ quantity: -1 })] })],
    ["quantity over 10000", orderBody({ items: [item({ quantity: 10001 })] })],
    ["fractional quantity", orderBody({ items: [item({ quantity: 1.5 })] })],
    ["string quantity", orderBody({ items: [item({ quantity: "2" })] })],
    ["negative price", orderBody({ items: [item({ price: -1 })] })],
    ["price too large", orderBody({ items: [item({ price: 1000001 })] })],
    ["price too precise", orderBody({ items: [item({ price: "1.00001" })] })],
    ["price not a number", orderBody({ items: [item({ price: "abc" })] })],
    ["price with exponent", orderBody({ items: [item({ price: "1e2" })] })],
    ["missing shipping_address", { items: [item()] }],
    ["empty shipping_address", orderBody({ shipping_address: "   " })],
    ["shipping_address only tags", orderBody({ shipping_address: "<i></i>" })],
    [
      "501-character shipping_address",
      orderBody({ shipping_address: "a".repeat(501) }),
    ],
    ["string user_id", orderBody({ user_id: "42" })],
    ["zero user_id", orderBody({ user_id: 0 })],
    ["unsafe user_id", orderBody({ user_id: 9007199254740992 })],
    ["lowercase currency", orderBody({ currency: "usd" })],
    ["four-letter currency", orderBody({ currency: "USDT" })],
    [
      "total over the cap",
      orderBody({
        items: Array.from(
          { length: 2 },
          () => item({ quantity: 10000, price: 60000 }),
        ),
      }),
    ],
  ];
  for (const [name, body] of cases) {
    await t.step(name, () => assert.equal(codeOf(body), "validation_failed"));
  }
});

Deno.test("parseNewOrder lists each invalid field with its path", () => {
  try {
    parseNewOrder(
      orderBody({
        items: [item({ quantity: 0, price: -1 })],
        shipping_address: "",
      }),
    );
    assert.fail("expected a validation failure");
  } catch (error) {
    assert.ok(error instanceof DomainError);
    const paths = error.errors?.map((e) => e.path).sort();
    assert.deepEqual(paths, [
      "items[0].price",
      "items[0].quantity",
      "shipping_address",
    ]);
  }
});

Deno.test("parseNewOrder strips HTML, trims, and keeps product ids exactly", () => {
  const input = parseNewOrder(
    orderBody({
      items: [
        item({
          product_id: 7,
          product_name: "  <b>Big</b> Mug<script>x()</script> ",
        }),
        item({ product_id: " id " }),
      ],
      shipping_address: " <b>1 Main</b> St ",
      total: "0.01",
      status: "delivered",
    }),
  );
  assert.equal(input.shippingAddress, "1 Main St");
  assert.equal(input.items[0]?.productName, "Big Mug");
  assert.equal(input.items[0]?.productId, 7);
  assert.equal(input.items[1]?.productId, " id ");
  assert.equal(input.currency, "USD");
});

Deno.test("parseNewOrder accepts a total exactly at the cap", () => {
  const input = parseNewOrder(
    orderBody({ items: [item({ quantity: 1000, price: 1000000 })] }),
  );
  assert.equal(input.items.length, 1);
});

Deno.test("a bidirectional formatting character in any text field is refused with the field's path", async (t) => {
  for (const char of BIDI_FORMATTING) {
    const code = char.codePointAt(0)!.toString(16).toUpperCase();
    const cases: [string, () => unknown, string][] = [
      [
        "a shipping address",
        () =>
          parseNewOrder(orderBody({ shipping_address: `1 Main${char} St` })),
        "shipping_address",
      ],
      [
        "a product name",
        () =>
          parseNewOrder(
            orderBody({
              items: [item(), item({ product_name: `${char}Mug` })],
            }),
          ),
        "items[1].product_name",
      ],
      [
        "a product id",
        () =>
          parseNewOrder(
            orderBody({ items: [item({ product_id: `s${char}` })] }),
          ),
        "items[0].product_id",
      ],
      [
        "a new address",
        () => parseOrderPatch({ shipping_address: `2 Side St${char}` }),
        "shipping_address",
      ],
      [
        "a cancellation reason",
        () => parseCancelOrder({ reason: `oops ${char}` }),
        "reason",
      ],
      [
        "a review note",
        () => parseReviewDecision({ decision: "approve", note: `ok${char}` }),
        "note",
      ],
    ];
    for (const [where, parse, path] of cases) {
      await t.step(`U+${code} in ${where}`, () => {
        assert.throws(parse, (error) => {
          assert.ok(error instanceof DomainError);
          assert.equal(error.code, "validation_failed");
          assert.deepEqual(error.errors, [
            { path, message: BIDI_FORMATTING_MESSAGE },
          ]);
          return true;
        });
      });
    }
  }
});
