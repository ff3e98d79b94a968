/**
 * Gives every request an id: a well-formed incoming `X-Request-Id` is kept,
 * anything else is replaced by a new random one. The response echoes it.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { setResponseHeaders } from "./hygiene.ts";

const WELL_FORMED = /^[A-Za-z0-9._-]{1,64}$/;

/** The request-id middleware. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestId(c, next) {
    const incoming = c.req.header("x-request-id");
    const id = incoming !== undefined && WELL_FORMED.test(incoming)
      ? incoming
      : crypto.randomUUID();
    c.set("requestId", id);
    await next();
    setResponseHeaders(c, { "X-Request-Id": id });
  };
}
