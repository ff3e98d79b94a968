/**
 * The client's address, for the per-address limit on failed authentication
 * and the `ip_hash` of security events: the peer of the connection, or an
 * `X-Forwarded-For` entry only as far as the operator says proxies in front
 * of the service append to it. Either is reduced to its bucket, so that a
 * port or another spelling of an address is the same client, and an IPv6
 * client is its /64 (the smallest network a subscriber is usually given:
 * it could rotate through the addresses in it freely).
 */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import type { AppEnv } from "../env.ts";
import { DOTTED_IPV4, ipv6Groups } from "../../domain/ip_text.ts";

/** The address used when the runtime gives none (in-process test requests). */
export const UNKNOWN_ADDRESS = "unknown";

/** How many leading 16-bit groups of an IPv6 address its bucket keeps (a /64). */
const IPV6_BUCKET_GROUPS = 4;

/** The longest entry that can be an address: anything longer is not parsed. */
const LONGEST_ENTRY = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535";

/**
 * An entry with an optional port: a bracketed IPv6 address (group 1) or
 * something dotted (group 2). An unbracketed IPv6 address cannot carry a
 * port (`2001:db8::1:443` is an address), so it matches neither.
 */
const HOST_AND_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::[0-9]{1,5})?$/;

/** A dotted IPv4 address without leading zeros, so each has one spelling. */

/**
 * The client address of a request, as its bucket (`addressBucket`). With
 * `trustedProxies` = 0 it is the connection's peer and `X-Forwarded-For` is
 * ignored (a client can write anything there). With N ≥ 1 reverse proxies,
 * each appending the address it saw, it is the N-th entry from the right:
 * the address the outermost trusted proxy saw, or the leftmost entry when
 * there are fewer. Entries further left were written by the client and are
 * never used; an entry that is not an IP address falls back to the peer.
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
  const chosen = hops[Math.max(0, hops.length - trustedProxies)];
  return (chosen === undefined ? undefined : addressBucket(chosen)) ?? peer;
}

/**
 * The bucket an address is counted and hashed under, or undefined when
 * `entry` is not an IP address. A port (`203.0.113.6:40001`,
 * `[2001:db8::1]:443`) and brackets are dropped; an IPv4 address is itself;
 * an IPv4-mapped IPv6 address (`::ffff:203.0.113.6`) is its IPv4 address;
 * any other IPv6 address is its /64 prefix in canonical form (RFC 5952:
 * lower case, zeros compressed), e.g. `2001:db8:1:2::/64`.
 */
export function addressBucket(entry: string): string | undefined {
  if (entry.length > LONGEST_ENTRY.length) return undefined;
  const hostAndPort = HOST_AND_PORT.exec(entry);
  const dotted = hostAndPort?.[2];
  if (dotted !== undefined) {
    return DOTTED_IPV4.test(dotted) ? dotted : undefined;
  }
  const groups = ipv6Groups(hostAndPort?.[1] ?? entry);
  if (groups === undefined) return undefined;
  const ipv4Mapped = groups.slice(0, 5).every((group) => group === 0) &&
    groups[5] === 0xffff;
  if (ipv4Mapped) {
    return groups.slice(6).flatMap((group) => [group >> 8, group & 0xff])
      .join(".");
  }
  const prefix = groups.slice(0, IPV6_BUCKET_GROUPS);
  return `${formatIpv6([...prefix, 0, 0, 0, 0])}/${16 * IPV6_BUCKET_GROUPS}`;
}

/** RFC 5952 text: the longest run of two or more zero groups becomes `::`. */
function formatIpv6(groups: readonly number[]): string {
  let runStart = -1;
  let runLength = 1;
  for (let i = 0; i < groups.length;) {
    let end = i;
    while (groups[end] === 0) end++;
    if (end - i > runLength) [runStart, runLength] = [i, end - i];
    i = Math.max(end, i + 1);
  }
  const text = groups.map((group) => group.toString(16));
  if (runStart < 0) return text.join(":");
  return `${text.slice(0, runStart).join(":")}::${
    text.slice(runStart + runLength).join(":")
  }`;
}

/** The connection's peer from Deno's serve info, as its bucket when it is an IP address. */
function peerAddress(c: Context<AppEnv>): string {
  let address;
  try {
    address = getConnInfo(c).remote.address;
  } catch {
    // `app.request()` without serve info (tests) has no connection.
  }
  if (address === undefined) return UNKNOWN_ADDRESS;
  return addressBucket(address) ?? address;
}
