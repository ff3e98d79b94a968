/**
 * Cross-cutting HTTP rules: caching, the body size limit and the request
 * timeout.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { HttpProblem } from "../http/problem.ts";

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 65_536;

/** Why a body over `MAX_BODY_BYTES` is refused (413). */
export const BODY_TOO_LARGE =
  `The request body is larger than ${MAX_BODY_BYTES} bytes`;

/**
 * Requests running longer than this are answered with 503, unless a write
 * has begun (see `RequestDeadline` in ../env.ts).
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** What a 503 for a request that ran too long guarantees. */
export const TIMED_OUT_GUARANTEE =
  "Nothing of the request was written, then or later: a write that has begun is answered with its outcome instead, and a body still arriving is no longer read";

/** Why a request that ran too long is answered 503. */
export const TIMED_OUT =
  "The request took too long; retry it (with the same Idempotency-Key for a creation)";

/**
 * Sets headers on the response the rest of the chain made, in place (as
 * `hono/secure-headers` does): `c.header` on a finished response copies the
 * whole response, headers and all, for every header it sets.
 */
export function setResponseHeaders(
  c: Context<AppEnv>,
  headers: Readonly<Record<string, string>>,
): void {
  for (const name in headers) c.res.headers.set(name, headers[name]!);
}

const NO_STORE = { "Cache-Control": "no-store" };

/** Marks every response as not to be stored by any cache. */
export function noStore(): MiddlewareHandler<AppEnv> {
  return async function noStore(c, next) {
    await next();
    setResponseHeaders(c, NO_STORE);
  };
}

/**
 * Refuses a body whose declared length is over the limit before anything
 * else happens; bodies without a declared length are cut off while read.
 */
export function declaredBodyLimit(): MiddlewareHandler<AppEnv> {
  return async function declaredBodyLimit(c, next) {
    const length = c.req.header("content-length");
    if (length !== undefined && Number(length) > MAX_BODY_BYTES) {
      throw new HttpProblem("payload_too_large", BODY_TOO_LARGE);
    }
    await next();
  };
}

/**
 * Answers 503 with `Retry-After` when the rest of the chain takes too long,
 * unless a write has begun (see `RequestDeadline` in ../env.ts).
 */
export function requestTimeout(ms: number): MiddlewareHandler<AppEnv> {
  return async function requestTimeout(c, next) {
    const cutOff = new AbortController();
    let writing = false;
    c.set("deadline", {
      signal: cutOff.signal,
      beginWrite() {
        if (cutOff.signal.aborted) throw timedOut();
        writing = true;
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (writing) return;
        const problem = timedOut();
        cutOff.abort(problem);
        reject(problem);
      }, ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Marks the start of a write of the request (see `RequestDeadline` in ../env.ts); throws
 * the 503 when the request was cut off meanwhile.
 */
export function beginWrite(c: Context<AppEnv>): void {
  c.get("deadline")?.beginWrite();
}

function timedOut(): HttpProblem {
  return new HttpProblem("timeout", TIMED_OUT, { "Retry-After": "1" });
}
