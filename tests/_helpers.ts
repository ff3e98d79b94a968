/**
 * Shared test helpers: an in-process app on a real in-memory libSQL
 * database with the real migrations, token minting, and a real server
 * started as a subprocess.
 */
import { signToken, type TokenClaims } from "../auth/sign_token.ts";
import { createTokenVerifier } from "../auth/token_verifier.ts";
import { DEV_JWT_SECRET } from "../config.ts";
import { type Database, openDatabase } from "../db/client.ts";
import { applyMigrations } from "../db/migrate.ts";
import { createAccountStore } from "../db/account_store.ts";
import { createOrderStore } from "../db/order_store.ts";
import {
  createPersonalDataStore,
  type PersonalDataStore,
} from "../db/personal_data_store.ts";
import type { AccountStore, OrderStore } from "../domain/ports.ts";
import type { ReviewPolicy } from "../domain/review.ts";
import { createMemoryRateLimiters } from "../limits/memory_rate_limiter.ts";
import { MINUTE_MS } from "../limits/rate_limiter.ts";
import { createJsonLogger } from "../logger.ts";
import { importMasterKeys } from "../pii/cipher.ts";
import { encryptedOrderStore } from "../pii/encrypted_order_store.ts";
import { createPersonalDataEraser } from "../pii/erasure.ts";
import { createKeyring, type Keyring } from "../pii/keyring.ts";
import { createApp } from "../routes/app.ts";
import type { AppDeps } from "../routes/env.ts";
import { clockEnv } from "../tools/clock_env.ts";

/** The secret test tokens are signed with. */
export const TEST_SECRET = DEV_JWT_SECRET;

/**
 * The master key for personal data in tests (base64 of
 * "test-only-pii-master-key-0000001"); not the dev key, so `start` takes it.
 */
export const TEST_PII_KEY = "dGVzdC1vbmx5LXBpaS1tYXN0ZXIta2V5LTAwMDAwMDE=";

/** The secret test `ip_hash` keys are derived from. */
export const TEST_IP_HASH_SECRET = "test-only-ip-hash-secret-0123456789abcdef";

/** A clock tests move by hand. */
export interface TestClock {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

/**
 * A clock starting at `start` that only moves when told. By default it starts
 * at the real clock's current minute: data it stamps (tokens, idempotency
 * keys, data-key caches) stays valid for a `main.ts` subprocess or a library
 * that reads the wall clock, on any day, and minute-long windows start on a
 * boundary as they would on a pinned date.
 */
export function testClock(
  start = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS,
): TestClock {
  let current = start;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

/**
 * Limits no ordinary test reaches, so tests that make many requests as one
 * user are not refused; rate-limit tests pass their own `rateLimits`.
 */
export const PERMISSIVE_RATE_LIMIT = { limit: 1_000_000, windowMs: MINUTE_MS };

/**
 * A review policy no ordinary test meets, so tests that create many orders
 * as one user are not held; review tests pass their own `reviewPolicy`.
 */
export const PERMISSIVE_REVIEW_POLICY: ReviewPolicy = {
  thresholdCents: 1_000_000_000_000n,
  velocityOrders: 1_000_000,
};

/** Everything a route test needs. */
export interface TestContext {
  app: ReturnType<typeof createApp>;
  database: Database;
  /** The app's store: encrypting, over the database store. */
  store: OrderStore;
  /** The keyring the store encrypts with. */
  keyring: Keyring;
  /** Data keys, erasure and plain-text queries, over the same database. */
  personalDataStore: PersonalDataStore;
  accounts: AccountStore;
  clock: TestClock;
  /** Every log line written, parsed. */
  logs: Record<string, unknown>[];
  /** A valid token for `sub` with `roles`, issued at the test clock's time. */
  token(
    sub: number | string,
    roles?: string[],
    claims?: Partial<TokenClaims>,
  ): Promise<string>;
  /** Sends a request to the app; `body` is sent as JSON. */
  request(
    method: string,
    path: string,
    options?: {
      token?: string;
      body?: unknown;
      headers?: Record<string, string>;
      /** The connection's peer address, as `Deno.serve` would give it. */
      remoteAddress?: string;
    },
  ): Promise<Response>;
  close(): void;
}

/**
 * Builds the real app over a fresh in-memory database (or `url`), with
 * personal data encrypted under `TEST_PII_KEY` (or `piiKeys`).
 */
export async function createTestContext(
  overrides: Partial<AppDeps> & {
    url?: string;
    piiKeys?: { current: string; previous?: string };
    /** The test clock, for parts built before the context (rate limiters). */
    clock?: TestClock;
  } = {},
): Promise<TestContext> {
  const { url, piiKeys, clock = testClock(), ...deps } = overrides;
  const database = await openDatabase(url ?? ":memory:");
  await applyMigrations(database.db);
  const personalDataStore = createPersonalDataStore(database.db, {
    embedded: database.embedded,
  });
  const keyring = createKeyring(personalDataStore, {
    masters: await importMasterKeys(piiKeys ?? { current: TEST_PII_KEY }),
    clock,
  });
  const store = encryptedOrderStore(createOrderStore(database.db), keyring);
  const accounts = createAccountStore(database.db);
  const logs: Record<string, unknown>[] = [];
  const logger = createJsonLogger(
    "debug",
    (line) => logs.push(JSON.parse(line)),
  );
  const app = createApp({
    store,
    verifier: await createTokenVerifier({
      secret: TEST_SECRET,
      maxTtlSeconds: 86_400,
      now: () => clock.now(),
    }),
    clock,
    logger,
    rateLimits: {
      limiters: createMemoryRateLimiters({
        requests: PERMISSIVE_RATE_LIMIT,
        order_creation: PERMISSIVE_RATE_LIMIT,
        lookup_misses: PERMISSIVE_RATE_LIMIT,
        auth_failures: PERMISSIVE_RATE_LIMIT,
      }, { now: () => clock.now() }),
      failClosed: false,
      trustedProxies: 0,
    },
    newId: () => crypto.randomUUID(),
    personalData: createPersonalDataEraser({
      store: personalDataStore,
      keyring,
      clock,
    }),
    accounts,
    reviewPolicy: PERMISSIVE_REVIEW_POLICY,
    ipHashSecret: TEST_IP_HASH_SECRET,
    ...deps,
  });
  return {
    app,
    database,
    store,
    keyring,
    personalDataStore,
    accounts,
    clock,
    logs,
    token: (sub, roles = [], claims = {}) =>
      signToken(TEST_SECRET, { sub, roles, now: clock.now(), ...claims }),
    async request(method, path, options = {}) {
      const headers = new Headers(options.headers);
      if (options.token) {
        headers.set("Authorization", `Bearer ${options.token}`);
      }
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === "string"
          ? options.body
          : JSON.stringify(options.body);
        if (!headers.has("Content-Type")) {
          headers.set("Content-Type", "application/json");
        }
      }
      // Deno's serve info is the env `getConnInfo` reads the peer from.
      const env = options.remoteAddress === undefined ? undefined : {
        remoteAddr: {
          transport: "tcp",
          hostname: options.remoteAddress,
          port: 40000,
        },
      };
      return await app.request(path, {
        method,
        headers,
        ...(body !== undefined && { body }),
      }, env);
    },
    close: () => database.close(),
  };
}

/** A minimal valid creation body. */
export function orderBody(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    items: [{
      product_id: "sku-1",
      product_name: "Mug",
      quantity: 2,
      price: "12.50",
    }],
    shipping_address: "1 Main St, Springfield",
    ...overrides,
  };
}

/** A running `main.ts` subprocess. */
export interface RunningServer {
  url: string;
  /** Everything the server wrote to stdout so far. */
  output(): string;
  /** Everything the server wrote to stderr so far. */
  errorOutput(): string;
  stop(): Promise<void>;
}

/**
 * Starts `main.ts` on a free port with `env` and waits until it listens.
 * `denoFlags` replace the default permissions (for example to add `--deny-ffi`).
 */
export async function startServer(
  env: Record<string, string>,
  options: { denoFlags?: string[]; args?: string[] } = {},
): Promise<RunningServer> {
  const flags = options.denoFlags ??
    [
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-sys",
    ];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      new URL("../main.ts", import.meta.url).pathname,
      ...(options.args ?? []),
    ],
    env: {
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      PII_ENCRYPTION_KEY: TEST_PII_KEY,
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let errors = "";
  const decoder = new TextDecoder();
  const stderrDone = child.stderr.pipeTo(
    new WritableStream({
      write: (chunk) => void (errors += decoder.decode(chunk)),
    }),
  );
  const reader = child.stdout.getReader();
  let port: number | undefined;
  while (port === undefined) {
    const { done, value } = await reader.read();
    if (done) {
      await stderrDone.catch(() => {});
      throw new Error(`Server exited before listening: ${errors}`);
    }
    output += decoder.decode(value);
    const match = /"event":"server.listening".*?"port":(\d+)/.exec(output);
    if (match) port = Number(match[1]);
  }
  const stdoutDone = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      output += decoder.decode(value);
    }
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    errorOutput: () => errors,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await Promise.allSettled([stdoutDone, stderrDone]);
    },
  };
}

/** Serves a test context's app over real HTTP on a free loopback port. */
export function serveApp(
  ctx: TestContext,
): { url: string; close(): Promise<void> } {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, ctx.app.fetch);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** The number of rows in a table. */
export async function countRows(
  ctx: TestContext,
  table: string,
): Promise<number> {
  const result = await ctx.database.client.execute(
    `SELECT count(*) AS n FROM ${table}`,
  );
  return Number(result.rows[0]?.n);
}

/**
 * Runs a `tools/` script with the permissions its `deno task` gives it, and
 * only the environment given, and collects its output.
 */
export async function runTool(
  script: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-sys",
      new URL(`../tools/${script}`, import.meta.url).pathname,
      ...(options.args ?? []),
    ],
    env: { ...clockEnv(), ...options.env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
