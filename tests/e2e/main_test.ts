import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import { clockEnv } from "../../tools/clock_env.ts";
import { orderBody, startServer, TEST_SECRET } from "../fixtures/mod.ts";

Deno.test("main.ts serves create, read and list over real HTTP on an embedded file database", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startServer({ DATABASE_URL: `file:${dir}/orders.db` }, {
    args: ["--dev"],
  });
  try {
    const token = await signToken(TEST_SECRET, { sub: 42 });
    const auth = { Authorization: `Bearer ${token}` };
    const created = await fetch(`${server.url}/v1/orders`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify(orderBody()),
    });
    assert.equal(created.status, 201);
    const order = await created.json();
    assert.equal(order.total, "25.00");
    assert.equal(created.headers.get("location"), `/v1/orders/${order.id}`);

    const read = await fetch(
      `${server.url}${created.headers.get("location")}`,
      { headers: auth },
    );
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("etag"), '"1"');
    assert.deepEqual(await read.json(), order);

    const list = await fetch(`${server.url}/v1/orders`, { headers: auth });
    assert.equal(list.status, 200);
    const page = await list.json();
    assert.equal(page.count, 1);
    assert.deepEqual(page.orders, [order]);

    const unauthenticated = await fetch(`${server.url}/v1/orders`);
    assert.equal(unauthenticated.status, 401);
    await unauthenticated.body?.cancel();
    assert.equal(
      (await fetch(`${server.url}/readyz`).then((r) => r.json())).status,
      "ready",
    );
    assert.ok(!server.output().includes(token));
    assert.ok(!server.output().includes("1 Main St"));
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task start refuses to run without a real JWT_SECRET", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      new URL("../../main.ts", import.meta.url).pathname,
    ],
    env: { ...clockEnv(), JWT_SECRET: "too-short" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stderr } = await command.output();
  assert.notEqual(code, 0);
  const message = new TextDecoder().decode(stderr);
  assert.match(message, /JWT_SECRET is too short/);
  assert.ok(!message.includes("too-short"));
});

Deno.test("with a remote DATABASE_URL the app runs without FFI: healthz 200, readyz 503", async () => {
  // A port nothing listens on: the remote database does not answer.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const server = await startServer(
    {
      DATABASE_URL: `http://127.0.0.1:${deadPort}`,
      JWT_SECRET: "a-real-secret-for-the-remote-mode-test-0123456789",
    },
    { denoFlags: ["--allow-net", "--allow-env", "--allow-read", "--deny-ffi"] },
  );
  try {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    const problem = await ready.json();
    assert.doesNotMatch(
      JSON.stringify(problem),
      /127\.0\.0\.1|ECONNREFUSED|fetch|libsql/i,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("with an unreachable remote database the readiness log names the cause without the URL's credentials or the token", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const secrets = ["url-password-7f3a", "url-token-9c1e", "env-token-5b2d"];
  const server = await startServer(
    {
      DATABASE_URL: `http://orders:${
        secrets[0]
      }@127.0.0.1:${deadPort}?authToken=${secrets[1]}`,
      DATABASE_AUTH_TOKEN: secrets[2]!,
      JWT_SECRET: "a-real-secret-for-the-remote-mode-test-0123456789",
    },
    { denoFlags: ["--allow-net", "--allow-env", "--allow-read", "--deny-ffi"] },
  );
  try {
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    const requestId = ready.headers.get("x-request-id");
    await ready.body?.cancel();
    // The line is written before the response; give stdout a moment.
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = server.output().split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.event === "readiness.failed");
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(line, "a readiness.failed line was logged");
    assert.equal(line.request_id, requestId);
    assert.match(String(line.reason), /^database check failed: .*refused/i);
    assert.match(String(line.error_cause_message), /Connection refused/i);
    for (const secret of secrets) {
      assert.ok(
        !server.output().includes(secret) &&
          !server.errorOutput().includes(secret),
        `the logs hold ${secret}`,
      );
    }
  } finally {
    await server.stop();
  }
});
