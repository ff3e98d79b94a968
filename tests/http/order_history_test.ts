/**
 * `GET /v1/orders/:id/history` through the real app on a real in-memory
 * database.
 */
import assert from "node:assert/strict";
import { createTestContext, orderBody } from "../fixtures/mod.ts";

/** The changes of an `order.created` event: each field from null to its value. */
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function fromNothing(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([field, to]) => [field, { from: null, to }]),
  );
}

Deno.test("GET /v1/orders/:id/history lists the order's events oldest first, numbered within the order", async () => {
  const ctx = await createTestContext();
  const start = ctx.clock.now();
  const at = (seconds: number) =>
    new Date(start + seconds * 1000).toISOString();
  try {
    const owner = await ctx.token(42);
    const admin = await ctx.token(9, ["admin"]);
    const fulfillment = await ctx.token(8, ["fulfillment"]);
    const create = async () => {
      const response = await ctx.request("POST", "/v1/orders", {
        token: owner,
        body: orderBody(),
        headers: { "X-Request-Id": "create-req" },
      });
      assert.equal(response.status, 201);
      return (await response.json()).id as string;
    };
    const first = await create();
    const second = await create();
    // Interleave changes so global sequence numbers and chain ones differ.
    const change = async (
      id: string,
      token: string,
      body: unknown,
      requestId: string,
    ) => {
      ctx.clock.advance(1000);
      const response = await ctx.request("PATCH", `/v1/orders/${id}`, {
        token,
        body,
        headers: { "X-Request-Id": requestId },
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-request-id"), requestId);
      await response.body?.cancel();
    };
    await change(first, fulfillment, { status: "processing" }, "a1");
    await change(second, owner, { shipping_address: "2 Side St" }, "b1");
    await change(first, fulfillment, { status: "shipped" }, "a2");

    const response = await ctx.request("GET", `/v1/orders/${second}/history`, {
      token: owner,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    const secondHistory = await response.json();
    // Audit entries record the service's own id of each request, never
    // the client's X-Request-Id (which need not be unique).
    const serverIds = secondHistory.events.map((e: { request_id: string }) =>
      e.request_id
    );
    for (const id of serverIds) assert.match(id, UUID);
    assert.deepEqual(secondHistory, {
      events: [
        {
          seq: 1,
          action: "order.created",
          actor: { user_id: 42, roles: ["user"] },
          at: at(0),
          request_id: serverIds[0],
          // Every field from nothing to what orderBody() sent.
          changes: fromNothing({
            user_id: 42,
            status: "pending",
            items: orderBody().items,
            total: "25.00",
            currency: "USD",
            shipping_address: "1 Main St, Springfield",
          }),
        },
        {
          seq: 2,
          action: "order.updated",
          actor: { user_id: 42, roles: ["user"] },
          at: at(2),
          request_id: serverIds[1],
          changes: {
            shipping_address: {
              from: "1 Main St, Springfield",
              to: "2 Side St",
            },
          },
        },
      ],
    });

    const firstHistory = await ctx.request(
      "GET",
      `/v1/orders/${first}/history`,
      { token: admin },
    );
    const events = (await firstHistory.json()).events;
    // A log line carries both ids when the client chose the first.
    const serverIdOf = (requestId: string) => {
      const line = ctx.logs.find((l) =>
        l.event === "order.status_changed" && l.request_id === requestId
      );
      assert.match(String(line?.server_request_id), UUID);
      return line?.server_request_id;
    };
    assert.deepEqual(
      events.map((e: { seq: number; request_id: string; actor: unknown }) => [
        e.seq,
        e.request_id,
        e.actor,
      ]),
      [
        [1, events[0].request_id, { user_id: 42, roles: ["user"] }],
        [2, serverIdOf("a1"), { user_id: 8, roles: ["fulfillment", "user"] }],
        [3, serverIdOf("a2"), { user_id: 8, roles: ["fulfillment", "user"] }],
      ],
    );
    // Both creations sent "create-req"; their entries are told apart.
    assert.notEqual(events[0].request_id, serverIds[0]);
  } finally {
    ctx.close();
  }
});

Deno.test("GET /v1/orders/:id/history is for the owner and admins only", async (t) => {
  const ctx = await createTestContext();
  try {
    const owner = await ctx.token(42);
    const created = await ctx.request("POST", "/v1/orders", {
      token: owner,
      body: orderBody(),
    });
    const id = (await created.json()).id as string;
    const cases: [string, string, string, number][] = [
      ["the owner", owner, id, 200],
      ["the owner, upper-case id", owner, id.toUpperCase(), 200],
      ["an admin", await ctx.token(9, ["admin"]), id, 200],
      [
        "an owner who is also fulfillment",
        await ctx.token(42, ["fulfillment"]),
        id,
        200,
      ],
      ["fulfillment", await ctx.token(8, ["fulfillment"]), id, 403],
      ["another user", await ctx.token(7), id, 403],
      ["anyone, for an unknown order", owner, crypto.randomUUID(), 404],
      [
        "fulfillment, for an unknown order",
        await ctx.token(8, ["fulfillment"]),
        crypto.randomUUID(),
        404,
      ],
      ["anyone, for an id that is not a UUID", owner, "123", 404],
    ];
    for (const [name, token, orderId, status] of cases) {
      await t.step(`${name} → ${status}`, async () => {
        const response = await ctx.request(
          "GET",
          `/v1/orders/${orderId}/history`,
          { token },
        );
        const body = await response.json();
        assert.equal(response.status, status);
        if (status === 200) {
          assert.equal(body.events.length, 1);
        } else {
          assert.equal(
            response.headers.get("content-type"),
            "application/problem+json",
          );
          assert.equal(body.status, status);
          assert.equal("events" in body, false);
        }
      });
    }
  } finally {
    ctx.close();
  }
});
