/**
 * The test-only Upstash REST bridge speaks the protocol the real clients
 * expect, against a real redis-server.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Ratelimit } from "@upstash/ratelimit";
import { createUpstashRedis } from "../limits/upstash_rate_limiter.ts";
import { encodeCommand, parseReply, RedisErrorReply } from "./_resp.ts";
import {
  redisTest,
  startUpstashBridge,
  withoutUpstashFlags,
} from "./_upstash_bridge.ts";

function post(
  bridge: { url: string; token: string },
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(bridge.url + path, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${bridge.token}`,
      "Content-Type": "application/json",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

Deno.test("parseReply reads back every reply shape it is given, in pieces or whole", () => {
  const wire = new TextEncoder().encode(
    "+OK\r\n-ERR boom\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n",
  );
  const replies = [];
  let offset = 0;
  while (offset < wire.byteLength) {
    const parsed = parseReply(wire, offset);
    assert.ok(parsed);
    replies.push(parsed.reply);
    offset = parsed.end;
  }
  assert.deepEqual(replies, [
    "OK",
    new RedisErrorReply("ERR boom"),
    42,
    new TextEncoder().encode("hello"),
    null,
    [1, [new Uint8Array(0)]],
  ]);
  for (let cut = 0; cut < 20; cut++) {
    const partial = parseReply(wire.subarray(0, cut));
    assert.ok(partial === undefined || partial.end <= cut);
  }
});

Deno.test("encodeCommand writes bulk strings with their UTF-8 byte length", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "grapheme" }), { minLength: 1 }),
      (args) => {
        const parsed = parseReply(encodeCommand(args));
        assert.ok(parsed);
        const decoded = (parsed.reply as Uint8Array[]).map((b) =>
          new TextDecoder().decode(b)
        );
        assert.deepEqual(decoded, args);
      },
    ),
  );
});

Deno.test("withoutUpstashFlags removes only the Upstash-only script flag", () => {
  assert.equal(
    withoutUpstashFlags("#!lua flags=allow-key-locking\nreturn 1"),
    "#!lua\nreturn 1",
  );
  assert.equal(
    withoutUpstashFlags("#!lua flags=no-writes,allow-key-locking\nreturn 1"),
    "#!lua flags=no-writes\nreturn 1",
  );
  assert.equal(withoutUpstashFlags("return 1"), "return 1");
});

redisTest("the bridge refuses a missing or wrong token with 401", async () => {
  await using bridge = await startUpstashBridge();
  const wrong = await post({ ...bridge, token: "nope" }, "/", ["PING"]);
  assert.equal(wrong.status, 401);
  assert.deepEqual(await wrong.json(), { error: "Unauthorized" });
  const missing = await fetch(bridge.url, {
    method: "POST",
    body: '["PING"]',
  });
  assert.equal(missing.status, 401);
  await missing.body?.cancel();
});

redisTest(
  "the bridge answers commands, pipelines and transactions as Upstash does",
  async () => {
    await using bridge = await startUpstashBridge();
    const set = await post(bridge, "/", ["SET", "greeting", "héllo"]);
    assert.deepEqual(await set.json(), { result: "OK" });

    const plain = await post(bridge, "/", ["GET", "greeting"]);
    assert.deepEqual(await plain.json(), { result: "héllo" });

    const encoded = await post(bridge, "/", ["GET", "greeting"], {
      "Upstash-Encoding": "base64",
    });
    assert.deepEqual(await encoded.json(), {
      result: btoa(String.fromCharCode(...new TextEncoder().encode("héllo"))),
    });

    const pong = await post(bridge, "/", ["PING"], {
      "Upstash-Encoding": "base64",
    });
    assert.deepEqual(await pong.json(), { result: btoa("PONG") });

    const failed = await post(bridge, "/", ["INCR", "greeting"]);
    assert.equal(failed.status, 400);
    assert.match((await failed.json()).error, /not an integer/);

    const pipeline = await post(bridge, "/pipeline", [
      ["INCRBY", "n", 5],
      ["GET", "missing"],
      ["INCR", "greeting"],
      ["MGET", "n", "missing"],
    ]);
    assert.equal(pipeline.status, 200);
    const results = await pipeline.json();
    assert.deepEqual(results.slice(0, 2), [{ result: 5 }, { result: null }]);
    assert.match(results[2].error, /not an integer/);
    assert.deepEqual(results[3], { result: ["5", null] });

    const multi = await post(bridge, "/multi-exec", [
      ["INCR", "n"],
      ["PEXPIRE", "n", 60_000],
    ]);
    assert.deepEqual(await multi.json(), [{ result: 6 }, { result: 1 }]);
  },
);

redisTest(
  "@upstash/redis and @upstash/ratelimit work through the bridge",
  async () => {
    await using bridge = await startUpstashBridge();
    const redis = createUpstashRedis(bridge);
    assert.equal(await redis.set("k", "v"), "OK");
    assert.equal(await redis.get("k"), "v");
    assert.equal(await redis.incr("count"), 1);
    // No automatic deserialisation: JSON-looking values stay strings.
    await redis.set("json", '{"a":1}');
    assert.equal(await redis.get("json"), '{"a":1}');

    const ratelimit = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(2, "1 h"),
      prefix: "bridge-test",
      ephemeralCache: false,
    });
    const verdicts = [];
    for (let i = 0; i < 3; i++) {
      verdicts.push((await ratelimit.limit("someone")).success);
    }
    assert.deepEqual(verdicts, [true, true, false]);
    // The first EVALSHA misses (NOSCRIPT), the client falls back to EVAL
    // (flag removed by the bridge), and later EVALSHA calls hit.
    const scripted = bridge.commands.filter((c) => c.startsWith("EVAL"));
    assert.deepEqual(scripted, ["EVALSHA", "EVAL", "EVALSHA", "EVALSHA"]);
  },
);
