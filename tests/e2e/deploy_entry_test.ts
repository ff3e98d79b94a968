/**
 * The Deno Deploy entry point: its module graph never reaches the native
 * libSQL driver, it refuses an embedded database with one `Cannot start:`
 * line, and it serves against a remote libSQL server without FFI.
 */
import assert from "node:assert/strict";
import { clockEnv } from "../../tools/clock_env.ts";
import { runTool } from "../fixtures/mod.ts";
import { startLibsqlHttpServer } from "../fixtures/libsql_http_server.ts";

const ROOT = new URL("../../", import.meta.url);
const SECRET = "deploy-entry-test-secret-0123456789-abcdefghijklm";
const PII_KEY = btoa("deploy-entry-test-pii-key-32-byt");

/** The specifiers of every module in an entry point's graph. */
async function moduleGraph(entry: string): Promise<string[]> {
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, ROOT).pathname],
    stdout: "piped",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier);
}

const NATIVE = (specifier: string) =>
  specifier.endsWith("/db/native_client.ts") ||
  /^npm:\/?libsql@/.test(specifier);

Deno.test("deploy.ts's module graph has no native libSQL module; main.ts's has", async () => {
  assert.deepEqual((await moduleGraph("deploy.ts")).filter(NATIVE), []);
  assert.equal((await moduleGraph("main.ts")).filter(NATIVE).length, 2);
});

/** Starts `deploy.ts` as Deno Deploy would run it: no FFI, no disk writes. */
function spawnDeploy(env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--deny-ffi",
      "--deny-write",
      new URL("deploy.ts", ROOT).pathname,
    ],
    env: {
      ...clockEnv(),
      HOST: "127.0.0.1",
      PORT: "0",
      JWT_SECRET: SECRET,
      PII_ENCRYPTION_KEY: PII_KEY,
      AUDIT_KEY: btoa("deploy-entry-test-audit-key-0001"),
      AUDIT_SIGNING_KEY: btoa("deploy-entry-test-signing-key-01"),
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("deploy.ts without a remote DATABASE_URL says what to set", async () => {
  for (const env of [{}, { DATABASE_URL: "file:./data/orders.db" }]) {
    const { code, stderr } = await spawnDeploy(env).output();
    assert.equal(code, 1);
    const text = new TextDecoder().decode(stderr).trim();
    assert.equal(text.split("\n").length, 1, text);
    assert.match(
      text,
      /^Cannot start: this entry point serves only a remote database, not file:\.\/data\/orders\.db: set DATABASE_URL to your libSQL server \(libsql:\/\/…\) and DATABASE_AUTH_TOKEN/,
    );
  }
});

Deno.test("deploy.ts serves against a migrated remote database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orders-deploy-" });
  const database = startLibsqlHttpServer(`${dir}/remote.db`, {
    authToken: "deploy-db-token",
  });
  const env = {
    DATABASE_URL: database.url,
    DATABASE_AUTH_TOKEN: "deploy-db-token",
  };
  const child = spawnDeploy(env).spawn();
  try {
    const migrated = await runTool("db_migrate.ts", { env });
    assert.equal(migrated.code, 0, migrated.stderr);
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let output = "";
    let port: string | undefined;
    while (port === undefined) {
      const { done, value } = await reader.read();
      assert.ok(!done, "deploy.ts exited before listening");
      output += value;
      port = /"event":"server.listening".*?"port":(\d+)/.exec(output)?.[1];
    }
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    await reader.cancel();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel().catch(() => {});
    await database.close();
    await Deno.remove(dir, { recursive: true });
  }
});
