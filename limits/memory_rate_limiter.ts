/**
 * The embedded rate limiter: a sliding window kept in process memory, for a
 * single instance without Redis. It uses the algorithm of
 * `@upstash/ratelimit`'s `slidingWindow` (two fixed windows, the previous one
 * weighted by how much of it still overlaps the sliding window), so both
 * backends refuse the same requests. Memory stays bounded: an identifier is
 * forgotten once both of its windows have passed, and at most `maxKeys`
 * identifiers are kept (the least recently seen are dropped first).
 */
import {
  createRateLimiters,
  type RateLimiter,
  type RateLimiters,
  type RateLimitResult,
  type RateLimitRule,
  type RateLimitRules,
} from "./rate_limiter.ts";

/** The default cap on identifiers kept by one limiter. */
export const DEFAULT_MAX_KEYS = 100_000;

/** Settings of an in-memory limiter. */
export interface MemoryRateLimiterOptions {
  /** Milliseconds since the epoch; injectable so tests are exact. */
  readonly now: () => number;
  /** The most identifiers kept at once. */
  readonly maxKeys?: number;
}

/** An in-memory limiter, which can say how many identifiers it keeps. */
export interface MemoryRateLimiter extends RateLimiter {
  /** How many identifiers are kept right now. */
  readonly size: number;
}

interface Counts {
  /** The fixed window `current` counts in: `floor(time / windowMs)`. */
  window: number;
  current: number;
  previous: number;
}

/** Creates an in-memory sliding-window limiter for one rule. */
export function createMemoryRateLimiter(
  rule: RateLimitRule,
  options: MemoryRateLimiterOptions,
): MemoryRateLimiter {
  const { limit, windowMs } = rule;
  if (!(Number.isInteger(limit) && limit >= 1)) {
    throw new RangeError(`Invalid rate limit: ${limit}`);
  }
  if (!(Number.isInteger(windowMs) && windowMs >= 1)) {
    throw new RangeError(`Invalid rate-limit window: ${windowMs}`);
  }
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const entries = new Map<string, Counts>();
  let nextSweepAt = -Infinity;

  /** The counts of `identifier` as seen from `window`, or undefined when expired. */
  function countsAt(identifier: string, window: number): Counts | undefined {
    const stored = entries.get(identifier);
    if (stored === undefined) return undefined;
    if (stored.window === window) return stored;
    if (stored.window === window - 1) {
      return { window, current: 0, previous: stored.current };
    }
    return undefined;
  }

  /** Drops every identifier whose windows have both passed, once per window. */
  function sweep(now: number): void {
    if (now < nextSweepAt) return;
    nextSweepAt = now + windowMs;
    const window = Math.floor(now / windowMs);
    for (const [identifier, counts] of entries) {
      if (counts.window < window - 1) entries.delete(identifier);
    }
  }

  function result(
    success: boolean,
    used: number,
    counts: Counts,
    now: number,
  ): RateLimitResult {
    const target = success ? used : limit;
    return {
      success,
      limit,
      remaining: Math.max(0, limit - used),
      resetMs: target === 0 ? 0 : freedAt(counts, now, windowMs, target) - now,
    };
  }

  return {
    inProcess: true,
    get size() {
      return entries.size;
    },
    limit(identifier) {
      const now = options.now();
      sweep(now);
      const window = Math.floor(now / windowMs);
      const counts = countsAt(identifier, window) ??
        { window, current: 0, previous: 0 };
      const used = usedAt(counts, now, windowMs);
      const success = used < limit;
      if (success) counts.current += 1;
      // Delete first so the map's order is the order of last use: an
      // identifier still hammering while refused is the last to be dropped.
      entries.delete(identifier);
      entries.set(identifier, counts);
      if (entries.size > maxKeys) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      return Promise.resolve(
        result(success, success ? used + 1 : used, counts, now),
      );
    },
    refund(identifier) {
      const stored = entries.get(identifier);
      // The count sits in the stored window, whichever window it is now.
      if (stored && stored.current > 0) stored.current -= 1;
      return Promise.resolve();
    },
    peek(identifier) {
      const now = options.now();
      const window = Math.floor(now / windowMs);
      const counts = countsAt(identifier, window) ??
        { window, current: 0, previous: 0 };
      const used = usedAt(counts, now, windowMs);
      return Promise.resolve(result(used < limit, used, counts, now));
    },
  };
}

/** One in-memory limiter per rule. */
export function createMemoryRateLimiters(
  rules: RateLimitRules,
  options: MemoryRateLimiterOptions,
): RateLimiters {
  return createRateLimiters(
    rules,
    (_name, rule) => createMemoryRateLimiter(rule, options),
  );
}

/**
 * Requests counted against the sliding window ending at `now`: the current
 * window's count plus the previous one's, weighted by its overlap (rounded
 * down, as `@upstash/ratelimit` does).
 */
function usedAt(counts: Counts, now: number, windowMs: number): number {
  const elapsed = now - counts.window * windowMs;
  return Math.floor(counts.previous * (windowMs - elapsed) / windowMs) +
    counts.current;
}

/**
 * The first moment after `now` at which fewer than `target` requests are
 * counted, assuming no new ones: within the current window once the
 * previous window's weight has dropped enough, else in the next window once
 * the current count's weight has.
 */
function freedAt(
  counts: Counts,
  now: number,
  windowMs: number,
  target: number,
): number {
  const windowStart = counts.window * windowMs;
  const room = target - counts.current;
  if (room >= 1 && counts.previous > 0) {
    // floor(previous * (W - e) / W) < room  ⇔  e > W * (previous - room) / previous
    const elapsed =
      Math.floor(windowMs * (counts.previous - room) / counts.previous) + 1;
    return Math.max(windowStart + elapsed, now + 1);
  }
  const nextStart = windowStart + windowMs;
  if (counts.current < target) return nextStart;
  const elapsed =
    Math.floor(windowMs * (counts.current - target) / counts.current) + 1;
  return nextStart + elapsed;
}
