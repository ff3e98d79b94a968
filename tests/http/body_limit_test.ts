/**
 * The body limit and authentication: a declared length over the limit is
 * refused before the token is looked at, so it is no failed
 * authentication; a body without one is measured only when read, after
 * authentication.
 */
import assert from "node:assert/strict";
import { MINUTE_MS } from "../../limits/rate_limiter.ts";
import { MAX_BODY_BYTES } from "../../routes/middleware/hygiene.ts";
import { createTestContext, type TestContext } from "../fixtures/mod.ts";

const OVERSIZED = "x".repeat(MAX_BODY_BYTES + 1);

/** A test app allowing one failed authentication per address and minute. */
async function oneFailedAuthentication(): Promise<TestContext> {
  return await createTestContext({
    limits: { auth_failures: { limit: 1, windowMs: MINUTE_MS } },
  });
}

/** `POST /v1/orders` with an oversized body streamed without `Content-Length`. */
async function postChunked(ctx: TestContext, token: string): Promise<number> {
  const bytes = new TextEncoder().encode(OVERSIZED);
  const response = await ctx.app.request("/v1/orders", {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
    },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 4096) {
          controller.enqueue(bytes.slice(offset, offset + 4096));
        }
        controller.close();
      },
    }),
  });
  await response.body?.cancel();
  return response.status;
}

async function status(
  ctx: TestContext,
  options: { token: string; body?: string; headers?: Record<string, string> },
): Promise<number> {
  const response = await ctx.request("POST", "/v1/orders", options);
  await response.body?.cancel();
  return response.status;
}

Deno.test("a declared body over MAX_BODY_BYTES with an invalid token is 413, not 401: no auth.failed and no failed-authentication count", async () => {
  const ctx = await oneFailedAuthentication();
  try {
    const declared = {
      token: "not-a-token",
      body: OVERSIZED,
      headers: { "Content-Length": String(OVERSIZED.length) },
    };
    // More than the one failed authentication the address is allowed.
    for (let i = 0; i < 3; i++) assert.equal(await status(ctx, declared), 413);
    assert.deepEqual(
      ctx.logs.filter((l) => l.event === "auth.failed"),
      [],
    );
    assert.deepEqual(
      ctx.logs.filter((l) => l.event === "validation.failed")
        .map((l) => String(l.reason).split(":")[0]),
      ["payload-too-large", "payload-too-large", "payload-too-large"],
    );
    // The address still has its whole budget for failed authentication.
    assert.equal(await status(ctx, { token: "not-a-token" }), 401);
    assert.equal(await status(ctx, { token: "not-a-token" }), 429);
  } finally {
    ctx.close();
  }
});

Deno.test("a body over MAX_BODY_BYTES without Content-Length is read only after authentication: 401 and counted with an invalid token, 413 with a valid one", async () => {
  const ctx = await oneFailedAuthentication();
  try {
    assert.equal(await postChunked(ctx, await ctx.token(42)), 413);
    assert.equal(await postChunked(ctx, "not-a-token"), 401);
    assert.equal(await postChunked(ctx, "not-a-token"), 429);
    assert.equal(
      ctx.logs.filter((l) => l.event === "auth.failed").length,
      2,
    );
  } finally {
    ctx.close();
  }
});

Deno.test("the OpenAPI document says a declared body over MAX_BODY_BYTES is refused before authentication", async () => {
  const ctx = await createTestContext();
  try {
    const response = await ctx.app.request("/openapi.json");
    const document = await response.json();
    const description: string = document.info.description;
    const order = /Order of checks: ([^]*?)\.\n/.exec(description)?.[1] ?? "";
    assert.match(
      order,
      new RegExp(
        `^a declared\\s+\`Content-Length\`\\s+over ${MAX_BODY_BYTES} bytes \\(413`,
      ),
    );
    assert.ok(order.indexOf("(413") < order.indexOf("authentication (401)"));
    assert.match(
      document.components.responses.PayloadTooLarge.description,
      /refused before authentication/,
    );
  } finally {
    ctx.close();
  }
});
