/**
 * Cross-cutting HTTP rules: caching, the body size limit and the request
 * timeout.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 65_536;

/** Why a body over `MAX_BODY_BYTES` is refused (413). */
export const BODY_TOO_LARGE =
  `The request body is larger than ${MAX_BODY_BYTES} bytes`;

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

/** Answers 503 with `Retry-After` when the rest of the chain takes too long. */
export function requestTimeout(ms: number): MiddlewareHandler<AppEnv> {
  return async function requestTimeout(_c, next) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() =>
        reject(
          new HttpProblem("timeout", TIMED_OUT, { "Retry-After": "1" }),
        ), ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
