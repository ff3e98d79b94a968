/**
 * The client's address, for the per-address limit on failed authentication:
 * the peer of the connection, or an `X-Forwarded-For` entry only as far as
 * the operator says proxies in front of the service append to it.
 */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import type { AppEnv } from "./env.ts";

/** The address used when the runtime gives none (in-process test requests). */
export const UNKNOWN_ADDRESS = "unknown";

const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * The client address of a request. With `trustedProxies` = 0 it is the
 * connection's peer and `X-Forwarded-For` is ignored (a client can write
 * anything there). With N ≥ 1 reverse proxies, each appending the address it
 * saw, it is the N-th entry from the right: the address the outermost
 * trusted proxy saw, or the leftmost entry when there are fewer. Entries
 * further left were written by the client and are never used; an entry
 * that is not an IP address falls back to the peer.
 */
export function clientAddress(
  c: Context<AppEnv>,
  trustedProxies: number,
): string {
  const peer = peerAddress(c);
  if (trustedProxies < 1) return peer;
  const header = c.req.header("x-forwarded-for");
  if (header === undefined) return peer;
  const hops = header.split(",").map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (hops.length === 0) return peer;
  const chosen = hops[Math.max(0, hops.length - trustedProxies)] ?? peer;
  return ADDRESS.test(chosen) ? chosen.toLowerCase() : peer;
}

/** The connection's peer from Deno's serve info, when there is one. */
function peerAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? UNKNOWN_ADDRESS;
  } catch {
    // `app.request()` without serve info (tests) has no connection.
    return UNKNOWN_ADDRESS;
  }
}
