/**
 * Test-only: a real `redis-server` on a free port, and in front of it a
 * small HTTP server that speaks the Upstash REST protocol (see
 * `../shared/UPSTASH_REST.md`), so the real `@upstash/redis` and
 * `@upstash/ratelimit` run against a real Redis.
 *
 * `@upstash/ratelimit` 2.1+ starts its scripts with
 * `#!lua flags=allow-key-locking`, a flag only Upstash accepts. The bridge
 * removes that flag before a script reaches Redis and remembers which hash
 * the client knows the script by, so the client's later `EVALSHA` calls hit.
 */
import {
  connectResp,
  RedisErrorReply,
  type RespConnection,
  type RespReply,
} from "./_resp.ts";
import { realClockEnv } from "../tools/clock_env.ts";

/** Whether `redis-server` can be run on this machine. */
export const redisServerInstalled: boolean = await (async () => {
  try {
    const { success } = await new Deno.Command("redis-server", {
      args: ["--version"],
      env: realClockEnv(),
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
})();

/** Whether a missing `redis-server` fails the Redis tests instead of skipping them. */
export const redisRequired = Deno.env.get("REQUIRE_REDIS") === "1";

let skipNoticePrinted = false;

/**
 * Registers a test that needs `redis-server`. Without it the test is
 * skipped with a visible notice, unless `REQUIRE_REDIS=1` makes it fail.
 */
export function redisTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  if (!redisServerInstalled && !redisRequired) {
    if (!skipNoticePrinted) {
      skipNoticePrinted = true;
      console.warn(
        "SKIPPING Redis tests: redis-server is not installed (apt-get install redis-server; REQUIRE_REDIS=1 makes this a failure)",
      );
    }
    Deno.test({ name: `${name} [skipped: no redis-server]`, ignore: true, fn });
    return;
  }
  Deno.test(name, async (t) => {
    if (!redisServerInstalled) {
      throw new Error(
        "redis-server is required (REQUIRE_REDIS=1) but is not installed",
      );
    }
    await fn(t);
  });
}

/** A running `redis-server` with the Upstash REST bridge in front of it. */
export interface UpstashBridge extends AsyncDisposable {
  /** The REST URL, for `UPSTASH_REDIS_REST_URL`. */
  readonly url: string;
  /** The bearer token, for `UPSTASH_REDIS_REST_TOKEN`. */
  readonly token: string;
  /** The name of every command the bridge received, upper case, in order. */
  readonly commands: readonly string[];
  /** Runs one command on a connection of its own, straight to Redis. */
  redis(...args: string[]): Promise<RespReply>;
  /** Stops `redis-server`; the bridge keeps answering, with errors. */
  stopRedis(): Promise<void>;
  /** Resolves once the bridge has no request in flight. */
  idle(): Promise<void>;
  /** Stops the bridge and `redis-server`. */
  close(): Promise<void>;
}

/** Starts `redis-server` and the bridge, both on 127.0.0.1. */
export async function startUpstashBridge(): Promise<UpstashBridge> {
  const redis = await startRedisServer();
  const token = crypto.randomUUID();
  const commands: string[] = [];
  /** The client's hash of a script → the hash of the script Redis runs. */
  const scriptHashes = new Map<string, string>();
  let connection: RespConnection | undefined;
  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];

  async function redisConnection(): Promise<RespConnection> {
    if (connection === undefined || connection.closed) {
      connection = await connectResp(redis.port);
    }
    return connection;
  }

  /** Runs the commands; a reply of `SCRIPT LOAD` keeps the client's hash. */
  async function run(batch: string[][]): Promise<RespReply[]> {
    const rewritten = await Promise.all(
      batch.map((args) => rewriteScript(args, scriptHashes)),
    );
    for (const args of batch) commands.push((args[0] ?? "").toUpperCase());
    const replies = await (await redisConnection()).send(
      rewritten.map((r) => r.args),
    );
    return replies.map((reply, i) => rewritten[i]?.reply ?? reply);
  }

  async function answer(request: Request): Promise<Response> {
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return Response.json({ error: "Unauthorized" }, { status: 401 });
    }
    if (request.method !== "POST") {
      return Response.json({ error: "Method not allowed" }, { status: 405 });
    }
    const base64 =
      request.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    const path = new URL(request.url).pathname;
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "ERR failed to parse JSON body" }, {
        status: 400,
      });
    }
    try {
      if (path === "/") {
        const command = toCommand(body);
        const [reply] = await run([command]);
        if (reply instanceof RedisErrorReply) {
          return Response.json({ error: reply.message }, { status: 400 });
        }
        return Response.json({ result: toJson(reply ?? null, base64) });
      }
      if (path === "/pipeline" || path === "/multi-exec") {
        if (!Array.isArray(body)) throw new BadRequest("Expected an array");
        const batch = body.map(toCommand);
        if (path === "/pipeline") {
          const replies = await run(batch);
          return Response.json(replies.map((reply) => entry(reply, base64)));
        }
        const replies = await run([["MULTI"], ...batch, ["EXEC"]]);
        const exec = replies.at(-1);
        if (Array.isArray(exec)) {
          return Response.json(exec.map((reply) => entry(reply, base64)));
        }
        const failure = replies.find((r) => r instanceof RedisErrorReply);
        return Response.json({
          error: failure instanceof RedisErrorReply
            ? failure.message
            : "EXECABORT Transaction discarded",
        }, { status: 400 });
      }
      return Response.json({ error: "Not found" }, { status: 404 });
    } catch (error) {
      if (error instanceof BadRequest) {
        return Response.json({ error: error.message }, { status: 400 });
      }
      return Response.json({ error: "Redis is not reachable" }, {
        status: 502,
      });
    }
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    inFlight++;
    try {
      return await answer(request);
    } finally {
      inFlight--;
      if (inFlight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  });

  async function close(): Promise<void> {
    await server.shutdown();
    connection?.close();
    await redis.stop();
  }

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    commands,
    async redis(...args) {
      const admin = await connectResp(redis.port);
      try {
        const [reply] = await admin.send([args]);
        return reply ?? null;
      } finally {
        admin.close();
      }
    },
    stopRedis: () => redis.stop(),
    idle() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

class BadRequest extends Error {}

/** A command from the request body: an array of strings, numbers or booleans. */
function toCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequest("ERR a command must be a non-empty array");
  }
  return value.map((arg) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    if (arg === null) return "";
    throw new BadRequest("ERR command arguments must be strings or numbers");
  });
}

/** One element of a pipeline or transaction answer. */
function entry(reply: RespReply, base64: boolean) {
  return reply instanceof RedisErrorReply
    ? { error: reply.message }
    : { result: toJson(reply, base64) };
}

/**
 * A reply as Upstash writes it: integers as numbers, nil as null, and every
 * string (bulk or status) base64-encoded when the client asked for it.
 */
function toJson(reply: RespReply, base64: boolean): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (reply instanceof RedisErrorReply) return reply.message;
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64));
  const bytes = typeof reply === "string"
    ? new TextEncoder().encode(reply)
    : reply;
  return base64 ? encodeBase64(bytes) : new TextDecoder().decode(bytes);
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.byteLength; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const UPSTASH_ONLY_FLAGS: ReadonlySet<string> = new Set(["allow-key-locking"]);

/**
 * A script's `#!lua flags=…` line without the flags only Upstash knows; the
 * line count stays the same so Redis's error positions still match.
 */
export function withoutUpstashFlags(script: string): string {
  const shebang = /^#!lua([^\n]*)/.exec(script);
  if (!shebang) return script;
  const flags = /(?:^|\s)flags=(\S*)/.exec(shebang[1] ?? "");
  if (!flags) return script;
  const kept = (flags[1] ?? "").split(",").filter((flag) =>
    flag !== "" && !UPSTASH_ONLY_FLAGS.has(flag)
  );
  const header = kept.length > 0 ? `#!lua flags=${kept.join(",")}` : "#!lua";
  return header + script.slice(shebang[0].length);
}

/**
 * Rewrites script commands for plain Redis: `EVAL` and `SCRIPT LOAD` get the
 * script without Upstash-only flags (and the hash mapping is remembered),
 * `EVALSHA` gets the hash Redis knows. `reply` replaces Redis's reply where
 * the client must see its own hash.
 */
async function rewriteScript(
  args: string[],
  scriptHashes: Map<string, string>,
): Promise<{ args: string[]; reply?: RespReply }> {
  const name = (args[0] ?? "").toUpperCase();
  const isScriptLoad = name === "SCRIPT" &&
    (args[1] ?? "").toUpperCase() === "LOAD";
  const scriptIndex = name === "EVAL" || name === "EVAL_RO"
    ? 1
    : isScriptLoad
    ? 2
    : -1;
  const script = args[scriptIndex];
  if (script !== undefined) {
    const runnable = withoutUpstashFlags(script);
    if (runnable === script) return { args };
    const clientHash = await sha1Hex(script);
    scriptHashes.set(clientHash, await sha1Hex(runnable));
    const rewritten = args.with(scriptIndex, runnable);
    return isScriptLoad
      ? { args: rewritten, reply: clientHash }
      : { args: rewritten };
  }
  if ((name === "EVALSHA" || name === "EVALSHA_RO") && args[1] !== undefined) {
    const known = scriptHashes.get(args[1].toLowerCase());
    if (known !== undefined) return { args: args.with(1, known) };
  }
  return { args };
}

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

interface RedisServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port, without persistence. */
async function startRedisServer(): Promise<RedisServer> {
  let lastError: unknown;
  // A free port can be taken between choosing and binding it: try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "orders-redis-" });
    const child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ],
      // It aborts under libfaketime; its expiries are relative, so the
      // real clock serves a test whose own clock is shifted.
      env: realClockEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    let stopped: Promise<void> | undefined;
    const stop = () =>
      stopped ??= (async () => {
        if (!exited) {
          try {
            child.kill("SIGTERM");
          } catch {
            // already gone
          }
        }
        await status;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
    try {
      await waitForPing(port, () => exited);
      return { port, stop };
    } catch (error) {
      lastError = error;
      await stop();
    }
  }
  throw new Error(`Cannot start redis-server: ${String(lastError)}`);
}

async function waitForPing(port: number, exited: () => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited()) throw new Error("redis-server exited at start");
    try {
      const conn = await connectResp(port);
      try {
        const [reply] = await conn.send([["PING"]]);
        if (reply === "PONG") return;
      } finally {
        conn.close();
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("redis-server did not answer");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
