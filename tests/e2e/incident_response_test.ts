/**
 * `main.ts` as a subprocess, configured by its environment: the review
 * settings and the admin endpoints reach the running service, and the
 * security events it writes to stdout carry a keyed hash, not the address.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import { createAddressHasher } from "../../monitoring/security_events.ts";
import {
  createOrder,
  httpClient,
  orderBody,
  runTool,
  TEST_SECRET,
  withDatabaseFile,
  withServerOnFile,
  withTestContext,
} from "../fixtures/mod.ts";

Deno.test("main.ts: REVIEW_THRESHOLD holds orders, admins disable users and read metrics over real HTTP", () =>
  withServerOnFile("orders-ir-e2e-", {
    JWT_SECRET: TEST_SECRET,
    REVIEW_THRESHOLD: "20.00",
    REVIEW_VELOCITY_ORDERS: "100",
    IP_HASH_KEY: "an-ip-hash-key-for-the-e2e-test-0123456789",
  }, async (server) => {
    const user = await signToken(TEST_SECRET, { sub: 42 });
    const admin = await signToken(TEST_SECRET, { sub: 2, roles: ["admin"] });
    const call = httpClient(server.url);

    const created = await call("POST", "/v1/orders", {
      token: user,
      body: orderBody(),
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.total, "25.00");
    const read = await call("GET", `/v1/orders/${created.body.id}`, {
      token: admin,
    });
    assert.deepEqual(read.body.review, {
      state: "pending",
      reasons: ["total_threshold"],
    });

    assert.equal(
      (await call("POST", "/v1/admin/users/42/disable", { token: admin }))
        .status,
      204,
    );
    const refused = await call("GET", "/v1/orders", { token: user });
    assert.equal(refused.status, 403);
    assert.equal(
      refused.body.type,
      "urn:orders-api:problem:account-disabled",
    );

    const metrics = await call("GET", "/v1/admin/metrics", { token: admin });
    assert.equal(metrics.status, 200);
    const text = metrics.text;
    assert.match(text, /^orders_held_total 1$/m);
    assert.match(
      text,
      /^orders_security_events_total\{event="account\.disabled"\} 1$/m,
    );

    const lines = server.output().split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    const disabled = lines.find((l) => l.event === "account.disabled");
    assert.equal(disabled?.user_id, 42);
    assert.match(disabled?.ip_hash ?? "", /^[0-9a-f]{32}$/);
    // The client is 127.0.0.1 (the only address there is the listening one).
    const requestLines = JSON.stringify(lines.filter((l) => l.request_id));
    assert.ok(!requestLines.includes("127.0.0.1"), "no raw address");
    assert.ok(!server.output().includes(user));
  }, { args: ["--dev"] }));

Deno.test("deno task audit:actor lists what a user did and what admins did to their account", () =>
  withDatabaseFile("orders-ir-actor-", async (url) => {
    const id = await withTestContext(async (ctx, { owner, other, admin }) => {
      const created = await createOrder(ctx, owner);
      await createOrder(ctx, other);
      ctx.clock.advance(1000);
      await ctx.request("POST", "/v1/admin/users/42/disable", { token: admin });
      return created.id;
    }, { url });
    const result = await runTool("audit_actor.ts", {
      args: ["--user", "42"],
      env: { DATABASE_URL: url },
    });
    assert.equal(result.code, 0, result.stderr);
    const entries = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(entries.map((e) => [e.chain.split(":")[0], e.action]), [
      ["order", "order.created"],
      ["user", "account.disabled"],
    ]);
    assert.equal(entries[0].chain, `order:${id}`);
    assert.equal(entries[1].chain, "user:42");
    assert.equal(entries[1].actor.user_id, 9);
    const usage = await runTool("audit_actor.ts", {
      args: ["--user", "x"],
      env: { DATABASE_URL: url },
    });
    assert.equal(usage.code, 2);
  }));

Deno.test("deno task ip:hash prints the ip_hash the service logs for an address", async () => {
  const key = "an-ip-hash-key-for-the-tool-test-0123456789";
  const result = await runTool("ip_hash.ts", {
    args: ["203.0.113.5"],
    env: {
      IP_HASH_KEY: key,
    },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `${createAddressHasher(key)("203.0.113.5")}  203.0.113.5\n`,
  );
});
