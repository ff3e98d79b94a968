/**
 * The four rate limits at the HTTP edge, and what happens when the
 * rate-limit store cannot answer. Every check is judged after
 * authentication and before validation (a handler marked `readsAhead` may
 * already read while a remote store answers, and decides nothing before
 * the verdict); a refusal is a 429 with `Retry-After` and the `RateLimit-*`
 * headers of the limit that refused, and leaves no other trace.
 *
 * - `requests`: every `/v1` request, per user.
 * - `order_creation`: `POST /v1/orders`, per user; a step the handler calls,
 *   and only an order created keeps its count (a replay, a refusal or a
 *   failure gives it back).
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
  MINUTE_MS,
  type RateLimiter,
  type RateLimitName,
  type RateLimitResult,
  RateLimitUnavailableError,
  withinMs,
} from "../../limits/rate_limiter.ts";
import type { Logger } from "../../logger.ts";
import type { Clock } from "../../domain/ports.ts";
import { clientAddress } from "./client_address.ts";
import type { AppEnv, RateLimitPolicy } from "../env.ts";
import { setResponseHeaders } from "./hygiene.ts";
import { HttpProblem, TEMPORARILY_UNAVAILABLE } from "../http/problem.ts";
import { securityEvent } from "../../monitoring/security_events.ts";
import { logRequestIds } from "./request_id.ts";
import { setBounded } from "../../bounded_map.ts";

/**
 * The most time the rate-limit checks of one request may add together
 * when the store is slow or down (the contract's bound).
 */
export const RATE_LIMIT_BUDGET_MS = 1000;

/** What the rate-limit steps need. */
export interface RateLimitDeps {
  readonly rateLimits: RateLimitPolicy;
  readonly logger: Logger;
  /** When the last verdicts remembered for `readsAheadWithRoom` expire. */
  readonly clock: Clock;
  /** The clock per-user caches expire by, when not `clock` (AppDeps). */
  readonly cacheClock?: Clock | undefined;
}

/** How many users' last verdicts an instance remembers at most. */
export const ROOM_MEMORY_ENTRIES = 10_000;

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

/** Marks a request for one order: its 403 and 404 count as look-up misses. */
export function orderLookup(): MiddlewareHandler<AppEnv> {
  return async function orderLookup(c, next) {
    c.set("orderLookup", true);
    await next();
  };
}

/**
 * Marks a request whose handler may read while a remote store judges the
 * request, and awaits `admitted(c)` before it decides anything: before it
 * refuses (404, 403, 400 …), answers, logs, counts or writes. Its reads
 * then cost no round trip of their own at the edge, and a refused request
 * leaves no trace but its refusal. Only for cheap, bounded reads (one
 * order): an export or a list is not started before the verdict.
 */
export function readsAhead(): MiddlewareHandler<AppEnv> {
  return async function readsAhead(c, next) {
    c.set("admission", { deferred: true });
    await next();
  };
}

/**
 * Marks a `GET` of one of `paths` whose read is not cheap (a list, a
 * history, an export, the events feed): a refused request must not make
 * the service read it. Its handler decides after the verdict
 * (`afterAdmission`), and runs while a remote store judges only when this
 * instance's memory of the user's limit allows (`RoomMemory`): as many
 * requests ahead as the last verdict's `remaining`, less those already
 * ahead, until its window ends; when nothing is known of the user, one
 * request ahead while the others wait for its verdict; after a refusal,
 * none for `MINUTE_MS`. Else it waits for the verdict, as `readsAhead`
 * routes never do.
 */
export function readsAheadWithRoom(
  paths: readonly RegExp[],
): MiddlewareHandler<AppEnv> {
  return async function readsAheadWithRoom(c, next) {
    if (c.req.method === "GET" && paths.some((path) => path.test(c.req.path))) {
      c.set("admission", { deferred: true, onlyWithRoom: true });
    }
    await next();
  };
}

/**
 * Settles as `work` does, but only once the request was admitted
 * (`admitted(c)`): work started ahead of the verdict refuses, answers and
 * logs nothing before it.
 */
export async function afterAdmission<T>(
  c: Context<AppEnv>,
  work: () => Promise<T>,
): Promise<T> {
  const [outcome] = await Promise.allSettled([work()]);
  await admitted(c);
  if (outcome!.status === "rejected") throw outcome!.reason;
  return outcome!.value;
}

/**
 * Marks an order creation (a `POST` where it is mounted): with a remote
 * store, the creation limit is asked along with the request limit; and the
 * handler reads ahead (`readsAhead`: the key's record, the owner's data
 * key). The creation's count is given back unless the handler keeps it
 * (`keepOrderCreation`, once an order is created).
 */
export function orderCreation(): MiddlewareHandler<AppEnv> {
  return async function orderCreation(c, next) {
    if (c.req.method === "POST") {
      c.set("orderCreation", { kept: false });
      c.set("admission", { deferred: true });
    }
    await next();
  };
}

/** Keeps the creation's count: the request created an order. */
export function keepOrderCreation(c: Context<AppEnv>): void {
  const creation = c.get("orderCreation");
  if (creation) creation.kept = true;
}

/**
 * Settles once the request may go on to decide and write: at once, unless
 * the handler runs while a remote store judges it (`readsAhead`); rejects
 * with the refusal then.
 */
export function admitted(c: Context<AppEnv>): Promise<void> {
  return c.get("admission")?.verdict ?? Promise.resolve();
}

/**
 * The per-user limits every `/v1` request meets right after authentication:
 * `requests` (counted); for a request for one order (`orderLookup`),
 * `lookup_misses` (checked before the handler without counting, counted
 * after a 403 or 404); and with a remote store, for an order creation
 * (`orderCreation`), `order_creation`. The checks go to the store together,
 * in one round trip. With a store in another process, a request marked
 * `readsAhead` runs its handler while the store answers (the handler waits
 * for `admitted(c)` before it decides anything), and so does one marked
 * `readsAheadWithRoom` when the instance's memory of the user allows
 * (`RoomMemory`); every other
 * request waits for the verdict before its handler. The account state, when
 * its cache missed, is read meanwhile and judged first (`checkTogether`). A
 * creation's count that the handler did not keep is given back. Sets the
 * `RateLimit-*` headers of the `requests` limit on every response it lets
 * through.
 */
export function userRateLimits(
  deps: RateLimitDeps,
): MiddlewareHandler<AppEnv> {
  const { requests, lookup_misses: misses, order_creation: creations } =
    deps.rateLimits.limiters;
  const room = createRoomMemory(
    () => (deps.cacheClock ?? deps.clock).now(),
    ROOM_MEMORY_ENTRIES,
  );
  return async function userRateLimits(c, next) {
    const userId = c.get("principal").userId;
    const identifier = String(userId);
    const lookup = c.get("orderLookup") === true;
    const checks: UserCheck[] = [
      { name: "requests", limiter: requests, call: (id) => requests.limit(id) },
    ];
    if (lookup) {
      checks.push({
        name: "lookup_misses",
        limiter: misses,
        call: (id) => misses.peek(id),
      });
    }
    const account = c.get("accountVerdict");
    if (account) account.judged = true;
    const verdict = checkTogether(c, deps, checks, account?.verdict);
    // Started in the same tick as the checks, so it shares their request.
    const creation = c.get("orderCreation");
    if (creation && !creations.inProcess) {
      creation.ahead = consult(
        c,
        deps,
        "order_creation",
        creations,
        () => creations.limit(identifier),
      );
      creation.ahead.catch(() => {}); // judged by the handler, or taken back
    }
    const admission = c.get("admission");
    const ahead = admission?.deferred === true && !requests.inProcess &&
      (!admission.onlyWithRoom || room.take(userId));
    if (!requests.inProcess) {
      verdict.then(
        (judged) => room.judged(userId, judged, ahead),
        () => room.judged(userId, undefined, ahead),
      );
    }
    let result: RateLimitResult | undefined;
    try {
      if (ahead) {
        admission.verdict = verdict.then(() => {});
        admission.verdict.catch(() => {}); // the handler may never wait
        // Both settle first: the handler, refused, threw the same refusal
        // from `admitted(c)`; thrown here again, it replaces any answer.
        const [judged] = await Promise.allSettled([verdict, next()]);
        if (judged.status === "rejected") throw judged.reason;
        result = judged.value;
      } else {
        result = await verdict;
        await next();
      }
    } finally {
      // A creation counts only when it created an order.
      const counted = creation?.counted ?? creation?.ahead;
      if (counted && !creation?.kept) await takeBack(c, counted, identifier);
    }
    if (lookup && (c.res.status === 403 || c.res.status === 404)) {
      await countAfterResponse(c, deps, "lookup_misses", misses, identifier);
    }
    // A 429 from another limit keeps that limit's headers.
    if (result !== undefined && c.res.status !== 429) {
      setResponseHeaders(c, rateLimitHeaders(result));
    }
  };

  /** Takes back a creation's count that did not count. */
  async function takeBack(
    c: Context<AppEnv>,
    ahead: Promise<RateLimitResult | undefined>,
    identifier: string,
  ): Promise<void> {
    const counted = await ahead.catch(() => undefined);
    if (!counted?.success) return;
    try {
      await withinBudget(c, creations, () => creations.refund(identifier));
    } catch (error) {
      logDegraded(c, deps, "order_creation", error, false);
    }
  }
}

/**
 * The creation limit, for the handler to call where the contract counts a
 * creation: counts it (or uses the count asked ahead, see `orderCreation`)
 * and throws the 429 once the limit is used up. The count is given back
 * when the request ends without `keepOrderCreation`.
 */
export function orderCreationStep(
  deps: RateLimitDeps,
): (c: Context<AppEnv>) => Promise<void> {
  const limiter = deps.rateLimits.limiters.order_creation;
  return async function orderCreationStep(c) {
    const userId = c.get("principal").userId;
    const creation = c.get("orderCreation");
    const counted = creation?.ahead ??
      consult(
        c,
        deps,
        "order_creation",
        limiter,
        () => limiter.limit(String(userId)),
      );
    if (creation) creation.counted = counted;
    const result = await counted;
    if (result && !result.success) {
      throw refusal(c, "order_creation", result, { userId });
    }
  };
}

/** One check of a user's request against a limit. */
interface UserCheck {
  readonly name: RateLimitName;
  readonly limiter: RateLimiter;
  /** `limit` (counts) or `peek` (only looks). */
  readonly call: (identifier: string) => Promise<RateLimitResult>;
}

/**
 * Starts every check at once, so a remote store gets them in one request,
 * and judges them in order: the first check's failure or refusal wins, as
 * if they had run one after another. The account state, when it is still
 * being read (`accountVerdict`), is judged before any of them (the
 * contract's order: 401/403 before 429), once the store has answered too:
 * the two reads overlap. Resolves to the first check's verdict (undefined
 * when its store could not answer and the request goes on).
 */
async function checkTogether(
  c: Context<AppEnv>,
  deps: RateLimitDeps,
  checks: readonly UserCheck[],
  account: Promise<void> | undefined,
): Promise<RateLimitResult | undefined> {
  const userId = c.get("principal").userId;
  const identifier = String(userId);
  const settled = await Promise.allSettled(
    checks.map(({ name, limiter, call }) =>
      consult(c, deps, name, limiter, () => call(identifier))
    ),
  );
  await account;
  for (const [i, outcome] of settled.entries()) {
    if (outcome.status === "rejected") throw outcome.reason;
    const result = outcome.value;
    if (result && !result.success) {
      throw refusal(c, checks[i]!.name, result, { userId });
    }
  }
  const first = settled[0];
  return first?.status === "fulfilled" ? first.value : undefined;
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
async function withinBudget<T>(
  c: Context<AppEnv>,
  limiter: RateLimiter,
  call: () => Promise<T>,
): Promise<T> {
  // A limiter in process memory cannot stall: no timer to arm.
  if (limiter.inProcess) return await call();
  const spent = c.get("rateLimitSpentMs") ?? 0;
  const left = RATE_LIMIT_BUDGET_MS - spent;
  if (left <= 0) throw new RateLimitUnavailableError("timeout");
  const started = performance.now();
  try {
    return await withinMs(call(), left);
  } finally {
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
    ...logRequestIds(c),
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

/**
 * What an instance remembers of each user's last verdict of the
 * `requests` limit, to decide which requests may run ahead of their
 * verdict (`readsAheadWithRoom`):
 *
 * - after a verdict that admitted, as many as it left `remaining`, until
 *   its window frees a request (`resetMs`);
 * - when nothing is known (a fresh instance, a user not seen for a window):
 *   one, as a probe, while the user's other requests wait for its verdict;
 * - after a refusal, or when the store gave no verdict: none for
 *   `MINUTE_MS`, the window of every limit.
 *
 * So a refused request reads ahead only as a probe: at most once per user,
 * instance and window, whatever the user sends (issue 24 against issue 20's
 * finding, docs/rate-limits.md).
 */
interface RoomMemory {
  /** Whether a request may run ahead; counts it when it may. */
  take(userId: number): boolean;
  /** Records a verdict (undefined: refused, or none came). */
  judged(
    userId: number,
    result: RateLimitResult | undefined,
    wasAhead: boolean,
  ): void;
}

function createRoomMemory(now: () => number, maxEntries: number): RoomMemory {
  /** Room left, until when, and requests ahead still waiting for a verdict. */
  type Entry = { spare: number; until: number; waiting: number };
  const entries = new Map<number, Entry>();
  return {
    take(userId) {
      const entry = entries.get(userId);
      const known = entry !== undefined &&
        (now() < entry.until || entry.waiting > 0);
      if (!known) {
        // The probe: no room until its verdict (`judged`) says how much.
        setBounded(
          entries,
          userId,
          { spare: 0, until: Infinity, waiting: 1 },
          maxEntries,
        );
        return true;
      }
      if (now() >= entry.until || entry.spare < 1) return false;
      entry.spare -= 1;
      entry.waiting += 1;
      return true;
    },
    judged(userId, result, wasAhead) {
      const entry = entries.get(userId);
      const waiting = Math.max(0, (entry?.waiting ?? 0) - (wasAhead ? 1 : 0));
      setBounded(
        entries,
        userId,
        result === undefined || !result.success
          ? { spare: 0, until: now() + MINUTE_MS, waiting }
          : {
            // Requests already ahead will use some of what this verdict saw.
            spare: result.remaining - waiting,
            until: now() + Math.max(0, result.resetMs),
            waiting,
          },
        maxEntries,
      );
    },
  };
}
