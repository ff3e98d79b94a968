/**
 * `GET /v1/admin/metrics`: the Prometheus text format, parsed line by
 * line, and counters that follow what the service did.
 */
import assert from "node:assert/strict";
import { DEFAULT_REVIEW_POLICY } from "../../domain/review.ts";
import { createMetrics } from "../../monitoring/metrics.ts";
import { SECURITY_EVENTS } from "../../monitoring/security_event_names.ts";
import {
  createTestContext,
  orderBody,
  type TestContext,
} from "../fixtures/mod.ts";

/** One scrape: HELP and TYPE per family, and every sample by series. */
interface Scrape {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Map<string, string>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/;

/** Parses the Prometheus text format 0.0.4, failing on anything else. */
function parsePrometheus(text: string): Scrape {
  assert.ok(text.endsWith("\n"), "ends with a line feed");
  const scrape: Scrape = {
    help: new Map(),
    type: new Map(),
    samples: new Map(),
  };
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const [name, ...help] = line.slice(7).split(" ");
      assert.match(name ?? "", METRIC_NAME);
      scrape.help.set(name ?? "", help.join(" "));
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      assert.ok(
        ["counter", "gauge", "summary", "histogram", "untyped"].includes(
          type ?? "",
        ),
      );
      assert.equal(scrape.type.has(name ?? ""), false, `one TYPE for ${name}`);
      scrape.type.set(name ?? "", type ?? "");
      continue;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `a sample line: ${JSON.stringify(line)}`);
    const [, name = "", labels = "", value = ""] = match;
    assert.ok(Number.isFinite(Number(value)), `a number: ${value}`);
    const family = scrape.type.has(name)
      ? name
      : name.replace(/_(sum|count)$/, "");
    assert.ok(scrape.type.has(family), `TYPE before ${name}`);
    assert.ok(scrape.help.has(family), `HELP for ${name}`);
    const series = name + labels;
    assert.equal(scrape.samples.has(series), false, `one sample of ${series}`);
    scrape.samples.set(series, value);
  }
  return scrape;
}

async function scrape(ctx: TestContext, token: string): Promise<Scrape> {
  const response = await ctx.request("GET", "/v1/admin/metrics", { token });
  assert.equal(response.status, 200);
  assert.match(
    response.headers.get("content-type") ?? "",
    /^text\/plain; version=0\.0\.4(;|$)/,
  );
  assert.equal(response.headers.get("cache-control"), "no-store");
  return parsePrometheus(await response.text());
}

function value(s: Scrape, series: string): number {
  const text = s.samples.get(series);
  assert.ok(text !== undefined, `series ${series}`);
  return Number(text);
}

Deno.test("GET /v1/admin/metrics is Prometheus text with every family and series from the start", async () => {
  const ctx = await createTestContext();
  try {
    const s = await scrape(ctx, await ctx.token(9, ["admin"]));
    const expected: [string, string][] = [
      ["orders_http_responses_total", "counter"],
      ["orders_security_events_total", "counter"],
      ["orders_created_total", "counter"],
      ["orders_cancelled_total", "counter"],
      ["orders_held_total", "counter"],
      ["orders_value", "summary"],
    ];
    for (const [name, type] of expected) assert.equal(s.type.get(name), type);
    for (const cls of ["2xx", "3xx", "4xx", "5xx"]) {
      assert.equal(value(s, `orders_http_responses_total{class="${cls}"}`), 0);
    }
    for (const event of SECURITY_EVENTS) {
      assert.equal(
        value(s, `orders_security_events_total{event="${event}"}`),
        0,
      );
    }
    assert.equal(s.samples.get("orders_value_sum"), "0.00");
    assert.equal(value(s, "orders_value_count"), 0);
  } finally {
    ctx.close();
  }
});

Deno.test("metrics count responses, security events and orders, with an exact value sum", async () => {
  const ctx = await createTestContext({ reviewPolicy: DEFAULT_REVIEW_POLICY });
  try {
    const admin = await ctx.token(9, ["admin"]);
    const owner = await ctx.token(42);
    const before = await scrape(ctx, admin);

    const prices = ["0.10", "0.20", "12345.675", "9999.99"];
    const ids: string[] = [];
    for (const price of prices) {
      const response = await ctx.request("POST", "/v1/orders", {
        token: owner,
        body: orderBody({
          items: [{
            product_id: "p",
            product_name: "P",
            quantity: 1,
            price,
          }],
        }),
      });
      assert.equal(response.status, 201);
      ids.push((await response.json()).id);
    }
    for (const id of ids.slice(0, 2)) {
      const response = await ctx.request("POST", `/v1/orders/${id}/cancel`, {
        token: owner,
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    const statuses = [];
    for (const token of [undefined, "bad", owner]) {
      const response = await ctx.request("GET", `/v1/orders/${ids[0]}0`, {
        ...(token !== undefined && { token }),
      });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 404]);

    const after = await scrape(ctx, admin);
    const delta = (series: string) =>
      value(after, series) - value(before, series);
    // The first scrape's own 200 is counted after it was rendered.
    assert.equal(delta('orders_http_responses_total{class="2xx"}'), 4 + 2 + 1);
    assert.equal(delta('orders_http_responses_total{class="4xx"}'), 3);
    assert.equal(delta('orders_http_responses_total{class="5xx"}'), 0);
    assert.equal(delta('orders_security_events_total{event="auth.failed"}'), 2);
    assert.equal(delta('orders_security_events_total{event="lookup.miss"}'), 1);
    assert.equal(delta('orders_security_events_total{event="order.held"}'), 1);
    assert.equal(
      delta('orders_security_events_total{event="order.cancelled"}'),
      2,
    );
    assert.equal(delta("orders_created_total"), 4);
    assert.equal(delta("orders_cancelled_total"), 2);
    assert.equal(delta("orders_held_total"), 1);
    // 0.10 + 0.20 + 12345.68 + 9999.99, exactly.
    assert.equal(after.samples.get("orders_value_sum"), "22345.97");
    assert.equal(value(after, "orders_value_count"), 4);
  } finally {
    ctx.close();
  }
});

Deno.test("counters never decrease", () => {
  const metrics = createMetrics({ securityEvents: ["auth.failed"] });
  let previous = parsePrometheus(metrics.render());
  const steps = [
    () => metrics.countResponse(200),
    () => metrics.countResponse(503),
    () => metrics.countResponse(101),
    () => metrics.countSecurityEvent("auth.failed"),
    () => metrics.countSecurityEvent("order.held"),
    () => metrics.countOrderCreated(999_999_999_999n),
    () => metrics.countOrderCancelled(),
    () => metrics.countOrderHeld(),
  ];
  for (const step of steps) {
    step();
    const next = parsePrometheus(metrics.render());
    for (const [series, text] of previous.samples) {
      assert.ok(Number(next.samples.get(series)) >= Number(text), series);
    }
    previous = next;
  }
  assert.equal(previous.samples.get("orders_value_sum"), "9999999999.99");
  assert.equal(
    previous.samples.get('orders_security_events_total{event="order.held"}'),
    "1",
  );
});
