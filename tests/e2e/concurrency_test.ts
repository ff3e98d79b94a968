/**
 * Concurrent changes to one order over real HTTP: `main.ts` runs as a
 * subprocess on a file database, and the requests race for real.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import { canTransition } from "../../domain/lifecycle.ts";
import type { OrderStatus } from "../../domain/order.ts";
import {
  type HttpCall,
  httpClient,
  type HttpReply,
  type Json,
  orderBody,
  startServer,
  TEST_SECRET,
  verifyAuditLogAt,
  withDatabaseFile,
} from "../fixtures/mod.ts";

function token(sub: number, roles: string[] = []): Promise<string> {
  return signToken(TEST_SECRET, { sub, roles });
}

/**
 * Sends 20 changes of one order's address at once: the i-th through
 * `calls[i % calls.length]` as `tokens[i % tokens.length]`, with the request
 * id `${label}-${i}` and the other `headers`.
 */
function twentyAddressChanges(
  calls: HttpCall[],
  order: { id: string; tokens: string[] },
  options: { label: string; street: string; headers?: Record<string, string> },
): Promise<HttpReply[]> {
  return Promise.all(
    Array.from(
      { length: 20 },
      (_, i) =>
        calls[i % calls.length]!("PATCH", `/v1/orders/${order.id}`, {
          token: order.tokens[i % order.tokens.length]!,
          body: { shipping_address: `${i} ${options.street}` },
          headers: {
            ...options.headers,
            "X-Request-Id": `${options.label}-${i}`,
          },
        }),
    ),
  );
}

/**
 * Checks that `count` address changes all landed: versions 1..count+1 with
 * no gap, each reply's version is its own audit entry, and each change was
 * made against the address just before it.
 */
function assertEveryChangeApplied(
  replies: HttpReply[],
  events: Json[],
  count: number,
): void {
  assert.deepEqual(
    events.map((e) => e.seq),
    Array.from({ length: count + 1 }, (_, i) => i + 1),
  );
  const byRequest = new Map(events.map((e) => [e.request_id, e]));
  for (const reply of replies) {
    assert.equal(byRequest.get(reply.serverRequestId)?.seq, reply.body.version);
  }
  for (let i = 1; i < events.length; i++) {
    assert.equal(
      events[i].changes.shipping_address.from,
      events[i - 1].changes.shipping_address.to,
    );
  }
}

Deno.test("concurrent changes to one order over real HTTP against a file database", (t) =>
  withDatabaseFile("orders-concurrency-", async (url) => {
    const server = await startServer(
      { DATABASE_URL: url, JWT_SECRET: TEST_SECRET },
      { args: ["--dev"] },
    );
    const call = httpClient(server.url);
    const admin = await token(9, ["admin"]);
    const fulfillment = await token(8, ["fulfillment"]);

    async function createOrder(owner: string): Promise<string> {
      const reply = await call("POST", "/v1/orders", {
        token: owner,
        body: orderBody(),
      });
      assert.equal(reply.status, 201);
      return reply.body.id;
    }

    /** A new order of user `sub`, and the tokens that may change its address. */
    async function newOrder(sub: number) {
      const owner = await token(sub);
      return { owner, id: await createOrder(owner), tokens: [owner, admin] };
    }

    async function history(id: string): Promise<Json[]> {
      const reply = await call("GET", `/v1/orders/${id}/history`, {
        token: admin,
      });
      assert.equal(reply.status, 200);
      return reply.body.events;
    }

    try {
      await t.step(
        "20 PATCHes with the same If-Match: exactly one 200, nineteen 412, one new audit entry",
        async () => {
          const target = await newOrder(101);
          const { owner, id } = target;
          const replies = await twentyAddressChanges([call], target, {
            label: "if-match",
            street: "Race St",
            headers: { "If-Match": '"1"' },
          });
          const statuses = replies.map((r) => r.status).sort();
          assert.deepEqual(statuses, [200, ...Array(19).fill(412)]);
          const winner = replies.find((r) => r.status === 200);
          assert.ok(winner);
          assert.equal(winner.body.version, 2);

          const events = await history(id);
          assert.deepEqual(events.map((e) => e.seq), [1, 2]);
          assert.equal(events[1].request_id, winner.serverRequestId);
          const order = await call("GET", `/v1/orders/${id}`, { token: owner });
          assert.equal(order.body.version, 2);
          assert.equal(
            order.body.shipping_address,
            winner.body.shipping_address,
          );
        },
      );

      await t.step(
        "20 address changes without If-Match: all 200, versions 1..21, each applied to the version before it",
        async () => {
          const order = await newOrder(103);
          const replies = await twentyAddressChanges([call], order, {
            label: "parallel",
            street: "Parallel St",
          });
          assert.deepEqual(replies.map((r) => r.status), Array(20).fill(200));
          assertEveryChangeApplied(replies, await history(order.id), 20);
        },
      );

      await t.step(
        "20 transitions without If-Match from several roles: nothing lost, no gap, no forbidden move",
        async () => {
          const ownerId = 102;
          const owner = await token(ownerId);
          const both = await token(10, ["admin", "fulfillment"]);
          const id = await createOrder(owner);
          const requests: { token: string; path: string; body?: unknown }[] = [
            ...["processing", "processing", "processing", "shipped", "shipped"]
              .map((status) => ({ token: fulfillment, body: { status } })),
            ...["shipped", "delivered", "delivered"]
              .map((status) => ({ token: fulfillment, body: { status } })),
            ...["processing", "processing", "shipped", "delivered"]
              .map((status) => ({ token: admin, body: { status } })),
            { token: admin, body: { shipping_address: "Admin Rd 1" } },
            { token: admin, body: { shipping_address: "Admin Rd 2" } },
            { token: both, body: { status: "processing" } },
            { token: owner, body: { shipping_address: "Owner Ave 1" } },
            { token: owner, body: { shipping_address: "Owner Ave 2" } },
            { token: owner, body: { shipping_address: "Owner Ave 3" } },
            { token: owner, body: { status: "cancelled" } },
          ].map((r) => ({ ...r, path: `/v1/orders/${id}` }));
          requests.push({
            token: owner,
            path: `/v1/orders/${id}/cancel`,
            body: { reason: "Too slow" },
          });
          assert.equal(requests.length, 20);

          const replies = await Promise.all(
            requests.map((r, i) =>
              call(r.path.endsWith("/cancel") ? "POST" : "PATCH", r.path, {
                token: r.token,
                body: r.body,
                headers: { "X-Request-Id": `race-${i}` },
              })
            ),
          );
          // No 409: a change without If-Match never gives up on contention.
          for (const reply of replies) {
            assert.ok(
              [200, 400].includes(reply.status),
              JSON.stringify(reply.body),
            );
          }

          const order =
            (await call("GET", `/v1/orders/${id}`, { token: owner }))
              .body;
          const events = await history(id);
          // Versions run 1..n without gaps, and the order is at n.
          assert.deepEqual(
            events.map((e) => e.seq),
            Array.from({ length: events.length }, (_, i) => i + 1),
          );
          assert.equal(order.version, events.length);
          assert.ok(events.length >= 2, "at least one change won");

          // Replaying the log reproduces the order: each change was made against
          // the state just before it (no lost update) and every status move is
          // one the state machine allows.
          let status: OrderStatus = events[0].changes.status.to;
          let address: string = events[0].changes.shipping_address.to;
          let lastStatusTo: string = status;
          for (const event of events.slice(1)) {
            if (event.changes.status) {
              assert.equal(event.changes.status.from, status);
              assert.ok(
                canTransition(status, event.changes.status.to),
                `${status} → ${event.changes.status.to}`,
              );
              status = event.changes.status.to;
              lastStatusTo = status;
            }
            if (event.changes.shipping_address) {
              assert.equal(event.changes.shipping_address.from, address);
              assert.ok(["pending", "processing"].includes(
                event.changes.status?.from ?? status,
              ));
              address = event.changes.shipping_address.to;
            }
          }
          assert.equal(order.status, status);
          assert.equal(order.status, lastStatusTo);
          assert.equal(order.shipping_address, address);

          // Every change acknowledged with 200 is in the log at the version the
          // response reported, and no refused request left an entry.
          const byRequest = new Map(events.map((e) => [e.request_id, e]));
          for (const reply of replies) {
            const event = byRequest.get(reply.serverRequestId);
            if (reply.status !== 200) {
              assert.equal(event, undefined, reply.requestId);
            } else if (event) {
              assert.equal(reply.body.version, event.seq);
            }
          }
          assert.equal(
            replies.filter((r) =>
              r.status === 200 && byRequest.has(r.serverRequestId)
            )
              .length,
            events.length - 1,
          );
        },
      );

      await t.step(
        "a cancel by the owner and a shipment by fulfillment on a processing order: exactly one wins",
        async () => {
          for (let round = 0; round < 8; round++) {
            const owner = await token(200 + round);
            const id = await createOrder(owner);
            const moved = await call("PATCH", `/v1/orders/${id}`, {
              token: admin,
              body: { status: "processing" },
            });
            assert.equal(moved.status, 200);
            const [cancel, ship] = await Promise.all([
              call("POST", `/v1/orders/${id}/cancel`, { token: owner }),
              call("PATCH", `/v1/orders/${id}`, {
                token: fulfillment,
                body: { status: "shipped" },
              }),
            ]);
            assert.deepEqual(
              [cancel.status, ship.status].sort(),
              [200, 400],
              JSON.stringify([cancel.body, ship.body]),
            );
            const winner = cancel.status === 200 ? cancel : ship;
            const order = await call("GET", `/v1/orders/${id}`, {
              token: owner,
            });
            assert.equal(order.body.status, winner.body.status);
            assert.equal(order.body.version, 3);
            const events = await history(id);
            assert.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
            assert.equal(events[2].request_id, winner.serverRequestId);
          }
        },
      );

      await t.step("every chain in the file database verifies", async () => {
        const result = await verifyAuditLogAt(url);
        assert.equal(result.broken, undefined);
        assert.equal(result.chains, 11);
      });
    } finally {
      await server.stop();
    }
  }));

Deno.test("20 address changes without If-Match through two processes sharing one file database all answer 200", () =>
  withDatabaseFile("orders-two-processes-", async (url) => {
    const env = { DATABASE_URL: url, JWT_SECRET: TEST_SECRET };
    const first = await startServer(env, { args: ["--dev"] });
    const second = await startServer(env, { args: ["--dev"] });
    try {
      const calls = [httpClient(first.url), httpClient(second.url)];
      const owner = await token(301);
      const created = await calls[0]!("POST", "/v1/orders", {
        token: owner,
        body: orderBody(),
      });
      assert.equal(created.status, 201);
      const id = created.body.id;
      // The two processes race each other; each queues its own changes.
      const replies = await twentyAddressChanges(calls, {
        id,
        tokens: [owner],
      }, { label: "two", street: "Two Process Rd" });
      assert.deepEqual(
        replies.map((r) => r.status),
        Array(20).fill(200),
        JSON.stringify(replies.filter((r) => r.status !== 200)),
      );
      const history = await calls[1]!("GET", `/v1/orders/${id}/history`, {
        token: owner,
      });
      assertEveryChangeApplied(replies, history.body.events, 20);
    } finally {
      await first.stop();
      await second.stop();
    }
    assert.equal((await verifyAuditLogAt(url)).broken, undefined);
  }));
