/**
 * `deno task bench --floor`: what one request costs inside the service,
 * part by part, without HTTP or load: the floor under the throughput the
 * load benchmark measures. Each part runs many times on one core after a
 * warm-up and is reported in µs per call (the median of 5 rounds); the
 * whole request is the app's own `fetch` in process, so the rest
 * (framework and checks) is the difference.
 *
 * The app is the test suite's (`createTestContext`: the real app over an
 * in-memory database with the real migrations, personal data encrypted,
 * in-memory rate limits), with logging at `info` to nowhere.
 */
import { orderJson, orderView } from "../../routes/http/order_json.ts";
import { createJsonLogger } from "../../logger.ts";
import { createTestContext, orderBody } from "../../tests/fixtures/mod.ts";

/** One measured part. */
export interface FloorPart {
  readonly name: string;
  readonly microseconds: number;
}

/** Runs `fn` `count` times per round; the median round's µs per call. */
async function measure(
  count: number,
  fn: () => unknown | Promise<unknown>,
): Promise<number> {
  for (let i = 0; i < count; i++) await fn();
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    for (let i = 0; i < count; i++) await fn();
    rounds.push(((performance.now() - started) * 1000) / count);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2]!;
}

/** Measures the parts of a read and of a creation. */
export async function measureFloor(count = 2000): Promise<FloorPart[]> {
  const ctx = await createTestContext({
    logger: createJsonLogger("info", () => {}),
  });
  try {
    const token = await ctx.token(42);
    const headers = { Authorization: `Bearer ${token}` };
    const created = await ctx.request("POST", "/v1/orders", {
      token,
      body: orderBody(),
    });
    const { id } = await created.json();
    const order = (await ctx.store.findOrder(id))!;
    const view = orderView({ userId: 42, roles: [] });
    const body = JSON.stringify(orderBody());
    const parts: FloorPart[] = [];
    const add = async (name: string, fn: () => unknown) =>
      parts.push({ name, microseconds: await measure(count, fn) });

    await add("GET /v1/orders/{id}, whole app in process", async () => {
      const response = await ctx.app.request(`/v1/orders/${id}`, { headers });
      await response.arrayBuffer();
    });
    await add(
      "  the order read and decrypted (store.findOrder)",
      () => ctx.store.findOrder(id),
    );
    await add(
      "  the order as JSON text (orderJson + stringify)",
      () => JSON.stringify(orderJson(order, view)),
    );
    await add("GET /healthz, whole app in process (no checks)", async () => {
      const response = await ctx.app.request("/healthz");
      await response.arrayBuffer();
    });
    // Spread over many users, as the load benchmark's are: one user's
    // thousands of orders would make the velocity guard's count the cost.
    const buyers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => ctx.token(1000 + i)),
    );
    let next = 0;
    await add("POST /v1/orders, whole app in process", async () => {
      const buyer = buyers[next++ % buyers.length];
      const response = await ctx.app.request("/v1/orders", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${buyer}`,
          "Content-Type": "application/json",
        },
        body,
      });
      await response.arrayBuffer();
    });
    return parts;
  } finally {
    ctx.close();
  }
}

/** The parts as a Markdown table. */
export function renderFloor(parts: readonly FloorPart[]): string {
  return [
    "| part | µs per call | calls per second on one core |",
    "|---|---:|---:|",
    ...parts.map((p) =>
      `| ${p.name} | ${p.microseconds.toFixed(1)} | ${
        Math.round(1e6 / p.microseconds).toLocaleString("en")
      } |`
    ),
  ].join("\n") + "\n";
}
