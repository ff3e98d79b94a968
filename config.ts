/**
 * Environment → typed, validated configuration. Fails fast with one message
 * naming every problem at once; never echoes a secret.
 */
import { z } from "zod";
import {
  DEFAULT_RATE_LIMIT_RULES,
  MINUTE_MS,
  type RateLimitRules,
} from "./limits/rate_limiter.ts";
import { LOG_LEVELS, type LogLevel } from "./logger.ts";
import { MAX_TOTAL_CENTS, parseAmountCents } from "./domain/money.ts";
import { DEFAULT_REVIEW_POLICY, type ReviewPolicy } from "./domain/review.ts";
import { DEFAULT_EVENT_RETENTION_DAYS } from "./domain/order_events.ts";
import {
  DEFAULT_CHECKPOINT_SECONDS,
  MAX_CHECKPOINT_SECONDS,
} from "./domain/audit_checkpoint.ts";
import { parseAllowHosts } from "./domain/webhook_destination.ts";
import {
  DEFAULT_WEBHOOK_DISABLE_AFTER,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE,
  parseRetrySchedule,
} from "./domain/webhook_schedule.ts";
import {
  DEFAULT_WEBHOOK_CONCURRENCY,
  DEFAULT_WEBHOOK_MAX_ENDPOINTS,
  DEFAULT_WEBHOOK_POLL_MS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
} from "./domain/webhooks.ts";

/**
 * DEV-ONLY secret used by `deno task dev` and the test suite. It is public,
 * so `deno task start` refuses it.
 */
export const DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-do-not-deploy-0001";

/**
 * DEV-ONLY master key for personal data (the base64 of
 * "dev-only-pii-key-do-not-deploy!!"), used by `deno task dev`. It is
 * public, so `deno task start` refuses it.
 */
export const DEV_PII_ENCRYPTION_KEY =
  "ZGV2LW9ubHktcGlpLWtleS1kby1ub3QtZGVwbG95ISE=";

/**
 * DEV-ONLY audit key (the base64 of "dev-only-audit-key-do-not-deploy"),
 * used by `deno task dev`. It is public, so `deno task start` refuses it.
 */
export const DEV_AUDIT_KEY = "ZGV2LW9ubHktYXVkaXQta2V5LWRvLW5vdC1kZXBsb3k=";

/**
 * DEV-ONLY seed of the checkpoint signing key (the base64 of
 * "dev-only-audit-signing-seed!!!!!"), used by `deno task dev`. It is
 * public, so `deno task start` refuses it.
 */
export const DEV_AUDIT_SIGNING_KEY =
  "ZGV2LW9ubHktYXVkaXQtc2lnbmluZy1zZWVkISEhISE=";

/** The length of a master key for personal data, in bytes. */
export const PII_KEY_BYTES = 32;

/** The least number of bytes a JWT secret may have. */
export const MIN_SECRET_BYTES = 32;

/** `dev` runs with printed dev-only secrets; `start` demands real ones. */
export type RunMode = "dev" | "start";

/** The service's configuration. */
export interface Config {
  readonly mode: RunMode;
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly databaseAuthToken: string | undefined;
  readonly jwtSecret: string;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  readonly jwtMaxTtlSeconds: number;
  readonly jwtPublicKey:
    | { algorithm: "ES256" | "RS256"; pem: string }
    | undefined;
  readonly corsOrigins: readonly string[];
  readonly logLevel: LogLevel;
  /** Upstash Redis for the rate limits; in-memory limits when undefined. */
  readonly upstash: { url: string; token: string } | undefined;
  /** Each rate limit, per minute. */
  readonly rateLimits: RateLimitRules;
  /** Answer 503 instead of serving when the rate-limit store is down. */
  readonly rateLimitFailClosed: boolean;
  /** Reverse proxies that append to `X-Forwarded-For`; 0 ignores it. */
  readonly trustProxy: number;
  /** When new orders are held for review. */
  readonly reviewPolicy: ReviewPolicy;
  /**
   * The secret the key of `ip_hash` in security events is derived from:
   * `IP_HASH_KEY`, or `JWT_SECRET` when that is unset.
   */
  readonly ipHashSecret: string;
  /** How many days order events are kept at least. */
  readonly eventRetentionDays: number;
  /** Master keys for personal data (base64); they also seal webhook secrets. */
  readonly piiKeys: PiiKeys;
  /** The audit key(s) and the checkpoint signing key (base64). */
  readonly auditKeys: AuditKeys;
  /** `AUDIT_CHECKPOINT_SECONDS`: how often a signed checkpoint is published. */
  readonly auditCheckpointSeconds: number;
  /** How webhooks are registered and delivered (`WEBHOOK_*`). */
  readonly webhooks: WebhookConfig;
}

/** The `WEBHOOK_*` settings. */
export interface WebhookConfig {
  /** `WEBHOOK_MAX_ENDPOINTS`. */
  readonly maxEndpoints: number;
  /** `WEBHOOK_TIMEOUT_MS`: how long one attempt may take. */
  readonly timeoutMs: number;
  /** `WEBHOOK_CONCURRENCY`: attempts in flight per endpoint. */
  readonly concurrency: number;
  /** `WEBHOOK_RETRY_SCHEDULE`: seconds between attempts after the first. */
  readonly retrySchedule: readonly number[];
  /** `WEBHOOK_DISABLE_AFTER`: failed deliveries in a row that disable an endpoint. */
  readonly disableAfter: number;
  /** `WEBHOOK_ALLOW_HOSTS`: hosts exempt from the public-address rule. */
  readonly allowHosts: ReadonlySet<string>;
  /** `WEBHOOK_POLL_MS`: how often to look for due deliveries. */
  readonly pollMs: number;
}

/** The master keys for personal data, as configured (base64). */
export interface PiiKeys {
  /** `PII_ENCRYPTION_KEY`: wraps new data keys, unwraps all. */
  readonly current: string;
  /** `PII_ENCRYPTION_KEY_PREVIOUS`: unwraps only, during a rotation. */
  readonly previous: string | undefined;
}

/** Thrown when the environment cannot be turned into a configuration. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const optionalText = z.string().trim().min(1).optional().catch(undefined);

function integer(name: string, min: number, max: number, fallback: number) {
  return z.string().optional().transform((text, ctx) => {
    if (text === undefined || text === "") return fallback;
    const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      ctx.addIssue({
        code: "custom",
        message: `${name} must be an integer from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return value;
  });
}

/** What `DATABASE_URL` may name: an embedded file or memory, or a libSQL server. */
const DATABASE_URL = /^(?::memory:|file:.+|(?:libsql|https?):\/\/[^\s/]+.*)$/;

/** A browser `Origin`: scheme, host and optional port, nothing else. */
const ORIGIN = /^https?:\/\/[^\s/?#*]+$/;

const PEM_PUBLIC_KEY =
  /^-----BEGIN PUBLIC KEY-----\s+[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/;

const envSchema = z.object({
  HOST: optionalText,
  PORT: integer("PORT", 0, 65535, 8000),
  DATABASE_URL: optionalText.refine(
    (url) => url === undefined || DATABASE_URL.test(url),
    "DATABASE_URL must be file:<path>, :memory:, or a libSQL server's libsql://, https:// or http:// URL (for example file:./data/orders.db or libsql://orders-you.turso.io)",
  ),
  DATABASE_AUTH_TOKEN: optionalText,
  JWT_SECRET: z.string().optional(),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_MAX_TTL_SECONDS: integer("JWT_MAX_TTL_SECONDS", 60, 31_536_000, 86_400),
  JWT_PUBLIC_KEY: optionalText.refine(
    (pem) =>
      pem === undefined || PEM_PUBLIC_KEY.test(pem.replaceAll("\\n", "\n")),
    "JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY----- …)",
  ),
  JWT_PUBLIC_KEY_ALG: z.enum(["ES256", "RS256"], {
    error: "JWT_PUBLIC_KEY_ALG must be ES256 or RS256",
  }).optional(),
  CORS_ORIGINS: z.string().optional().superRefine((text, ctx) => {
    for (const origin of corsOrigins(text)) {
      if (!ORIGIN.test(origin)) {
        ctx.addIssue({
          code: "custom",
          message: `CORS_ORIGINS holds ${
            JSON.stringify(origin.slice(0, 100))
          }, which no browser sends as an Origin: list origins such as https://shop.example.com (scheme and host, no path, no wildcard)`,
        });
      }
    }
  }),
  PII_ENCRYPTION_KEY: z.string().optional(),
  PII_ENCRYPTION_KEY_PREVIOUS: z.string().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, {
    error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`,
  }).optional(),
  UPSTASH_REDIS_REST_URL: optionalText.pipe(
    z.url({
      protocol: /^https?$/,
      error: "UPSTASH_REDIS_REST_URL must be an http(s) URL",
    }).optional(),
  ),
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  RATE_LIMIT_REQUESTS_PER_MIN: perMinute(
    "RATE_LIMIT_REQUESTS_PER_MIN",
    DEFAULT_RATE_LIMIT_RULES.requests.limit,
  ),
  RATE_LIMIT_ORDERS_PER_MIN: perMinute(
    "RATE_LIMIT_ORDERS_PER_MIN",
    DEFAULT_RATE_LIMIT_RULES.order_creation.limit,
  ),
  RATE_LIMIT_MISSES_PER_MIN: perMinute(
    "RATE_LIMIT_MISSES_PER_MIN",
    DEFAULT_RATE_LIMIT_RULES.lookup_misses.limit,
  ),
  RATE_LIMIT_AUTH_FAILURES_PER_MIN: perMinute(
    "RATE_LIMIT_AUTH_FAILURES_PER_MIN",
    DEFAULT_RATE_LIMIT_RULES.auth_failures.limit,
  ),
  RATE_LIMIT_FAIL_CLOSED: z.enum(["0", "1"], {
    error: "RATE_LIMIT_FAIL_CLOSED must be 0 or 1",
  }).optional(),
  TRUST_PROXY: integer("TRUST_PROXY", 0, 10, 0),
  REVIEW_THRESHOLD: z.string().optional().transform((text, ctx) => {
    if (text === undefined || text === "") {
      return DEFAULT_REVIEW_POLICY.thresholdCents;
    }
    const cents = parseAmountCents(text.trim());
    if (cents === undefined || cents > MAX_TOTAL_CENTS) {
      ctx.addIssue({
        code: "custom",
        message:
          "REVIEW_THRESHOLD must be an amount such as 10000.00 (at most 2 decimals, at most 1000000000.00)",
      });
      return z.NEVER;
    }
    return cents;
  }),
  REVIEW_VELOCITY_ORDERS: integer(
    "REVIEW_VELOCITY_ORDERS",
    0,
    1_000_000,
    DEFAULT_REVIEW_POLICY.velocityOrders,
  ),
  IP_HASH_KEY: z.string().optional(),
  EVENT_RETENTION_DAYS: integer(
    "EVENT_RETENTION_DAYS",
    1,
    3650,
    DEFAULT_EVENT_RETENTION_DAYS,
  ),
  AUDIT_CHECKPOINT_SECONDS: integer(
    "AUDIT_CHECKPOINT_SECONDS",
    1,
    MAX_CHECKPOINT_SECONDS,
    DEFAULT_CHECKPOINT_SECONDS,
  ),
  WEBHOOK_MAX_ENDPOINTS: integer(
    "WEBHOOK_MAX_ENDPOINTS",
    1,
    1000,
    DEFAULT_WEBHOOK_MAX_ENDPOINTS,
  ),
  WEBHOOK_TIMEOUT_MS: integer(
    "WEBHOOK_TIMEOUT_MS",
    100,
    120_000,
    DEFAULT_WEBHOOK_TIMEOUT_MS,
  ),
  WEBHOOK_CONCURRENCY: integer(
    "WEBHOOK_CONCURRENCY",
    1,
    64,
    DEFAULT_WEBHOOK_CONCURRENCY,
  ),
  WEBHOOK_POLL_MS: integer(
    "WEBHOOK_POLL_MS",
    100,
    3_600_000,
    DEFAULT_WEBHOOK_POLL_MS,
  ),
  WEBHOOK_DISABLE_AFTER: integer(
    "WEBHOOK_DISABLE_AFTER",
    1,
    1000,
    DEFAULT_WEBHOOK_DISABLE_AFTER,
  ),
  WEBHOOK_RETRY_SCHEDULE: z.string().optional().transform((text, ctx) => {
    if (text === undefined || text.trim() === "") {
      return DEFAULT_WEBHOOK_RETRY_SCHEDULE;
    }
    try {
      return parseRetrySchedule(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  }),
  WEBHOOK_ALLOW_HOSTS: z.string().optional().transform((text, ctx) => {
    const hosts = parseAllowHosts(text ?? "");
    if (hosts.ok) return hosts.hosts;
    ctx.addIssue({
      code: "custom",
      message: `WEBHOOK_ALLOW_HOSTS: ${hosts.reason}`,
    });
    return z.NEVER;
  }),
});

function corsOrigins(text: string | undefined): string[] {
  return (text ?? "").split(",").map((o) => o.trim()).filter((o) => o !== "");
}

function perMinute(name: string, fallback: number) {
  return integer(name, 1, 1_000_000, fallback).transform((limit) => ({
    limit,
    windowMs: MINUTE_MS,
  }));
}

/**
 * Reads the configuration from an environment map. In `start` mode a
 * missing, short or dev-only `JWT_SECRET` is refused. Every problem is
 * found before any is reported: the `ConfigError` names them all.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  mode: RunMode,
): Config {
  const problems: string[] = [];
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => i.message));
  }
  const jwtSecret = env.JWT_SECRET ??
    (mode === "dev" ? DEV_JWT_SECRET : undefined);
  problems.push(...secretProblems(jwtSecret, env, mode));
  let piiKeys: PiiKeys | undefined;
  try {
    piiKeys = loadPiiKeys(env, mode);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  let auditKeys: AuditKeys | undefined;
  try {
    auditKeys = loadAuditKeys(env, mode);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  if (
    problems.length > 0 || !parsed.success || !piiKeys || !auditKeys ||
    !jwtSecret
  ) {
    throw new ConfigError(problems.join("; "));
  }
  const e = parsed.data;
  return {
    mode,
    host: e.HOST ?? (mode === "dev" ? "127.0.0.1" : "0.0.0.0"),
    port: e.PORT,
    // dev keeps its own file: data written under the public dev key never
    // blocks a later start with real keys.
    databaseUrl: e.DATABASE_URL ??
      (mode === "dev" ? "file:./data/dev.db" : "file:./data/orders.db"),
    databaseAuthToken: e.DATABASE_AUTH_TOKEN,
    jwtSecret,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    jwtMaxTtlSeconds: e.JWT_MAX_TTL_SECONDS,
    jwtPublicKey: e.JWT_PUBLIC_KEY && e.JWT_PUBLIC_KEY_ALG
      ? { algorithm: e.JWT_PUBLIC_KEY_ALG, pem: e.JWT_PUBLIC_KEY }
      : undefined,
    corsOrigins: corsOrigins(e.CORS_ORIGINS),
    logLevel: e.LOG_LEVEL ?? "info",
    upstash: e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
      ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
      : undefined,
    rateLimits: {
      requests: e.RATE_LIMIT_REQUESTS_PER_MIN,
      order_creation: e.RATE_LIMIT_ORDERS_PER_MIN,
      lookup_misses: e.RATE_LIMIT_MISSES_PER_MIN,
      auth_failures: e.RATE_LIMIT_AUTH_FAILURES_PER_MIN,
    },
    rateLimitFailClosed: e.RATE_LIMIT_FAIL_CLOSED === "1",
    trustProxy: e.TRUST_PROXY,
    piiKeys,
    reviewPolicy: {
      thresholdCents: e.REVIEW_THRESHOLD,
      velocityOrders: e.REVIEW_VELOCITY_ORDERS,
    },
    ipHashSecret: e.IP_HASH_KEY || jwtSecret,
    eventRetentionDays: e.EVENT_RETENTION_DAYS,
    auditKeys,
    auditCheckpointSeconds: e.AUDIT_CHECKPOINT_SECONDS,
    webhooks: {
      maxEndpoints: e.WEBHOOK_MAX_ENDPOINTS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      retrySchedule: e.WEBHOOK_RETRY_SCHEDULE,
      disableAfter: e.WEBHOOK_DISABLE_AFTER,
      allowHosts: e.WEBHOOK_ALLOW_HOSTS,
      pollMs: e.WEBHOOK_POLL_MS,
    },
  };
}

/** The problems of the secrets and of the settings that come in pairs. */
function secretProblems(
  jwtSecret: string | undefined,
  env: Record<string, string | undefined>,
  mode: RunMode,
): string[] {
  const problems: string[] = [];
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  if (jwtSecret === undefined || jwtSecret === "") {
    problems.push(
      `JWT_SECRET is required: set it to a random secret of at least ${MIN_SECRET_BYTES} bytes (for example: openssl rand -base64 48)`,
    );
  } else if (bytes(jwtSecret) < MIN_SECRET_BYTES) {
    problems.push(
      `JWT_SECRET is too short: it must be at least ${MIN_SECRET_BYTES} bytes`,
    );
  } else if (mode === "start" && jwtSecret === DEV_JWT_SECRET) {
    problems.push(
      "JWT_SECRET is the public dev-only secret: set a real one for deno task start",
    );
  }
  const set = (name: string) => (env[name]?.trim() ?? "") !== "";
  for (
    const [a, b] of [
      ["JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_ALG"],
      ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"],
    ]
  ) {
    if (set(a!) !== set(b!)) {
      problems.push(`${a} and ${b} must be set together`);
    }
  }
  const ipHashKey = env.IP_HASH_KEY;
  if (
    ipHashKey !== undefined && ipHashKey !== "" &&
    bytes(ipHashKey) < MIN_SECRET_BYTES
  ) {
    problems.push(
      `IP_HASH_KEY is too short: it must be at least ${MIN_SECRET_BYTES} bytes`,
    );
  }
  return problems;
}

/**
 * Reads `PII_ENCRYPTION_KEY` (required, except that `dev` falls back to the
 * public dev key, which `start` refuses) and `PII_ENCRYPTION_KEY_PREVIOUS`
 * (optional): each 32 bytes, base64-encoded, and different from each other.
 * Used by `loadConfig` and the `pii:*` tasks; never echoes a key.
 */
export function loadPiiKeys(
  env: Record<string, string | undefined>,
  mode: RunMode,
): PiiKeys {
  const given = env.PII_ENCRYPTION_KEY?.trim() || undefined;
  const current = given ??
    (mode === "dev" ? DEV_PII_ENCRYPTION_KEY : undefined);
  if (current === undefined) {
    throw new ConfigError(
      `PII_ENCRYPTION_KEY is required: set it to ${PII_KEY_BYTES} random bytes, base64-encoded (for example: openssl rand -base64 32)`,
    );
  }
  const currentBytes = base64KeyBytes(current);
  if (currentBytes === undefined) {
    throw new ConfigError(
      `PII_ENCRYPTION_KEY must be ${PII_KEY_BYTES} bytes, base64-encoded`,
    );
  }
  if (
    mode === "start" &&
    sameBytes(currentBytes, base64KeyBytes(DEV_PII_ENCRYPTION_KEY))
  ) {
    throw new ConfigError(
      "PII_ENCRYPTION_KEY is the public dev-only key: set a real one for deno task start",
    );
  }
  const previous = env.PII_ENCRYPTION_KEY_PREVIOUS?.trim() || undefined;
  if (previous !== undefined) {
    const previousBytes = base64KeyBytes(previous);
    if (previousBytes === undefined) {
      throw new ConfigError(
        `PII_ENCRYPTION_KEY_PREVIOUS must be ${PII_KEY_BYTES} bytes, base64-encoded`,
      );
    }
    if (sameBytes(currentBytes, previousBytes)) {
      throw new ConfigError(
        "PII_ENCRYPTION_KEY_PREVIOUS is the same key as PII_ENCRYPTION_KEY: set it to the key being replaced, or unset it",
      );
    }
  }
  return { current, previous };
}

function base64KeyBytes(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  if (binary.length !== PII_KEY_BYTES) return undefined;
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  return b !== undefined && a.length === b.length &&
    a.every((x, i) => x === b[i]);
}

/** The audit's keys, as configured (base64, 32 bytes each). */
export interface AuditKeys {
  /** `AUDIT_KEY`: seals new entries, verifies all it sealed. */
  readonly current: string;
  /** `AUDIT_KEY_PREVIOUS`: verifies entries sealed before a rotation, never seals. */
  readonly previous: string | undefined;
  /** `AUDIT_SIGNING_KEY`: the Ed25519 seed checkpoints are signed with. */
  readonly signing: string;
}

/**
 * Reads `AUDIT_KEY` and `AUDIT_SIGNING_KEY` (required, except that `dev`
 * falls back to the public dev keys, which `start` refuses) and
 * `AUDIT_KEY_PREVIOUS` (optional, never the current key): 32 bytes each,
 * base64-encoded. Used by `loadConfig` and `audit:verify`; never echoes a key.
 */
export function loadAuditKeys(
  env: Record<string, string | undefined>,
  mode: RunMode,
): AuditKeys {
  const required = (name: string, dev: string): string => {
    const given = env[name]?.trim() || undefined;
    const key = given ?? (mode === "dev" ? dev : undefined);
    if (key === undefined) {
      throw new ConfigError(
        `${name} is required: set it to ${PII_KEY_BYTES} random bytes, base64-encoded (for example: openssl rand -base64 32)`,
      );
    }
    const bytes = base64KeyBytes(key);
    if (bytes === undefined) {
      throw new ConfigError(
        `${name} must be ${PII_KEY_BYTES} bytes, base64-encoded`,
      );
    }
    if (mode === "start" && sameBytes(bytes, base64KeyBytes(dev))) {
      throw new ConfigError(
        `${name} is the public dev-only key: set a real one for deno task start`,
      );
    }
    return key;
  };
  const current = required("AUDIT_KEY", DEV_AUDIT_KEY);
  const signing = required("AUDIT_SIGNING_KEY", DEV_AUDIT_SIGNING_KEY);
  const previous = env.AUDIT_KEY_PREVIOUS?.trim() || undefined;
  if (previous !== undefined) {
    const previousBytes = base64KeyBytes(previous);
    if (previousBytes === undefined) {
      throw new ConfigError(
        `AUDIT_KEY_PREVIOUS must be ${PII_KEY_BYTES} bytes, base64-encoded`,
      );
    }
    if (sameBytes(previousBytes, base64KeyBytes(current))) {
      throw new ConfigError(
        "AUDIT_KEY_PREVIOUS is the same key as AUDIT_KEY: set it to the key being replaced, or unset it",
      );
    }
  }
  return { current, previous, signing };
}
