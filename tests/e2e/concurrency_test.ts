/**
 * Concurrent changes to one order over real HTTP: `main.ts` runs as a
 * subprocess on a file database, and the requests race for real.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { openDatabase } from "../../db/client.ts";
import { canTransition } from "../../domain/lifecycle.ts";
import type { OrderStatus } from "../../domain/order.ts";
import {
  orderBody,
  type RunningServer,
  startServer,
  TEST_SECRET,
} from "../fixtures/mod.ts";

// deno-lint-ignore no-explicit-any
type Json = any; // response bodies are checked field by field

interface Reply {
  status: number;
  requestId: string;
  body: Json;
}

function client(server: RunningServer) {
  return async function call(
    method: string,
    path: string,
    options: {
      token: string;
      body?: unknown;
      headers?: Record<string, string>;
    },
  ): Promise<Reply> {
    const headers = new Headers(options.headers);
    headers.set("Authorization", `Bearer ${options.token}`);
    if (options.body !== undefined) {
      headers.set("Content-Type", "application/json");
    }
    const response = await fetch(server.url + path, {
      method,
      headers,
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });
    return {
      status: response.status,
      requestId: response.headers.get("x-request-id") ?? "",
      body: await response.json(),
    };
  };
}

function token(sub: number, roles: string[] = []): Promise<string> {
  return signToken(TEST_SECRET, { sub, roles });
}

/**
 * Checks that `count` address changes all landed: versions 1..count+1 with
 * no gap, each reply's version is its own audit entry, and each change was
 * made against the address just before it.
 */
function assertEveryChangeApplied(
  replies: Reply[],
  events: Json[],
  count: number,
): void {
  assert.deepEqual(
    events.map((e) => e.seq),
    Array.from({ length: count + 1 }, (_, i) => i + 1),
  );
  const byRequest = new Map(events.map((e) => [e.request_id, e]));
  for (const reply of replies) {
    assert.equal(byRequest.get(reply.requestId)?.seq, reply.body.version);
  }
  for (let i = 1; i < events.length; i++) {
    assert.equal(
      events[i].changes.shipping_address.from,
      events[i - 1].changes.shipping_address.to,
    );
  }
}

Deno.test("concurrent changes to one order over real HTTP against a file database", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "orders-concurrency-" });
  const url = `file:${dir}/orders.db`;
  const server = await startServer(
    { DATABASE_URL: url, JWT_SECRET: TEST_SECRET },
    { args: ["--dev"] },
  );
  const call = client(server);
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
        const owner = await token(101);
        const id = await createOrder(owner);
        const replies = await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) =>
              call("PATCH", `/v1/orders/${id}`, {
                token: i % 2 === 0 ? owner : admin,
                body: { shipping_address: `${i} Race St` },
                headers: { "If-Match": '"1"', "X-Request-Id": `if-match-${i}` },
              }),
          ),
        );
        const statuses = replies.map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, ...Array(19).fill(412)]);
        const winner = replies.find((r) => r.status === 200);
        assert.ok(winner);
        assert.equal(winner.body.version, 2);

        const events = await history(id);
        assert.deepEqual(events.map((e) => e.seq), [1, 2]);
        assert.equal(events[1].request_id, winner.requestId);
        const order = await call("GET", `/v1/orders/${id}`, { token: owner });
        assert.equal(order.body.version, 2);
        assert.equal(order.body.shipping_address, winner.body.shipping_address);
      },
    );

    await t.step(
      "20 address changes without If-Match: all 200, versions 1..21, each applied to the version before it",
      async () => {
        const owner = await token(103);
        const id = await createOrder(owner);
        const replies = await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) =>
              call("PATCH", `/v1/orders/${id}`, {
                token: i % 2 === 0 ? owner : admin,
                body: { shipping_address: `${i} Parallel St` },
                headers: { "X-Request-Id": `parallel-${i}` },
              }),
          ),
        );
        assert.deepEqual(replies.map((r) => r.status), Array(20).fill(200));
        assertEveryChangeApplied(replies, await history(id), 20);
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

        const order = (await call("GET", `/v1/orders/${id}`, { token: owner }))
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
          const event = byRequest.get(reply.requestId);
          if (reply.status !== 200) {
            assert.equal(event, undefined, reply.requestId);
          } else if (event) {
            assert.equal(reply.body.version, event.seq);
          }
        }
        assert.equal(
          replies.filter((r) => r.status === 200 && byRequest.has(r.requestId))
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
          const order = await call("GET", `/v1/orders/${id}`, { token: owner });
          assert.equal(order.body.status, winner.body.status);
          assert.equal(order.body.version, 3);
          const events = await history(id);
          assert.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
          assert.equal(events[2].request_id, winner.requestId);
        }
      },
    );

    await t.step("every chain in the file database verifies", async () => {
      const database = await openDatabase(url);
      try {
        const result = await verifyAuditLog(database.db);
        assert.equal(result.broken, undefined);
        assert.equal(result.chains, 11);
      } finally {
        database.close();
      }
    });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("20 address changes without If-Match through two processes sharing one file database all answer 200", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orders-two-processes-" });
  const url = `file:${dir}/orders.db`;
  const env = { DATABASE_URL: url, JWT_SECRET: TEST_SECRET };
  const first = await startServer(env, { args: ["--dev"] });
  const second = await startServer(env, { args: ["--dev"] });
  try {
    const calls = [client(first), client(second)];
    const owner = await token(301);
    const created = await calls[0]!("POST", "/v1/orders", {
      token: owner,
      body: orderBody(),
    });
    assert.equal(created.status, 201);
    const id = created.body.id;
    // The two processes race each other; each queues its own changes.
    const replies = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          calls[i % 2]!("PATCH", `/v1/orders/${id}`, {
            token: owner,
            body: { shipping_address: `${i} Two Process Rd` },
            headers: { "X-Request-Id": `two-${i}` },
          }),
      ),
    );
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
  const database = await openDatabase(url);
  try {
    assert.equal((await verifyAuditLog(database.db)).broken, undefined);
  } finally {
    database.close();
    await Deno.remove(dir, { recursive: true });
  }
});
