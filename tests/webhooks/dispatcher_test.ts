/**
 * The dispatcher against real receivers: the in-process app on a real
 * database registers endpoints and changes orders; the dispatcher runs on
 * the test clock (`drain`), so retries are due when the test says.
 */
import assert from "node:assert/strict";
import {
  callers,
  createTestContext,
  orderBody,
  type TestContext,
} from "../fixtures/mod.ts";
import {
  createDispatcher,
  type Dispatcher,
  type DispatcherSettings,
} from "../../webhooks/dispatcher.ts";
import { createMetrics } from "../../monitoring/metrics.ts";
import { DEFAULT_WEBHOOK_DISABLE_AFTER } from "../../domain/webhook_schedule.ts";
import type { WakeDispatcher } from "../../domain/manage_webhooks.ts";
import { type Receiver, startReceiver } from "./receiver.ts";

const LOOPBACK = new Set(["127.0.0.1"]);

/** Retries one second apart (±10 %): tests move the clock past them. */
const SETTINGS: DispatcherSettings = {
  timeoutMs: 2000,
  concurrency: 4,
  retrySchedule: [1, 1, 1],
  disableAfter: DEFAULT_WEBHOOK_DISABLE_AFTER,
  allowHosts: LOOPBACK,
};

interface Setup {
  ctx: TestContext;
  receiver: Receiver;
  dispatcher: Dispatcher;
  admin: string;
  owner: string;
  fulfillment: string;
  /** Registers the receiver; returns the endpoint's id and secret. */
  register(
    body?: Record<string, unknown>,
  ): Promise<{ id: string; secret: string }>;
  /** The counters the dispatcher counts attempts in. */
  metrics: ReturnType<typeof createMetrics>;
}

async function withWebhooks(
  settings: Partial<DispatcherSettings>,
  run: (setup: Setup) => Promise<void>,
  options: { wokenByWrites?: boolean } = {},
): Promise<void> {
  const metrics = createMetrics({ securityEvents: [] });
  const wiring: { wake?: WakeDispatcher } = {};
  const ctx = await createTestContext({
    webhookSettings: { allowHosts: LOOPBACK, maxEndpoints: 20 },
    metrics,
    // As the service wires it; otherwise the tests drive the dispatcher.
    ...(options.wokenByWrites && {
      wakeDispatcher: (wakeOptions) => wiring.wake?.(wakeOptions),
    }),
  });
  const receiver = startReceiver();
  const dispatcher = createDispatcher({
    queue: ctx.webhooks,
    clock: ctx.clock,
    logger: {
      log: (level, event, fields) => ctx.logs.push({ level, event, ...fields }),
    },
    settings: { ...SETTINGS, ...settings },
    countAttempt: (outcome) => metrics.countWebhookAttempt(outcome),
    random: () => 0.5,
  });
  wiring.wake = dispatcher.wake;
  const { admin, owner, fulfillment } = await callers(ctx);
  try {
    await run({
      ctx,
      receiver,
      dispatcher,
      admin,
      owner,
      fulfillment,
      metrics,
      async register(body = {}) {
        const created = await ctx.call(
          "POST",
          "/v1/webhook-endpoints",
          admin,
          { url: receiver.url, ...body },
        );
        assert.equal(created.status, 201, JSON.stringify(created.body));
        return { id: created.body.id, secret: created.body.secret };
      },
    });
  } finally {
    await dispatcher.stop();
    await receiver.close();
    ctx.close();
  }
}

/** Places an order through the API as `token`; returns its id. */
async function placeOrder(
  ctx: TestContext,
  token: string,
  fields: Record<string, unknown> = {},
): Promise<{ id: string }> {
  const created = await ctx.call(
    "POST",
    "/v1/orders",
    token,
    orderBody(fields),
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.id };
}

/** The endpoint's attempts log, newest first, as the API shows it. */
async function attemptsLog(s: Setup, id: string): Promise<
  {
    event_type: string;
    attempt: number;
    outcome: string;
    response_status: number | null;
  }[]
> {
  const page = await s.ctx.call(
    "GET",
    `/v1/webhook-endpoints/${id}/attempts`,
    s.admin,
  );
  assert.equal(page.status, 200);
  return page.body.attempts;
}

/** Moves an order to `status` as fulfillment. */
async function moveTo(
  ctx: TestContext,
  token: string,
  id: string,
  status: string,
): Promise<void> {
  const moved = await ctx.call("PATCH", `/v1/orders/${id}`, token, { status });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
}

Deno.test("an order's events reach a subscribed endpoint signed, as the feed shows them, without the address", async () => {
  await withWebhooks({}, async (s) => {
    const { secret } = await s.register();
    const order = await placeOrder(s.ctx, s.owner, {
      shipping_address: "12 Secret Lane, Springfield",
    });
    await moveTo(s.ctx, s.fulfillment, order.id, "processing");
    await s.dispatcher.drain();

    assert.deepEqual(
      s.receiver.deliveries.map((d) => [d.json.type, d.json.data.order_id]),
      [["order.created", order.id], ["order.updated", order.id]],
    );
    for (const delivery of s.receiver.deliveries) {
      assert.ok(s.receiver.verifies(delivery, secret), "signature verifies");
      assert.equal(delivery.id, delivery.json.id, "webhook-id is the event id");
      const event = await s.ctx.call(
        "GET",
        `/v1/events/${delivery.id}`,
        s.admin,
      );
      assert.equal(delivery.body, JSON.stringify(event.body));
      assert.ok(!delivery.body.includes("Secret Lane"));
    }
  });
});

Deno.test("an endpoint receives only the types it subscribed to, and nothing once disabled", async () => {
  await withWebhooks({}, async (s) => {
    const { id } = await s.register({ event_types: ["order.cancelled"] });
    const kept = await placeOrder(s.ctx, s.owner);
    const cancelled = await placeOrder(s.ctx, s.owner);
    const cancel = await s.ctx.call(
      "POST",
      `/v1/orders/${cancelled.id}/cancel`,
      s.owner,
    );
    assert.equal(cancel.status, 200);
    await s.dispatcher.drain();
    assert.deepEqual(
      s.receiver.deliveries.map((d) => [d.json.type, d.json.data.order_id]),
      [["order.cancelled", cancelled.id]],
    );

    const disabled = await s.ctx.call(
      "PATCH",
      `/v1/webhook-endpoints/${id}`,
      s.admin,
      { enabled: false },
    );
    assert.equal(disabled.status, 200);
    await s.ctx.call("POST", `/v1/orders/${kept.id}/cancel`, s.owner);
    await s.dispatcher.drain();
    assert.equal(s.receiver.deliveries.length, 1);
  });
});

Deno.test("an order's next event waits for its failing first one; other orders are not held up", async () => {
  await withWebhooks({}, async (s) => {
    await s.register();
    const first = await placeOrder(s.ctx, s.owner);
    await placeOrder(s.ctx, s.owner);
    await moveTo(s.ctx, s.fulfillment, first.id, "processing");
    // The first order's creation fails twice, then succeeds.
    let failures = 0;
    s.receiver.script((delivery) => {
      const failing = delivery.json.type === "order.created" &&
        delivery.json.data.order_id === first.id && failures < 2;
      if (failing) failures++;
      return new Response(null, { status: failing ? 500 : 200 });
    });

    await s.dispatcher.drain();
    const seen = () =>
      s.receiver.deliveries.map((d) =>
        `${
          d.json.data.order_id === first.id ? "first" : "other"
        } ${d.json.type} ${d.status}`
      );
    // The other order went through; the first's update was not sent.
    assert.deepEqual(seen().sort(), [
      "first order.created 500",
      "other order.created 200",
    ]);

    s.ctx.clock.advance(1_100);
    await s.dispatcher.drain();
    s.ctx.clock.advance(1_100);
    await s.dispatcher.drain();
    assert.deepEqual(seen().filter((line) => line.startsWith("first")), [
      "first order.created 500",
      "first order.created 500",
      "first order.created 200",
      "first order.updated 200",
    ]);
  });
});

Deno.test("a delivery failed for good lets the order's next event go; failed deliveries in a row disable the endpoint", async () => {
  await withWebhooks(
    { retrySchedule: [1], disableAfter: 2 },
    async (s) => {
      const { id } = await s.register();
      s.receiver.script(() => new Response(null, { status: 503 }));
      const order = await placeOrder(s.ctx, s.owner);
      await moveTo(s.ctx, s.fulfillment, order.id, "processing");
      await s.dispatcher.drain();
      s.ctx.clock.advance(1_100);
      await s.dispatcher.drain();
      // Two attempts of the creation; then its update, attempted next.
      s.ctx.clock.advance(1_100);
      await s.dispatcher.drain();
      assert.deepEqual(
        s.receiver.deliveries.map((d) => d.json.type),
        ["order.created", "order.created", "order.updated", "order.updated"],
      );
      const endpoint = await s.ctx.call(
        "GET",
        `/v1/webhook-endpoints/${id}`,
        s.admin,
      );
      assert.equal(endpoint.body.enabled, false);
      assert.match(endpoint.body.disabled_reason, /2 deliveries/);
      const logged = s.ctx.logs.filter((l) =>
        l.event === "webhook.endpoint_disabled"
      );
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.endpoint_id, id);

      assert.deepEqual(
        (await attemptsLog(s, id)).map((
          a,
        ) => [a.event_type, a.attempt, a.outcome]),
        [
          ["order.updated", 2, "failed"],
          ["order.updated", 1, "failed"],
          ["order.created", 2, "failed"],
          ["order.created", 1, "failed"],
        ],
      );
    },
  );
});

Deno.test("410 disables the endpoint at once; 429 with Retry-After holds the next attempt", async () => {
  await withWebhooks({}, async (s) => {
    const gone = await s.register();
    s.receiver.script(() => new Response(null, { status: 410 }));
    await placeOrder(s.ctx, s.owner);
    await s.dispatcher.drain();
    const endpoint = await s.ctx.call(
      "GET",
      `/v1/webhook-endpoints/${gone.id}`,
      s.admin,
    );
    assert.equal(endpoint.body.enabled, false);
    assert.ok(
      s.ctx.logs.some((l) =>
        l.event === "webhook.endpoint_disabled" && l.endpoint_id === gone.id
      ),
    );
    const deleted = await s.ctx.request(
      "DELETE",
      `/v1/webhook-endpoints/${gone.id}`,
      { token: s.admin },
    );
    assert.equal(deleted.status, 204);

    await s.register();
    const before = s.receiver.deliveries.length;
    s.receiver.script((_, n) =>
      n === before
        ? new Response(null, { status: 429, headers: { "Retry-After": "120" } })
        : new Response(null, { status: 200 })
    );
    await placeOrder(s.ctx, s.owner);
    await s.dispatcher.drain();
    assert.equal(s.receiver.deliveries.length, before + 1);
    s.ctx.clock.advance(60_000);
    await s.dispatcher.drain();
    assert.equal(s.receiver.deliveries.length, before + 1, "held 120 s");
    s.ctx.clock.advance(61_000);
    await s.dispatcher.drain();
    assert.equal(s.receiver.deliveries.length, before + 2);
    assert.equal(s.receiver.deliveries.at(-1)!.status, 200);
  });
});

Deno.test("at most WEBHOOK_CONCURRENCY attempts are in flight per endpoint", async () => {
  await withWebhooks({ concurrency: 2 }, async (s) => {
    await s.register();
    let inFlight = 0;
    let most = 0;
    s.receiver.script(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Long enough for every other delivery to be claimed if allowed.
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return new Response(null, { status: 204 });
    });
    for (let i = 0; i < 6; i++) await placeOrder(s.ctx, s.owner);
    await s.dispatcher.drain();
    assert.equal(s.receiver.deliveries.length, 6);
    assert.equal(most, 2);
  });
});

Deno.test("after a rotation deliveries carry both signatures until the old secret expires", async () => {
  await withWebhooks({}, async (s) => {
    const { id, secret: old } = await s.register();
    const rotated = await s.ctx.call(
      "POST",
      `/v1/webhook-endpoints/${id}/rotate-secret`,
      s.admin,
    );
    assert.equal(rotated.status, 200);
    const fresh: string = rotated.body.secret;
    await placeOrder(s.ctx, s.owner);
    await s.dispatcher.drain();
    const [both] = s.receiver.deliveries;
    assert.equal(both!.signature.split(" ").length, 2);
    assert.ok(s.receiver.verifies(both!, fresh));
    assert.ok(s.receiver.verifies(both!, old));
  });
});

Deno.test("test events and resends are delivered with the event's own id", async () => {
  await withWebhooks({}, async (s) => {
    const { id, secret } = await s.register();
    const tested = await s.ctx.call(
      "POST",
      `/v1/webhook-endpoints/${id}/test`,
      s.admin,
    );
    assert.equal(tested.status, 202);
    const order = await placeOrder(s.ctx, s.owner);
    await s.dispatcher.drain();
    const created = s.receiver.deliveries.find((d) =>
      d.json.type === "order.created"
    )!;
    const resent = await s.ctx.call(
      "POST",
      `/v1/events/${created.id}/resend`,
      s.admin,
      { endpoint_id: id },
    );
    assert.equal(resent.status, 202);
    await s.dispatcher.drain();
    const [test, first, again] = s.receiver.deliveries;
    assert.equal(test!.json.type, "webhook.test");
    assert.equal(test!.json.data.endpoint_id, id);
    assert.equal(first!.json.data.order_id, order.id);
    assert.equal(again!.id, first!.id);
    assert.equal(again!.body, first!.body);
    for (const d of s.receiver.deliveries) {
      assert.ok(s.receiver.verifies(d, secret));
    }
  });
});

Deno.test("two dispatchers on one database attempt each delivery once", async () => {
  await withWebhooks({}, async (s) => {
    await s.register();
    const second = createDispatcher({
      queue: s.ctx.webhooks,
      clock: s.ctx.clock,
      logger: { log: () => {} },
      settings: SETTINGS,
    });
    for (let i = 0; i < 20; i++) await placeOrder(s.ctx, s.owner);
    await Promise.all([s.dispatcher.drain(), second.drain()]);
    await second.stop();
    const ids = s.receiver.deliveries.map((d) => d.id);
    assert.equal(ids.length, 20);
    assert.equal(new Set(ids).size, 20);
  });
});

Deno.test("the metrics count attempts by outcome and show the backlog and its age", async () => {
  await withWebhooks({}, async (s) => {
    await s.register();
    s.receiver.script(() => new Response(null, { status: 500 }));
    await placeOrder(s.ctx, s.owner);
    await placeOrder(s.ctx, s.owner);
    await s.dispatcher.drain();
    s.ctx.clock.advance(30_000);
    const metrics = await s.ctx.request("GET", "/v1/admin/metrics", {
      token: s.admin,
    });
    const text = await metrics.text();
    assert.match(
      text,
      /^orders_webhook_attempts_total\{outcome="failed"\} 2$/m,
    );
    assert.match(
      text,
      /^orders_webhook_attempts_total\{outcome="succeeded"\} 0$/m,
    );
    assert.match(text, /^orders_webhook_deliveries_pending 2$/m);
    assert.match(text, /^orders_webhook_oldest_pending_seconds 30$/m);
  });
});

Deno.test("a redirect is a failed attempt, never followed; an answer slower than the timeout is a timeout; both are retried", async () => {
  await withWebhooks({ timeoutMs: 200 }, async (s) => {
    const elsewhere = startReceiver();
    try {
      const { id } = await s.register();
      s.receiver.script(async (_, n) => {
        if (n === 0) {
          return new Response(null, {
            status: 302,
            headers: { Location: elsewhere.url },
          });
        }
        if (n === 1) await new Promise((resolve) => setTimeout(resolve, 400));
        return new Response(null, { status: 204 });
      });
      await placeOrder(s.ctx, s.owner);
      await s.dispatcher.drain();
      s.ctx.clock.advance(1_100);
      await s.dispatcher.drain();
      s.ctx.clock.advance(1_100);
      await s.dispatcher.drain();
      assert.equal(elsewhere.deliveries.length, 0, "the redirect was followed");
      assert.deepEqual(
        (await attemptsLog(s, id)).map((a) => [
          a.attempt,
          a.outcome,
          a.response_status,
        ]),
        [[3, "succeeded", 204], [2, "timeout", null], [1, "failed", 302]],
      );
    } finally {
      await elsewhere.close();
    }
  });
});

Deno.test("an endpoint registered after the dispatcher found none gets the next change's event at once, not at the next poll", () =>
  withWebhooks({}, async (s) => {
    // The first look finds no endpoint; the next poll is an hour away.
    await s.dispatcher.start(3_600_000);
    await s.register();
    const { id } = await placeOrder(s.ctx, s.owner);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      s.receiver.waitFor(1),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("no delivery without a poll")),
          10_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(s.receiver.deliveries[0]?.json.data.order_id, id);
  }, { wokenByWrites: true }));
