/**
 * The webhook sender against real servers on 127.0.0.1: what goes on the
 * wire, how responses are read, timeouts, the destination rules applied
 * to the address actually connected to (resolver and connect stubbed to
 * watch it), and which connections a pool keeps for the next attempt.
 */
import assert from "node:assert/strict";
import { commandSucceeds } from "../fixtures/mod.ts";
import { MAX_WEBHOOK_RESPONSE_BYTES } from "../../domain/webhooks.ts";
import {
  type ConnectionPool,
  createConnectionPool,
  MAX_RESPONSE_HEAD_BYTES,
  type Resolver,
  type SendOptions,
  type SendResult,
  sendWebhook,
  WEBHOOK_USER_AGENT,
  type WebhookRequest,
} from "../../webhooks/sender.ts";
import { selfSignedCert } from "./self_signed_cert.ts";

/** Long enough never to fire in a passing test. */
const TIMEOUT_MS = 5_000;
/** For tests whose receiver never answers. */
const SHORT_TIMEOUT_MS = 200;
const LOOPBACK = "127.0.0.1";
/** A public address (example.com's former one); never really connected. */
const PUBLIC_ADDRESS = "93.184.216.34";

const SUCCEEDED: SendResult = { status: 200, retryAfter: null };
const BLOCKED: SendResult = { blocked: true, retryAfter: null };
const TIMED_OUT: SendResult = { timedOut: true, retryAfter: null };
const CONNECTION_ERROR: SendResult = {
  connectionError: true,
  retryAfter: null,
};

function webhook(url: string, body = '{"id":"evt_1"}'): WebhookRequest {
  return {
    url,
    headers: {
      "content-type": "application/json",
      "webhook-id": "evt_1",
      "webhook-timestamp": "1700000000",
      "webhook-signature": "v1,c2lnbmF0dXJl",
    },
    body,
  };
}

function optionsFor(extra: Partial<SendOptions> = {}): SendOptions {
  return { timeoutMs: TIMEOUT_MS, allowHosts: new Set([LOOPBACK]), ...extra };
}

/** A resolver that answers `addresses` for every name. */
function answering(...addresses: string[]): Resolver {
  return () => Promise.resolve(addresses);
}

/**
 * A connect that records every `address:port` asked for and really connects
 * only to 127.0.0.1; anything else fails as if unreachable, so nothing
 * leaves the test machine.
 */
function recordingConnect(): {
  connected: string[];
  connect: NonNullable<SendOptions["connect"]>;
} {
  const connected: string[] = [];
  return {
    connected,
    connect(address) {
      connected.push(`${address.hostname}:${address.port}`);
      return address.hostname === LOOPBACK
        ? Deno.connect(address)
        : Promise.reject(new Deno.errors.ConnectionRefused("Test: refused"));
    },
  };
}

/** What a `Deno.serve` receiver saw of one request. */
interface Received {
  readonly method: string;
  readonly target: string;
  readonly headers: Headers;
  readonly body: string;
}

/** An HTTP receiver on 127.0.0.1 recording what it receives. */
function serve(
  respond: (request: Request) => Response | Promise<Response>,
  tls?: { cert: string; key: string },
) {
  const received: Received[] = [];
  const server = Deno.serve(
    { port: 0, hostname: LOOPBACK, onListen() {}, ...tls },
    async function receiver(request) {
      const url = new URL(request.url);
      received.push({
        method: request.method,
        target: url.pathname + url.search,
        headers: request.headers,
        body: await request.text(),
      });
      return respond(request);
    },
  );
  return {
    port: server.addr.port,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/**
 * A raw TCP receiver on 127.0.0.1: `handle` gets each connection, which is
 * closed after it returns.
 */
function listenRaw(handle: (conn: Deno.TcpConn) => Promise<void>) {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const handled: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      handled.push(handle(conn).finally(() => closeQuietly(conn)));
    }
  })();
  return {
    port: listener.addr.port,
    handled,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(handled);
    },
  };
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

const encoder = new TextEncoder();

/** Reads one request (head and Content-Length body) as text. */
async function readRequest(
  conn: Deno.Conn,
): Promise<{ head: string; body: string }> {
  let bytes = new Uint8Array(0);
  const buffer = new Uint8Array(16 * 1024);
  while (true) {
    const text = new TextDecoder().decode(bytes);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const head = text.slice(0, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const headBytes = encoder.encode(text.slice(0, end + 4)).length;
      if (bytes.length - headBytes >= length) {
        return {
          head,
          body: new TextDecoder().decode(bytes.subarray(headBytes)),
        };
      }
    }
    const read = await conn.read(buffer);
    if (read === null) throw new Error("Test: request cut short");
    bytes = new Uint8Array([...bytes, ...buffer.subarray(0, read)]);
  }
}

/** Waits until the peer closes (or resets) the connection. */
async function untilClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    while (await conn.read(buffer) !== null) {
      // Drain.
    }
  } catch {
    // Reset by the peer: closed too.
  }
}

async function writeAll(conn: Deno.Conn, text: string | Uint8Array) {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Connects to 127.0.0.1 through a stand-in that counts the bytes the sender
 * reads, and notes any read begun once `expected` bytes were read.
 */
function countingConnect(expected = Infinity) {
  const seen = { bytesRead: 0, readAfterEnd: false };
  async function connect(address: { hostname: string; port: number }) {
    const conn = await Deno.connect(address);
    return new Proxy(conn, {
      get(target, property) {
        if (property === "read") {
          return async function read(buffer: Uint8Array) {
            if (seen.bytesRead >= expected) seen.readAfterEnd = true;
            const read = await target.read(buffer);
            seen.bytesRead += read ?? 0;
            return read;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
  return { seen, connect };
}

Deno.test("sendWebhook POSTs exactly the given body and headers and returns the status", async () => {
  const body = '{"id":"evt_1","note":"café ✓"}';
  let request: { head: string; body: string } | undefined;
  await using server = listenRaw(async (conn) => {
    request = await readRequest(conn);
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await untilClosed(conn);
  });
  const url = `http://${LOOPBACK}:${server.port}/hooks/orders?tenant=a%20b`;

  const result = await sendWebhook(webhook(url, body), optionsFor());

  assert.deepEqual(result, SUCCEEDED);
  assert.deepEqual(request?.head.split("\r\n"), [
    "POST /hooks/orders?tenant=a%20b HTTP/1.1",
    `Host: ${LOOPBACK}:${server.port}`,
    `User-Agent: ${WEBHOOK_USER_AGENT}`,
    "content-type: application/json",
    "webhook-id: evt_1",
    "webhook-timestamp: 1700000000",
    "webhook-signature: v1,c2lnbmF0dXJl",
    `Content-Length: ${encoder.encode(body).length}`,
    "Connection: close",
  ]);
  assert.equal(request?.body, body);
});

Deno.test("sendWebhook is understood by a standard HTTP server (Deno.serve)", async () => {
  await using server = serve(() => new Response("thanks"));
  const url = `http://${LOOPBACK}:${server.port}/in`;

  const result = await sendWebhook(webhook(url), optionsFor());

  assert.deepEqual(result, SUCCEEDED);
  const [received] = server.received;
  assert.equal(server.received.length, 1);
  assert.equal(received?.method, "POST");
  assert.equal(received?.target, "/in");
  assert.equal(received?.body, '{"id":"evt_1"}');
  assert.equal(received?.headers.get("webhook-id"), "evt_1");
  assert.equal(received?.headers.get("user-agent"), WEBHOOK_USER_AGENT);
});

Deno.test("sendWebhook returns a failing status and its Retry-After as they come", async (t) => {
  const cases: readonly { status: number; headers?: Record<string, string> }[] =
    [
      { status: 500 },
      { status: 410 },
      { status: 429, headers: { "retry-after": "120" } },
      {
        status: 503,
        headers: { "retry-after": "Sun, 06 Nov 2044 08:49:37 GMT" },
      },
      { status: 204 },
    ];
  for (const { status, headers = {} } of cases) {
    await t.step(`${status}`, async () => {
      await using server = serve(() =>
        new Response(status === 204 ? null : "no", { status, headers })
      );
      const url = `http://${LOOPBACK}:${server.port}/`;

      const result = await sendWebhook(webhook(url), optionsFor());

      assert.deepEqual(result, {
        status,
        retryAfter: headers["retry-after"] ?? null,
      });
    });
  }
});

Deno.test("sendWebhook does not follow a redirect: a 302 is its result", async () => {
  await using target = serve(() => new Response("moved here"));
  await using server = serve(() =>
    new Response(null, {
      status: 302,
      headers: { location: `http://${LOOPBACK}:${target.port}/elsewhere` },
    })
  );
  const url = `http://${LOOPBACK}:${server.port}/`;

  const result = await sendWebhook(webhook(url), optionsFor());

  assert.deepEqual(result, { status: 302, retryAfter: null });
  assert.equal(server.received.length, 1);
  assert.equal(target.received.length, 0);
});

Deno.test("sendWebhook times out when no status comes in time", async (t) => {
  const receivers: Record<string, (conn: Deno.TcpConn) => Promise<void>> = {
    "reads the request, never answers": async (conn) => {
      await readRequest(conn);
      await untilClosed(conn);
    },
    "answers half a status line": async (conn) => {
      await readRequest(conn);
      await writeAll(conn, "HTTP/1.1 20");
      await untilClosed(conn);
    },
  };
  for (const [name, receive] of Object.entries(receivers)) {
    await t.step(name, async () => {
      await using server = listenRaw(receive);

      const result = await sendWebhook(
        webhook(`http://${LOOPBACK}:${server.port}/`),
        optionsFor({ timeoutMs: SHORT_TIMEOUT_MS }),
      );

      assert.deepEqual(result, TIMED_OUT);
      // Each receiver returns only once the sender has closed.
      await Promise.all(server.handled);
    });
  }
});

Deno.test("sendWebhook times out when resolving takes too long, connecting nowhere", async () => {
  const { connected, connect } = recordingConnect();

  const result = await sendWebhook(webhook("https://slow-dns.test/"), {
    timeoutMs: SHORT_TIMEOUT_MS,
    allowHosts: new Set(),
    resolve: () => new Promise(() => {}),
    connect,
  });

  assert.deepEqual(result, TIMED_OUT);
  assert.deepEqual(connected, []);
});

Deno.test("sendWebhook closes, unused, a connection that opens only after the deadline", async () => {
  const closedByClient = Promise.withResolvers<number>();
  await using server = listenRaw(async (conn) => {
    let received = 0;
    const buffer = new Uint8Array(1024);
    for (let read; (read = await conn.read(buffer)) !== null;) {
      received += read;
    }
    closedByClient.resolve(received);
  });
  const gate = Promise.withResolvers<void>();

  const result = await sendWebhook(
    webhook(`http://${LOOPBACK}:${server.port}/`),
    optionsFor({
      timeoutMs: SHORT_TIMEOUT_MS,
      async connect(address) {
        await gate.promise;
        return Deno.connect(address);
      },
    }),
  );
  gate.resolve();

  assert.deepEqual(result, TIMED_OUT);
  // Settles only once the sender has closed the late connection (and the
  // resource sanitizer checks nothing is left open).
  assert.equal(await closedByClient.promise, 0, "nothing is sent on it");
});

Deno.test("sendWebhook keeps a status that came in time when the body is slow", async () => {
  await using server = listenRaw(async (conn) => {
    await readRequest(conn);
    await writeAll(
      conn,
      "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst",
    );
    await untilClosed(conn);
  });
  const url = `http://${LOOPBACK}:${server.port}/`;

  const result = await sendWebhook(
    webhook(url),
    optionsFor({ timeoutMs: SHORT_TIMEOUT_MS }),
  );

  assert.deepEqual(result, SUCCEEDED);
});

Deno.test("sendWebhook reads at most 64 KiB of a body, then closes the connection", async () => {
  const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
  const limit = 64 * 1024 * 1024;
  let written = 0;
  let writeFailed = false;
  await using server = listenRaw(async (conn) => {
    await readRequest(conn);
    await writeAll(conn, head);
    const chunk = new Uint8Array(16 * 1024).fill(0x61);
    try {
      // An endless body (delimited by close), stopped only by the sender.
      while (written < limit) written += await conn.write(chunk);
    } catch {
      writeFailed = true;
    }
  });
  const { seen, connect } = countingConnect();

  const result = await sendWebhook(
    webhook(`http://${LOOPBACK}:${server.port}/`),
    optionsFor({ connect }),
  );
  await Promise.all(server.handled);

  assert.deepEqual(result, SUCCEEDED);
  assert.ok(seen.bytesRead <= head.length + MAX_WEBHOOK_RESPONSE_BYTES);
  assert.ok(seen.bytesRead >= MAX_WEBHOOK_RESPONSE_BYTES, "reads the cap");
  assert.ok(writeFailed, "the receiver's writing ends by the sender closing");
  assert.ok(written < limit);
});

Deno.test("sendWebhook finds the end of a body by its framing, without waiting for close", async (t) => {
  const responses: Record<string, string> = {
    "Content-Length": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked, with extensions and trailers": "HTTP/1.1 200 OK\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n" +
      "5;name=value\r\nhello\r\n" +
      "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n" +
      "0\r\nChecksum: abc\r\n\r\n",
    "no body (204)": "HTTP/1.1 204 No Content\r\n\r\n",
    "interim 100 and 103 first": "HTTP/1.1 100 Continue\r\n\r\n" +
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "bare LF line ends": "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
  };
  for (const [name, response] of Object.entries(responses)) {
    await t.step(name, async () => {
      await using server = listenRaw(async (conn) => {
        await readRequest(conn);
        await writeAll(conn, response);
        // Held open: only the sender's reading of the framing ends it.
        await untilClosed(conn);
      });
      const { seen, connect } = countingConnect(response.length);

      const result = await sendWebhook(
        webhook(`http://${LOOPBACK}:${server.port}/`),
        optionsFor({ connect }),
      );

      const status = name === "no body (204)" ? 204 : 200;
      assert.deepEqual(result, { status, retryAfter: null });
      assert.equal(seen.bytesRead, response.length);
      assert.equal(seen.readAfterEnd, false, "no read past the response");
    });
  }
});

Deno.test("sendWebhook reads a body delimited by the connection closing", async () => {
  await using server = listenRaw(async (conn) => {
    await readRequest(conn);
    await writeAll(conn, "HTTP/1.1 500 Oops\r\n\r\nsomething broke");
  });

  const result = await sendWebhook(
    webhook(`http://${LOOPBACK}:${server.port}/`),
    optionsFor(),
  );

  assert.deepEqual(result, { status: 500, retryAfter: null });
});

Deno.test("sendWebhook reads a head up to the cap, however it arrives", async () => {
  // Just under the cap, in pieces: the head is read across several reads.
  const filler = "x".repeat(MAX_RESPONSE_HEAD_BYTES - 100);
  const head = `HTTP/1.1 429 Too Many\r\nX-Filler: ${filler}\r\n` +
    "Retry-After: 7\r\nContent-Length: 0\r\n\r\n";
  await using server = listenRaw(async (conn) => {
    await readRequest(conn);
    for (let i = 0; i < head.length; i += 1000) {
      await writeAll(conn, head.slice(i, i + 1000));
    }
    await untilClosed(conn);
  });

  const result = await sendWebhook(
    webhook(`http://${LOOPBACK}:${server.port}/`),
    optionsFor(),
  );

  assert.deepEqual(result, { status: 429, retryAfter: "7" });
});

Deno.test("sendWebhook reports a connection error for a broken or refused connection", async (t) => {
  const receivers: Record<string, (conn: Deno.TcpConn) => Promise<void>> = {
    "closed without an answer": async (conn) => {
      await readRequest(conn);
    },
    "not HTTP": async (conn) => {
      await readRequest(conn);
      await writeAll(conn, "SSH-2.0-OpenSSH_9.6\r\n\r\n");
    },
    "a status out of range": async (conn) => {
      await readRequest(conn);
      await writeAll(conn, "HTTP/1.1 700 Odd\r\n\r\n");
    },
    "a head larger than the cap": async (conn) => {
      await readRequest(conn);
      const filler = "x".repeat(MAX_RESPONSE_HEAD_BYTES);
      await writeAll(conn, `HTTP/1.1 200 OK\r\nX-Filler: ${filler}\r\n\r\n`)
        .catch(() => {});
      await untilClosed(conn);
    },
  };
  for (const [name, receive] of Object.entries(receivers)) {
    await t.step(name, async () => {
      await using server = listenRaw(receive);

      const result = await sendWebhook(
        webhook(`http://${LOOPBACK}:${server.port}/`),
        optionsFor(),
      );

      assert.deepEqual(result, CONNECTION_ERROR);
    });
  }

  await t.step("connection refused (closed port)", async () => {
    const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
    const { port } = listener.addr;
    listener.close();

    const result = await sendWebhook(
      webhook(`http://${LOOPBACK}:${port}/`),
      optionsFor(),
    );

    assert.deepEqual(result, CONNECTION_ERROR);
  });
});

Deno.test("sendWebhook never connects to a private address a name rebinds to", async () => {
  await using server = serve(() => new Response("ok"));
  let lookups = 0;
  function rebinding(): Promise<readonly string[]> {
    lookups += 1;
    return Promise.resolve(lookups === 1 ? [PUBLIC_ADDRESS] : [LOOPBACK]);
  }
  const { connected, connect } = recordingConnect();
  const options = optionsFor({
    allowHosts: new Set(),
    resolve: rebinding,
    connect,
  });
  const url = `http://rebind.test:${server.port}/`;

  const first = await sendWebhook(webhook(url), options);
  const second = await sendWebhook(webhook(url), options);

  // The checked public answer is exactly what was connected to (and the
  // stand-in refused it); the private answer was never connected to.
  assert.deepEqual(first, CONNECTION_ERROR);
  assert.deepEqual(second, BLOCKED);
  assert.equal(lookups, 2);
  assert.deepEqual(connected, [`${PUBLIC_ADDRESS}:${server.port}`]);
  assert.equal(server.received.length, 0);
});

Deno.test("sendWebhook refuses, without connecting, a name with any non-public address", async (t) => {
  const answers: readonly (readonly string[])[] = [
    [PUBLIC_ADDRESS, LOOPBACK],
    [LOOPBACK, PUBLIC_ADDRESS],
    ["2606:2800:220:1:248:1893:25c8:1946", "::1"],
    ["10.1.2.3"],
    ["::ffff:169.254.169.254"],
    ["not an address"],
  ];
  for (const addresses of answers) {
    await t.step(addresses.join(", "), async () => {
      const { connected, connect } = recordingConnect();

      const result = await sendWebhook(
        webhook("https://hooks.example/"),
        optionsFor({
          allowHosts: new Set(),
          resolve: answering(...addresses),
          connect,
        }),
      );

      assert.deepEqual(result, BLOCKED);
      assert.deepEqual(connected, []);
    });
  }
});

Deno.test("sendWebhook tries a name's checked addresses in order", async () => {
  const { connected, connect } = recordingConnect();
  await using server = serve(() => new Response("ok"));

  const result = await sendWebhook(
    webhook(`http://hooks.internal:${server.port}/`),
    optionsFor({
      allowHosts: new Set(["hooks.internal"]),
      resolve: answering("10.9.9.9", LOOPBACK),
      connect,
    }),
  );

  assert.deepEqual(result, SUCCEEDED);
  assert.deepEqual(connected, [
    `10.9.9.9:${server.port}`,
    `${LOOPBACK}:${server.port}`,
  ]);
});

Deno.test("sendWebhook refuses, without connecting, an IP literal outside allowHosts", async (t) => {
  await using server = serve(() => new Response("ok"));
  const urls = [
    `http://${LOOPBACK}:${server.port}/`,
    `http://2130706433:${server.port}/`,
    `http://0.0.0.0:${server.port}/`,
    `http://[::1]:${server.port}/`,
    `http://[::ffff:127.0.0.1]:${server.port}/`,
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
  ];
  for (const url of urls) {
    await t.step(url, async () => {
      const { connected, connect } = recordingConnect();

      const result = await sendWebhook(
        webhook(url),
        optionsFor({ allowHosts: new Set(), connect }),
      );

      assert.deepEqual(result, BLOCKED);
      assert.deepEqual(connected, []);
    });
  }
  assert.equal(server.received.length, 0);
});

Deno.test("sendWebhook connects to an IP literal listed in allowHosts, and only to it", async () => {
  await using server = serve(() => new Response("ok"));
  const { connected, connect } = recordingConnect();
  let lookups = 0;

  const result = await sendWebhook(
    webhook(`http://${LOOPBACK}:${server.port}/`),
    optionsFor({
      allowHosts: new Set([LOOPBACK]),
      resolve: () => Promise.resolve([String(++lookups)]),
      connect,
    }),
  );

  assert.deepEqual(result, SUCCEEDED);
  assert.deepEqual(connected, [`${LOOPBACK}:${server.port}`]);
  assert.equal(lookups, 0, "an IP literal is not resolved");
});

Deno.test("sendWebhook does not let a listed IP exempt a name that resolves to it", async () => {
  const { connected, connect } = recordingConnect();

  const result = await sendWebhook(
    webhook("http://internal.test:8080/"),
    optionsFor({
      allowHosts: new Set([LOOPBACK]),
      resolve: answering(LOOPBACK),
      connect,
    }),
  );

  assert.deepEqual(result, BLOCKED);
  assert.deepEqual(connected, []);
});

Deno.test("sendWebhook reports a connection error when a name has no address", async (t) => {
  const resolvers: Record<string, Resolver> = {
    "no answer": answering(),
    "the resolver fails": () => Promise.reject(new Deno.errors.NotFound()),
  };
  for (const [name, resolve] of Object.entries(resolvers)) {
    await t.step(name, async () => {
      const { connected, connect } = recordingConnect();

      const result = await sendWebhook(
        webhook("https://nowhere.test/"),
        optionsFor({ allowHosts: new Set(), resolve, connect }),
      );

      assert.deepEqual(result, CONNECTION_ERROR);
      assert.deepEqual(connected, []);
    });
  }
});

Deno.test("sendWebhook reaches localhost when it is listed in allowHosts", async () => {
  await using server = serve(() => new Response("ok"));

  const result = await sendWebhook(
    webhook(`http://localhost:${server.port}/`),
    optionsFor({ allowHosts: new Set(["localhost"]) }),
  );

  assert.deepEqual(result, SUCCEEDED);
  assert.equal(
    server.received[0]?.headers.get("host"),
    `localhost:${server.port}`,
  );
});

Deno.test("sendWebhook refuses a URL that is not http(s), and a header it cannot send", async () => {
  const { connected, connect } = recordingConnect();
  const options = optionsFor({ connect });

  assert.deepEqual(
    await sendWebhook(webhook("file:///etc/passwd"), options),
    BLOCKED,
  );
  assert.deepEqual(await sendWebhook(webhook("not a url"), options), BLOCKED);
  const url = "http://127.0.0.1:9/";
  for (
    const headers of [
      { "x-evil": "a\r\nHost: elsewhere" },
      { "bad name": "x" },
      { host: "elsewhere" },
      { "Content-Length": "0" },
    ]
  ) {
    await assert.rejects(
      sendWebhook({ url, headers, body: "" }, options),
      TypeError,
    );
  }
  assert.deepEqual(connected, []);
});

/** openssl makes the certificates; CI installs it and sets REQUIRE_OPENSSL=1. */
const hasOpenssl = await commandSucceeds("openssl", { args: ["version"] });
if (!hasOpenssl) {
  console.warn(
    "sender TLS test: openssl is not installed (apt-get install openssl); skipped unless REQUIRE_OPENSSL=1",
  );
}

Deno.test({
  name:
    "sendWebhook verifies TLS against the host name while connecting to the checked address",
  ignore: !hasOpenssl && Deno.env.get("REQUIRE_OPENSSL") !== "1",
}, async (t) => {
  const [hooks, other] = await Promise.all([
    selfSignedCert("hooks.test"),
    selfSignedCert("other.test"),
  ]);
  const tlsOptions = (connect: NonNullable<SendOptions["connect"]>) =>
    optionsFor({
      allowHosts: new Set(["hooks.test"]),
      resolve: answering(LOOPBACK),
      caCerts: [hooks.cert, other.cert],
      connect,
    });

  await t.step("a certificate for the name → 200", async () => {
    await using server = serve(() => new Response("ok"), hooks);
    const { connected, connect } = recordingConnect();

    const result = await sendWebhook(
      webhook(`https://hooks.test:${server.port}/tls`),
      tlsOptions(connect),
    );

    assert.deepEqual(result, SUCCEEDED);
    assert.deepEqual(connected, [`${LOOPBACK}:${server.port}`]);
    assert.equal(server.received[0]?.target, "/tls");
    assert.equal(
      server.received[0]?.headers.get("host"),
      `hooks.test:${server.port}`,
    );
  });

  await t.step(
    "a certificate for another name → connection error",
    async () => {
      await using server = serve(() => new Response("ok"), other);
      const { connected, connect } = recordingConnect();

      const result = await sendWebhook(
        webhook(`https://hooks.test:${server.port}/`),
        tlsOptions(connect),
      );

      assert.deepEqual(result, CONNECTION_ERROR);
      assert.deepEqual(connected, [`${LOOPBACK}:${server.port}`]);
      assert.equal(server.received.length, 0);
    },
  );

  await t.step("an untrusted certificate → connection error", async () => {
    await using server = serve(() => new Response("ok"), hooks);

    const result = await sendWebhook(
      webhook(`https://hooks.test:${server.port}/`),
      optionsFor({
        allowHosts: new Set(["hooks.test"]),
        resolve: answering(LOOPBACK),
      }),
    );

    assert.deepEqual(result, CONNECTION_ERROR);
    assert.equal(server.received.length, 0);
  });

  await t.step(
    "a receiver that never answers the handshake → timed out",
    async () => {
      const hangUp = Promise.withResolvers<void>();
      // It hangs up only when told: Deno keeps the socket of a pending
      // handshake open until the receiver answers or hangs up (see the
      // sender's documentation), so waiting for the sender to close it
      // would wait forever.
      await using server = listenRaw(() => hangUp.promise);
      const { connect } = recordingConnect();

      const result = await sendWebhook(
        webhook(`https://hooks.test:${server.port}/`),
        { ...tlsOptions(connect), timeoutMs: SHORT_TIMEOUT_MS },
      );
      hangUp.resolve();

      assert.deepEqual(result, TIMED_OUT);
    },
  );
});

/** A pool for one test, its idle connections closed when the test ends. */
function testPool(): ConnectionPool & Disposable {
  const pool = createConnectionPool({ perKey: 4 });
  return { ...pool, [Symbol.dispose]: () => pool.closeIdle() };
}

/**
 * A raw receiver that answers every request on a connection with
 * `response`, until the sender closes it (or after one answer, with
 * `closeAfter`); the request heads it read, in order.
 */
function answeringRaw(response: string, closeAfter = false) {
  const heads: string[] = [];
  const server = listenRaw(async (conn) => {
    while (true) {
      let request: { head: string };
      try {
        request = await readRequest(conn);
      } catch {
        return;
      }
      heads.push(request.head);
      await writeAll(conn, response);
      if (closeAfter) return;
    }
  });
  return Object.assign(server, { heads });
}

Deno.test("sendWebhook with a pool sends the next attempts on the kept connection, without Connection: close", async () => {
  await using server = answeringRaw("HTTP/1.1 204 No Content\r\n\r\n");
  using pool = testPool();
  const { connected, connect } = recordingConnect();
  const url = `http://${LOOPBACK}:${server.port}/hooks`;

  for (let i = 0; i < 3; i++) {
    assert.deepEqual(
      await sendWebhook(webhook(url), optionsFor({ connect, pool })),
      { status: 204, retryAfter: null },
    );
  }

  assert.deepEqual(connected, [`${LOOPBACK}:${server.port}`]);
  assert.equal(server.heads.length, 3);
  for (const head of server.heads) {
    assert.equal(/^connection:/im.test(head), false, head);
  }
});

Deno.test("sendWebhook with a pool keeps only a connection whose response ended cleanly", async (t) => {
  const responses: Record<string, { response: string; kept: boolean }> = {
    "Content-Length, read to its end": {
      response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      kept: true,
    },
    "no body (204)": {
      response: "HTTP/1.1 204 No Content\r\n\r\n",
      kept: true,
    },
    "Connection: close": {
      response:
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
      kept: false,
    },
    "HTTP/1.0": {
      response: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
      kept: false,
    },
    "chunked": {
      response:
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
      kept: false,
    },
    "more bytes than its Content-Length": {
      response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1",
      kept: false,
    },
    "a body over the cap": {
      response: `HTTP/1.1 200 OK\r\nContent-Length: ${
        MAX_WEBHOOK_RESPONSE_BYTES + 1
      }\r\n\r\n${"x".repeat(MAX_WEBHOOK_RESPONSE_BYTES + 1)}`,
      kept: false,
    },
  };
  for (const [name, { response, kept }] of Object.entries(responses)) {
    await t.step(name, async () => {
      await using server = answeringRaw(response);
      using pool = testPool();
      const { connected, connect } = recordingConnect();
      const url = `http://${LOOPBACK}:${server.port}/`;

      for (let i = 0; i < 2; i++) {
        const result = await sendWebhook(
          webhook(url),
          optionsFor({ connect, pool }),
        );
        assert.equal(
          result.status,
          response.startsWith("HTTP/1.1 204") ? 204 : 200,
        );
      }

      assert.equal(connected.length, kept ? 1 : 2);
    });
  }
});

Deno.test("sendWebhook resends on a new connection when the kept one was closed by the receiver", async () => {
  await using server = answeringRaw("HTTP/1.1 204 No Content\r\n\r\n", true);
  using pool = testPool();
  const { connected, connect } = recordingConnect();
  const url = `http://${LOOPBACK}:${server.port}/`;

  const first = await sendWebhook(webhook(url), optionsFor({ connect, pool }));
  // The receiver has closed its end: wait until it is done with it.
  await Promise.all(server.handled);
  const second = await sendWebhook(webhook(url), optionsFor({ connect, pool }));

  assert.deepEqual([first, second], [
    { status: 204, retryAfter: null },
    { status: 204, retryAfter: null },
  ]);
  assert.equal(connected.length, 2);
  assert.equal(server.heads.length, 2);
});

Deno.test("sendWebhook with a pool still checks every attempt's destination before taking a kept connection", async (t) => {
  await t.step(
    "a name that now resolves elsewhere gets a new connection there",
    async () => {
      await using server = answeringRaw("HTTP/1.1 204 No Content\r\n\r\n");
      using pool = testPool();
      const { connected, connect } = recordingConnect();
      const answers = [[LOOPBACK], ["127.0.0.2"]];
      const resolve: Resolver = () => Promise.resolve(answers.shift() ?? []);
      const options = optionsFor({
        connect,
        pool,
        resolve,
        allowHosts: new Set(["hooks.test"]),
      });
      const url = `http://hooks.test:${server.port}/`;

      const first = await sendWebhook(webhook(url), options);
      const second = await sendWebhook(webhook(url), options);

      assert.deepEqual(first, { status: 204, retryAfter: null });
      assert.deepEqual(second, CONNECTION_ERROR);
      assert.deepEqual(connected, [
        `${LOOPBACK}:${server.port}`,
        `127.0.0.2:${server.port}`,
      ]);
      assert.equal(server.heads.length, 1);
    },
  );

  await t.step(
    "an address no longer allowed is refused, kept connection or not",
    async () => {
      await using server = answeringRaw("HTTP/1.1 204 No Content\r\n\r\n");
      using pool = testPool();
      const { connected, connect } = recordingConnect();
      const url = `http://${LOOPBACK}:${server.port}/`;

      const first = await sendWebhook(
        webhook(url),
        optionsFor({ connect, pool }),
      );
      const second = await sendWebhook(
        webhook(url),
        optionsFor({ connect, pool, allowHosts: new Set() }),
      );

      assert.deepEqual([first, second], [
        { status: 204, retryAfter: null },
        BLOCKED,
      ]);
      assert.equal(connected.length, 1);
      assert.equal(server.heads.length, 1);
    },
  );
});
