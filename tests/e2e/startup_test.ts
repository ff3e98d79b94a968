/**
 * Start-up failures: each ends `main.ts` with one `Cannot start:` line that
 * says what to set, never a stack trace, and every configuration problem is
 * reported at once.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../config.ts";
import { clockEnv } from "../../tools/clock_env.ts";

const REAL_SECRET = "a-real-jwt-secret-for-the-startup-test-0123456789";
const REAL_PII_KEY = btoa("startup-test-pii-key-32-bytes-00");
const REAL_AUDIT_KEYS = {
  AUDIT_KEY: btoa("startup-test-audit-key-32-bytes0"),
  AUDIT_SIGNING_KEY: btoa("startup-test-signing-key-32-byt0"),
};

/** Runs `main.ts` with only `env` and `flags`, and returns its stderr. */
async function start(
  env: Record<string, string>,
  flags = ["--allow-net", "--allow-env", "--allow-read", "--deny-write"],
): Promise<{ code: number; stderr: string }> {
  const cwd = await Deno.makeTempDir({ prefix: "orders-startup-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...flags,
        new URL("../../main.ts", import.meta.url).pathname,
      ],
      env: { ...clockEnv(), HOST: "127.0.0.1", ...env },
      clearEnv: true,
      cwd,
      stdout: "null",
      stderr: "piped",
    }).output();
    return { code, stderr: new TextDecoder().decode(stderr) };
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

function assertOneCannotStartLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^Cannot start: /);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  return lines[0]!;
}

Deno.test("start reports every configuration problem in one message, without echoing secrets", async () => {
  const env = {
    JWT_SECRET: "too-short-secret",
    DATABASE_URL: "./data/orders.db",
    CORS_ORIGINS: "*,example.com,https://shop.example.com",
    JWT_PUBLIC_KEY: "not-a-pem",
    UPSTASH_REDIS_REST_URL: "https://eu1.upstash.example",
    PII_ENCRYPTION_KEY: "c2hvcnQ=",
  };
  const expected = [
    /DATABASE_URL must be file:<path>, :memory:, or a libSQL server's/,
    /JWT_PUBLIC_KEY must be a PEM public key/,
    /CORS_ORIGINS holds "\*", which no browser sends as an Origin/,
    /CORS_ORIGINS holds "example\.com", which no browser sends as an Origin/,
    /JWT_SECRET is too short/,
    /JWT_PUBLIC_KEY and JWT_PUBLIC_KEY_ALG must be set together/,
    /UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together/,
    /PII_ENCRYPTION_KEY must be 32 bytes, base64-encoded/,
  ];
  assert.throws(() => loadConfig(env, "start"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    for (const pattern of expected) assert.match(error.message, pattern);
    return true;
  });
  const { code, stderr } = await start(env);
  assert.equal(code, 1);
  const line = assertOneCannotStartLine(stderr);
  for (const pattern of expected) assert.match(line, pattern);
  assert.ok(!line.includes("too-short-secret") && !line.includes("c2hvcnQ="));
  // Valid origins, schemes of a libSQL server and a PEM pass.
  const config = loadConfig({
    JWT_SECRET: REAL_SECRET,
    PII_ENCRYPTION_KEY: REAL_PII_KEY,
    ...REAL_AUDIT_KEYS,
    DATABASE_URL: "libsql://orders-acme.turso.io",
    CORS_ORIGINS: "https://shop.example.com, http://localhost:5173",
  }, "start");
  assert.deepEqual(config.corsOrigins, [
    "https://shop.example.com",
    "http://localhost:5173",
  ]);
});

Deno.test("start on a host without a writable disk and no DATABASE_URL says to set DATABASE_URL", async () => {
  const { code, stderr } = await start({
    JWT_SECRET: REAL_SECRET,
    PII_ENCRYPTION_KEY: REAL_PII_KEY,
    ...REAL_AUDIT_KEYS,
  });
  assert.equal(code, 1);
  const line = assertOneCannotStartLine(stderr);
  assert.match(
    line,
    /cannot write the embedded database file:\.\/data\/orders\.db/,
  );
  assert.match(
    line,
    /set DATABASE_URL to your libSQL server \(libsql:\/\/…\) and DATABASE_AUTH_TOKEN/,
  );
});

Deno.test("start on a port in use says so", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const { code, stderr } = await start({
    JWT_SECRET: REAL_SECRET,
    PII_ENCRYPTION_KEY: REAL_PII_KEY,
    ...REAL_AUDIT_KEYS,
    DATABASE_URL: ":memory:",
    PORT: String(port),
  }, ["--allow-all"]);
  assert.equal(code, 1);
  const line = assertOneCannotStartLine(stderr);
  assert.equal(
    line,
    `Cannot start: port ${port} on 127.0.0.1 is in use: stop the other process or set PORT to a free port`,
  );
});
