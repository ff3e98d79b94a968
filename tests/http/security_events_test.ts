/**
 * Security events through the real app: each request logs exactly the
 * events it should, with the stable field names, a keyed hash instead of
 * the client address, and never a token or an address.
 */
import assert from "node:assert/strict";
import { MAX_PATH_KEY_LENGTH } from "../../domain/errors.ts";
import { DEFAULT_REVIEW_POLICY } from "../../domain/review.ts";
import { MINUTE_MS } from "../../limits/rate_limiter.ts";
import { SECURITY_EVENTS } from "../../monitoring/security_event_names.ts";
import { createAddressHasher } from "../../monitoring/security_events.ts";
import {
  createTestContext,
  orderBody,
  TEST_IP_HASH_SECRET,
  type TestContext,
} from "../fixtures/mod.ts";

const OWNER = 42;
const ADMIN = 9;
const ADDRESS = "198.51.100.23";
const ADDRESS_HASH = createAddressHasher(TEST_IP_HASH_SECRET)(ADDRESS);
const SHIPPING = "1 Secret Lane, Hidden Town";

const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The fields a security event line may have. */
const FIELDS = new Set([
  "event",
  "level",
  "at",
  "request_id",
  "server_request_id",
  "user_id",
  "order_id",
  "reason",
  "ip_hash",
  "actor_user_id",
  "limit",
]);

// deno-lint-ignore no-explicit-any
type Json = any; // response bodies are checked field by field

type LogLine = Record<string, unknown>;

function isSecurityEvent(line: LogLine): boolean {
  return (SECURITY_EVENTS as readonly unknown[]).includes(line.event);
}

let sequence = 0;

/**
 * Sends a request with a fresh request id from `ADDRESS` and returns its
 * response and the security events logged for it.
 */
async function send(
  ctx: TestContext,
  method: string,
  path: string,
  options: {
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: Json; events: LogLine[] }> {
  const requestId = `sec-${++sequence}`;
  const response = await ctx.request(method, path, {
    ...options,
    headers: { ...options.headers, "X-Request-Id": requestId },
    remoteAddress: ADDRESS,
  });
  const text = await response.text();
  const events = ctx.logs.filter((line) =>
    line.request_id === requestId && isSecurityEvent(line)
  );
  return {
    status: response.status,
    body: text === "" ? undefined : JSON.parse(text),
    events,
  };
}

/** Strips the fields every event has, to compare the rest. */
function essentials(events: LogLine[]): LogLine[] {
  return events.map((line) => {
    const {
      at: _at,
      level: _level,
      request_id: _id,
      server_request_id: serverId,
      ip_hash,
      ...rest
    } = line;
    // The test chose each request's id, so each line names the service's too.
    assert.match(String(serverId), UUID);
    assert.equal(ip_hash, ADDRESS_HASH);
    return rest;
  });
}

function limitedContext(): Promise<TestContext> {
  return createTestContext({
    reviewPolicy: DEFAULT_REVIEW_POLICY,
    limits: { order_creation: { limit: 3, windowMs: MINUTE_MS } },
  });
}

/**
 * `token` with one character of its signature changed, well inside it: a
 * change of the last characters may only touch the padding bits of the
 * base64url text and leave the signature's bytes as they were.
 */
function badSignature(token: string): string {
  const at = token.length - 10;
  const other = token[at] === "A" ? "B" : "A";
  return token.slice(0, at) + other + token.slice(at + 1);
}

Deno.test("each request logs exactly the security events it should", async (t) => {
  const ctx = await limitedContext();
  try {
    const owner = await ctx.token(OWNER);
    const other = await ctx.token(7);
    const fulfillment = await ctx.token(8, ["fulfillment"]);
    const admin = await ctx.token(ADMIN, ["admin"]);
    const body = orderBody({ shipping_address: SHIPPING });
    const created = await send(ctx, "POST", "/v1/orders", {
      token: owner,
      body,
    });
    const id = created.body.id;
    // Differs from the real id in its last digit, whatever that digit is.
    const unknownId = id.slice(0, -1) + (id.endsWith("0") ? "1" : "0");

    const moveToProcessing = () =>
      send(ctx, "PATCH", `/v1/orders/${id}`, {
        token: fulfillment,
        body: { status: "processing" },
      });
    const cases: {
      name: string;
      run: () => ReturnType<typeof send>;
      status: number;
      events: LogLine[];
    }[] = [
      {
        name: "a served request: none",
        run: () => send(ctx, "GET", `/v1/orders/${id}`, { token: owner }),
        status: 200,
        events: [],
      },
      {
        name: "creating an order that is not held: none",
        run: () => send(ctx, "POST", "/v1/orders", { token: owner, body }),
        status: 201,
        events: [],
      },
      {
        name: "no token: auth.failed",
        run: () => send(ctx, "GET", "/v1/orders"),
        status: 401,
        events: [{ event: "auth.failed", reason: "missing token" }],
      },
      {
        name: "a bad signature: auth.failed",
        run: () =>
          send(ctx, "GET", "/v1/orders", { token: badSignature(owner) }),
        status: 401,
        events: [{ event: "auth.failed", reason: "bad signature" }],
      },
      {
        name: "another user's order: authz.denied",
        run: () => send(ctx, "GET", `/v1/orders/${id}`, { token: other }),
        status: 403,
        events: [{
          event: "authz.denied",
          user_id: 7,
          order_id: id,
          reason: "This order belongs to another user",
        }],
      },
      {
        name: "fulfillment cancelling: authz.denied",
        run: () =>
          send(ctx, "POST", `/v1/orders/${id}/cancel`, { token: fulfillment }),
        status: 403,
        events: [{
          event: "authz.denied",
          user_id: 8,
          order_id: id,
          reason: "Only the owner or an admin may cancel an order",
        }],
      },
      {
        name: "metrics without admin: authz.denied",
        run: () => send(ctx, "GET", "/v1/admin/metrics", { token: owner }),
        status: 403,
        events: [{
          event: "authz.denied",
          user_id: OWNER,
          reason: "Only an admin may read metrics",
        }],
      },
      {
        name: "an unknown order: lookup.miss",
        run: () =>
          send(ctx, "GET", `/v1/orders/${unknownId}`, { token: owner }),
        status: 404,
        events: [{
          event: "lookup.miss",
          user_id: OWNER,
          order_id: unknownId,
          reason: "No such order",
        }],
      },
      {
        name: "an id that is not a UUID: lookup.miss without order_id",
        run: () =>
          send(ctx, "GET", "/v1/orders/1%20OR%201=1", { token: owner }),
        status: 404,
        events: [{
          event: "lookup.miss",
          user_id: OWNER,
          reason: "No such order",
        }],
      },
      {
        name: "an invalid order: validation.failed with the paths only",
        run: () =>
          send(ctx, "POST", "/v1/orders", {
            token: owner,
            body: orderBody({
              shipping_address: "",
              items: [{
                product_id: "x",
                product_name: "y",
                quantity: 1,
                price: "-666.13",
              }],
            }),
          }),
        status: 422,
        events: [{
          event: "validation.failed",
          user_id: OWNER,
          reason: "validation-failed: items[0].price, shipping_address",
        }],
      },
      {
        name: "malformed JSON: validation.failed",
        run: () =>
          send(ctx, "PATCH", `/v1/orders/${id}`, { token: owner, body: "{" }),
        status: 400,
        events: [{
          event: "validation.failed",
          user_id: OWNER,
          order_id: id,
          reason: "malformed-json: The request body is not valid JSON",
        }],
      },
      {
        name: "the creation limit: ratelimit.exceeded",
        // The third order uses the limit up (refused creations keep no
        // count), and logs nothing; the fourth is refused.
        run: async () => {
          await send(ctx, "POST", "/v1/orders", { token: owner, body });
          return await send(ctx, "POST", "/v1/orders", { token: owner, body });
        },
        status: 429,
        events: [{
          event: "ratelimit.exceeded",
          user_id: OWNER,
          limit: "order_creation",
        }],
      },
      {
        name: "moving the order: order.status_changed",
        run: moveToProcessing,
        status: 200,
        events: [{
          event: "order.status_changed",
          user_id: 8,
          order_id: id,
          reason: "pending -> processing",
        }],
      },
      {
        name: "a no-op change: none",
        run: moveToProcessing,
        status: 200,
        events: [],
      },
      {
        name: "an address change: none",
        run: () =>
          send(ctx, "PATCH", `/v1/orders/${id}`, {
            token: owner,
            body: { shipping_address: "2 Other Secret Rd" },
          }),
        status: 200,
        events: [],
      },
      {
        name: "cancelling: order.cancelled, without the client's reason",
        run: () =>
          send(ctx, "POST", `/v1/orders/${id}/cancel`, {
            token: owner,
            body: { reason: "changed my mind at 1 Secret Lane" },
          }),
        status: 200,
        events: [{
          event: "order.cancelled",
          user_id: OWNER,
          order_id: id,
          reason: "processing -> cancelled",
        }],
      },
      {
        name: "a status rule's 400: validation.failed",
        run: () =>
          send(ctx, "POST", `/v1/orders/${id}/cancel`, { token: owner }),
        status: 400,
        events: [{
          event: "validation.failed",
          user_id: OWNER,
          order_id: id,
          reason:
            `bad-request: Cannot cancel order "${id}": order is already cancelled`,
        }],
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const reply = await c.run();
        assert.equal(reply.status, c.status, JSON.stringify(reply.body));
        assert.deepEqual(essentials(reply.events), c.events);
      });
    }
    await t.step("no log line holds a token, an address or the raw IP", () => {
      const all = JSON.stringify(ctx.logs);
      for (const token of [owner, other, fulfillment, admin]) {
        assert.equal(all.includes(token), false);
      }
      assert.equal(all.includes(ADDRESS), false);
      assert.doesNotMatch(all, /Secret|Hidden|changed my mind/);
    });
  } finally {
    ctx.close();
  }
});

Deno.test("holds, decisions and account actions log exactly their events", async (t) => {
  const ctx = await createTestContext({ reviewPolicy: DEFAULT_REVIEW_POLICY });
  try {
    const owner = await ctx.token(OWNER);
    const fulfillment = await ctx.token(8, ["fulfillment"]);
    const admin = await ctx.token(ADMIN, ["admin"]);
    const big = orderBody({
      items: [{
        product_id: "p",
        product_name: "Piano",
        quantity: 2,
        price: "5000",
      }],
    });
    let first = "";
    let second = "";

    await t.step("a held order: order.held with its reasons", async () => {
      const reply = await send(ctx, "POST", "/v1/orders", {
        token: owner,
        body: big,
      });
      first = reply.body.id;
      assert.deepEqual(essentials(reply.events), [{
        event: "order.held",
        user_id: OWNER,
        order_id: first,
        reason: "total_threshold",
      }]);
      second = (await send(ctx, "POST", "/v1/orders", {
        token: owner,
        body: big,
      })).body.id;
    });
    await t.step("processing a held order: 409 and no event", async () => {
      const reply = await send(ctx, "PATCH", `/v1/orders/${first}`, {
        token: fulfillment,
        body: { status: "processing" },
      });
      assert.equal(reply.status, 409);
      assert.deepEqual(reply.events, []);
    });
    await t.step("approving: no event", async () => {
      const reply = await send(ctx, "POST", `/v1/orders/${first}/review`, {
        token: admin,
        body: { decision: "approve", note: "ok" },
      });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.events, []);
    });
    await t.step("rejecting: order.cancelled", async () => {
      const reply = await send(ctx, "POST", `/v1/orders/${second}/review`, {
        token: admin,
        body: { decision: "reject" },
      });
      assert.equal(reply.status, 200);
      assert.deepEqual(essentials(reply.events), [{
        event: "order.cancelled",
        user_id: ADMIN,
        order_id: second,
        reason: "review rejected",
      }]);
    });
    const actions: [string, string | undefined][] = [
      ["disable", "account.disabled"],
      ["disable", undefined],
      ["revoke-tokens", "tokens.revoked"],
      ["enable", "account.enabled"],
      ["enable", undefined],
    ];
    for (const [action, event] of actions) {
      await t.step(
        `${action}: ${event ?? "nothing changes, no event"}`,
        async () => {
          const reply = await send(
            ctx,
            "POST",
            `/v1/admin/users/${OWNER}/${action}`,
            { token: admin },
          );
          assert.equal(reply.status, 204);
          assert.deepEqual(
            essentials(reply.events),
            event === undefined
              ? []
              : [{ event, user_id: OWNER, actor_user_id: ADMIN }],
          );
        },
      );
      if (action === "revoke-tokens") {
        await t.step(
          "a revoked token: auth.failed naming the user",
          async () => {
            const reply = await send(ctx, "GET", "/v1/orders", {
              token: owner,
            });
            assert.equal(reply.status, 401);
            assert.deepEqual(essentials(reply.events), [{
              event: "auth.failed",
              user_id: OWNER,
              reason: "token revoked",
            }]);
          },
        );
      }
      if (action === "disable" && event !== undefined) {
        await t.step("a disabled account: authz.denied", async () => {
          const reply = await send(ctx, "GET", "/v1/orders", { token: owner });
          assert.equal(reply.status, 403);
          assert.deepEqual(essentials(reply.events), [{
            event: "authz.denied",
            user_id: OWNER,
            reason: "account disabled",
          }]);
        });
      }
    }

    await t.step(
      "every event line has the stable fields and nothing else",
      () => {
        const lines = ctx.logs.filter(isSecurityEvent);
        assert.ok(lines.length >= 8);
        for (const line of lines) {
          for (const key of Object.keys(line)) {
            assert.ok(FIELDS.has(key), `${line.event} has ${key}`);
          }
          assert.match(
            String(line.at),
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
          );
          assert.match(String(line.request_id), /^sec-\d+$/);
          assert.match(String(line.server_request_id), UUID);
          assert.match(String(line.ip_hash), /^[0-9a-f]{32}$/);
        }
      },
    );
    await t.step("no log line holds a token, an address or the raw IP", () => {
      const all = JSON.stringify(ctx.logs);
      for (const secret of [owner, admin, fulfillment]) {
        assert.equal(all.includes(secret), false);
        assert.equal(all.includes(secret.split(".")[2] ?? "-"), false);
      }
      assert.equal(all.includes(ADDRESS), false);
      assert.doesNotMatch(all, /Main St|Secret|Springfield/);
    });
  } finally {
    ctx.close();
  }
});

Deno.test("validation.failed logs no client key holding a token or an address, and no more than a bounded part of any key", async (t) => {
  const ctx = await createTestContext();
  try {
    const owner = await ctx.token(OWNER);
    const [header, payload, signature] = owner.split(".");
    const longKey = "overlong-key-".repeat(4000);
    const lone = JSON.stringify("\ud800").replace("\ud800", "\\ud800");
    const item =
      `{"product_id":"a","product_name":"M","quantity":1,"price":"1",${
        JSON.stringify(owner)
      }:${lone}}`;
    const body = `{"items":[${item}],"shipping_address":"x",${
      JSON.stringify(SHIPPING)
    }:[${lone}],${JSON.stringify(`token=${SHIPPING}`)}:${lone},${
      JSON.stringify(longKey)
    }:${lone},"many":[${Array(200).fill(lone).join(",")}]}`;
    assert.ok(body.length < 65_536);
    const reply = await send(ctx, "POST", "/v1/orders", { token: owner, body });
    assert.equal(reply.status, 422);

    await t.step("the reason shows plain keys and redacts the others", () => {
      assert.deepEqual(essentials(reply.events), [{
        event: "validation.failed",
        user_id: OWNER,
        reason: "validation-failed: items[0].[redacted].[redacted], " +
          "[redacted][0], [redacted], [redacted], many[0], many[1], many[2], " +
          "many[3], many[4], many[5] and 194 more",
      }]);
    });
    await t.step(
      "no log line holds the token, the address or a long key",
      () => {
        const all = JSON.stringify(ctx.logs);
        for (const part of [owner, header, payload, signature]) {
          assert.equal(all.includes(part!), false);
        }
        assert.doesNotMatch(all, /Secret|Hidden|overlong/);
        assert.ok(all.length < 2_000, `${all.length} characters logged`);
      },
    );
    await t.step(
      "the response echoes the keys, a long one cut to MAX_PATH_KEY_LENGTH characters",
      () => {
        const paths: string[] = reply.body.errors.map((e: Json) => e.path);
        assert.equal(paths.length, 204);
        assert.deepEqual(paths.slice(0, 4), [
          `items[0].${owner.slice(0, MAX_PATH_KEY_LENGTH)}…`,
          `${SHIPPING}[0]`,
          `token=${SHIPPING}`,
          `${longKey.slice(0, MAX_PATH_KEY_LENGTH)}…`,
        ]);
      },
    );
  } finally {
    ctx.close();
  }
});
