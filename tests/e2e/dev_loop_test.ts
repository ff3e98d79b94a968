/**
 * `deno task dev` as a dev loop: its own database file, one readable line
 * once it listens, one access line per request, and JSON logs only for
 * `start`.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../config.ts";
import { startServer } from "../fixtures/mod.ts";
import { DEFAULT_LISTEN_PORT } from "../../tools/webhook_listen.ts";

Deno.test("dev uses its own database file, so start with real keys never meets dev data", () => {
  assert.equal(loadConfig({}, "dev").databaseUrl, "file:./data/dev.db");
  const real = {
    JWT_SECRET: "a-real-secret-for-the-dev-loop-test-0123456789abc",
    PII_ENCRYPTION_KEY: btoa("dev-loop-test-pii-key-32-bytes-0"),
    AUDIT_KEY: btoa("dev-loop-test-audit-key-32-byte0"),
    AUDIT_SIGNING_KEY: btoa("dev-loop-test-signing-key-32-by0"),
  };
  assert.equal(loadConfig(real, "start").databaseUrl, "file:./data/orders.db");
  const tasks = JSON.parse(
    Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)),
  ).tasks;
  assert.match(tasks.dev, /^deno run --watch .* main\.ts --dev$/);
});

Deno.test("dev prints one ready line with the URL, /docs and two tokens, then one access line per request without tokens", async () => {
  const server = await startServer({ DATABASE_URL: ":memory:" }, {
    args: ["--dev"],
  });
  try {
    const token = "Bearer not.a.token";
    for (const path of ["/healthz", "/v1/orders?user_id=7"]) {
      const response = await fetch(server.url + path, {
        headers: { Authorization: token },
      });
      await response.body?.cancel();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    await server.stop();
  }
  const lines = server.errorOutput().trim().split("\n");
  const port = new URL(server.url).port;
  assert.match(
    lines[0]!,
    new RegExp(
      `^Orders API \\(dev, :memory:, .*\\) on http://127\\.0\\.0\\.1:${port} · docs http://127\\.0\\.0\\.1:${port}/docs · user token \\(sub 1\\) eyJ[\\w.-]+ · admin token \\(sub 2\\) eyJ[\\w.-]+ · webhooks: deno task webhook:listen, then register http://127\\.0\\.0\\.1:${DEFAULT_LISTEN_PORT}/ \\(WEBHOOK_ALLOW_HOSTS=127\\.0\\.0\\.1\\)$`,
    ),
  );
  assert.match(lines[1]!, /^GET \/healthz 200 [0-9.]+ms [\w-]+$/);
  assert.match(lines[2]!, /^GET \/v1\/orders 401 [0-9.]+ms [\w-]+$/);
  assert.equal(lines.length, 3);
  assert.ok(!lines.slice(1).join("\n").includes("not.a.token"));
  // stdout stays JSON lines.
  for (const line of server.output().trim().split("\n")) JSON.parse(line);
});

Deno.test("start logs no access lines and prints no tokens", async () => {
  const server = await startServer({
    DATABASE_URL: ":memory:",
    JWT_SECRET: "a-real-secret-for-the-dev-loop-test-0123456789abc",
  });
  try {
    const response = await fetch(`${server.url}/healthz`);
    await response.body?.cancel();
  } finally {
    await server.stop();
  }
  assert.equal(server.errorOutput(), "");
});
