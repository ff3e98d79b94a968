/**
 * Review holds through the real app: which orders are held, who sees the
 * hold, what an admin's decision does, and that no shipment gets ahead of
 * an approval, also when they race.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import type { OrderStore } from "../../domain/ports.ts";
import {
  DEFAULT_REVIEW_POLICY,
  reviewHoldFor,
  VELOCITY_WINDOW_MS,
} from "../../domain/review.ts";
import {
  type Callers,
  type Json,
  orderBody,
  type TestContext,
  withServedApp,
  withTestContext,
  withTwoInstances,
} from "../fixtures/mod.ts";

const OWNER = 42;

/** The usual callers, and the owner holding the admin role too. */
type ReviewCallers = Callers & { ownerAdmin: string };

/** A body whose total is `price` (one item of quantity 1). */
function bodyOfTotal(price: string, overrides: Record<string, unknown> = {}) {
  return orderBody({
    items: [{
      product_id: "sku-9",
      product_name: "Piano",
      quantity: 1,
      price,
    }],
    ...overrides,
  });
}

async function create(
  ctx: TestContext,
  token: string,
  body: unknown = orderBody(),
): Promise<Json> {
  const reply = await ctx.call("POST", "/v1/orders", token, body);
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body;
}

/** An order's history (at `path`) as `token` sees it. */
async function historyOf(
  ctx: TestContext,
  path: string,
  token: string,
): Promise<Json> {
  const history = await ctx.call("GET", `${path}/history`, token);
  assert.equal(history.status, 200);
  return history.body;
}

function seqAndAction(event: Json): [number, string] {
  return [event.seq, event.action];
}

/**
 * Runs `fn` on an app that holds orders by the default review policy, with
 * the usual callers and the owner as an admin.
 */
function withReviewContext(
  fn: (ctx: TestContext, who: ReviewCallers) => Promise<void>,
): Promise<void> {
  return withTestContext(async (ctx, who) => {
    await fn(ctx, { ...who, ownerAdmin: await ctx.token(OWNER, ["admin"]) });
  }, { reviewPolicy: DEFAULT_REVIEW_POLICY });
}

Deno.test("reviewHoldFor: the threshold is inclusive and exact; velocity counts earlier own orders", () => {
  const policy = DEFAULT_REVIEW_POLICY;
  assert.equal(reviewHoldFor({ totalCents: 999_999n }, 4, policy), undefined);
  assert.deepEqual(reviewHoldFor({ totalCents: 1_000_000n }, 0, policy), {
    state: "pending",
    reasons: ["total_threshold"],
  });
  assert.deepEqual(reviewHoldFor({ totalCents: 1n }, 5, policy), {
    state: "pending",
    reasons: ["velocity"],
  });
  assert.deepEqual(reviewHoldFor({ totalCents: 1_000_000n }, 6, policy), {
    state: "pending",
    reasons: ["total_threshold", "velocity"],
  });
  // Not the owner's own order: the velocity rule does not apply.
  assert.equal(reviewHoldFor({ totalCents: 1n }, undefined, policy), undefined);
});

Deno.test("an order of at least REVIEW_THRESHOLD is held; only admin and fulfillment see the review", () =>
  withReviewContext(async (ctx, who) => {
    const below = await create(ctx, who.owner, bodyOfTotal("9999.99"));
    assert.equal("review" in below, false);
    const created = await create(ctx, who.owner, bodyOfTotal("10000.00"));
    assert.equal(created.status, "pending");
    assert.equal("review" in created, false, "the owner never sees review");
    const path = `/v1/orders/${created.id}`;

    const held = { state: "pending", reasons: ["total_threshold"] };
    for (const token of [who.admin, who.fulfillment, who.ownerAdmin]) {
      const read = await ctx.call("GET", path, token);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body.review, held);
      const list = await ctx.call("GET", "/v1/orders", token);
      const listed = list.body.orders.find((o: Json) => o.id === created.id);
      assert.deepEqual(listed.review, held);
      const unheld = list.body.orders.find((o: Json) => o.id === below.id);
      assert.equal("review" in unheld, false);
    }
    const ownerRead = await ctx.call("GET", path, who.owner);
    assert.equal("review" in ownerRead.body, false);
    const ownerList = await ctx.call("GET", "/v1/orders", who.owner);
    assert.ok(ownerList.body.orders.every((o: Json) => !("review" in o)));

    // An admin creating a held order sees the review in the 201.
    const byAdmin = await create(
      ctx,
      who.admin,
      bodyOfTotal("10000", { user_id: 77 }),
    );
    assert.deepEqual(byAdmin.review, held);
  }));

Deno.test("a replay shows the review to the caller who asks: the same user without a staff role never sees it", () =>
  withReviewContext(async (ctx, who) => {
    const post = (token: string, key: string) =>
      ctx.request("POST", "/v1/orders", {
        token,
        body: bodyOfTotal("10000.00"),
        headers: { "Idempotency-Key": key },
      });
    const held = { state: "pending", reasons: ["total_threshold"] };
    const asAdmin = await post(who.ownerAdmin, "held-by-admin");
    assert.equal(asAdmin.status, 201);
    const created = await asAdmin.json();
    assert.deepEqual(created.review, held);
    const asOwner = await post(who.owner, "held-by-admin");
    assert.equal(asOwner.headers.get("idempotent-replayed"), "true");
    const replayed = await asOwner.json();
    assert.equal("review" in replayed, false);
    const { review: _review, ...rest } = created;
    assert.deepEqual(replayed, rest);
    // And the other way round: created by the owner, replayed to an admin.
    const byOwner = await (await post(who.owner, "held-by-owner")).json();
    assert.equal("review" in byOwner, false);
    const toAdmin = await post(who.ownerAdmin, "held-by-owner");
    assert.equal(toAdmin.headers.get("idempotent-replayed"), "true");
    assert.deepEqual((await toAdmin.json()).review, held);
  }));

Deno.test("the 6th order a user creates themself within 10 minutes is held for velocity; others' orders and replays do not count", () =>
  withReviewContext(async (ctx, who) => {
    // Orders an admin creates for the user do not count.
    for (let i = 0; i < 3; i++) {
      await create(ctx, who.admin, orderBody({ user_id: OWNER }));
    }
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ctx.clock.advance(60_000);
      const response = await ctx.request("POST", "/v1/orders", {
        token: who.owner,
        body: orderBody(),
        headers: { "Idempotency-Key": `k${i}` },
      });
      assert.equal(response.status, 201);
      ids.push((await response.json()).id);
    }
    // A replay creates nothing, so it is not counted either.
    const replay = await ctx.request("POST", "/v1/orders", {
      token: who.owner,
      body: orderBody(),
      headers: { "Idempotency-Key": "k4" },
    });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    await replay.body?.cancel();
    for (const id of ids) {
      const read = await ctx.call("GET", `/v1/orders/${id}`, who.admin);
      assert.equal("review" in read.body, false);
    }

    const sixth = await create(ctx, who.owner);
    const read = await ctx.call("GET", `/v1/orders/${sixth.id}`, who.admin);
    assert.deepEqual(read.body.review, {
      state: "pending",
      reasons: ["velocity"],
    });
    // Big and fast: both reasons.
    const both = await create(ctx, who.owner, bodyOfTotal("25000"));
    const bothRead = await ctx.call("GET", `/v1/orders/${both.id}`, who.admin);
    assert.deepEqual(bothRead.body.review.reasons, [
      "total_threshold",
      "velocity",
    ]);

    // Ten minutes later only the last three are in the window: not held.
    ctx.clock.advance(VELOCITY_WINDOW_MS);
    const later = await create(ctx, who.owner);
    const laterRead = await ctx.call(
      "GET",
      `/v1/orders/${later.id}`,
      who.admin,
    );
    assert.equal("review" in laterRead.body, false);
  }));

Deno.test("a held order cannot move to processing until an admin approves it", () =>
  withReviewContext(async (ctx, who) => {
    const created = await create(ctx, who.owner, bodyOfTotal("10000"));
    const path = `/v1/orders/${created.id}`;
    for (const token of [who.fulfillment, who.admin]) {
      const refused = await ctx.call("PATCH", path, token, {
        status: "processing",
      });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.type, "urn:orders-api:problem:conflict");
      assert.match(refused.body.detail, /held for review/);
    }
    // Rights and status rules still come first.
    assert.equal(
      (await ctx.call("PATCH", path, who.owner, { status: "processing" }))
        .status,
      403,
    );
    assert.equal(
      (await ctx.call("PATCH", path, who.fulfillment, { status: "shipped" }))
        .status,
      400,
    );

    ctx.clock.advance(1000);
    const approved = await ctx.call("POST", `${path}/review`, who.admin, {
      decision: "approve",
      note: "  <b>Called</b> the customer  ",
    });
    assert.equal(approved.status, 200);
    assert.equal(approved.body.version, 2);
    assert.equal(approved.body.status, "pending");
    assert.deepEqual(approved.body.review, {
      state: "approved",
      reasons: ["total_threshold"],
    });

    const moved = await ctx.call("PATCH", path, who.fulfillment, {
      status: "processing",
    });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.version, 3);
    assert.equal(moved.body.review.state, "approved");

    const { events } = await historyOf(ctx, path, who.admin);
    assert.deepEqual(events.map(seqAndAction), [
      [1, "order.created"],
      [2, "order.review_approved"],
      [3, "order.updated"],
    ]);
    assert.deepEqual(events[0].changes.review, {
      from: null,
      to: { state: "pending", reasons: ["total_threshold"] },
    });
    assert.deepEqual(events[1].changes, {
      review: {
        from: { state: "pending", reasons: ["total_threshold"] },
        to: { state: "approved", reasons: ["total_threshold"] },
      },
      review_note: { from: null, to: "Called the customer" },
    });
    assert.deepEqual(events[1].actor, { user_id: 9, roles: ["admin", "user"] });

    // The owner's view of the history shows no review.
    const ownerHistory = await historyOf(ctx, path, who.owner);
    const ownerEvents = ownerHistory.events;
    assert.deepEqual(ownerEvents.map(seqAndAction), [
      [1, "order.created"],
      [2, "order.updated"],
      [3, "order.updated"],
    ]);
    assert.equal("review" in ownerEvents[0].changes, false);
    assert.deepEqual(ownerEvents[1].changes, {});
    assert.doesNotMatch(JSON.stringify(ownerHistory), /review|Called/);
  }));

Deno.test("rejecting a held order cancels it; deciding twice or on an unheld order is 409", () =>
  withReviewContext(async (ctx, who) => {
    const created = await create(ctx, who.owner, bodyOfTotal("10000"));
    const path = `/v1/orders/${created.id}`;
    const rejected = await ctx.call("POST", `${path}/review`, who.admin, {
      decision: "reject",
    });
    assert.equal(rejected.status, 200);
    assert.equal(rejected.body.status, "cancelled");
    assert.equal(rejected.body.version, 2);
    assert.deepEqual(rejected.body.review, {
      state: "rejected",
      reasons: ["total_threshold"],
    });
    for (const decision of ["approve", "reject"]) {
      const again = await ctx.call("POST", `${path}/review`, who.admin, {
        decision,
      });
      assert.equal(again.status, 409);
      assert.match(again.body.detail, /already rejected/);
    }
    const history = await ctx.call("GET", `${path}/history`, who.admin);
    assert.deepEqual(history.body.events[1].changes.status, {
      from: "pending",
      to: "cancelled",
    });
    assert.equal(history.body.events[1].action, "order.review_rejected");
    const ownerHistory = await ctx.call("GET", `${path}/history`, who.owner);
    assert.equal(ownerHistory.body.events[1].action, "order.cancelled");
    assert.deepEqual(ownerHistory.body.events[1].changes, {
      status: { from: "pending", to: "cancelled" },
    });

    const approvedOnce = await create(ctx, who.owner, bodyOfTotal("10000"));
    const approvedPath = `/v1/orders/${approvedOnce.id}/review`;
    assert.equal(
      (await ctx.call("POST", approvedPath, who.admin, {
        decision: "approve",
      }))
        .status,
      200,
    );
    const twice = await ctx.call("POST", approvedPath, who.admin, {
      decision: "approve",
    });
    assert.equal(twice.status, 409);
    assert.match(twice.body.detail, /already approved/);

    const unheld = await create(ctx, who.owner);
    const notHeld = await ctx.call(
      "POST",
      `/v1/orders/${unheld.id}/review`,
      who.admin,
      { decision: "approve" },
    );
    assert.equal(notHeld.status, 409);
    assert.match(notHeld.body.detail, /not held/);
    const verified = await verifyAuditLog(ctx.database.db);
    assert.equal(verified.broken, undefined);
  }));

Deno.test("POST /v1/orders/:id/review: 422 for a bad decision, 404 unknown, 403 for anyone but an admin", () =>
  withReviewContext(async (ctx, who) => {
    const created = await create(ctx, who.owner, bodyOfTotal("10000"));
    const path = `/v1/orders/${created.id}/review`;
    for (
      const body of [
        {},
        { decision: "maybe" },
        { decision: "approve", note: 5 },
        { decision: "approve", note: "x".repeat(501) },
        [],
      ]
    ) {
      const reply = await ctx.call("POST", path, who.admin, body);
      assert.equal(reply.status, 422, JSON.stringify(body));
      assert.ok(reply.body.errors.length > 0);
    }
    const missing = `/v1/orders/${crypto.randomUUID()}/review`;
    assert.equal(
      (await ctx.call("POST", missing, who.admin, { decision: "approve" }))
        .status,
      404,
    );
    assert.equal(
      (await ctx.call("POST", "/v1/orders/nope/review", who.admin, {
        decision: "approve",
      })).status,
      404,
    );
    for (const token of [who.owner, who.fulfillment, who.other]) {
      const reply = await ctx.call("POST", path, token, {
        decision: "approve",
      });
      assert.equal(reply.status, 403);
    }
    // If-Match works as for every change.
    const stale = await ctx.request("POST", path, {
      token: who.admin,
      body: { decision: "approve" },
      headers: { "If-Match": '"7"' },
    });
    assert.equal(stale.status, 412);
    await stale.body?.cancel();
    // Still held after all of that.
    const read = await ctx.call("GET", `/v1/orders/${created.id}`, who.admin);
    assert.equal(read.body.review.state, "pending");
    assert.equal(read.body.version, 1);
  }));

Deno.test("the owner and an admin may still cancel a held order; then there is nothing to decide", () =>
  withReviewContext(async (ctx, who) => {
    for (const token of [who.owner, who.admin]) {
      const created = await create(ctx, who.owner, bodyOfTotal("10000"));
      const path = `/v1/orders/${created.id}`;
      const cancelled = await ctx.call("POST", `${path}/cancel`, token);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.status, "cancelled");
      const decided = await ctx.call("POST", `${path}/review`, who.admin, {
        decision: "approve",
      });
      assert.equal(decided.status, 409);
      assert.match(decided.body.detail, /order is cancelled/);
    }
    const created = await create(ctx, who.owner, bodyOfTotal("10000"));
    const byFulfillment = await ctx.call(
      "POST",
      `/v1/orders/${created.id}/cancel`,
      who.fulfillment,
    );
    assert.equal(byFulfillment.status, 403);
  }));

Deno.test("a processing move that reads the order while its approval is being written is refused", () =>
  // The move comes through another instance on the same database: within
  // one instance, changes to one order wait for each other.
  withTwoInstances(async (base, other) => {
    let during: (() => Promise<void>) | undefined;
    const store: OrderStore = {
      ...base.store,
      async updateOrder(order, entry, prevHash) {
        const run = during;
        during = undefined;
        await run?.();
        return await base.store.updateOrder(order, entry, prevHash);
      },
    };
    await withTestContext(async (ctx, who) => {
      const created = await create(ctx, who.owner, bodyOfTotal("10000"));
      const path = `/v1/orders/${created.id}`;
      let racing: { status: number; body: Json } | undefined;
      during = async () => {
        racing = await other.call("PATCH", path, who.fulfillment, {
          status: "processing",
        });
      };
      const approved = await ctx.call("POST", `${path}/review`, who.admin, {
        decision: "approve",
      });
      assert.equal(approved.status, 200);
      assert.equal(racing?.status, 409, "not before the approval is written");
      const after = await ctx.call("PATCH", path, who.fulfillment, {
        status: "processing",
      });
      assert.equal(after.status, 200);
    }, {
      reviewPolicy: DEFAULT_REVIEW_POLICY,
      store,
      accounts: base.accounts,
    });
  }, { reviewPolicy: DEFAULT_REVIEW_POLICY }));

Deno.test("racing approve or reject against processing over real HTTP never lets an order through unapproved", () =>
  withServedApp(
    { reviewPolicy: DEFAULT_REVIEW_POLICY },
    async (ctx, send, who) => {
      const rounds = 12;
      const ids: string[] = [];
      for (let i = 0; i < rounds; i++) {
        ids.push((await create(ctx, who.owner, bodyOfTotal("10000"))).id);
      }
      const outcomes = await Promise.all(ids.map(async (id, i) => {
        const decision = i % 3 === 2 ? "reject" : "approve";
        const [decided, moved] = await Promise.all([
          send("POST", `/v1/orders/${id}/review`, {
            token: who.admin,
            body: { decision },
          }),
          send("PATCH", `/v1/orders/${id}`, {
            token: who.fulfillment,
            body: { status: "processing" },
          }),
        ]);
        return { id, decision, decided, moved };
      }));
      for (const { id, decision, decided, moved } of outcomes) {
        assert.equal(decided.status, 200, JSON.stringify(decided.body));
        const history = await ctx.call(
          "GET",
          `/v1/orders/${id}/history`,
          who.admin,
        );
        const actions = history.body.events.map((e: Json) => e.action);
        if (decision === "reject") {
          // Before the rejection: held (409); after: cancelled (400).
          assert.ok([409, 400].includes(moved.status), String(moved.status));
          assert.deepEqual(actions, ["order.created", "order.review_rejected"]);
        } else if (moved.status === 200) {
          assert.deepEqual(actions, [
            "order.created",
            "order.review_approved",
            "order.updated",
          ]);
        } else {
          assert.equal(moved.status, 409);
          assert.deepEqual(actions, ["order.created", "order.review_approved"]);
        }
      }
      const verified = await verifyAuditLog(ctx.database.db);
      assert.equal(verified.broken, undefined);
    },
  ));

Deno.test("concurrent creations cannot all slip under the velocity rule", () =>
  withServedApp(
    { reviewPolicy: DEFAULT_REVIEW_POLICY },
    async (ctx, send, who) => {
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          send("POST", "/v1/orders", {
            token: who.owner,
            body: orderBody(),
            ...(i % 2 === 0 && { headers: { "Idempotency-Key": `race-${i}` } }),
          })),
      );
      assert.ok(replies.every((r) => r.status === 201));
      const list = await ctx.call("GET", "/v1/orders?limit=100", who.admin);
      const held = list.body.orders.filter((o: Json) => o.review);
      assert.equal(list.body.orders.length, 12);
      // Exactly the orders after the first five are held, as if in a row.
      assert.equal(held.length, 12 - DEFAULT_REVIEW_POLICY.velocityOrders);
    },
  ));
