/**
 * The master key at start-up: `deno task start` refuses to run without a
 * real `PII_ENCRYPTION_KEY`, and `deno task dev` says it uses the dev key.
 */
import assert from "node:assert/strict";
import { DEV_PII_ENCRYPTION_KEY } from "../../config.ts";
import { clockEnv } from "../../tools/clock_env.ts";
import { startServer } from "../fixtures/mod.ts";

const SECRET = "a-real-jwt-secret-for-the-pii-startup-test-0123456";

async function start(env: Record<string, string>) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      new URL("../../main.ts", import.meta.url).pathname,
    ],
    env: { ...clockEnv(), ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, message: new TextDecoder().decode(stderr) };
}

Deno.test("deno task start refuses a missing, malformed or dev-only PII_ENCRYPTION_KEY", async (t) => {
  const cases: [string, string | undefined, RegExp][] = [
    ["missing", undefined, /PII_ENCRYPTION_KEY is required/],
    ["malformed", btoa("sixteen-byte-key"), /must be 32 bytes/],
    ["the dev key", DEV_PII_ENCRYPTION_KEY, /public dev-only key/],
  ];
  for (const [name, key, expected] of cases) {
    await t.step(name, async () => {
      const { code, message } = await start({
        JWT_SECRET: SECRET,
        ...(key !== undefined && { PII_ENCRYPTION_KEY: key }),
      });
      assert.notEqual(code, 0);
      assert.match(message, expected);
      if (key !== undefined) assert.ok(!message.includes(key));
    });
  }
});

Deno.test("deno task dev runs with the dev PII key and says so", async () => {
  const dir = await Deno.makeTempDir();
  const server = await startServer(
    {
      DATABASE_URL: `file:${dir}/orders.db`,
      PII_ENCRYPTION_KEY: "",
      AUDIT_KEY: "",
      AUDIT_SIGNING_KEY: "",
    },
    { args: ["--dev"] },
  );
  try {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.match(
    server.errorOutput(),
    /^Orders API \(dev, .*public dev-only JWT_SECRET, PII_ENCRYPTION_KEY, AUDIT_KEY and AUDIT_SIGNING_KEY, which start refuses\)/,
  );
});
