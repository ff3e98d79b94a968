import assert from "node:assert/strict";
import {
  createTestContext,
  orderBody,
  withTestContext,
} from "../fixtures/mod.ts";

const SECURITY_HEADERS: Record<string, RegExp> = {
  "strict-transport-security": /max-age=\d+/,
  "content-security-policy": /^default-src 'none'/,
  "x-content-type-options": /^nosniff$/,
  "x-frame-options": /^DENY$/,
  "referrer-policy": /^no-referrer$/,
  "cache-control": /^no-store$/,
};

Deno.test("every response carries the security headers, no-store and a request id", (t) =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const cases: [string, () => Promise<Response>][] = [
      ["healthz", () => ctx.request("GET", "/healthz")],
      [
        "201",
        () => ctx.request("POST", "/v1/orders", { token, body: orderBody() }),
      ],
      ["401", () => ctx.request("GET", "/v1/orders")],
      ["404", () => ctx.request("GET", "/nowhere")],
      ["422", () => ctx.request("GET", "/v1/orders?limit=0", { token })],
    ];
    for (const [name, send] of cases) {
      await t.step(name, async () => {
        const response = await send();
        for (const [header, pattern] of Object.entries(SECURITY_HEADERS)) {
          assert.match(response.headers.get(header) ?? "", pattern, header);
        }
        assert.match(
          response.headers.get("x-request-id") ?? "",
          /^[A-Za-z0-9._-]{1,64}$/,
        );
        await response.body?.cancel();
      });
    }
  }));

Deno.test("X-Request-Id is echoed only when well formed", () =>
  withTestContext(async (ctx) => {
    const echo = await ctx.request("GET", "/healthz", {
      headers: { "X-Request-Id": "abc.DEF-123_x" },
    });
    assert.equal(echo.headers.get("x-request-id"), "abc.DEF-123_x");
    for (const bad of ["a b", "x".repeat(65), "<script>", "id=1", "é"]) {
      const response = await ctx.request("GET", "/v1/orders", {
        headers: { "X-Request-Id": bad },
      });
      const id = response.headers.get("x-request-id");
      assert.notEqual(id, bad);
      assert.match(id ?? "", /^[0-9a-f-]{36}$/);
      assert.equal((await response.json()).request_id, id);
    }
  }));

Deno.test("unknown routes answer 404 and known routes with other methods 405, as problem+json", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const missing = await ctx.request("GET", "/v1/customers", { token });
    assert.equal(missing.status, 404);
    assert.equal(
      missing.headers.get("content-type"),
      "application/problem+json",
    );
    const root = await ctx.request("GET", "/");
    assert.equal(root.status, 404);
    assert.equal((await root.json()).status, 404);
    const wrong = await ctx.request("DELETE", "/v1/orders", { token });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET, HEAD, POST");
    assert.equal(wrong.headers.get("content-type"), "application/problem+json");
    const put = await ctx.request("PUT", `/v1/orders/${crypto.randomUUID()}`, {
      token,
      body: {},
    });
    assert.equal(put.status, 405);
    assert.match(put.headers.get("allow") ?? "", /GET/);
    const healthPost = await ctx.request("POST", "/healthz");
    assert.equal(healthPost.status, 405);
  }));

Deno.test("POST /v1/orders answers 400 for malformed JSON and 415 for a non-JSON body", () =>
  withTestContext(async (ctx, { owner }) => {
    const order = JSON.stringify(orderBody());
    const type = (value: string) => ({ "Content-Type": value });
    const cases: [string, Record<string, string>, BodyInit | null, number][] = [
      ["malformed JSON", type("application/json"), '{"items": [', 400],
      ["no body", type("application/json"), null, 400],
      ["text/plain", type("text/plain"), order, 415],
      ["no Content-Type", {}, new Blob([order]), 415],
      [
        "JSON with a charset",
        type("application/json; charset=utf-8"),
        order,
        201,
      ],
    ];
    for (const [name, headers, body, status] of cases) {
      const response = await ctx.app.request("/v1/orders", {
        method: "POST",
        headers: { Authorization: `Bearer ${owner}`, ...headers },
        body,
      });
      assert.equal(response.status, status, name);
      if (status >= 400) {
        assert.equal(
          response.headers.get("content-type"),
          "application/problem+json",
          name,
        );
      }
      await response.body?.cancel();
    }
  }));

Deno.test("bodies over 64 KiB answer 413 with or without Content-Length", () =>
  withTestContext(async (ctx) => {
    const token = await ctx.token(42);
    const headers = {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
    };
    const json = JSON.stringify(orderBody());
    const atLimit = json + " ".repeat(65536 - json.length);
    const ok = await ctx.app.request("/v1/orders", {
      method: "POST",
      headers,
      body: atLimit,
    });
    assert.equal(ok.status, 201);
    const declared = await ctx.app.request("/v1/orders", {
      method: "POST",
      headers: { ...headers, "Content-Length": "65537" },
      body: atLimit + " ",
    });
    assert.equal(declared.status, 413);
    assert.equal(
      declared.headers.get("content-type"),
      "application/problem+json",
    );
    const bytes = new TextEncoder().encode(atLimit + " ");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 4096) {
          controller.enqueue(bytes.slice(offset, offset + 4096));
        }
        controller.close();
      },
    });
    const chunked = await ctx.app.request("/v1/orders", {
      method: "POST",
      headers,
      body: stream,
    });
    assert.equal(chunked.status, 413);
    const [row] = await ctx.database.client.execute(
      "SELECT count(*) AS n FROM orders",
    ).then((r) => r.rows);
    assert.equal(Number(row?.n), 1);
  }));

Deno.test("CORS headers are sent only to configured origins", async () => {
  const open = await createTestContext({
    corsOrigins: ["https://shop.example"],
  });
  const allowed = await open.request("GET", "/healthz", {
    headers: { Origin: "https://shop.example" },
  });
  assert.equal(
    allowed.headers.get("access-control-allow-origin"),
    "https://shop.example",
  );
  const preflight = await open.request("OPTIONS", "/v1/orders", {
    headers: {
      Origin: "https://shop.example",
      "Access-Control-Request-Method": "POST",
    },
  });
  assert.equal(preflight.status, 204);
  assert.match(
    preflight.headers.get("access-control-allow-headers") ?? "",
    /Authorization/,
  );
  const other = await open.request("GET", "/healthz", {
    headers: { Origin: "https://evil.example" },
  });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  open.close();
  const closed = await createTestContext();
  const none = await closed.request("GET", "/healthz", {
    headers: { Origin: "https://shop.example" },
  });
  assert.equal(none.headers.get("access-control-allow-origin"), null);
  closed.close();
});

Deno.test("healthz and readyz answer without revealing internals", async () => {
  const ctx = await createTestContext();
  const health = await ctx.request("GET", "/healthz");
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await ctx.request("GET", "/readyz");
  assert.equal(ready.status, 200);
  ctx.database.close();
  const down = await ctx.request("GET", "/readyz");
  assert.equal(down.status, 503);
  const problem = await down.json();
  assert.equal(problem.detail, "The service is not ready");
  assert.doesNotMatch(JSON.stringify(problem), /libsql|sqlite|closed|\.ts/i);
});

Deno.test("a request that runs past the timeout answers 503 with Retry-After", async () => {
  const base = await createTestContext();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const slow = await createTestContext({
    requestTimeoutMs: 50,
    store: {
      ...base.store,
      async listOrders(query) {
        await held;
        return await base.store.listOrders(query);
      },
    },
  });
  const response = await slow.request("GET", "/v1/orders", {
    token: await slow.token(42),
  });
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(
    response.headers.get("content-type"),
    "application/problem+json",
  );
  release();
  base.close();
  slow.close();
});
