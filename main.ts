/**
 * The composition root: the only module that reads the environment and
 * opens connections. `deno task dev` runs it with `--dev` (dev-only
 * secrets, printed tokens); `deno task start` without.
 */
import { signToken } from "./auth/sign_token.ts";
import { createTokenVerifier } from "./auth/token_verifier.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { createAccountStore } from "./db/account_store.ts";
import { ensureDatabaseDirectory, openDatabase } from "./db/client.ts";
import { applyMigrations } from "./db/migrate.ts";
import { createOrderStore } from "./db/order_store.ts";
import { REPLAY_WINDOW_MS } from "./domain/idempotency.ts";
import { createMemoryRateLimiters } from "./limits/memory_rate_limiter.ts";
import {
  createUpstashRateLimiters,
  createUpstashRedis,
} from "./limits/upstash_rate_limiter.ts";
import { createJsonLogger } from "./logger.ts";
import { createApp } from "./routes/app.ts";

async function main(): Promise<void> {
  const mode = Deno.args.includes("--dev") ? "dev" : "start";
  let config: Config;
  try {
    config = loadConfig(Deno.env.toObject(), mode);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Cannot start: ${error.message}`);
    Deno.exit(1);
  }
  const logger = createJsonLogger(config.logLevel, (line) => console.log(line));

  await ensureDatabaseDirectory(config.databaseUrl);
  const database = await openDatabase(config.databaseUrl, {
    authToken: config.databaseAuthToken,
  });
  // Remote databases are migrated by `deno task db:migrate`, never at start-up.
  if (database.embedded) await applyMigrations(database.db);

  const clock = { now: () => Date.now() };
  const store = createOrderStore(database.db);
  // Created once: every request shares these limiters (and one Redis client).
  const rateLimiters = config.upstash
    ? createUpstashRateLimiters(
      createUpstashRedis(config.upstash),
      config.rateLimits,
    )
    : createMemoryRateLimiters(config.rateLimits, { now: clock.now });
  logger.log("info", "ratelimit.configured", {
    backend: config.upstash ? "upstash" : "memory",
    fail_closed: config.rateLimitFailClosed,
    trusted_proxies: config.trustProxy,
  });
  const app = createApp({
    store,
    verifier: await createTokenVerifier({
      secret: config.jwtSecret,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      maxTtlSeconds: config.jwtMaxTtlSeconds,
      publicKey: config.jwtPublicKey,
      now: clock.now,
    }),
    clock,
    logger,
    rateLimits: {
      limiters: rateLimiters,
      failClosed: config.rateLimitFailClosed,
      trustedProxies: config.trustProxy,
    },
    newId: () => crypto.randomUUID(),
    corsOrigins: config.corsOrigins,
    accounts: createAccountStore(database.db),
    reviewPolicy: config.reviewPolicy,
    ipHashSecret: config.ipHashSecret,
  });

  if (mode === "dev") await printDevTokens(config);

  // Key records older than the replay window no longer count; drop them hourly.
  const purge = setInterval(() => {
    store.purgeIdempotencyKeys(clock.now() - REPLAY_WINDOW_MS).catch((error) =>
      logger.log("warn", "idempotency.purge_failed", {
        error_name: error?.name,
      })
    );
  }, 60 * 60 * 1000);
  Deno.unrefTimer(purge);

  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      logger.log("info", "server.listening", { hostname, port, mode }),
  }, app.fetch);

  const stop = async () => {
    await server.shutdown();
    database.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

async function printDevTokens(config: Config): Promise<void> {
  const options = {
    ttlSeconds: 86_400,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
  };
  const user = await signToken(config.jwtSecret, { sub: 1, ...options });
  const admin = await signToken(config.jwtSecret, {
    sub: 2,
    roles: ["admin"],
    ...options,
  });
  console.error(
    [
      "DEV MODE: using dev-only secrets (JWT_SECRET is the public dev default unless set).",
      "Never use them in production; `deno task start` refuses them.",
      `User token (sub 1):  ${user}`,
      `Admin token (sub 2): ${admin}`,
      "More: deno task token --sub 42 --roles admin",
    ].join("\n"),
  );
}

if (import.meta.main) await main();
