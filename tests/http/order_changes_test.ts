/**
 * `PATCH /v1/orders/:id` and `POST /v1/orders/:id/cancel` through the real
 * app on a real in-memory database.
 */
import assert from "node:assert/strict";
import {
  type Callers,
  createOrder,
  expectProblem,
  type Json,
  SERVER_SET_FIELDS,
  type TestContext,
  withTestContext,
} from "../fixtures/mod.ts";

const OWNER = 42;
const SHIPPED = ["processing", "shipped"];
const DELIVERED = ["processing", "shipped", "delivered"];

async function patch(
  ctx: TestContext,
  id: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await ctx.request("PATCH", `/v1/orders/${id}`, {
    token,
    body,
    headers,
  });
}

/** Moves an order along with an admin token, asserting every step. */
async function moveTo(
  ctx: TestContext,
  id: string,
  admin: string,
  ...statuses: string[]
): Promise<void> {
  for (const status of statuses) {
    const response = await patch(ctx, id, admin, { status });
    assert.equal(response.status, 200, `moving to ${status}`);
    await response.body?.cancel();
  }
}

async function history(
  ctx: TestContext,
  id: string,
  token: string,
): Promise<Json[]> {
  const response = await ctx.request("GET", `/v1/orders/${id}/history`, {
    token,
  });
  assert.equal(response.status, 200);
  return (await response.json()).events;
}

/**
 * The history's second event: the owner's `action`, in the request the
 * service knows as `requestId` (its `X-Server-Request-Id`), now.
 */
function ownersSecondEvent(
  ctx: TestContext,
  action: string,
  requestId: string,
  changes: Json,
): Json {
  return {
    seq: 2,
    action,
    actor: { user_id: OWNER, roles: ["user"] },
    at: new Date(ctx.clock.now()).toISOString(),
    request_id: requestId,
    changes,
  };
}

Deno.test("PATCH /v1/orders/:id lets the owner change the shipping address", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    ctx.clock.advance(60_000);
    const response = await patch(ctx, created.id, who.owner, {
      shipping_address: "  <b>2 Side</b> St  ",
    }, { "X-Request-Id": "req-address-1" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), '"2"');
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("x-request-id"), "req-address-1");
    const serverId = response.headers.get("x-server-request-id")!;
    const order = await response.json();
    assert.deepEqual(order, {
      ...created,
      shipping_address: "2 Side St",
      version: 2,
      updated_at: new Date(ctx.clock.now()).toISOString(),
    });

    const events = await history(ctx, created.id, who.owner);
    assert.equal(events.length, 2);
    assert.deepEqual(
      events[1],
      ownersSecondEvent(ctx, "order.updated", serverId, {
        shipping_address: { from: "1 Main St, Springfield", to: "2 Side St" },
      }),
    );
  }));

Deno.test("PATCH /v1/orders/:id ignores every field but status and shipping_address", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    const response = await patch(ctx, created.id, who.admin, {
      ...SERVER_SET_FIELDS,
      user_id: 99,
      items: [{ product_id: "x", product_name: "X", quantity: 1, price: 1 }],
      currency: "EUR",
      status: "processing",
    });
    assert.equal(response.status, 200);
    const order = await response.json();
    assert.deepEqual(order, { ...created, status: "processing", version: 2 });
    const read = await ctx.request("GET", `/v1/orders/${created.id}`, {
      token: who.owner,
    });
    assert.deepEqual(await read.json(), order);
  }));

Deno.test("PATCH /v1/orders/:id without a change returns the order unchanged, with no new version or audit entry", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    const bodies: [string, unknown][] = [
      ["an empty object", {}],
      ["only ignored fields", { total: "1.00", note: "hi" }],
      ["the current status (owner)", { status: "pending" }],
      ["the current address", { shipping_address: "1 Main St, Springfield" }],
      ["both as they are", {
        status: "pending",
        shipping_address: "<i>1 Main St, Springfield</i>",
      }],
    ];
    for (const [name, body] of bodies) {
      for (const token of [who.owner, who.admin, who.fulfillment]) {
        ctx.clock.advance(1000);
        const response = await patch(ctx, created.id, token, body);
        assert.equal(response.status, 200, name);
        assert.equal(response.headers.get("etag"), '"1"');
        assert.deepEqual(await response.json(), created, name);
      }
    }
    assert.equal((await history(ctx, created.id, who.owner)).length, 1);

    await moveTo(ctx, created.id, who.admin, "processing");
    const again = await patch(ctx, created.id, who.fulfillment, {
      status: "processing",
    });
    assert.equal(again.status, 200);
    assert.equal((await again.json()).version, 2);
    assert.equal((await history(ctx, created.id, who.owner)).length, 2);
  }));

Deno.test("PATCH /v1/orders/:id with status and address makes one version and one audit entry", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    const response = await patch(ctx, created.id, who.admin, {
      status: "processing",
      shipping_address: "3 New Rd",
    });
    assert.equal(response.status, 200);
    const order = await response.json();
    assert.equal(order.version, 2);
    assert.equal(order.status, "processing");
    assert.equal(order.shipping_address, "3 New Rd");
    const events = await history(ctx, created.id, who.owner);
    assert.deepEqual(events.map((e: Json) => [e.seq, e.action]), [
      [1, "order.created"],
      [2, "order.updated"],
    ]);
    assert.deepEqual(events[1].changes, {
      status: { from: "pending", to: "processing" },
      shipping_address: { from: "1 Main St, Springfield", to: "3 New Rd" },
    });
    assert.deepEqual(events[1].actor, { user_id: 9, roles: ["admin", "user"] });
  }));

Deno.test("PATCH /v1/orders/:id moves an order forward one step at a time", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    let version = 1;
    for (const status of ["processing", "shipped", "delivered"]) {
      const response = await patch(ctx, created.id, who.fulfillment, {
        status,
      });
      assert.equal(response.status, 200);
      const order = await response.json();
      version++;
      assert.equal(order.status, status);
      assert.equal(order.version, version);
      assert.equal(response.headers.get("etag"), `"${version}"`);
    }
    const events = await history(ctx, created.id, who.admin);
    assert.deepEqual(
      events.map((e: Json) => [e.seq, e.changes.status]),
      [
        [1, { from: null, to: "pending" }],
        [2, { from: "pending", to: "processing" }],
        [3, { from: "processing", to: "shipped" }],
        [4, { from: "shipped", to: "delivered" }],
      ],
    );
  }));

Deno.test("PATCH /v1/orders/:id refuses forbidden moves and changes", (t) =>
  withTestContext(async (ctx, who) => {
    const late = { shipping_address: "9 Late Ln" };
    const cases: [string, string[], keyof Callers, Json, number, RegExp?][] = [
      [
        "skipping a status",
        [],
        "fulfillment",
        { status: "shipped" },
        400,
        /from pending to shipped/,
      ],
      ["moving backward", ["processing"], "admin", { status: "pending" }, 400],
      [
        "any status change to a delivered order",
        DELIVERED,
        "admin",
        { status: "shipped" },
        400,
        /order is delivered/,
      ],
      [
        "setting the status of a delivered order again",
        DELIVERED,
        "fulfillment",
        { status: "delivered" },
        400,
      ],
      [
        "reopening a cancelled order",
        ["cancelled"],
        "admin",
        { status: "pending" },
        400,
      ],
      [
        "the address of a cancelled order",
        ["cancelled"],
        "owner",
        late,
        400,
        /order is cancelled/,
      ],
      ["the address of a shipped order", SHIPPED, "admin", late, 400],
      [
        "a valid status with an address that may no longer change",
        SHIPPED,
        "admin",
        { status: "delivered", ...late },
        400,
      ],
      ["the owner moving the status forward", [], "owner", {
        status: "processing",
      }, 403],
      ["another user changing the address", [], "other", late, 403],
      ["another user sending nothing to change", [], "other", {}, 403],
      ["fulfillment changing the address", [], "fulfillment", late, 403],
      [
        "fulfillment cancelling",
        [],
        "fulfillment",
        { status: "cancelled" },
        403,
      ],
      [
        "a forbidden field together with a bad move (403 wins)",
        [],
        "fulfillment",
        { status: "delivered", ...late },
        403,
      ],
      [
        "the owner moving a terminal order (rights before status)",
        DELIVERED,
        "owner",
        { status: "shipped" },
        403,
      ],
    ];
    for (const [name, path, token, body, status, detail] of cases) {
      await t.step(`${name} → ${status}`, async () => {
        const created = await createOrder(ctx, who.owner);
        await moveTo(ctx, created.id, who.admin, ...path);
        const before = await history(ctx, created.id, who.admin);
        const response = await patch(ctx, created.id, who[token], body);
        await expectProblem(response, status, detail);
        const after = await history(ctx, created.id, who.admin);
        assert.deepEqual(after, before, "nothing was written");
      });
    }
  }));

Deno.test("PATCH /v1/orders/:id validates the body", (t) =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    const cases: [string, unknown, number, string | undefined][] = [
      ["an unknown status", { status: "returned" }, 400, "status"],
      ["a status of another type", { status: 1 }, 400, "status"],
      ["a null status", { status: null }, 400, "status"],
      ["an empty address", { shipping_address: "  <p></p> " }, 422, undefined],
      ["an address of another type", { shipping_address: 5 }, 422, undefined],
      [
        "a too long address",
        { shipping_address: "a".repeat(501) },
        422,
        undefined,
      ],
      ["an array", [{ status: "processing" }], 422, undefined],
      ["a string", "processing", 422, undefined],
      ["null", null, 422, undefined],
    ];
    for (const [name, body, status, path] of cases) {
      await t.step(`${name} → ${status}`, async () => {
        const response = await patch(
          ctx,
          created.id,
          who.owner,
          JSON.stringify(body),
        );
        const problem = await expectProblem(response, status);
        if (path !== undefined) {
          assert.deepEqual(problem.errors.map((e: Json) => e.path), [path]);
        }
        assert.ok(Array.isArray(problem.errors) && problem.errors.length > 0);
      });
    }
    await t.step(
      "an address of 500 characters after stripping tags is fine",
      async () => {
        const response = await patch(ctx, created.id, who.owner, {
          shipping_address: `<b>${"é".repeat(500)}</b>`,
        });
        assert.equal(response.status, 200);
        assert.equal((await response.json()).shipping_address, "é".repeat(500));
      },
    );
    await t.step("malformed JSON → 400, no JSON media type → 415", async () => {
      await expectProblem(
        await patch(ctx, created.id, who.owner, "{"),
        400,
      );
      await expectProblem(
        await patch(ctx, created.id, who.owner, "{}", {
          "Content-Type": "text/plain",
        }),
        415,
      );
    });
  }));

Deno.test("PATCH /v1/orders/:id answers 404 for unknown and non-UUID ids, and matches ids case-insensitively", () =>
  withTestContext(async (ctx, who) => {
    for (const id of [crypto.randomUUID(), "not-a-uuid", "1", "%00"]) {
      await expectProblem(
        await patch(ctx, id, who.admin, { status: "processing" }),
        404,
      );
    }
    const created = await createOrder(ctx, who.owner);
    const response = await patch(ctx, created.id.toUpperCase(), who.admin, {
      status: "processing",
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).id, created.id);
  }));

Deno.test("PATCH /v1/orders/:id checks validation before existence and ownership", () =>
  withTestContext(async (ctx, who) => {
    await expectProblem(
      await patch(ctx, crypto.randomUUID(), who.owner, { status: "nope" }),
      400,
    );
    await expectProblem(
      await patch(ctx, "not-a-uuid", who.owner, { shipping_address: "" }),
      422,
    );
    const created = await createOrder(ctx, who.owner);
    await expectProblem(
      await patch(ctx, created.id, who.other, { shipping_address: "" }),
      422,
    );
    await expectProblem(
      await patch(ctx, created.id, who.other, { shipping_address: "x" }),
      403,
    );
  }));

Deno.test("PATCH /v1/orders/:id with If-Match applies only to the version it names", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    const first = await patch(ctx, created.id, who.owner, {
      shipping_address: "2 Side St",
    }, { "If-Match": '"1"' });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("etag"), '"2"');
    await first.body?.cancel();

    const stale = await patch(ctx, created.id, who.owner, {
      shipping_address: "3 Other St",
    }, { "If-Match": '"1"' });
    await expectProblem(stale, 412, /has changed/);
    const read = await ctx.request("GET", `/v1/orders/${created.id}`, {
      token: who.owner,
    });
    const order = await read.json();
    assert.equal(order.version, 2);
    assert.equal(order.shipping_address, "2 Side St");
    assert.equal((await history(ctx, created.id, who.owner)).length, 2);
  }));

Deno.test("PATCH /v1/orders/:id checks If-Match before anything else about the body", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    for (
      const body of [{ status: "nope" }, { shipping_address: "" }, [1], "{"]
    ) {
      await expectProblem(
        await patch(ctx, created.id, who.owner, body, { "If-Match": '"7"' }),
        412,
      );
    }
    // A stale version is reported even for a no-op or a forbidden change.
    await expectProblem(
      await patch(ctx, created.id, who.fulfillment, {}, { "If-Match": '"2"' }),
      412,
    );
    await expectProblem(
      await patch(ctx, created.id, who.fulfillment, {
        shipping_address: "x",
      }, { "If-Match": '"2"' }),
      412,
    );
    // But not to callers who may not see the order, nor for missing orders.
    await expectProblem(
      await patch(ctx, created.id, who.other, {}, { "If-Match": '"2"' }),
      403,
    );
    await expectProblem(
      await patch(ctx, crypto.randomUUID(), who.admin, {}, {
        "If-Match": '"1"',
      }),
      404,
    );
  }));

Deno.test("PATCH /v1/orders/:id reads If-Match as a list of strong entity tags", (t) =>
  withTestContext(async (ctx, who) => {
    const cases: [string, number][] = [
      ['"1"', 200],
      ["*", 200],
      ['"9", "1"', 200],
      [' "1" ', 200],
      ['W/"1"', 412],
      ['"01"', 412],
      ['"abc"', 412],
      ["1", 400],
      ['"1', 400],
      [",", 400],
      ['"1" "2"', 400],
    ];
    for (const [header, status] of cases) {
      await t.step(`If-Match: ${header} → ${status}`, async () => {
        const created = await createOrder(ctx, who.owner);
        const response = await patch(ctx, created.id, who.owner, {
          shipping_address: "2 Side St",
        }, { "If-Match": header });
        if (status === 200) {
          assert.equal(response.status, 200);
          assert.equal((await response.json()).version, 2);
        } else {
          const problem = await expectProblem(response, status);
          if (status === 400) {
            assert.deepEqual(problem.errors.map((e: Json) => e.path), [
              "If-Match",
            ]);
          }
        }
      });
    }
  }));

Deno.test("POST /v1/orders/:id/cancel cancels a pending or processing order and records the reason", () =>
  withTestContext(async (ctx, who) => {
    const pending = await createOrder(ctx, who.owner);
    ctx.clock.advance(5000);
    const response = await ctx.request(
      "POST",
      `/v1/orders/${pending.id}/cancel`,
      {
        token: who.owner,
        body: { reason: " <em>Changed</em> my mind ", other: 1 },
        headers: { "X-Request-Id": "cancel-1" },
      },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), '"2"');
    const serverId = response.headers.get("x-server-request-id")!;
    assert.deepEqual(await response.json(), {
      ...pending,
      status: "cancelled",
      version: 2,
      updated_at: new Date(ctx.clock.now()).toISOString(),
    });
    const events = await history(ctx, pending.id, who.owner);
    assert.deepEqual(
      events[1],
      ownersSecondEvent(ctx, "order.cancelled", serverId, {
        status: { from: "pending", to: "cancelled" },
        cancellation_reason: { from: null, to: "Changed my mind" },
      }),
    );

    const processing = await createOrder(ctx, who.owner);
    await moveTo(ctx, processing.id, who.fulfillment, "processing");
    const byAdmin = await ctx.request(
      "POST",
      `/v1/orders/${processing.id}/cancel`,
      { token: who.admin },
    );
    assert.equal(byAdmin.status, 200);
    assert.equal((await byAdmin.json()).status, "cancelled");
    const adminEvents = await history(ctx, processing.id, who.admin);
    assert.deepEqual(adminEvents[2].changes, {
      status: { from: "processing", to: "cancelled" },
    });
  }));

Deno.test("POST /v1/orders/:id/cancel accepts no body, an empty body or an empty object", () =>
  withTestContext(async (ctx, who) => {
    const variants: { body?: string; headers?: Record<string, string> }[] = [
      {},
      { body: "", headers: { "Content-Type": "application/json" } },
      { body: "{}" },
      { body: '{"reason":"   "}' },
    ];
    for (const variant of variants) {
      const created = await createOrder(ctx, who.owner);
      const response = await ctx.request(
        "POST",
        `/v1/orders/${created.id}/cancel`,
        { token: who.owner, ...variant },
      );
      assert.equal(response.status, 200, JSON.stringify(variant));
      await response.body?.cancel();
      const events = await history(ctx, created.id, who.owner);
      assert.deepEqual(events[1].changes, {
        status: { from: "pending", to: "cancelled" },
      });
    }
  }));

Deno.test("POST /v1/orders/:id/cancel treats an empty body without a media type as no body", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    // What fetch sends for a bodiless POST: `Content-Length: 0`, no type.
    const response = await ctx.app.request(`/v1/orders/${created.id}/cancel`, {
      method: "POST",
      headers: { Authorization: `Bearer ${who.owner}` },
      body: new Uint8Array(0),
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).status, "cancelled");
  }));

Deno.test("POST /v1/orders/:id/cancel refuses what PATCH with status cancelled refuses", (t) =>
  withTestContext(async (ctx, who) => {
    const cases: [string, string[], keyof Callers, number, RegExp?][] = [
      ["a shipped order", ["processing", "shipped"], "owner", 400, /shipped/],
      [
        "a delivered order",
        ["processing", "shipped", "delivered"],
        "admin",
        400,
      ],
      ["an order already cancelled", ["cancelled"], "owner", 400, /already/],
      ["by fulfillment", [], "fulfillment", 403],
      ["by fulfillment, already cancelled", ["cancelled"], "fulfillment", 403],
      ["by another user", [], "other", 403],
    ];
    for (const [name, path, token, status, detail] of cases) {
      await t.step(`${name} → ${status}`, async () => {
        const created = await createOrder(ctx, who.owner);
        await moveTo(ctx, created.id, who.admin, ...path);
        const before = await history(ctx, created.id, who.admin);
        for (
          const response of [
            await ctx.request("POST", `/v1/orders/${created.id}/cancel`, {
              token: who[token],
            }),
            await patch(ctx, created.id, who[token], { status: "cancelled" }),
          ]
        ) {
          await expectProblem(response, status, detail);
        }
        assert.deepEqual(await history(ctx, created.id, who.admin), before);
      });
    }
    await t.step(
      "PATCH with status cancelled is an order.cancelled event",
      async () => {
        const created = await createOrder(ctx, who.owner);
        const response = await patch(ctx, created.id, who.owner, {
          status: "cancelled",
        });
        assert.equal(response.status, 200);
        const events = await history(ctx, created.id, who.owner);
        assert.equal(events[1].action, "order.cancelled");
      },
    );
  }));

Deno.test("POST /v1/orders/:id/cancel validates its optional body", (t) =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    const cases: [string, string, number][] = [
      [
        "a reason over 500 characters",
        JSON.stringify({ reason: "r".repeat(501) }),
        422,
      ],
      ["a reason of another type", '{"reason":5}', 422],
      ["an array", "[]", 422],
      ["a string", '"why"', 422],
      ["malformed JSON", "{", 400],
    ];
    for (const [name, body, status] of cases) {
      await t.step(`${name} → ${status}`, async () => {
        await expectProblem(
          await ctx.request("POST", `/v1/orders/${created.id}/cancel`, {
            token: who.owner,
            body,
          }),
          status,
        );
      });
    }
    await t.step("a body that is not JSON → 415", async () => {
      await expectProblem(
        await ctx.request("POST", `/v1/orders/${created.id}/cancel`, {
          token: who.owner,
          body: "reason=x",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        }),
        415,
      );
    });
    await t.step(
      "a reason of 500 characters after stripping tags is kept",
      async () => {
        const response = await ctx.request(
          "POST",
          `/v1/orders/${created.id}/cancel`,
          { token: who.owner, body: { reason: `<p>${"r".repeat(500)}</p>` } },
        );
        assert.equal(response.status, 200);
        const events = await history(ctx, created.id, who.owner);
        assert.equal(events[1].changes.cancellation_reason.to, "r".repeat(500));
      },
    );
  }));

Deno.test("POST /v1/orders/:id/cancel honours If-Match", () =>
  withTestContext(async (ctx, who) => {
    const created = await createOrder(ctx, who.owner);
    await expectProblem(
      await ctx.request("POST", `/v1/orders/${created.id}/cancel`, {
        token: who.owner,
        headers: { "If-Match": '"2"' },
      }),
      412,
    );
    const response = await ctx.request(
      "POST",
      `/v1/orders/${created.id}/cancel`,
      { token: who.owner, headers: { "If-Match": '"1"' } },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), '"2"');
  }));

Deno.test("order changes and history require authentication", () =>
  withTestContext(async (ctx) => {
    const id = crypto.randomUUID();
    const requests: [string, string, unknown][] = [
      ["PATCH", `/v1/orders/${id}`, { status: "processing" }],
      ["POST", `/v1/orders/${id}/cancel`, undefined],
      ["GET", `/v1/orders/${id}/history`, undefined],
    ];
    for (const [method, path, body] of requests) {
      const response = await ctx.request(method, path, { body });
      await expectProblem(response, 401);
      assert.equal(
        response.headers.get("www-authenticate"),
        'Bearer realm="orders"',
      );
    }
  }));

Deno.test("an order answers 405 with PATCH among the allowed methods", () =>
  withTestContext(async (ctx, who) => {
    const response = await ctx.request(
      "DELETE",
      `/v1/orders/${crypto.randomUUID()}`,
      { token: who.admin },
    );
    await expectProblem(response, 405);
    assert.equal(response.headers.get("allow"), "GET, HEAD, PATCH");
  }));
