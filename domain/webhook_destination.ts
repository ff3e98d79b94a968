/**
 * Where webhooks may be delivered: the rules that keep an admin from
 * pointing deliveries at the service's own network (server-side request
 * forgery). Two moments apply them:
 *
 * 1. Registration (`parseWebhookUrl`) checks the URL as written, after the
 *    WHATWG URL parser has normalised it (so `https://2130706433/`,
 *    `https://0x7f000001/` and `https://127.1/` are all `127.0.0.1`), and
 *    never resolves a name.
 * 2. Delivery (`destinationAllowed`) checks every address the host resolves
 *    to, right before connecting to it, so a name that later resolves to a
 *    private address (DNS rebinding) is refused too.
 *
 * Both classify addresses with one table, `SPECIAL_ADDRESS_RANGES`, which
 * the reference docs can be generated from. `WEBHOOK_ALLOW_HOSTS` (parsed by
 * `parseAllowHosts`) exempts named hosts from these rules.
 */
import { charLength } from "./text.ts";
import { ipv4Value, ipv6Groups } from "./ip_text.ts";

/** The most characters (Unicode code points) a webhook URL may have. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** A block of addresses that is not a public destination by itself. */
export interface AddressRange {
  /** The block in CIDR notation, e.g. `10.0.0.0/8` or `fc00::/7`. */
  readonly cidr: string;
  /** What the block is, to complete "… is <name>" in messages and docs. */
  readonly name: string;
  /** Where the block is reserved. */
  readonly reference: string;
  /**
   * For an IPv6 block that carries an IPv4 address (IPv4-mapped, NAT64,
   * 6to4): the bit offset of that address from the left. Such an address
   * is exactly as public as the IPv4 address it carries.
   */
  readonly embedsIpv4At?: number;
}

/** One block per row: `[cidr, name, reference, embedsIpv4At?]`. */
const RANGE_ROWS: readonly (readonly [string, string, string, number?])[] = [
  ["0.0.0.0/8", '"this network"', "RFC 791"],
  ["0.0.0.0/32", "unspecified", "RFC 1122"],
  ["10.0.0.0/8", "private", "RFC 1918"],
  ["100.64.0.0/10", "shared address space for carrier-grade NAT", "RFC 6598"],
  ["127.0.0.0/8", "loopback", "RFC 1122"],
  ["169.254.0.0/16", "link-local", "RFC 3927"],
  ["169.254.169.254/32", "the cloud metadata service", "RFC 3927"],
  ["172.16.0.0/12", "private", "RFC 1918"],
  ["192.0.0.0/24", "IETF protocol assignments", "RFC 6890"],
  ["192.0.2.0/24", "documentation", "RFC 5737"],
  ["192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"],
  ["192.168.0.0/16", "private", "RFC 1918"],
  ["198.18.0.0/15", "benchmarking", "RFC 2544"],
  ["198.51.100.0/24", "documentation", "RFC 5737"],
  ["203.0.113.0/24", "documentation", "RFC 5737"],
  ["224.0.0.0/4", "multicast", "RFC 5771"],
  ["240.0.0.0/4", "reserved", "RFC 1112"],
  ["255.255.255.255/32", "limited broadcast", "RFC 919"],
  ["::/3", "not global unicast", "RFC 4291"],
  ["4000::/2", "not global unicast", "RFC 4291"],
  ["8000::/1", "not global unicast", "RFC 4291"],
  ["::/128", "unspecified", "RFC 4291"],
  ["::1/128", "loopback", "RFC 4291"],
  ["::/96", "deprecated IPv4-compatible", "RFC 4291"],
  ["::ffff:0:0/96", "IPv4-mapped", "RFC 4291", 96],
  ["64:ff9b::/96", "NAT64 well-known prefix", "RFC 6052", 96],
  ["64:ff9b:1::/48", "NAT64 local-use prefix", "RFC 8215"],
  ["100::/64", "discard-only", "RFC 6666"],
  ["2001::/23", "IETF protocol assignments", "RFC 2928"],
  ["2001::/32", "Teredo", "RFC 4380"],
  ["2001:2::/48", "benchmarking", "RFC 5180"],
  ["2001:db8::/32", "documentation", "RFC 3849"],
  ["2002::/16", "6to4", "RFC 3056", 16],
  ["3fff::/20", "documentation", "RFC 9637"],
  ["fc00::/7", "unique-local", "RFC 4193"],
  ["fd00:ec2::254/128", "the cloud metadata service", "RFC 4193"],
  ["fe80::/10", "link-local", "RFC 4291"],
  ["fec0::/10", "deprecated site-local", "RFC 3879"],
  ["ff00::/8", "multicast", "RFC 4291"],
];

/**
 * Every special-purpose block, after the IANA IPv4 and IPv6 Special-Purpose
 * Address Registries. An address is public when no block contains it; when
 * several do, the longest prefix decides (so `169.254.169.254` is named the
 * cloud metadata service, and `::ffff:0:0/96` wins over `::/3`). For IPv6
 * only global unicast (`2000::/3`) can be public at all: nothing outside it
 * is assigned for use on the internet.
 */
export const SPECIAL_ADDRESS_RANGES: readonly AddressRange[] = RANGE_ROWS.map((
  [cidr, name, reference, embedsIpv4At],
) => ({
  cidr,
  name,
  reference,
  ...(embedsIpv4At !== undefined && { embedsIpv4At }),
}));

/** How an address fares as a webhook destination. */
export type AddressClass =
  | { readonly kind: "public" }
  | {
    readonly kind: "non_public";
    /** The block that refuses it (for an embedded IPv4 address, its block). */
    readonly range: AddressRange;
    /** The IPv6 block that carried the refused IPv4 address, if any. */
    readonly via?: AddressRange;
    /** The refused IPv4 address carried by `via`, dotted. */
    readonly embedded?: string;
  }
  | { readonly kind: "invalid" };

/**
 * Classifies an IPv4 address in dotted-decimal form or an IPv6 address, as a
 * resolver returns them (no brackets, no zone id, no port). Anything else,
 * including other IPv4 notations, is `invalid`.
 */
export function classifyAddress(address: string): AddressClass {
  const ip = parseIpAddress(address);
  return ip === undefined ? { kind: "invalid" } : classify(ip);
}

/**
 * Whether an address (IPv4 dotted or IPv6, as a resolver returns it) is
 * outside every special-purpose block; false for anything unparseable.
 */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address).kind === "public";
}

/** The outcome of checking a webhook URL. */
export type WebhookUrlResult =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a webhook `url` at registration, as written (no name is resolved).
 * On success `url` is the parsed URL; store and call `url.href`, the form
 * that was checked. On failure `reason` is the message of the `url` field
 * error. `allowHosts` holds hosts as `parseAllowHosts` returns them: those
 * are exempt from the localhost and IP-range rules and may use `http://`.
 */
export function parseWebhookUrl(
  text: string,
  allowHosts: ReadonlySet<string>,
): WebhookUrlResult {
  // A code point is at most two UTF-16 units: longer text is too long anyway.
  if (
    text.length > 2 * MAX_WEBHOOK_URL_LENGTH ||
    charLength(text) > MAX_WEBHOOK_URL_LENGTH
  ) {
    return refuse(`Must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }
  // The URL parser silently drops these (tabs and newlines anywhere), so the
  // URL checked would not be the URL the admin sees.
  // deno-lint-ignore no-control-regex -- matching them is the point
  if (/[\u0000-\u0020\u007f]/.test(text)) {
    return refuse("Must not contain spaces or control characters");
  }
  const scheme = /^https?:\/\//i.exec(text);
  if (scheme === null) return refuse("Must be an absolute https:// URL");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse("Must be a valid absolute URL");
  }
  // The authority ends where the parser ends it; an `@` in it is user info,
  // even an empty one (`https://@host/`) that the parser then drops.
  const authority = text.slice(scheme[0].length).split(/[/\\?#]/, 1)[0] ?? "";
  if (authority.includes("@") || url.username !== "" || url.password !== "") {
    return refuse("Must not contain user info (user:password@)");
  }
  if (url.href.includes("#")) return refuse("Must not contain a fragment (#…)");
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) {
    return refuse(
      `Must be at most ${MAX_WEBHOOK_URL_LENGTH} characters: it has ${url.href.length} once normalised`,
    );
  }
  const host = url.hostname;
  const allowed = allowHosts.has(hostKey(host));
  if (url.protocol !== "https:" && !allowed) {
    return refuse("Must be an https:// URL");
  }
  if (allowed) return { ok: true, url };
  if (isLocalhost(host)) {
    return refuse(`Must not point to localhost: ${host}`);
  }
  const literal = hostLiteral(host);
  if (literal !== undefined) {
    const found = classify(literal);
    if (found.kind !== "public") {
      return refuse(
        `Must not point to a non-public address: ${host} ${describe(found)}`,
      );
    }
  }
  return { ok: true, url };
}

/**
 * Whether a delivery may connect to `address` (IPv4 dotted or IPv6, as a
 * resolver returns it), one of the addresses `host` (the URL's `hostname`)
 * resolved to. The address must be public, unless `host` is listed in
 * `allowHosts`: a listed IP literal allows exactly that address, and a
 * listed name allows whatever it resolves to (the operator vouches for the
 * name, and its internal addresses may change). An IP listed there does not
 * exempt a name that resolves to it.
 */
export function destinationAllowed(
  address: string,
  host: string,
  allowHosts: ReadonlySet<string>,
): boolean {
  const ip = parseIpAddress(address);
  if (ip === undefined) return false;
  const key = hostKey(host);
  if (allowHosts.has(key)) {
    const literal = hostLiteral(key);
    if (literal === undefined) return true;
    if (sameAddress(literal, ip)) return true;
  }
  return classify(ip).kind === "public";
}

/** The outcome of reading `WEBHOOK_ALLOW_HOSTS`. */
export type AllowHostsResult =
  | { readonly ok: true; readonly hosts: ReadonlySet<string> }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads a comma-separated list of host names and IP literals into the form
 * the URL parser gives a URL's host: lower case, punycode, IPv4 dotted
 * (`2130706433` → `127.0.0.1`), IPv6 bracketed and compressed (`::1` and
 * `[::1]` → `[::1]`), without a trailing dot. Ports, paths, user info,
 * zone ids and wildcards are refused.
 */
export function parseAllowHosts(list: string): AllowHostsResult {
  const hosts = new Set<string>();
  const invalid: string[] = [];
  for (const raw of list.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const host = normalizeAllowHost(entry);
    if (host === undefined) invalid.push(JSON.stringify(entry));
    else hosts.add(host);
  }
  return invalid.length === 0 ? { ok: true, hosts } : {
    ok: false,
    reason: `Not a host name or IP literal: ${invalid.join(", ")}`,
  };
}

function refuse(reason: string): WebhookUrlResult {
  return { ok: false, reason };
}

/** "is loopback (127.0.0.0/8)", or for an embedded address what carried it. */
function describe(found: AddressClass): string {
  if (found.kind !== "non_public") return "is not an IP address";
  const { range, via, embedded } = found;
  const own = `${range.name} (${range.cidr})`;
  return via === undefined
    ? `is ${own}`
    : `carries ${embedded} (${via.name}, ${via.cidr}), which is ${own}`;
}

/** A URL's host as allow lists hold it: without trailing dots. */
function hostKey(host: string): string {
  return host.replace(/\.+$/, "");
}

/** `localhost` and its subdomains, whatever the case or trailing dots. */
function isLocalhost(host: string): boolean {
  const key = hostKey(host).toLowerCase();
  return key === "localhost" || key.endsWith(".localhost");
}

function normalizeAllowHost(entry: string): string | undefined {
  // `%` would be a zone id or a percent-encoded name; `*` a wildcard, which
  // the URL parser would keep as a literal character that never matches.
  if (/[\s/\\?#@%*]/.test(entry)) return undefined;
  const host = entry.includes(":") && !entry.startsWith("[")
    ? `[${entry}]`
    : entry;
  // A bracketed literal followed by anything (`[::1]:8080`) carries a port.
  if (host.startsWith("[") && !host.endsWith("]")) return undefined;
  try {
    const key = hostKey(new URL(`http://${host}/`).hostname);
    return key === "" ? undefined : key;
  } catch {
    return undefined;
  }
}

/** An IP address: its version and its bits as an unsigned integer. */
interface IpAddress {
  readonly version: 4 | 6;
  readonly value: bigint;
}

interface ParsedRange {
  readonly range: AddressRange;
  readonly network: IpAddress;
  readonly prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

const PARSED_RANGES: readonly ParsedRange[] = SPECIAL_ADDRESS_RANGES.map(
  parseRange,
);

function parseRange(range: AddressRange): ParsedRange {
  const [address = "", length = ""] = range.cidr.split("/");
  const network = parseIpAddress(address);
  const prefix = /^\d{1,3}$/.test(length) ? Number(length) : NaN;
  if (network === undefined || !(prefix <= BITS[network.version])) {
    throw new Error(`Invalid address range: ${range.cidr}`);
  }
  const hostBits = BigInt(BITS[network.version] - prefix);
  if ((network.value & ((1n << hostBits) - 1n)) !== 0n) {
    throw new Error(`Invalid address range: ${range.cidr} has host bits set`);
  }
  const at = range.embedsIpv4At;
  if (
    at !== undefined &&
    (network.version !== 6 || at < prefix || at + 32 > BITS[6])
  ) {
    throw new Error(
      `Invalid address range: ${range.cidr} cannot carry an IPv4 address at bit ${at}`,
    );
  }
  return { range, network, prefix };
}

function classify(ip: IpAddress): AddressClass {
  let best: ParsedRange | undefined;
  for (const candidate of PARSED_RANGES) {
    if (
      candidate.network.version === ip.version &&
      (best === undefined || candidate.prefix > best.prefix) &&
      inRange(ip, candidate)
    ) {
      best = candidate;
    }
  }
  if (best === undefined) return { kind: "public" };
  const at = best.range.embedsIpv4At;
  if (at === undefined) return { kind: "non_public", range: best.range };
  const shift = BigInt(BITS[6] - at - 32);
  const inner: IpAddress = {
    version: 4,
    value: (ip.value >> shift) & 0xffff_ffffn,
  };
  const found = classify(inner);
  return found.kind === "non_public"
    ? { ...found, via: best.range, embedded: formatIpv4(inner.value) }
    : found;
}

function inRange(ip: IpAddress, { network, prefix }: ParsedRange): boolean {
  const hostBits = BigInt(BITS[ip.version] - prefix);
  return ip.value >> hostBits === network.value >> hostBits;
}

/** Equal addresses, an IPv4-mapped IPv6 address being its IPv4 address. */
function sameAddress(a: IpAddress, b: IpAddress): boolean {
  const x = unmapped(a);
  const y = unmapped(b);
  return x.version === y.version && x.value === y.value;
}

function unmapped(ip: IpAddress): IpAddress {
  return ip.version === 6 && ip.value >> 32n === 0xffffn
    ? { version: 4, value: ip.value & 0xffff_ffffn }
    : ip;
}

/** The IP address a URL's `hostname` is, if it is an IP literal. */
function hostLiteral(hostname: string): IpAddress | undefined {
  const bracketed = /^\[(.*)\]$/.exec(hostname);
  if (bracketed !== null) return parseIpv6(bracketed[1] ?? "");
  return parseIpv4(hostname);
}

function parseIpAddress(text: string): IpAddress | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): IpAddress | undefined {
  const value = ipv4Value(text);
  return value === undefined ? undefined : { version: 4, value: BigInt(value) };
}

/**
 * An IPv6 address in RFC 4291 text form: eight groups, `::` once for one or
 * more zero groups, optionally a dotted IPv4 address as the last two groups.
 * Zone ids (`%eth0`) and brackets are refused.
 */
function parseIpv6(text: string): IpAddress | undefined {
  const groups = ipv6Groups(text);
  if (groups === undefined) return undefined;
  const value = groups.reduce((n, group) => (n << 16n) | BigInt(group), 0n);
  return { version: 6, value };
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn))
    .join(".");
}
