/**
 * Gives every request two ids. Its own, `serverRequestId`, is always new
 * and random, so it is unique: audit entries record it. Its correlation
 * id, `requestId`, is a well-formed incoming `X-Request-Id` when the client
 * sent one (kept so the client can find its request in the logs), else the
 * same as its own; the response echoes it in `X-Request-Id` and problem
 * bodies. When the two differ, the response also carries the service's own
 * in `X-Server-Request-Id` (so the client can find its audit entries), and
 * log lines carry both (`logRequestIds`).
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";

/** What an incoming `X-Request-Id` must look like to be kept. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The header with the service's own id, when the client chose `X-Request-Id`. */
export const SERVER_REQUEST_ID_HEADER = "X-Server-Request-Id";

/** The request-id middleware. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestId(c, next) {
    const incoming = c.req.header("x-request-id");
    const own = crypto.randomUUID();
    const id = incoming !== undefined && REQUEST_ID_PATTERN.test(incoming)
      ? incoming
      : own;
    c.set("requestId", id);
    c.set("serverRequestId", own);
    await next();
    // In place, as `setResponseHeaders` in ./hygiene.ts (which imports
    // what imports this module).
    c.res.headers.set("X-Request-Id", id);
    if (id !== own) c.res.headers.set(SERVER_REQUEST_ID_HEADER, own);
  };
}

/**
 * The ids a log line about the request carries: `request_id` as the client
 * saw it, and `server_request_id` (the id in audit entries) when the client
 * chose the first.
 */
export function logRequestIds(
  c: Context<AppEnv>,
): { request_id: string; server_request_id?: string } {
  const id = c.get("requestId");
  const own = c.get("serverRequestId");
  return own === undefined || own === id
    ? { request_id: id }
    : { request_id: id, server_request_id: own };
}
