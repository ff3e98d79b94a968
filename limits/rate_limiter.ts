/**
 * The one small interface every rate-limit backend implements, and the
 * service's four limits. Imports no HTTP or Redis library.
 */

/** A limiter's verdict on one identifier. */
export interface RateLimitResult {
  /** Whether the request is within the limit. */
  readonly success: boolean;
  /** Requests allowed per window. */
  readonly limit: number;
  /** Requests still allowed now (after this one, for `limit()`). */
  readonly remaining: number;
  /**
   * Milliseconds until the window next frees a request (0 when nothing is
   * counted). The in-memory backend computes it exactly; the Upstash backend
   * reports the end of its current fixed window, an upper bound.
   */
  readonly resetMs: number;
}

/** A sliding-window limit on requests per identifier. */
export interface RateLimiter {
  /**
   * Counts one request for `identifier` when it is within the limit; a
   * refused request is not counted. Throws `RateLimitUnavailableError` when
   * the store cannot answer in time.
   */
  limit(identifier: string): Promise<RateLimitResult>;
  /**
   * The identifier's state without counting anything; `success` is false
   * once the limit is used up. Throws like `limit()`.
   */
  peek(identifier: string): Promise<RateLimitResult>;
  /**
   * Takes back one request `limit()` counted for `identifier`, for a request
   * counted ahead of time that turned out not to count. Throws like
   * `limit()`.
   */
  refund(identifier: string): Promise<void>;
  /**
   * True when the limiter answers from process memory and can never stall,
   * so a request need not arm a timer against it.
   */
  readonly inProcess?: boolean;
}

/** Why a limiter could not decide. */
export type RateLimitFailure = "timeout" | "unavailable";

/**
 * The rate-limit store was slow or down. The message never contains a
 * command, a key or a store address.
 */
export class RateLimitUnavailableError extends Error {
  readonly reason: RateLimitFailure;

  constructor(reason: RateLimitFailure, options?: ErrorOptions) {
    super(`Rate-limit store unavailable: ${reason}`, options);
    this.name = "RateLimitUnavailableError";
    this.reason = reason;
  }
}

/**
 * Settles like `work`, or rejects with a `timeout` RateLimitUnavailableError
 * once `ms` have passed without an answer.
 */
export async function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RateLimitUnavailableError("timeout")),
      ms,
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** One limit: so many requests per sliding window. */
export interface RateLimitRule {
  readonly limit: number;
  readonly windowMs: number;
}

/** The names of the service's limits (also their key prefixes and log names). */
export const RATE_LIMIT_NAMES = [
  "requests",
  "order_creation",
  "lookup_misses",
  "auth_failures",
] as const;

/** The name of one of the service's limits. */
export type RateLimitName = typeof RATE_LIMIT_NAMES[number];

/** A rule for each of the service's limits. */
export type RateLimitRules = Readonly<Record<RateLimitName, RateLimitRule>>;

/** A limiter for each of the service's limits. */
export type RateLimiters = Readonly<Record<RateLimitName, RateLimiter>>;

/** One minute, the window of every configured limit. */
export const MINUTE_MS = 60_000;

/** The defaults of the contract. */
export const DEFAULT_RATE_LIMIT_RULES: RateLimitRules = {
  requests: { limit: 120, windowMs: MINUTE_MS },
  order_creation: { limit: 10, windowMs: MINUTE_MS },
  lookup_misses: { limit: 20, windowMs: MINUTE_MS },
  auth_failures: { limit: 30, windowMs: MINUTE_MS },
};

/** Builds one limiter per rule with `create`. */
export function createRateLimiters(
  rules: RateLimitRules,
  create: (name: RateLimitName, rule: RateLimitRule) => RateLimiter,
): RateLimiters {
  return {
    requests: create("requests", rules.requests),
    order_creation: create("order_creation", rules.order_creation),
    lookup_misses: create("lookup_misses", rules.lookup_misses),
    auth_failures: create("auth_failures", rules.auth_failures),
  };
}
