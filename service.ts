/**
 * The composition root: builds the service from its configuration and
 * serves it. It is given the environment, the arguments and how to open a
 * database by an entry point: `main.ts` (embedded files and remote
 * databases; `deno task dev` with `--dev`, `deno task start` without) or
 * `deploy.ts` (remote databases only, for Deno Deploy).
 */
import { signToken } from "./auth/sign_token.ts";
import { createTokenVerifier } from "./auth/token_verifier.ts";
import {
  type Config,
  ConfigError,
  DEV_AUDIT_KEY,
  DEV_AUDIT_SIGNING_KEY,
  DEV_JWT_SECRET,
  DEV_PII_ENCRYPTION_KEY,
  loadConfig,
} from "./config.ts";
import { createCheckpointer } from "./audit/checkpointer.ts";
import { createAuditReceipts } from "./audit/receipts.ts";
import {
  type CheckpointList,
  upstashCheckpointList,
} from "./audit/evidence.ts";
import {
  base64Key,
  createAuditSealer,
  createCheckpointSigner,
} from "./audit/keys.ts";
import { CHECKPOINT_EVENT, checkpointJson } from "./domain/audit_checkpoint.ts";
import { createAccountStore } from "./db/account_store.ts";
import { createEventStore } from "./db/event_store.ts";
import type { OpenDatabase } from "./db/database.ts";
import { applyMigrations } from "./db/migrate.ts";
import { createOrderStore } from "./db/order_store.ts";
import {
  createPersonalDataStore,
  type PersonalDataStore,
} from "./db/personal_data_store.ts";
import { REPLAY_WINDOW_MS } from "./domain/idempotency.ts";
import { DAY_MS } from "./domain/order_events.ts";
import type { Clock } from "./domain/ports.ts";
import { errorFields, errorSummary } from "./error_fields.ts";
import { createMemoryRateLimiters } from "./limits/memory_rate_limiter.ts";
import { createJsonLogger, type Logger } from "./logger.ts";
import { importMasterKeys, type MasterKey } from "./pii/cipher.ts";
import { encryptedOrderStore } from "./pii/encrypted_order_store.ts";
import { createPersonalDataEraser } from "./pii/erasure.ts";
import { createKeyring } from "./pii/keyring.ts";
import { createApp } from "./routes/app.ts";
import { createWebhookStore } from "./db/webhook_store.ts";
import { createMetrics } from "./monitoring/metrics.ts";
import { SECURITY_EVENTS } from "./monitoring/security_event_names.ts";
import { createDispatcher } from "./webhooks/dispatcher.ts";

/**
 * Runs the service. Every start-up failure ends the process with one
 * `Cannot start:` line on stderr saying what to set, never a stack trace.
 */
export async function runService(
  env: Record<string, string | undefined>,
  args: readonly string[],
  openDatabase: OpenDatabase,
): Promise<RunningService> {
  const mode = args.includes("--dev") ? "dev" : "start";
  let config: Config;
  try {
    config = loadConfig(env, mode);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    cannotStart(error.message);
  }
  try {
    return await serve(config, openDatabase, {
      harnessCacheClock: env[HARNESS_CACHE_CLOCK] === "SIGUSR1",
    });
  } catch (error) {
    cannotStart(startupProblem(error, config));
  }
}

/** What an entry point may drive of the running service. */
export interface RunningService {
  /** Delivers the webhooks due, until done or `deadline` (`Deno.cron`). */
  readonly drainWebhooks: (deadline: number) => Promise<void>;
}

function cannotStart(problem: string): never {
  console.error(`Cannot start: ${problem}`);
  Deno.exit(1);
}

/** What to tell an operator about an error that stopped the start-up. */
function startupProblem(error: unknown, config: Config): string {
  if (error instanceof Deno.errors.AddrInUse) {
    return `port ${config.port} on ${config.host} is in use: stop the other process or set PORT to a free port`;
  }
  const embedded = config.databaseUrl.startsWith("file:");
  if (
    embedded &&
    (error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied)
  ) {
    return `cannot write the embedded database ${config.databaseUrl} (${
      errorSummary(error)
    }): on a host without a writable disk (Deno Deploy) set DATABASE_URL to your libSQL server (libsql://…) and DATABASE_AUTH_TOKEN; elsewhere give the service write access to that folder`;
  }
  return errorSummary(error);
}

/**
 * The benchmark's and its tests' knob, never set in production: with
 * `ORDERS_HARNESS_CACHE_CLOCK=SIGUSR1` each SIGUSR1 runs the clock the
 * per-instance caches expire by a minute ahead (past every per-user cache:
 * account state 5 s, data keys 30 s) and logs `harness.cache_clock_advanced`,
 * so "a user idle past every cache" takes no waiting. Only cache expiry
 * reads that clock; everything stored or compared with other processes
 * keeps the wall clock.
 */
const HARNESS_CACHE_CLOCK = "ORDERS_HARNESS_CACHE_CLOCK";

/** How far one SIGUSR1 runs the harness's cache clock ahead. */
const HARNESS_CACHE_CLOCK_STEP_MS = 60_000;

function harnessCacheClock(clock: Clock, logger: Logger): Clock {
  let aheadMs = 0;
  Deno.addSignalListener("SIGUSR1", () => {
    aheadMs += HARNESS_CACHE_CLOCK_STEP_MS;
    logger.log("info", "harness.cache_clock_advanced", { ahead_ms: aheadMs });
  });
  return { now: () => clock.now() + aheadMs };
}

/** Opens the database, builds the app and starts listening. */
async function serve(
  config: Config,
  openDatabase: OpenDatabase,
  options: { harnessCacheClock: boolean },
): Promise<RunningService> {
  const { mode } = config;
  const logger = createJsonLogger(config.logLevel, (line) => console.log(line));

  const database = await openDatabase(config.databaseUrl, {
    authToken: config.databaseAuthToken,
  });
  // Remote databases are migrated by `deno task db:migrate`, never at start-up.
  if (database.embedded) await applyMigrations(database.db);

  const clock: Clock = { now: () => Date.now() };
  const cacheClock = options.harnessCacheClock
    ? harnessCacheClock(clock, logger)
    : clock;
  // Created once: every request shares these limiters (and one Redis client).
  // The Upstash clients are loaded only when configured (about 13 MiB).
  const upstash = config.upstash;
  let rateLimiters;
  let checkpointList: CheckpointList | undefined;
  if (upstash) {
    const { createUpstashRateLimiters, createUpstashRedis } = await import(
      "./limits/upstash_rate_limiter.ts"
    );
    const redis = createUpstashRedis(upstash);
    rateLimiters = createUpstashRateLimiters(redis, config.rateLimits);
    checkpointList = upstashCheckpointList(redis);
  } else {
    rateLimiters = createMemoryRateLimiters(config.rateLimits, {
      now: clock.now,
    });
  }
  logger.log("info", "ratelimit.configured", {
    backend: config.upstash ? "upstash" : "memory",
    fail_closed: config.rateLimitFailClosed,
    trusted_proxies: config.trustProxy,
  });
  // Personal data: the master keys wrap per-user data keys (pii/keyring.ts);
  // the store encrypts every address before it reaches the database.
  const masters = await importMasterKeys(config.piiKeys);
  // The audit key seals every entry (HMAC-SHA256, in the write's batch);
  // each order change's response carries its entry's receipt.
  const auditSealer = createAuditSealer(base64Key(config.auditKeys.current)!);
  const auditReceipts = createAuditReceipts();
  const personalData = createPersonalDataStore(database.db, {
    embedded: database.embedded,
    auditSealer,
  });
  const { remoteCheck } = await checkMasterKeys(personalData, masters, {
    embedded: database.embedded,
    logger,
  });
  const keyring = createKeyring(personalData, { masters, clock, cacheClock });
  const store = encryptedOrderStore(
    createOrderStore(database.db, {
      auditSealer,
      onCommitted: auditReceipts.record,
      // Remote: the owner's data keys travel with every read of orders.
      ...(!database.embedded && {
        ownerKeys: (records) => keyring.learn(records),
      }),
    }),
    keyring,
  );
  const events = createEventStore(database.db);
  // Webhooks: secrets sealed by the master key; the dispatcher runs in
  // this process (woken after each write, polling for retries and for
  // other processes' writes) and shares the outbox with other processes.
  const webhooks = createWebhookStore(database.db, { masters, auditSealer });
  const metrics = createMetrics({ securityEvents: SECURITY_EVENTS });
  const dispatcher = createDispatcher({
    queue: webhooks,
    clock,
    logger,
    settings: config.webhooks,
    countAttempt: (outcome) => metrics.countWebhookAttempt(outcome),
  });
  const firstLook = dispatcher.start(config.webhooks.pollMs);
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
    cacheClock,
    logger,
    rateLimits: {
      limiters: rateLimiters,
      failClosed: config.rateLimitFailClosed,
      trustedProxies: config.trustProxy,
    },
    newId: () => crypto.randomUUID(),
    corsOrigins: config.corsOrigins,
    personalData: createPersonalDataEraser({
      store: personalData,
      keyring,
      clock,
    }),
    accounts: createAccountStore(database.db, { auditSealer }),
    events,
    reviewPolicy: config.reviewPolicy,
    ipHashSecret: config.ipHashSecret,
    cursorSecret: config.jwtSecret,
    auditReceipts,
    metrics,
    webhooks,
    webhookSettings: config.webhooks,
    wakeDispatcher: dispatcher.wake,
  });

  // Hourly: key records older than the replay window no longer count, and
  // events older than their retention go.
  const purge = setInterval(() => {
    store.purgeIdempotencyKeys(clock.now() - REPLAY_WINDOW_MS).catch((error) =>
      logger.log("warn", "idempotency.purge_failed", errorFields(error))
    );
    const retention = clock.now() - config.eventRetentionDays * DAY_MS;
    events.purgeEvents(retention).catch(
      (error) => logger.log("warn", "events.purge_failed", errorFields(error)),
    );
    webhooks.purgeAttempts(retention).catch(
      (error) => logger.log("warn", "webhook.purge_failed", errorFields(error)),
    );
  }, 60 * 60 * 1000);
  Deno.unrefTimer(purge);

  // Signed checkpoints of the audit log, published outside the database (a
  // log line; the Redis list when Upstash is configured) every
  // AUDIT_CHECKPOINT_SECONDS when the log grew, and on shutdown.
  const checkpointer = createCheckpointer({
    db: database.db,
    signer: createCheckpointSigner(base64Key(config.auditKeys.signing)!),
    clock,
    instance: crypto.randomUUID(),
    async publish(signed) {
      logger.log("info", CHECKPOINT_EVENT, checkpointJson(signed));
      await checkpointList?.append(signed).catch((error) =>
        logger.log("warn", "audit.checkpoint_not_stored", errorFields(error))
      );
    },
  });
  const checkpoint = () =>
    checkpointer.checkpoint().catch((error) =>
      logger.log("warn", "audit.checkpoint_failed", errorFields(error))
    );
  const checkpoints = setInterval(
    checkpoint,
    config.auditCheckpointSeconds * 1000,
  );
  Deno.unrefTimer(checkpoints);

  // One-time work ends before the first request is accepted (issue 24),
  // so that request pays for none of it: the key check of a remote
  // database and the dispatcher's first look (imports of keys and
  // modules happened above). A database slow to answer delays the start
  // by at most STARTUP_WORK_BUDGET_MS; what is left runs on.
  await settledWithin([remoteCheck, firstLook], STARTUP_WORK_BUDGET_MS);

  const devLine = mode === "dev" ? await devReadyLine(config) : undefined;
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) => {
      logger.log("info", "server.listening", { hostname, port, mode });
      if (devLine) console.error(devLine(`http://${hostname}:${port}`));
    },
  }, mode === "dev" ? withAccessLog(app.fetch) : app.fetch);

  const stop = async () => {
    await server.shutdown();
    await dispatcher.stop();
    clearInterval(checkpoints);
    // The last word on what this instance wrote.
    await checkpoint();
    database.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  return { drainWebhooks: (deadline) => dispatcher.drain(deadline) };
}

/**
 * The one line `deno task dev` prints once it listens, after whatever the
 * dependency installation printed: where it runs, its docs, two tokens,
 * and how to receive its webhooks locally (docs/webhooks.md).
 */
async function devReadyLine(
  config: Config,
): Promise<(url: string) => string> {
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
  const devDefaults = [
    config.jwtSecret === DEV_JWT_SECRET && "JWT_SECRET",
    config.piiKeys.current === DEV_PII_ENCRYPTION_KEY && "PII_ENCRYPTION_KEY",
    config.auditKeys.current === DEV_AUDIT_KEY && "AUDIT_KEY",
    config.auditKeys.signing === DEV_AUDIT_SIGNING_KEY && "AUDIT_SIGNING_KEY",
  ].filter(Boolean);
  const secrets = devDefaults.length === 0
    ? "your own secrets"
    : `public dev-only ${
      devDefaults.length === 1
        ? devDefaults[0]
        : `${devDefaults.slice(0, -1).join(", ")} and ${devDefaults.at(-1)}`
    }, which start refuses`;
  return (url) =>
    `Orders API (dev, ${config.databaseUrl}, ${secrets}) on ${url} · docs ${url}/docs · user token (sub 1) ${user} · admin token (sub 2) ${admin} · webhooks: deno task webhook:listen, then register http://127.0.0.1:8787/ (WEBHOOK_ALLOW_HOSTS=127.0.0.1)`;
}

/**
 * In `dev`, one readable line per request: method, path (no query), status,
 * milliseconds and request id; never a header, a body or an address.
 */
function withAccessLog(
  fetch: (
    request: Request,
    info: Deno.ServeHandlerInfo,
  ) => Response | Promise<Response>,
) {
  return async function accessLog(
    request: Request,
    info: Deno.ServeHandlerInfo,
  ): Promise<Response> {
    const started = performance.now();
    const response = await fetch(request, info);
    const ms = (performance.now() - started).toFixed(1);
    const path = new URL(request.url).pathname;
    console.error(
      `${request.method} ${path} ${response.status} ${ms}ms ${
        response.headers.get("x-request-id") ?? "-"
      }`,
    );
    return response;
  };
}

/** How long one-time start-up work may hold back listening. */
const STARTUP_WORK_BUDGET_MS = 2_000;

/** Waits until every promise settled, or `ms` passed. */
async function settledWithin(
  work: readonly Promise<unknown>[],
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled(work),
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}

/**
 * Data keys that no configured master key can unwrap make their users'
 * addresses unreadable: an embedded database refuses to start with them (a
 * rotation is half done: set PII_ENCRYPTION_KEY_PREVIOUS); a remote one,
 * which may be slow to answer, is checked and logged without stopping the
 * start: `remoteCheck` settles when it is done (it never rejects).
 */
async function checkMasterKeys(
  store: PersonalDataStore,
  masters: readonly MasterKey[],
  options: { embedded: boolean; logger: Logger },
): Promise<{ remoteCheck: Promise<void> }> {
  const count = () => store.countKeysNotWrappedBy(masters.map((m) => m.id));
  if (options.embedded) {
    const unreadable = await count();
    if (unreadable > 0) {
      throw new Error(
        `${unreadable} data keys are wrapped by a master key that is not configured: set PII_ENCRYPTION_KEY_PREVIOUS to the previous master key, then run deno task pii:rotate`,
      );
    }
    return { remoteCheck: Promise.resolve() };
  }
  const remoteCheck = count().then(
    (unreadable) => {
      if (unreadable > 0) {
        options.logger.log("error", "pii.unreadable_data_keys", {
          count: unreadable,
        });
      }
    },
    (error) =>
      options.logger.log("warn", "pii.key_check_failed", errorFields(error)),
  );
  return { remoteCheck };
}
