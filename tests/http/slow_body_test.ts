/**
 * Request bodies that stall, over real sockets: a slow body holds up no
 * other request, and a request cut off by the request timeout (503) changes
 * nothing, then or later.
 */
import assert from "node:assert/strict";
import {
  callers,
  createOrder,
  createTestContext,
  orderBody,
  type TestContext,
} from "../fixtures/mod.ts";

/** How long the test service lets a request run before its 503. */
const TIMEOUT_MS = 1_000;

/**
 * Serves the context's app on a free loopback port, and reports each
 * request body the app starts to read and each one it stops reading
 * (cancels) before its end.
 */
function serveWithBodyProbe(ctx: TestContext) {
  let bodyRead!: () => void;
  const reading = new Promise<void>((resolve) => bodyRead = resolve);
  let bodyDropped!: () => void;
  const dropped = new Promise<void>((resolve) => bodyDropped = resolve);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      const source = request.body;
      if (source === null) return ctx.app.fetch(request, info);
      const reader = source.getReader();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          bodyRead();
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        async cancel(reason) {
          bodyDropped();
          await reader.cancel(reason);
        },
      });
      return ctx.app.fetch(
        new Request(request.url, {
          method: request.method,
          headers: request.headers,
          body,
          duplex: "half",
        } as RequestInit),
        info,
      );
    },
  );
  return {
    port: server.addr.port,
    url: `http://127.0.0.1:${server.addr.port}`,
    /** Settles once the app started reading a request body. */
    reading,
    /** Settles once the app stopped reading a body before its end. */
    dropped,
    close: () => server.shutdown(),
  };
}

/** A request whose body stops after its first `sent` bytes. */
interface StalledRequest {
  method: string;
  path: string;
  token: string;
  headers?: Record<string, string>;
  body: string;
  sent: number;
}

/**
 * Opens a connection and sends a request whose body stops after its first
 * `sent` bytes. Returns the connection, the rest of the body, and the
 * response's status line once it comes.
 */
async function stalledRequest(port: number, request: StalledRequest) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = new TextEncoder().encode(request.body);
  const head = [
    `${request.method} ${request.path} HTTP/1.1`,
    "Host: 127.0.0.1",
    `Authorization: Bearer ${request.token}`,
    "Content-Type: application/json",
    `Content-Length: ${bytes.byteLength}`,
    ...Object.entries(request.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(head));
  await conn.write(bytes.subarray(0, request.sent));
  const statusLine = (async () => {
    const buffer = new Uint8Array(4096);
    const read = await conn.read(buffer);
    const text = new TextDecoder().decode(buffer.subarray(0, read ?? 0));
    return text.split("\r\n")[0] ?? "";
  })();
  return {
    statusLine,
    /** Sends the rest of the body; the server may have stopped listening. */
    async finish() {
      await conn.write(bytes.subarray(request.sent)).catch(() => {});
    },
    close: () => conn.close(),
  };
}

/**
 * Waits until the app stopped reading a body; fails instead of hanging when
 * it never does (a generous bound against a hang, not a speed check).
 */
async function dropped(server: { dropped: Promise<void> }): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("the app never stopped reading the body")),
      30 * TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([server.dropped, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `request` with its body stalled, asserts its 503, waits until the
 * app stopped reading the body, then sends the rest, which can no longer
 * arrive.
 */
async function cutOffWith503(
  server: ReturnType<typeof serveWithBodyProbe>,
  request: StalledRequest,
): Promise<void> {
  const stalled = await stalledRequest(server.port, request);
  try {
    assert.match(await stalled.statusLine, / 503 /);
    await dropped(server);
    await stalled.finish();
  } finally {
    stalled.close();
  }
}

async function withProbedServer(
  run: (
    ctx: TestContext,
    server: ReturnType<typeof serveWithBodyProbe>,
  ) => Promise<void>,
): Promise<void> {
  const ctx = await createTestContext({ requestTimeoutMs: TIMEOUT_MS });
  const server = serveWithBodyProbe(ctx);
  try {
    await run(ctx, server);
  } finally {
    await server.close();
    ctx.close();
  }
}

Deno.test("a PATCH whose body stalls holds up no other change to the order, and its 503 is never applied", async () => {
  await withProbedServer(async (ctx, server) => {
    const who = await callers(ctx);
    const { id } = await createOrder(ctx, who.owner);
    const stalled = await stalledRequest(server.port, {
      method: "PATCH",
      path: `/v1/orders/${id}`,
      token: who.owner,
      headers: { "If-Match": '"1"' },
      body: JSON.stringify({ shipping_address: "9 Late St, Springfield" }),
      sent: 5,
    });
    try {
      await server.reading;
      // While that body is still on its way, others change the order.
      const moved = await fetch(`${server.url}/v1/orders/${id}`, {
        method: "PATCH",
        headers: {
          Authorization: `Bearer ${who.fulfillment}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ status: "processing" }),
      });
      assert.equal(moved.status, 200);
      await moved.body?.cancel();
      const cancelled = await fetch(`${server.url}/v1/orders/${id}/cancel`, {
        method: "POST",
        headers: { Authorization: `Bearer ${who.admin}` },
      });
      assert.equal(cancelled.status, 200);
      await cancelled.body?.cancel();

      assert.match(await stalled.statusLine, / 503 /);
      await dropped(server);
      await stalled.finish();
      const order = await ctx.store.findOrder(id);
      assert.equal(order?.version, 3);
      assert.equal(order?.status, "cancelled");
      assert.equal(order?.shippingAddress, orderBody().shipping_address);
    } finally {
      stalled.close();
    }
  });
});

Deno.test("a change or a creation whose body arrives after its 503 is never applied", async (t) => {
  await withProbedServer(async (ctx, server) => {
    const who = await callers(ctx);
    const { id } = await createOrder(ctx, who.owner);
    // One request at a time: the probe reports the first body it sees.
    await t.step("a PATCH without If-Match", async () => {
      await cutOffWith503(server, {
        method: "PATCH",
        path: `/v1/orders/${id}`,
        token: who.owner,
        body: JSON.stringify({ shipping_address: "9 Late St, Springfield" }),
        sent: 5,
      });
      const order = await ctx.store.findOrder(id);
      assert.equal(order?.version, 1);
      assert.equal(order?.shippingAddress, orderBody().shipping_address);
      assert.equal((await ctx.store.listOrderHistory(id)).length, 1);
    });
  });
  await withProbedServer(async (ctx, server) => {
    const who = await callers(ctx);
    await t.step("a POST /v1/orders", async () => {
      await cutOffWith503(server, {
        method: "POST",
        path: "/v1/orders",
        token: who.owner,
        body: JSON.stringify(orderBody()),
        sent: 5,
      });
      const listed = await ctx.store.listOrders({ limit: 10, offset: 0 });
      assert.equal(listed.count, 0);
    });
  });
});
