import assert from "node:assert/strict";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { createTokenVerifier } from "../../auth/token_verifier.ts";
import { createTestContext, orderBody, TEST_SECRET } from "../fixtures/mod.ts";

const encoder = new TextEncoder();

function base64url(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return btoa(String.fromCharCode(...encoder.encode(text))).replace(/=+$/, "")
    .replace(/\+/g, "-").replace(/\//g, "_");
}

async function hs256(
  payload: Record<string, unknown>,
  secret = TEST_SECRET,
  alg = "HS256",
) {
  return await new SignJWT(payload).setProtectedHeader({ alg }).sign(
    encoder.encode(secret),
  );
}

async function assertRefused(response: Response, tokenPresented = true) {
  assert.equal(response.status, 401);
  assert.equal(
    response.headers.get("content-type"),
    "application/problem+json",
  );
  const challenge = response.headers.get("www-authenticate") ?? "";
  assert.match(challenge, /^Bearer\b/);
  assert.equal(challenge.includes('error="invalid_token"'), tokenPresented);
  const body = await response.json();
  assert.equal(body.status, 401);
  assert.equal(body.request_id, response.headers.get("x-request-id"));
  assert.equal(typeof body.detail, "string");
}

Deno.test("GET /v1/orders refuses token attacks with 401", async (t) => {
  const ctx = await createTestContext();
  const now = Math.floor(ctx.clock.now() / 1000);
  const valid = { sub: "42", iat: now, exp: now + 3600 };
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const pem = await exportSPKI(publicKey);
  const validToken = await hs256(valid);
  const [header, payload, signature] = validToken.split(".");

  const attacks: [string, () => Promise<string>][] = [
    [
      "alg none",
      () =>
        Promise.resolve(
          `${base64url({ alg: "none", typ: "JWT" })}.${base64url(valid)}.`,
        ),
    ],
    [
      "HS512 signed with the real secret",
      () => hs256(valid, TEST_SECRET, "HS512"),
    ],
    [
      "RS256 signed with a private key",
      () =>
        new SignJWT(valid).setProtectedHeader({ alg: "RS256" }).sign(
          privateKey,
        ),
    ],
    ["RS256 header over an HMAC signature", () => {
      const h = base64url({ alg: "RS256", typ: "JWT" });
      return Promise.resolve(`${h}.${payload}.${signature}`);
    }],
    ["HS256 signed with the public key PEM as secret", () => hs256(valid, pem)],
    [
      "tampered payload",
      () =>
        Promise.resolve(
          `${header}.${base64url({ ...valid, sub: "1" })}.${signature}`,
        ),
    ],
    [
      "wrong secret",
      () => hs256(valid, "another-secret-that-is-32-bytes-long!!"),
    ],
    ["expired beyond the tolerance", () => hs256({ ...valid, exp: now - 31 })],
    ["nbf in the future", () => hs256({ ...valid, nbf: now + 120 })],
    ["iat in the future", () => hs256({ ...valid, iat: now + 120 })],
    [
      "exp more than 24 h ahead",
      () => hs256({ ...valid, exp: now + 86400 + 3600 }),
    ],
    ["no exp", () => hs256({ sub: "42", iat: now })],
    ["no sub", () => hs256({ iat: now, exp: now + 60 })],
    ["sub zero", () => hs256({ ...valid, sub: 0 })],
    ["sub not a number", () => hs256({ ...valid, sub: "alice" })],
    ["sub negative", () => hs256({ ...valid, sub: "-4" })],
    ["sub fractional", () => hs256({ ...valid, sub: 4.5 })],
    ["sub beyond 2^53 - 1", () => hs256({ ...valid, sub: "9007199254740992" })],
    ["exp not a number", () => hs256({ ...valid, exp: "tomorrow" })],
    ["garbage", () => Promise.resolve("not-a-jwt")],
    [
      "header not JSON",
      () => Promise.resolve(`${base64url("{oops")}.${payload}.${signature}`),
    ],
    [
      "payload not JSON",
      () => Promise.resolve(`${header}.${base64url("[1,2")}.${signature}`),
    ],
    ["five segments", () => Promise.resolve(`${validToken}.a.b`)],
  ];
  for (const [name, makeToken] of attacks) {
    await t.step(name, async () => {
      await assertRefused(
        await ctx.request("GET", "/v1/orders", { token: await makeToken() }),
      );
    });
  }
  await t.step("the valid token is accepted", async () => {
    assert.equal(
      (await ctx.request("GET", "/v1/orders", { token: validToken })).status,
      200,
    );
  });
  await t.step("an expiry within the 30 s tolerance is accepted", async () => {
    const token = await hs256({ ...valid, exp: now - 20 });
    assert.equal(
      (await ctx.request("GET", "/v1/orders", { token })).status,
      200,
    );
  });
  ctx.close();
});

Deno.test("/v1 routes answer 401 without WWW-Authenticate error for a missing or non-bearer credential", async (t) => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  const cases: [string, Record<string, string>, boolean][] = [
    ["no Authorization header", {}, false],
    ["Basic scheme", { Authorization: "Basic dXNlcjpwYXNz" }, false],
    ["token without scheme", { Authorization: token }, false],
    ["empty bearer", { Authorization: "Bearer " }, true],
    ["two tokens", { Authorization: `Bearer ${token} ${token}` }, true],
  ];
  for (const [name, headers, presented] of cases) {
    await t.step(name, async () => {
      await assertRefused(
        await ctx.app.request("/v1/orders", { headers }),
        presented,
      );
    });
  }
  ctx.close();
});

Deno.test("authentication runs before the body is read", async () => {
  const ctx = await createTestContext();
  const malformed = await ctx.app.request("/v1/orders", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{not json",
  });
  await assertRefused(malformed, false);
  const wrongType = await ctx.app.request("/v1/orders", {
    method: "POST",
    headers: { "Content-Type": "text/plain", Authorization: "Bearer x.y.z" },
    body: "hello",
  });
  await assertRefused(wrongType);
  ctx.close();
});

Deno.test("the bearer scheme is case-insensitive", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  const response = await ctx.app.request("/v1/orders", {
    headers: { Authorization: `bearer ${token}` },
  });
  assert.equal(response.status, 200);
  ctx.close();
});

Deno.test("issuer and audience are checked when configured", async () => {
  const { createTokenVerifier } = await import("../../auth/token_verifier.ts");
  const ctx = await createTestContext();
  const verifier = await createTokenVerifier({
    secret: TEST_SECRET,
    issuer: "https://id.example",
    audience: "orders",
    maxTtlSeconds: 86400,
    now: () => ctx.clock.now(),
  });
  const strict = await createTestContext({ verifier });
  const good = await ctx.token(42, [], {
    issuer: "https://id.example",
    audience: "orders",
  });
  const wrongIssuer = await ctx.token(42, [], {
    issuer: "https://evil.example",
    audience: "orders",
  });
  const wrongAudience = await ctx.token(42, [], {
    issuer: "https://id.example",
    audience: "billing",
  });
  const none = await ctx.token(42);
  assert.equal(
    (await strict.request("GET", "/v1/orders", { token: good })).status,
    200,
  );
  await assertRefused(
    await strict.request("GET", "/v1/orders", { token: wrongIssuer }),
  );
  await assertRefused(
    await strict.request("GET", "/v1/orders", { token: wrongAudience }),
  );
  await assertRefused(
    await strict.request("GET", "/v1/orders", { token: none }),
  );
  ctx.close();
  strict.close();
});

Deno.test("an ES256 token is accepted only when a public key is configured", async () => {
  const { createTokenVerifier } = await import("../../auth/token_verifier.ts");
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const ctx = await createTestContext();
  const verifier = await createTokenVerifier({
    secret: TEST_SECRET,
    maxTtlSeconds: 86400,
    publicKey: { algorithm: "ES256", pem: await exportSPKI(publicKey) },
    now: () => ctx.clock.now(),
  });
  const withKey = await createTestContext({ verifier });
  const now = Math.floor(ctx.clock.now() / 1000);
  const es256 = await new SignJWT({ sub: "42", exp: now + 60 })
    .setProtectedHeader({ alg: "ES256" })
    .sign(privateKey);
  assert.equal(
    (await withKey.request("GET", "/v1/orders", { token: es256 })).status,
    200,
  );
  await assertRefused(await ctx.request("GET", "/v1/orders", { token: es256 }));
  // HMAC tokens still work beside it.
  assert.equal(
    (await withKey.request("GET", "/v1/orders", { token: await ctx.token(42) }))
      .status,
    200,
  );
  ctx.close();
  withKey.close();
});

Deno.test("failed authentication is logged with a reason and never the token", async () => {
  const ctx = await createTestContext();
  const token = await hs256({ sub: "42", exp: 1 });
  await ctx.request("POST", "/v1/orders", { token, body: orderBody() });
  const failure = ctx.logs.find((line) => line.event === "auth.failed");
  assert.ok(failure);
  assert.equal(failure.reason, "expired");
  assert.ok(!JSON.stringify(ctx.logs).includes(token));
  ctx.close();
});

Deno.test("a remembered token is still refused once it expires", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42, [], { ttlSeconds: 60 });
  assert.equal((await ctx.request("GET", "/v1/orders", { token })).status, 200);
  ctx.clock.advance(60_000 + 29_000);
  assert.equal((await ctx.request("GET", "/v1/orders", { token })).status, 200);
  ctx.clock.advance(2_000);
  await assertRefused(await ctx.request("GET", "/v1/orders", { token }));
  ctx.close();
});

Deno.test("a tampered copy of a remembered token is refused", async () => {
  const ctx = await createTestContext();
  const token = await ctx.token(42);
  assert.equal((await ctx.request("GET", "/v1/orders", { token })).status, 200);
  const [header, payload, signature] = token.split(".");
  const forged = `${header}.${
    base64url({ sub: "1", exp: 9999999999 })
  }.${signature}`;
  await assertRefused(
    await ctx.request("GET", "/v1/orders", { token: forged }),
  );
  await assertRefused(
    await ctx.request("GET", "/v1/orders", {
      token: `${header}.${payload}.${signature}x`,
    }),
  );
  ctx.close();
});

Deno.test("the verifier returns the token's iat with the principal, also for a remembered token", async () => {
  const now = Date.parse("2026-11-28T14:00:00.000Z");
  const verifier = await createTokenVerifier({
    secret: TEST_SECRET,
    maxTtlSeconds: 86_400,
    now: () => now,
  });
  const iat = Math.floor(now / 1000) - 10;
  const token = await hs256({ sub: "42", iat, exp: iat + 3600 });
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await verifier.verify(token), {
      principal: { userId: 42, roles: ["user"] },
      issuedAt: iat,
    });
  }
  const withoutIat = await hs256({ sub: "42", exp: iat + 3600 });
  assert.equal((await verifier.verify(withoutIat)).issuedAt, undefined);
});
