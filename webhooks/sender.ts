/**
 * Sends one webhook attempt over HTTP/1.1, to an address checked by the
 * destination rules (../domain/webhook_destination.ts) and to no other:
 *
 * 1. The URL's host is resolved (an IP literal is not), and every address it
 *    resolves to must pass `destinationAllowed`; if any fails, the attempt is
 *    `blocked` and nothing is connected to. A record set mixing public and
 *    private addresses is refused as a whole: a receiver that needs that is
 *    listed in `WEBHOOK_ALLOW_HOSTS`.
 * 2. The TCP connection is opened to one of those checked addresses — the
 *    address checked is the address connected to, so no second lookup can
 *    rebind the name in between. For `https:` TLS runs over that connection
 *    and verifies the certificate against the URL's host NAME.
 * 3. `POST` is written; the status line and headers are read (at most
 *    `MAX_RESPONSE_HEAD_BYTES`), then at most `MAX_WEBHOOK_RESPONSE_BYTES`
 *    of the body, which is dropped. Redirects are never followed: a 3xx is
 *    just a status.
 *
 * One deadline covers resolving, connecting, TLS, writing and reading the
 * status line and headers; a status read in time counts even when the body
 * is still coming (reading it stops at the deadline). Network problems are
 * results, never exceptions, and nothing here logs.
 *
 * Without a `pool` the request says `Connection: close` and the connection
 * is always closed before the result is returned. With one (the dispatcher
 * keeps one), a connection whose exchange ended cleanly — the request
 * written, a final response over HTTP/1.1 without `Connection: close`, its
 * body framed by length (or none) and read to its exact end, all before the
 * deadline — is kept idle for the next attempt, which saves a TCP (and TLS)
 * handshake per delivery. Reuse changes none of the rules above: every
 * attempt still resolves the host and checks every address, and takes a
 * kept connection only when it goes to one of the addresses just checked,
 * with the same port and, for TLS, was verified against the same host
 * name; every new connection is opened to a checked address. A kept
 * connection that the receiver closed meanwhile (no byte of a response
 * came back) is dropped and the request sent once more on a new one, within
 * the same deadline; receivers deduplicate on `webhook-id` anyway.
 *
 * Two things can outlive the deadline, in the runtime rather than here: a
 * lookup by `systemResolver` (it runs to its own DNS timeout; its answer is
 * then ignored), and — measured on Deno 2.9.6 — the socket of a TLS
 * handshake the receiver never answers. The attempt ends as `timedOut` and
 * its connection is closed, but Deno's TLS stream (rustls-tokio-stream)
 * finishes a pending handshake before it releases the socket, so the socket
 * stays open until the receiver answers or hangs up.
 *
 * Measured before writing our own: Deno 2.9.6's `node:http` and
 * `node:https` do honour a custom `lookup` option. A lookup answering
 * 127.0.0.1 for the made-up name `made-up.invalid` reached a local
 * `Deno.serve` (Host header `made-up.invalid:<port>`); over https the same
 * lookup reached a server with a self-signed certificate for `hooks.test`
 * (200 with `ca` set) and was refused for a certificate naming `other.test`
 * ("Hostname/IP does not match certificate's altnames"), so the name is still
 * verified (though that verifier accepted a self-signed CA:TRUE certificate
 * that `Deno.startTls` refuses as a CA used as an end entity). The lookup is
 * called with `{ all: true, hints }`, so node's family auto-selection
 * chooses among the addresses returned. We still write our own client over `Deno.connect` + `Deno.startTls`: which address
 * is connected to, the timeout over the whole attempt, the body cap and the
 * connection's closing are then ours to state and test, instead of
 * depending on behaviour of the Node compatibility layer that Deno does not
 * document as a contract.
 */
import { destinationAllowed } from "../domain/webhook_destination.ts";
import { DOTTED_IPV4, ipv6Groups } from "../domain/ip_text.ts";
import type { AttemptResult } from "../domain/webhook_schedule.ts";
import { MAX_WEBHOOK_RESPONSE_BYTES } from "../domain/webhooks.ts";

/** Resolves a host name to its addresses (IPv4 dotted and IPv6 text). */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

/**
 * `Deno.resolveDns`, A and AAAA together (either may fail or be empty),
 * IPv4 addresses first; no addresses → `[]`.
 */
export const systemResolver: Resolver = async function systemResolver(
  hostname: string,
): Promise<readonly string[]> {
  const answers = await Promise.allSettled([
    Deno.resolveDns(hostname, "A"),
    Deno.resolveDns(hostname, "AAAA"),
  ]);
  return answers.flatMap((answer) =>
    answer.status === "fulfilled" ? answer.value : []
  );
};

/** One delivery attempt to send. */
export interface WebhookRequest {
  /** As stored: `URL.href`, `http:` or `https:`. */
  readonly url: string;
  /** Header names are tokens, values visible ASCII, spaces and tabs. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as UTF-8. */
  readonly body: string;
}

/** How to send an attempt. */
export interface SendOptions {
  /**
   * The whole attempt: resolve, connect, TLS, request, status line and
   * headers.
   */
  readonly timeoutMs: number;
  /** Hosts exempt from the public-address rule, from `parseAllowHosts`. */
  readonly allowHosts: ReadonlySet<string>;
  /** Default `systemResolver`. */
  readonly resolve?: Resolver;
  /** Extra trusted root certificates in PEM (tests). */
  readonly caCerts?: readonly string[];
  /**
   * Opens the TCP connection to a checked address (default
   * `Deno.connect`); tests wrap it to record every address connected to.
   */
  readonly connect?: (
    address: { hostname: string; port: number },
  ) => Promise<Deno.TcpConn>;
  /** Where idle connections are kept for reuse; none: one per attempt. */
  readonly pool?: ConnectionPool;
}

/** Idle connections kept for reuse (HTTP/1.1 keep-alive), by destination. */
export interface ConnectionPool {
  /** An idle connection kept under `key`, taken out of the pool. */
  take(key: string): Deno.Conn | undefined;
  /** Keeps `conn` idle under `key`, or closes it when the pool is full. */
  give(key: string, conn: Deno.Conn): void;
  /** Closes every idle connection (the pool stays usable). */
  closeIdle(): void;
}

/** How long a connection is kept idle, in ms: below common receivers' own. */
export const IDLE_CONNECTION_MS = 2000;

/**
 * A pool that keeps at most `perKey` idle connections per destination
 * (the attempts in flight per endpoint) for `idleMs` each. The newest is
 * taken first: the one least likely to have been closed by the receiver.
 */
export function createConnectionPool(
  options: { perKey: number; idleMs?: number },
): ConnectionPool {
  const idleMs = options.idleMs ?? IDLE_CONNECTION_MS;
  const idle = new Map<
    string,
    { conn: Deno.Conn; timer: ReturnType<typeof setTimeout> }[]
  >();
  function remove(key: string, conn: Deno.Conn): boolean {
    const kept = idle.get(key) ?? [];
    const i = kept.findIndex((entry) => entry.conn === conn);
    if (i < 0) return false;
    clearTimeout(kept[i]!.timer);
    kept.splice(i, 1);
    if (kept.length === 0) idle.delete(key);
    return true;
  }
  return {
    take(key) {
      const conn = idle.get(key)?.at(-1)?.conn;
      if (conn !== undefined) remove(key, conn);
      return conn;
    },
    give(key, conn) {
      const kept = idle.get(key) ?? [];
      if (kept.length >= options.perKey) {
        closeQuietly(conn);
        return;
      }
      const timer = setTimeout(() => {
        if (remove(key, conn)) closeQuietly(conn);
      }, idleMs);
      Deno.unrefTimer(timer);
      kept.push({ conn, timer });
      idle.set(key, kept);
    },
    closeIdle() {
      for (const [key, kept] of [...idle]) {
        for (const { conn } of [...kept]) {
          remove(key, conn);
          closeQuietly(conn);
        }
      }
    },
  };
}

/** What an attempt came to. */
export interface SendResult extends AttemptResult {
  /** The Retry-After header of the response, when there was one. */
  readonly retryAfter: string | null;
}

/** The most bytes of a response's status line and headers read. */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

/** What every attempt sends as `User-Agent`. */
export const WEBHOOK_USER_AGENT = "orders-api-webhooks/1";

/** Headers the sender writes itself; a request may not carry them. */
const SENDER_HEADERS = new Set([
  "host",
  "user-agent",
  "content-length",
  "transfer-encoding",
  "connection",
]);

const BLOCKED: SendResult = Object.freeze({ blocked: true, retryAfter: null });
const TIMED_OUT: SendResult = Object.freeze({
  timedOut: true,
  retryAfter: null,
});
const CONNECTION_ERROR: SendResult = Object.freeze({
  connectionError: true,
  retryAfter: null,
});

/** What the deadline promise resolves to. */
const EXPIRED = Symbol("expired");

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
const READ_SIZE = 16 * 1024;
const FIRST_HEAD_READ_SIZE = 1024;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Sends `request` once (see the module documentation) and tells how it
 * went: a status, or `blocked`, `timedOut` or `connectionError`. A URL that
 * is not `http:`/`https:` is `blocked` (nothing is sent). Throws a
 * `TypeError`, before any network access, only for a request that is a
 * programming error: a header name or value that cannot be sent, or one of
 * the headers the sender sets itself (Host, User-Agent, Content-Length,
 * Transfer-Encoding, Connection).
 */
export async function sendWebhook(
  request: WebhookRequest,
  options: SendOptions,
): Promise<SendResult> {
  const url = URL.canParse(request.url) ? new URL(request.url) : undefined;
  if (url === undefined || !["http:", "https:"].includes(url.protocol)) {
    return BLOCKED;
  }
  const { pool } = options;
  const message = encodeRequest(url, request, pool !== undefined);
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  const connect = options.connect ?? connectTcp;
  const keyOf = (address: string) =>
    `${url.protocol}//${tlsName(url.hostname)}@${address}:${port}`;

  let tcp: Deno.TcpConn | undefined;
  /** What is open now: a kept connection, or `tcp` then TLS over it. */
  let conn: Deno.Conn | undefined;
  /** Where `conn` goes back to when its exchange ended cleanly. */
  let keepAs: string | undefined;
  /** The key of the connection opened by this attempt. */
  let keyOfNew: string | undefined;
  let writing: Promise<void> | undefined;
  /** Whether the request of the last exchange was written whole. */
  let wrote = false;
  let expired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<typeof EXPIRED>((resolve) => {
    timer = setTimeout(() => {
      expired = true;
      // Fails whatever read or write is pending on it.
      if (conn !== undefined) closeQuietly(conn);
      resolve(EXPIRED);
    }, options.timeoutMs);
  });
  function within<T>(work: Promise<T>): Promise<T | typeof EXPIRED> {
    return Promise.race([work, deadline]);
  }

  try {
    const route = await within(
      routeTo(url.hostname, options.allowHosts, options.resolve),
    );
    if (route === EXPIRED) return TIMED_OUT;
    if (route === "blocked") return BLOCKED;

    // A kept connection to an address checked just now, if there is one.
    for (const address of pool ? route : []) {
      const kept = pool?.take(keyOf(address));
      if (kept === undefined) continue;
      conn = kept;
      const done = await exchange(kept);
      if (done !== STALE) {
        if (done.reusable) keepAs = keyOf(address);
        return done.result;
      }
      closeQuietly(kept);
      conn = undefined;
      await writing;
      writing = undefined;
      if (expired) return TIMED_OUT;
      break;
    }

    for (const hostname of route) {
      // A connect that throws at once fails like one that rejects.
      const opening = Promise.try(() => connect({ hostname, port }));
      const opened = await within(opening.catch(() => undefined));
      if (opened === EXPIRED) {
        // Closed whenever it opens: nothing is sent on it.
        opening.then(closeQuietly, () => {});
        return TIMED_OUT;
      }
      if (opened !== undefined) {
        tcp = conn = opened;
        keyOfNew = keyOf(hostname);
        break;
      }
    }
    if (tcp === undefined) return CONNECTION_ERROR;

    let stream: Deno.Conn = tcp;
    if (url.protocol === "https:") {
      // The handshake runs under the first write and read, not under
      // `handshake()`: closing the connection at the deadline cancels a
      // pending read or write, but not a pending `handshake()`.
      const tls = await startTls(tcp, tlsName(url.hostname), options.caCerts);
      if (tls !== undefined) stream = conn = tls;
      if (expired) return TIMED_OUT;
      if (tls === undefined) return CONNECTION_ERROR;
    }

    const done = await exchange(stream);
    if (done === STALE) return expired ? TIMED_OUT : CONNECTION_ERROR;
    if (done.reusable) keepAs = keyOfNew;
    return done.result;
  } finally {
    clearTimeout(timer);
    if (conn !== undefined) {
      if (pool && keepAs !== undefined && wrote && !expired) {
        pool.give(keepAs, conn);
      } else {
        // Also fails a write still pending (a receiver that answered
        // without reading the whole request).
        closeQuietly(conn);
      }
    }
    await writing;
  }

  /**
   * Writes the request and reads the response on `stream`: the result, or
   * `STALE` when no byte of a response came back (a closed connection),
   * and whether the connection may carry another request.
   */
  async function exchange(
    stream: Deno.Conn,
  ): Promise<{ result: SendResult; reusable: boolean } | typeof STALE> {
    // The response is read while the request is written: a receiver may
    // answer (413, 429…) before reading the whole body.
    wrote = false;
    writing = writeAll(stream, message).then(() => {
      wrote = true;
    }, () => {});
    let head: ResponseHead;
    try {
      head = await readHead(stream);
    } catch (error) {
      if (error instanceof NoResponse) return STALE;
      return {
        result: expired ? TIMED_OUT : CONNECTION_ERROR,
        reusable: false,
      };
    }
    const result: SendResult = {
      status: head.status,
      retryAfter: head.retryAfter,
    };
    let ended = false;
    try {
      ended = await drainBody(stream, head);
    } catch {
      // The status stands: the body is read only to be dropped.
    }
    return { result, reusable: ended && head.persistent };
  }
}

/**
 * The addresses (or, for a listed name nothing resolves, the name) to try
 * in order, or `"blocked"`. An empty list is a connection error.
 */
async function routeTo(
  host: string,
  allowHosts: ReadonlySet<string>,
  resolve: Resolver = systemResolver,
): Promise<readonly string[] | "blocked"> {
  const literal = ipLiteral(host);
  if (literal !== undefined) {
    return destinationAllowed(literal, host, allowHosts)
      ? [literal]
      : "blocked";
  }
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch {
    addresses = [];
  }
  if (addresses.length === 0) {
    // The operator vouches for a listed name: the system may know it where
    // DNS does not (/etc/hosts, mDNS).
    return isListedName(host, allowHosts) ? [host] : [];
  }
  return addresses.every((address) =>
      destinationAllowed(address, host, allowHosts)
    )
    ? addresses
    : "blocked";
}

/** The address a URL's hostname is, unbracketed, if it is an IP literal. */
function ipLiteral(hostname: string): string | undefined {
  const bracketed = /^\[(.*)\]$/.exec(hostname);
  if (bracketed !== null) {
    const inner = bracketed[1] ?? "";
    return ipv6Groups(inner) === undefined ? undefined : inner;
  }
  return DOTTED_IPV4.test(hostname) ? hostname : undefined;
}

/**
 * Whether a host name is in `allowHosts`, which holds hosts as
 * `parseAllowHosts` writes them (without trailing dots).
 */
function isListedName(host: string, allowHosts: ReadonlySet<string>): boolean {
  return allowHosts.has(host.replace(/\.+$/, ""));
}

/** The name a certificate must carry: the host, unbracketed, no final dot. */
function tlsName(hostname: string): string {
  return ipLiteral(hostname) ?? hostname.replace(/\.+$/, "");
}

function connectTcp(
  address: { hostname: string; port: number },
): Promise<Deno.TcpConn> {
  return Deno.connect({ ...address, transport: "tcp" });
}

/** `Deno.startTls`, or undefined when it fails (the connection is closed). */
async function startTls(
  conn: Deno.TcpConn,
  hostname: string,
  caCerts: readonly string[] | undefined,
): Promise<Deno.TlsConn | undefined> {
  try {
    return await Deno.startTls(conn, {
      hostname,
      ...(caCerts !== undefined && { caCerts: [...caCerts] }),
    });
  } catch {
    closeQuietly(conn);
    return undefined;
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed, or handed over to TLS.
  }
}

/**
 * The request line, headers and body, as bytes; `Connection: close` unless
 * the connection may be kept (HTTP/1.1 connections persist by default).
 */
function encodeRequest(
  url: URL,
  request: WebhookRequest,
  keepAlive: boolean,
): Uint8Array {
  const body = new TextEncoder().encode(request.body);
  const lines = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    `User-Agent: ${WEBHOOK_USER_AGENT}`,
  ];
  for (const [name, value] of Object.entries(request.headers)) {
    if (!TOKEN.test(name)) {
      throw new TypeError(
        `Cannot send a webhook: invalid header name ${JSON.stringify(name)}`,
      );
    }
    if (SENDER_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(
        `Cannot send a webhook: the sender sets the header ${name}`,
      );
    }
    // The value is not quoted in the message: it may be a signature.
    if (!FIELD_VALUE.test(value)) {
      throw new TypeError(
        `Cannot send a webhook: header ${name} has an invalid value`,
      );
    }
    lines.push(`${name}: ${value.trim()}`);
  }
  lines.push(`Content-Length: ${body.length}`);
  if (!keepAlive) lines.push("Connection: close");
  lines.push("", "");
  const head = new TextEncoder().encode(lines.join("\r\n"));
  const message = new Uint8Array(head.length + body.length);
  message.set(head);
  message.set(body, head.length);
  return message;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** How the end of a response body is known. */
type Framing =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

/** A final response's status line and headers, as far as they matter. */
interface ResponseHead {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly framing: Framing;
  /**
   * HTTP/1.1 without `Connection: close`, its end known by a length (or no
   * body): the connection may carry another request once it is read.
   */
  readonly persistent: boolean;
  /** Bytes read past the head: the start of the body. */
  readonly rest: Uint8Array;
}

/** The connection failed or ended before any byte of a response. */
class NoResponse extends Error {}

/** What `exchange` returns when a kept connection turns out closed. */
const STALE = Symbol("stale");

/**
 * Reads up to the end of the final response's head, skipping interim (1xx)
 * responses. Throws when the connection ends first (`NoResponse` when no
 * byte came), when the head is larger than `MAX_RESPONSE_HEAD_BYTES` or
 * when it is not HTTP/1.x.
 */
async function readHead(conn: Deno.Conn): Promise<ResponseHead> {
  // Most heads fit in a small buffer; it grows up to the cap, so that an
  // attempt does not allocate the cap's worth (a dispatcher under load
  // makes thousands a second).
  let buffer = new Uint8Array(FIRST_HEAD_READ_SIZE);
  let filled = 0;
  let start = 0;
  while (true) {
    const end = headEnd(buffer, start, filled);
    if (end === undefined) {
      if (filled === buffer.length) {
        if (buffer.length >= MAX_RESPONSE_HEAD_BYTES) {
          throw new Error("Response head is too large");
        }
        const grown = new Uint8Array(
          Math.min(2 * buffer.length, MAX_RESPONSE_HEAD_BYTES),
        );
        grown.set(buffer);
        buffer = grown;
      }
      let read: number | null;
      try {
        read = await conn.read(buffer.subarray(filled));
      } catch (error) {
        if (filled === 0) throw new NoResponse("No response", { cause: error });
        throw error;
      }
      if (read === null) {
        if (filled === 0) throw new NoResponse("Closed before a response");
        throw new Error("Connection closed before a status");
      }
      filled += read;
      continue;
    }
    const head = parseHead(buffer.subarray(start, end));
    if (head.status >= 200) {
      return { ...head, rest: buffer.slice(end, filled) };
    }
    start = end;
  }
}

/**
 * Where the head that starts at `start` ends (after its empty line), or
 * undefined when it is not all in `buffer[start, filled)` yet. Lines end
 * with CRLF, or a bare LF (RFC 9112 §2.2 allows reading those).
 */
function headEnd(
  buffer: Uint8Array,
  start: number,
  filled: number,
): number | undefined {
  for (let i = start; i < filled; i++) {
    if (buffer[i] !== LF) continue;
    if (buffer[i + 1] === LF && i + 1 < filled) return i + 2;
    if (buffer[i + 1] === CR && buffer[i + 2] === LF && i + 2 < filled) {
      return i + 3;
    }
  }
  return undefined;
}

function parseHead(bytes: Uint8Array): Omit<ResponseHead, "rest"> {
  const [statusLine = "", ...fields] = new TextDecoder("latin1").decode(bytes)
    .split(/\r?\n/);
  const match = /^HTTP\/1\.([01]) ([1-5][0-9]{2})(?:[ \t].*)?$/.exec(
    statusLine,
  );
  if (match === null) throw new Error("Not an HTTP/1.x status line");
  const status = Number(match[2]);
  const headers = new Map<string, string[]>();
  for (const field of fields) {
    const parsed = /^([^:\s]+):[ \t]*(.*?)[ \t]*$/.exec(field);
    // Malformed and folded lines are skipped: only three fields matter.
    if (parsed === null) continue;
    const name = (parsed[1] ?? "").toLowerCase();
    headers.set(name, [...headers.get(name) ?? [], parsed[2] ?? ""]);
  }
  const framing = framingOf(status, headers);
  const closes = (headers.get("connection") ?? []).some((value) =>
    value.split(",").some((option) => option.trim().toLowerCase() === "close")
  );
  return {
    status,
    retryAfter: headers.get("retry-after")?.[0] ?? null,
    framing,
    persistent: match[1] === "1" && !closes &&
      (framing.kind === "none" || framing.kind === "length"),
  };
}

/** RFC 9112 §6.3, for a response to a POST. */
function framingOf(
  status: number,
  headers: ReadonlyMap<string, readonly string[]>,
): Framing {
  if (status === 204 || status === 304 || status < 200) return { kind: "none" };
  const codings = headers.get("transfer-encoding");
  if (codings !== undefined) {
    const last = codings.join(",").split(",").at(-1)?.trim().toLowerCase();
    return last === "chunked" ? { kind: "chunked" } : { kind: "close" };
  }
  const lengths = new Set(
    (headers.get("content-length") ?? []).flatMap((value) => value.split(","))
      .map((value) => value.trim()),
  );
  const [length] = lengths;
  if (lengths.size === 1 && length !== undefined && /^[0-9]+$/.test(length)) {
    return { kind: "length", length: Number(length) };
  }
  return { kind: "close" };
}

/**
 * Reads the body to its end and drops it, but never more than
 * `MAX_WEBHOOK_RESPONSE_BYTES` (counted as received, chunk framing
 * included). Throws when the connection fails or the deadline closes it.
 * True when the body's length was known and exactly that much came: the
 * connection is then at the end of the response.
 */
async function drainBody(
  conn: Deno.Conn,
  head: ResponseHead,
): Promise<boolean> {
  const { framing } = head;
  if (framing.kind === "none") return head.rest.length === 0;
  const length = framing.kind === "length" ? framing.length : Infinity;
  const complete = framing.kind === "chunked"
    ? chunkedEnd()
    : lengthEnd(length);
  const buffer = new Uint8Array(READ_SIZE);
  let budget = MAX_WEBHOOK_RESPONSE_BYTES;
  let received = 0;
  let bytes = head.rest.subarray(0, budget);
  while (true) {
    budget -= bytes.length;
    received += bytes.length;
    if (complete(bytes)) return received === length;
    if (budget <= 0) return false;
    const read = await conn.read(
      buffer.subarray(0, Math.min(READ_SIZE, budget)),
    );
    if (read === null) return false;
    bytes = buffer.subarray(0, read);
  }
}

/** Whether a body of `length` bytes has ended, fed its bytes in order. */
function lengthEnd(length: number): (bytes: Uint8Array) => boolean {
  let left = length;
  return function fed(bytes: Uint8Array): boolean {
    left -= bytes.length;
    return left <= 0;
  };
}

/**
 * Whether a chunked body (RFC 9112 §7.1) has ended, fed its bytes in order:
 * true after the last chunk and the trailer section, or as soon as the
 * framing is broken (nothing more is worth reading).
 */
function chunkedEnd(): (bytes: Uint8Array) => boolean {
  const maxLine = 1024;
  let state: "size" | "data" | "data_end" | "trailer" = "size";
  let line = "";
  let left = 0;
  return function fed(bytes: Uint8Array): boolean {
    let i = 0;
    while (i < bytes.length) {
      if (state === "data") {
        const taken = Math.min(left, bytes.length - i);
        left -= taken;
        i += taken;
        if (left === 0) state = "data_end";
        continue;
      }
      const byte = bytes[i++] ?? LF;
      if (byte !== LF) {
        line += String.fromCharCode(byte);
        if (line.length > maxLine) return true;
        continue;
      }
      const text = line.replace(/\r$/, "");
      line = "";
      if (state === "size") {
        const size = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/.exec(text);
        if (size === null) return true;
        left = parseInt(size[1] ?? "", 16);
        state = left === 0 ? "trailer" : "data";
      } else if (state === "data_end") {
        if (text !== "") return true;
        state = "size";
      } else if (text === "") {
        return true;
      }
    }
    return false;
  };
}
