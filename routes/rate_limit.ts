/**
 * The four rate limits at the HTTP edge, and what happens when the
 * rate-limit store cannot answer. Every check runs after authentication and
 * before validation; a refusal is a 429 with `Retry-After` and the
 * `RateLimit-*` headers of the limit that refused.
 *
 * - `requests`: every `/v1` request, per user.
 * - `order_creation`: `POST /v1/orders`, per user; a step the handler calls.
 * - `lookup_misses`: requests for one order (`/v1/orders/{id}` and below)
 *   answered 403 or 404, per user; once used up, every such request is 429.
 * - `auth_failures`: failed authentication, per client address; once used
 *   up, requests from that address with a bad token are 429. A valid token
 *   is still served: the limit stops token guessing, and a user sharing an
 *   address with an attacker keeps working.
 *
 * Successful responses carry the `RateLimit-*` headers of the per-user
 * `requests` limit, the one every request counts against.
 *
 * When the store is slow or down the request is served (or answered 503
 * when failing closed) and `ratelimit.degraded` is logged; the checks of
 * one request share a budget of `RATE_LIMIT_BUDGET_MS`.
 */
import type { Context, MiddlewareHandler } from "hono";
import {
  type RateLimiter,
  type RateLimitName,
  type RateLimitResult,
  RateLimitUnavailableError,
} from "../limits/rate_limiter.ts";
import type { Logger } from "../logger.ts";
import { clientAddress } from "./client_address.ts";
import type { AppEnv, RateLimitPolicy } from "./env.ts";
import { HttpProblem, TEMPORARILY_UNAVAILABLE } from "./problem.ts";
import { securityEvent } from "./security_events.ts";

/**
 * The most time the rate-limit checks of one request may add together
 * when the store is slow or down (the contract's bound).
 */
export const RATE_LIMIT_BUDGET_MS = 1000;

/** What the rate-limit steps need. */
export interface RateLimitDeps {
  readonly rateLimits: RateLimitPolicy;
  readonly logger: Logger;
}

const REFUSALS: Record<RateLimitName, string> = {
  requests: "Too many requests",
  order_creation: "Too many orders created",
  lookup_misses:
    "Too many requests for orders that do not exist or are not yours",
  auth_failures: "Too many failed authentication attempts",
};

/** Why a request over the limit `name` is refused (429). */
export function rateLimitedMessage(
  name: RateLimitName,
  retryAfterSeconds: string,
): string {
  return `${REFUSALS[name]}: retry after ${retryAfterSeconds} s`;
}

/** The `RateLimit-*` headers for a limiter's verdict. */
export function rateLimitHeaders(
  result: RateLimitResult,
): Record<string, string> {
  return {
    "RateLimit-Limit": String(result.limit),
    "RateLimit-Remaining": String(result.remaining),
    "RateLimit-Reset": String(Math.ceil(Math.max(0, result.resetMs) / 1000)),
  };
}

/**
 * The per-user limit on every request; mounted right after authentication.
 * Sets the `RateLimit-*` headers on every response it lets through.
 */
export function requestRateLimit(
  deps: RateLimitDeps,
): MiddlewareHandler<AppEnv> {
  const step = userRateLimitStep(deps, "requests");
  return async function requestRateLimit(c, next) {
    const result = await step(c);
    await next();
    // A 429 from another limit keeps that limit's headers.
    if (result !== undefined && c.res.status !== 429) {
      for (const [name, value] of Object.entries(rateLimitHeaders(result))) {
        c.header(name, value);
      }
    }
  };
}

/**
 * A step that counts the request against `name` for the authenticated
 * user and throws the 429 once the limit is used up. Resolves to the
 * verdict, or undefined when the store could not answer (fail-open).
 */
export function userRateLimitStep(
  deps: RateLimitDeps,
  name: RateLimitName,
): (c: Context<AppEnv>) => Promise<RateLimitResult | undefined> {
  const limiter = deps.rateLimits.limiters[name];
  return async function userRateLimitStep(c) {
    const userId = c.get("principal").userId;
    const result = await consult(
      c,
      deps,
      name,
      limiter,
      () => limiter.limit(String(userId)),
    );
    if (result && !result.success) {
      throw refusal(c, name, result, { userId });
    }
    return result;
  };
}

/**
 * The per-user limit on requests for one order that end in 403 or 404:
 * checked before the handler runs (without counting), counted after it
 * answered 403 or 404.
 */
export function lookupMissLimit(
  deps: RateLimitDeps,
): MiddlewareHandler<AppEnv> {
  const limiter = deps.rateLimits.limiters.lookup_misses;
  return async function lookupMissLimit(c, next) {
    const userId = c.get("principal").userId;
    const identifier = String(userId);
    const state = await consult(
      c,
      deps,
      "lookup_misses",
      limiter,
      () => limiter.peek(identifier),
    );
    if (state && !state.success) {
      throw refusal(c, "lookup_misses", state, { userId });
    }
    await next();
    if (c.res.status === 403 || c.res.status === 404) {
      await countAfterResponse(c, deps, "lookup_misses", limiter, identifier);
    }
  };
}

/**
 * Counts a failed authentication against the client address. Resolves to
 * the 429 to answer instead of the 401 once the address is over its limit.
 */
export function authFailureLimit(
  deps: RateLimitDeps,
): (c: Context<AppEnv>) => Promise<HttpProblem | undefined> {
  const limiter = deps.rateLimits.limiters.auth_failures;
  return async function authFailureLimit(c) {
    const address = clientAddress(c, deps.rateLimits.trustedProxies);
    // Never fails closed: the request is refused (401) anyway, and a 503
    // would only invite a retry with the same bad token.
    const result = await consult(
      c,
      deps,
      "auth_failures",
      limiter,
      () => limiter.limit(address),
      { failClosed: false },
    );
    if (result === undefined || result.success) return undefined;
    return refusal(c, "auth_failures", result, {});
  };
}

/**
 * Runs one limiter call. When the store fails, logs `ratelimit.degraded`
 * and either lets the request through (undefined) or throws the 503.
 * Never lets a store error become a 500 or reach the response.
 */
async function consult(
  c: Context<AppEnv>,
  deps: RateLimitDeps,
  name: RateLimitName,
  limiter: RateLimiter,
  call: () => Promise<RateLimitResult>,
  options: { failClosed?: boolean } = {},
): Promise<RateLimitResult | undefined> {
  try {
    return await withinBudget(c, limiter, call);
  } catch (error) {
    const failClosed = options.failClosed ?? deps.rateLimits.failClosed;
    logDegraded(c, deps, name, error, failClosed);
    if (!failClosed) return undefined;
    throw new HttpProblem(
      "unavailable",
      TEMPORARILY_UNAVAILABLE,
      { "Retry-After": "1" },
    );
  }
}

/**
 * Counts a request once its response is decided. A store failure is only
 * logged: the answer is already given, and failing closed now would change
 * nothing but the status.
 */
async function countAfterResponse(
  c: Context<AppEnv>,
  deps: RateLimitDeps,
  name: RateLimitName,
  limiter: RateLimiter,
  identifier: string,
): Promise<void> {
  try {
    await withinBudget(c, limiter, () => limiter.limit(identifier));
  } catch (error) {
    logDegraded(c, deps, name, error, false);
  }
}

/**
 * Runs a limiter call within what is left of the request's budget, so the
 * checks of one request add at most `RATE_LIMIT_BUDGET_MS` together however
 * many limits it meets. Once the budget is spent, the store is not asked.
 */
async function withinBudget(
  c: Context<AppEnv>,
  limiter: RateLimiter,
  call: () => Promise<RateLimitResult>,
): Promise<RateLimitResult> {
  // A limiter in process memory cannot stall: no timer to arm.
  if (limiter.inProcess) return await call();
  const spent = c.get("rateLimitSpentMs") ?? 0;
  const left = RATE_LIMIT_BUDGET_MS - spent;
  if (left <= 0) throw new RateLimitUnavailableError("timeout");
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RateLimitUnavailableError("timeout")),
      left,
    );
  });
  try {
    return await Promise.race([call(), expired]);
  } finally {
    clearTimeout(timer);
    c.set("rateLimitSpentMs", spent + (performance.now() - started));
  }
}

function logDegraded(
  c: Context<AppEnv>,
  deps: RateLimitDeps,
  name: RateLimitName,
  error: unknown,
  failClosed: boolean,
): void {
  // Only the reason: a store error's message can hold the command and keys.
  deps.logger.log("warn", "ratelimit.degraded", {
    request_id: c.get("requestId"),
    limit: name,
    reason: error instanceof RateLimitUnavailableError
      ? error.reason
      : "unavailable",
    fail_closed: failClosed,
  });
}

/** Logs `ratelimit.exceeded` and builds the 429 for a refused request. */
function refusal(
  c: Context<AppEnv>,
  name: RateLimitName,
  result: RateLimitResult,
  who: { userId?: number },
): HttpProblem {
  const retryAfter = String(Math.max(1, Math.ceil(result.resetMs / 1000)));
  securityEvent(c, "ratelimit.exceeded", {
    ...(who.userId !== undefined && { user_id: who.userId }),
    limit: name,
  });
  return new HttpProblem(
    "rate_limited",
    rateLimitedMessage(name, retryAfter),
    {
      "Retry-After": retryAfter,
      "RateLimit-Limit": String(result.limit),
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": retryAfter,
    },
  );
}
