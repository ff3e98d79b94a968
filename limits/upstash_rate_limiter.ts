/**
 * The shared rate limiter: Upstash Redis over its REST API, with
 * `@upstash/ratelimit`'s sliding window, so every instance counts against
 * the same windows. Every call answers within `timeoutMs` or throws
 * `RateLimitUnavailableError`; the HTTP shell decides what that means.
 */
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import {
  createRateLimiters,
  type RateLimiter,
  type RateLimiters,
  type RateLimitRule,
  type RateLimitRules,
  RateLimitUnavailableError,
  withinMs,
} from "./rate_limiter.ts";

/** How long a limiter waits for Redis before giving up. */
export const UPSTASH_TIMEOUT_MS = 1000;

/** The prefix of every rate-limit key in Redis. */
export const UPSTASH_KEY_PREFIX = "orders:rl";

/** Where the Upstash REST API is. */
export interface UpstashConnection {
  readonly url: string;
  readonly token: string;
}

/**
 * The Redis client the limiters share; created once at start-up. Results
 * stay raw strings (no automatic JSON deserialisation), telemetry is off,
 * and a failed fetch is retried once, quickly, since the limiter's timeout
 * bounds the wait anyway.
 */
export function createUpstashRedis(connection: UpstashConnection): Redis {
  return new Redis({
    url: connection.url,
    token: connection.token,
    automaticDeserialization: false,
    enableTelemetry: false,
    retry: { retries: 1, backoff: () => 50 },
  });
}

/** Settings of an Upstash limiter. */
export interface UpstashRateLimiterOptions {
  /** Keys are `<prefix>:<identifier>:<window number>`. */
  readonly prefix: string;
  /** Defaults to `UPSTASH_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
}

/** Creates an Upstash sliding-window limiter for one rule. */
export function createUpstashRateLimiter(
  redis: Redis,
  rule: RateLimitRule,
  options: UpstashRateLimiterOptions,
): RateLimiter {
  const timeoutMs = options.timeoutMs ?? UPSTASH_TIMEOUT_MS;
  const ratelimit = new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowMs} ms`),
    prefix: options.prefix,
    // The library answers `success: true, reason: "timeout"` after this;
    // turned into RateLimitUnavailableError below.
    timeout: timeoutMs,
    analytics: false,
    // Its per-process cache of blocked identifiers is never pruned, so it
    // could grow without bound; every check goes to Redis instead.
    ephemeralCache: false,
  });

  return {
    async limit(identifier) {
      let response;
      try {
        response = await ratelimit.limit(identifier);
      } catch (error) {
        throw new RateLimitUnavailableError("unavailable", { cause: error });
      }
      if (response.reason === "timeout") {
        throw new RateLimitUnavailableError("timeout");
      }
      return {
        success: response.success,
        limit: response.limit,
        remaining: response.remaining,
        resetMs: Math.max(0, response.reset - Date.now()),
      };
    },
    async refund(identifier) {
      // A negative rate is the library's refund: it lowers the current
      // window's count without checking the limit.
      await withTimeout(ratelimit.limit(identifier, { rate: -1 }), timeoutMs);
    },
    async peek(identifier) {
      const state = await withTimeout(
        ratelimit.getRemaining(identifier),
        timeoutMs,
      );
      return {
        success: state.remaining > 0,
        limit: state.limit,
        remaining: state.remaining,
        resetMs: Math.max(0, state.reset - Date.now()),
      };
    },
  };
}

/** One Upstash limiter per rule, each under its own key prefix. */
export function createUpstashRateLimiters(
  redis: Redis,
  rules: RateLimitRules,
  options: { prefix?: string; timeoutMs?: number } = {},
): RateLimiters {
  const prefix = options.prefix ?? UPSTASH_KEY_PREFIX;
  return createRateLimiters(
    rules,
    (name, rule) =>
      createUpstashRateLimiter(redis, rule, {
        prefix: `${prefix}:${name}`,
        ...(options.timeoutMs !== undefined &&
          { timeoutMs: options.timeoutMs }),
      }),
  );
}

/**
 * Settles like `promise`, or rejects with a timeout after `ms`; any other
 * failure is the store being unavailable.
 */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  try {
    return await withinMs(promise, ms);
  } catch (error) {
    if (error instanceof RateLimitUnavailableError) throw error;
    throw new RateLimitUnavailableError("unavailable", { cause: error });
  }
}
