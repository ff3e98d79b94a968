/**
 * Hostile request bodies: deep nesting, control characters, bidirectional
 * formatting characters and lone surrogates get a problem answer, never a 500, and nothing stored differs
 * from what a 2xx said.
 */
import assert from "node:assert/strict";
import { MAX_JSON_DEPTH, nestingDepth } from "../../routes/http/json_body.ts";
import {
  BIDI_FORMATTING_MESSAGE,
  CONTROL_CHARACTER_MESSAGE,
  DECODED_BIDI_MESSAGE,
  NOT_UNICODE_MESSAGE,
} from "../../domain/text.ts";
import { BIDI_FORMATTING } from "../fixtures/domain.ts";
import {
  countRows,
  createOrder,
  expectProblem,
  orderBody,
  type TestContext,
  withTestContext,
} from "../fixtures/mod.ts";

/** JSON text nested `depth` levels deep inside `wrap` (`[`…`]` or `{"a":`…`}`). */
function nested(depth: number, open: string, close: string, inner = "1") {
  return open.repeat(depth) + inner + close.repeat(depth);
}

async function post(
  ctx: TestContext,
  path: string,
  token: string,
  body: string,
  headers: Record<string, string> = {},
) {
  return await ctx.request("POST", path, { token, body, headers });
}

Deno.test("nestingDepth counts arrays and objects, not brackets inside strings", () => {
  assert.equal(nestingDepth('"[[["'), 0);
  assert.equal(nestingDepth('{"a":[1,{"b":"]]]"}]}'), 3);
  assert.equal(nestingDepth('["\\"[", [[]]]'), 3);
  assert.equal(nestingDepth(nested(100_000, "[", "]")), 100_000);
});

Deno.test("a body nested deeper than 32 levels is a 400 before anything reads it, on every body-taking route", (t) =>
  withTestContext(async (ctx, { owner, admin }) => {
    const created = await createOrder(ctx, owner);
    const deep = nested(5000, '{"a":', "}");
    const shapes: [string, string][] = [
      ["the top level", nested(5000, "[", "]")],
      ["items", `{"items":${nested(5000, "[", "]")}}`],
      [
        "a product_id",
        `{"items":[{"product_id":${deep},"product_name":"M","quantity":1,"price":"1"}],"shipping_address":"x"}`,
      ],
      [
        "a product_name",
        `{"items":[{"product_id":"a","product_name":${deep},"quantity":1,"price":"1"}],"shipping_address":"x"}`,
      ],
      ["33 levels", nested(MAX_JSON_DEPTH + 1, "[", "]")],
    ];
    for (const [where, body] of shapes) {
      for (const key of [undefined, `deep-${where}`]) {
        await t.step(
          `POST, nested in ${where}, key ${key ?? "none"}`,
          async () => {
            const response = await post(
              ctx,
              "/v1/orders",
              owner,
              body,
              key ? { "Idempotency-Key": key } : {},
            );
            const body400 = await expectProblem(response, 400);
            assert.equal(
              body400.detail,
              "The request body is nested deeper than 32 levels",
            );
          },
        );
      }
    }
    await t.step("PATCH, cancel and review", async () => {
      for (
        const [method, path, token] of [
          ["PATCH", `/v1/orders/${created.id}`, owner],
          ["POST", `/v1/orders/${created.id}/cancel`, owner],
          ["POST", `/v1/orders/${created.id}/review`, admin],
        ] as const
      ) {
        const response = await ctx.request(method, path, {
          token,
          body: `{"shipping_address":${deep}}`,
        });
        await expectProblem(response, 400);
      }
    });
    await t.step("32 levels are still read (and then validated)", async () => {
      const response = await post(
        ctx,
        "/v1/orders",
        owner,
        `{"items":[{"product_id":"a","product_name":"M","quantity":1,"price":"1"}],"shipping_address":"x","extra":${
          nested(MAX_JSON_DEPTH - 1, "[", "]")
        }}`,
      );
      assert.equal(response.status, 201);
    });
    assert.equal(await countRows(ctx, "orders"), 2);
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
  }));

const CONTROL_CHARACTERS = ["\u0000", "\u0001", "\u001b", "\u007f", "\u0085"];

/** Each refused character with the message that refuses it. */
const REFUSED_CHARACTERS: [string, string][] = [
  ...CONTROL_CHARACTERS.map((c): [string, string] => [
    c,
    CONTROL_CHARACTER_MESSAGE,
  ]),
  ...BIDI_FORMATTING.map((c): [string, string] => [c, BIDI_FORMATTING_MESSAGE]),
];

Deno.test("a control character other than tab, LF or CR, or a bidirectional formatting character, in any text field is a 422 with the field's path", (t) =>
  withTestContext(async (ctx, { owner, admin }) => {
    const item = {
      product_id: "sku",
      product_name: "Mug",
      quantity: 1,
      price: "1",
    };
    for (const [control, message] of REFUSED_CHARACTERS) {
      const code = control.codePointAt(0)!.toString(16).padStart(4, "0");
      const created = await createOrder(ctx, owner);
      const cases: [string, string, string, unknown, string][] = [
        ...([
          [
            { items: [{ ...item, product_id: `sku${control}` }] },
            "items[0].product_id",
          ],
          [
            { items: [{ ...item, product_name: control }] },
            "items[0].product_name",
          ],
          [
            { items: [item, { ...item, product_name: `Tea${control}` }] },
            "items[1].product_name",
          ],
          [{ shipping_address: `1 Main${control} St` }, "shipping_address"],
        ] as const).map((
          [overrides, field],
        ): [string, string, string, unknown, string] => [
          "POST",
          "/v1/orders",
          owner,
          orderBody(overrides),
          field,
        ]),
        ["PATCH", `/v1/orders/${created.id}`, owner, {
          shipping_address: `2${control} Side St`,
        }, "shipping_address"],
        ["POST", `/v1/orders/${created.id}/cancel`, owner, {
          reason: `oops${control}`,
        }, "reason"],
        ["POST", `/v1/orders/${created.id}/review`, admin, {
          decision: "approve",
          note: `ok${control}`,
        }, "note"],
      ];
      for (const [method, path, token, body, field] of cases) {
        await t.step(
          `U+${code} in ${method} ${path.replace(created.id, "{id}")} ${field}`,
          async () => {
            const response = await ctx.request(method, path, { token, body });
            const details = await expectProblem(response, 422);
            assert.deepEqual(details.errors, [{ path: field, message }]);
          },
        );
      }
      const read = await (await ctx.request("GET", `/v1/orders/${created.id}`, {
        token: owner,
      })).json();
      assert.deepEqual(read, created, "a refused change changed nothing");
    }
    assert.equal(
      await countRows(ctx, "orders"),
      REFUSED_CHARACTERS.length,
      "no refused creation stored an order",
    );
  }, {
    reviewPolicy: { thresholdCents: 1n, velocityOrders: 1_000_000 },
  }));

Deno.test("a bidirectional formatting character written as an HTML character reference is a 422 too", (t) =>
  withTestContext(async (ctx, { owner }) => {
    const item = {
      product_id: "sku",
      product_name: "Mug",
      quantity: 1,
      price: "1",
    };
    for (
      const reference of [
        "&#x202E;",
        "&#x202e;",
        "&#8238;",
        "&#x2066;",
        "&#8297;",
      ]
    ) {
      await t.step(reference, async () => {
        for (
          const [overrides, field] of [
            [{ shipping_address: `1 Main ${reference}St` }, "shipping_address"],
            [
              { items: [{ ...item, product_name: `Mug${reference}` }] },
              "items[0].product_name",
            ],
          ] as const
        ) {
          const response = await ctx.request("POST", "/v1/orders", {
            token: owner,
            body: orderBody(overrides),
          });
          const details = await expectProblem(response, 422);
          assert.deepEqual(details.errors, [
            { path: field, message: DECODED_BIDI_MESSAGE },
          ]);
        }
      });
    }
    assert.equal(await countRows(ctx, "orders"), 0);
  }));

Deno.test("tab, LF and CR are kept, and what a 201 says is exactly what later reads return", () =>
  withTestContext(async (ctx, { owner }) => {
    const response = await ctx.request("POST", "/v1/orders", {
      token: owner,
      body: orderBody({
        items: [{
          product_id: "sku\t1",
          product_name: "Mug\r\nLarge",
          quantity: 1,
          price: "1",
        }],
        shipping_address: "1 Main St\nFlat\t2",
      }),
    });
    assert.equal(response.status, 201);
    const created = await response.json();
    assert.equal(created.items[0].product_id, "sku\t1");
    assert.equal(created.items[0].product_name, "Mug\r\nLarge");
    assert.equal(created.shipping_address, "1 Main St\nFlat\t2");
    const read = await ctx.request("GET", `/v1/orders/${created.id}`, {
      token: owner,
    });
    assert.deepEqual(await read.json(), created);
    const history =
      await (await ctx.request("GET", `/v1/orders/${created.id}/history`, {
        token: owner,
      })).json();
    assert.equal(
      history.events[0].changes.shipping_address.to,
      created.shipping_address,
    );
    assert.equal(
      history.events[0].changes.items.to[0].product_name,
      "Mug\r\nLarge",
    );
  }));

Deno.test("a string or key that is not well-formed Unicode is a 422 with its path, before anything stores or hashes it", (t) =>
  withTestContext(async (ctx, { owner, admin }) => {
    const created = await createOrder(ctx, owner);
    const item =
      '{"product_id":"a","product_name":"M","quantity":1,"price":"1"}';
    const creations: [string, string][] = [
      [
        `{"items":[{"product_id":"a","product_name":"\\ud800","quantity":1,"price":"1"}],"shipping_address":"x"}`,
        "items[0].product_name",
      ],
      [
        `{"items":[{"product_id":"\\udfff","product_name":"M","quantity":1,"price":"1"}],"shipping_address":"x"}`,
        "items[0].product_id",
      ],
      [
        `{"items":[${item}],"shipping_address":"1 Main \\ud83d St"}`,
        "shipping_address",
      ],
      [
        `{"items":[${item}],"shipping_address":"x","note":["\\udc00"]}`,
        "note[0]",
      ],
      [`{"items":[${item}],"shipping_address":"x","\\ud800":1}`, "body"],
    ];
    const cases: [string, string, string, string, string][] = [
      ...creations.map((
        [body, field],
      ): [string, string, string, string, string] => [
        "POST",
        "/v1/orders",
        owner,
        body,
        field,
      ]),
      [
        "PATCH",
        `/v1/orders/${created.id}`,
        owner,
        `{"shipping_address":"\\ud800"}`,
        "shipping_address",
      ],
      [
        "POST",
        `/v1/orders/${created.id}/cancel`,
        owner,
        `{"reason":"\\ud800"}`,
        "reason",
      ],
      [
        "POST",
        `/v1/orders/${created.id}/review`,
        admin,
        `{"decision":"approve","note":"\\udbff"}`,
        "note",
      ],
    ];
    for (const [method, path, token, body, field] of cases) {
      await t.step(
        `${method} ${path.replace(created.id, "{id}")}: ${field}`,
        async () => {
          for (const headers of [{}, { "Idempotency-Key": `lone-${field}` }]) {
            const response = await ctx.request(method, path, {
              token,
              body,
              headers,
            });
            const details = await expectProblem(response, 422);
            assert.equal(details.errors.length, 1);
            assert.equal(details.errors[0].path, field);
            assert.match(details.errors[0].message, /well-formed Unicode/);
          }
        },
      );
    }
    assert.equal(
      NOT_UNICODE_MESSAGE,
      "Must be well-formed Unicode (no lone surrogates)",
    );
    assert.equal(await countRows(ctx, "orders"), 1);
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
    // A well-formed pair is fine and reads back as sent.
    const emoji = await (await post(
      ctx,
      "/v1/orders",
      owner,
      `{"items":[${item}],"shipping_address":"1 \\ud83d\\ude00 St"}`,
    )).json();
    assert.equal(emoji.shipping_address, "1 😀 St");
    const read = await (await ctx.request("GET", `/v1/orders/${emoji.id}`, {
      token: owner,
    })).json();
    assert.deepEqual(read, emoji);
  }, {
    reviewPolicy: { thresholdCents: 1n, velocityOrders: 1_000_000 },
  }));
