/**
 * `deno task webhook:listen` verifies what the service signs: deliveries
 * made with `webhooks/signature.ts` (one secret, two during a rotation, the
 * previous one alone) verify, a wrong secret, an altered body and a stale
 * timestamp do not, each said in its line; it never prints a secret and
 * stops cleanly on Ctrl-C.
 */
import assert from "node:assert/strict";
import { newWebhookSecret, webhookHeaders } from "../../webhooks/signature.ts";
import { clockEnv } from "../../tools/clock_env.ts";
import {
  DEFAULT_API_URL,
  DEFAULT_LISTEN_HOST,
  DEFAULT_LISTEN_PORT,
  DEFAULT_LISTEN_STATUS,
  describeDelivery,
  type ListenOptions,
  parseListenArgs,
  receiverUrl,
  startBanner,
  verifyDelivery,
} from "../../tools/webhook_listen.ts";

const ROOT = new URL("../../", import.meta.url);
const SCRIPT = "tools/webhook_listen.ts";

/** The Deno flags of `deno task webhook:listen`, so the test runs what users run. */
function taskFlags(): string[] {
  const tasks = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", ROOT)),
  ).tasks;
  const words = String(tasks["webhook:listen"]).split(" ");
  assert.deepEqual(words.slice(0, 2), ["deno", "run"]);
  assert.equal(words.at(-1), SCRIPT);
  return words.slice(2, -1);
}

/** The body of a delivery (docs/webhooks.md, "What a delivery looks like"). */
function eventBody(
  type: string,
  data: Record<string, unknown>,
  id = `evt_${crypto.randomUUID()}`,
): { id: string; body: string } {
  return {
    id,
    body: JSON.stringify({
      id,
      type,
      timestamp: "2026-11-28T14:00:00.000Z",
      data,
    }),
  };
}

const ORDER_ID = "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10";

function orderData(status: string, previous: string | null) {
  return {
    order_id: ORDER_ID,
    user_id: 42,
    version: 3,
    status,
    previous_status: previous,
    total: "25.00",
    currency: "USD",
    changed: ["status"],
  };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Headers of a delivery of `body` with `id`, signed now (or at `timestamp`). */
function signed(
  message: { id: string; body: string },
  secrets: string[],
  timestamp = nowSeconds(),
): Headers {
  return new Headers({
    ...webhookHeaders({ ...message, timestamp }, secrets),
  });
}

function options(overrides: Partial<ListenOptions> = {}): ListenOptions {
  return {
    secrets: [],
    hostname: DEFAULT_LISTEN_HOST,
    port: DEFAULT_LISTEN_PORT,
    status: DEFAULT_LISTEN_STATUS,
    retryAfter: undefined,
    json: false,
    api: DEFAULT_API_URL,
    ...overrides,
  };
}

Deno.test("parseListenArgs reads secrets from repeated flags or comma-separated, else WEBHOOK_SECRET, and the defaults", async (t) => {
  const [a, b, c] = [
    newWebhookSecret(),
    newWebhookSecret(),
    newWebhookSecret(),
  ];
  const cases: [
    string,
    string[],
    string | undefined,
    Partial<ListenOptions>,
  ][] = [
    ["defaults, no secret", [], undefined, {}],
    ["one secret from the environment", [], a, { secrets: [a] }],
    ["two from the environment", [], `${a}, ${b}`, { secrets: [a, b] }],
    ["flags win over the environment", ["--secret", b], a, {
      secrets: [b],
    }],
    [
      "repeated and comma-separated flags",
      [
        "--secret",
        `${a},${b}`,
        "--secret",
        c,
      ],
      undefined,
      { secrets: [a, b, c] },
    ],
    [
      "every option",
      [
        "--port=0",
        "--host",
        "0.0.0.0",
        "--status",
        "503",
        "--retry-after",
        "30",
        "--json",
        "--api",
        "http://localhost:9000/",
      ],
      undefined,
      {
        hostname: "0.0.0.0",
        port: 0,
        status: 503,
        retryAfter: 30,
        json: true,
        api: "http://localhost:9000",
      },
    ],
  ];
  for (const [name, args, env, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(
        parseListenArgs(args, { WEBHOOK_SECRET: env }),
        { ok: true, options: options(expected) },
      );
    });
  }
});

Deno.test("parseListenArgs refuses a bad secret without printing it, a bad port, status, delay, URL or option", async (t) => {
  const good = newWebhookSecret();
  const short = `whsec_${btoa("too short")}`;
  const cases: [string[], RegExp][] = [
    [
      ["--secret", `${good},${short}`],
      /^secret 2 is not a webhook secret: its key must be 24 to 64 bytes, not 9$/,
    ],
    [
      ["--secret", good.slice(6)],
      /^secret 1 is not a webhook secret: it must start with "whsec_"$/,
    ],
    [
      ["--port", "70000"],
      /--port must be a port number from 0 \(any free port\) to 65535, not "70000"/,
    ],
    [["--port=-1"], /--port must be/],
    [
      ["--status", "302x"],
      /--status must be an HTTP status from 200 to 599, not "302x"/,
    ],
    [["--status", "101"], /--status must be/],
    [
      ["--retry-after", "soon"],
      /--retry-after must be whole seconds, not "soon"/,
    ],
    [
      ["--api", "localhost:8000"],
      /--api must be the service's http:\/\/ or https:\/\/ URL/,
    ],
    [["--host", ""], /--host must not be empty/],
    [["--secrets", good], /Unknown option '--secrets'/],
    [["8787"], /Unexpected argument '8787'/],
  ];
  for (const [args, message] of cases) {
    await t.step(
      args.join(" ").replaceAll(good, "<secret>").replaceAll(
        good.slice(6),
        "<secret without whsec_>",
      ),
      () => {
        const parsed = parseListenArgs(args);
        assert.ok(!parsed.ok);
        assert.match(parsed.problem, message);
        if (args[1]?.includes(good.slice(6, 20))) {
          assert.ok(!parsed.problem.includes(good.slice(6, 20)));
        }
      },
    );
  }
});

Deno.test("verifyDelivery accepts what signature.ts signs, with either secret of a rotation, and says why it refuses the rest", async (t) => {
  const [current, previous, other] = [
    newWebhookSecret(),
    newWebhookSecret(),
    newWebhookSecret(),
  ];
  const message = eventBody(
    "order.updated",
    orderData("shipped", "processing"),
  );
  const bytes = new TextEncoder().encode(message.body);
  const now = Date.now();
  await t.step("one secret, one signature", () => {
    assert.deepEqual(
      verifyDelivery(bytes, signed(message, [current]), [current], now),
      { kind: "verified", secret: 1, secrets: 1, signatures: 1 },
    );
  });
  await t.step(
    "a rotation: two signatures, checked with the previous secret alone",
    () => {
      assert.deepEqual(
        verifyDelivery(
          bytes,
          signed(message, [current, previous]),
          [previous],
          now,
        ),
        { kind: "verified", secret: 1, secrets: 1, signatures: 2 },
      );
    },
  );
  await t.step("signed with the previous secret of the two held", () => {
    assert.deepEqual(
      verifyDelivery(
        bytes,
        signed(message, [previous]),
        [current, previous],
        now,
      ),
      { kind: "verified", secret: 2, secrets: 2, signatures: 1 },
    );
  });
  await t.step("another secret", () => {
    assert.deepEqual(
      verifyDelivery(bytes, signed(message, [other]), [current, previous], now),
      {
        kind: "failed",
        reason:
          "no signature matches any of the 2 secrets given (1 signature checked over the raw body)",
      },
    );
  });
  await t.step("a body altered after signing (re-serialised JSON)", () => {
    const altered = new TextEncoder().encode(
      JSON.stringify(JSON.parse(message.body), null, 2),
    );
    const verdict = verifyDelivery(
      altered,
      signed(message, [current]),
      [current],
      now,
    );
    assert.deepEqual(verdict, {
      kind: "failed",
      reason:
        "no signature matches the secret given (1 signature checked over the raw body)",
    });
  });
  await t.step("a stale timestamp, the signature otherwise right", () => {
    const at = Math.floor(now / 1000) - 3600;
    assert.deepEqual(
      verifyDelivery(bytes, signed(message, [current], at), [current], now),
      {
        kind: "failed",
        reason:
          "webhook-timestamp is 3600 s in the past (a clock off, or an old request replayed), beyond the 300 s standardwebhooks accepts, although its signature matches",
      },
    );
  });
  await t.step("a timestamp in the future, signed with another secret", () => {
    const at = Math.floor(now / 1000) + 900;
    assert.deepEqual(
      verifyDelivery(bytes, signed(message, [other], at), [current], now),
      {
        kind: "failed",
        reason:
          "webhook-timestamp is 900 s in the future (a clock off), beyond the 300 s standardwebhooks accepts, and no signature matches the secret given either",
      },
    );
  });
  await t.step(
    "missing headers, a timestamp in milliseconds, no v1 signature",
    () => {
      const headers = signed(message, [current]);
      headers.delete("webhook-id");
      headers.delete("webhook-signature");
      assert.deepEqual(verifyDelivery(bytes, headers, [current], now), {
        kind: "failed",
        reason: "missing webhook-id and webhook-signature",
      });
      const millis = signed(message, [current]);
      millis.set("webhook-timestamp", "1.5e12");
      assert.deepEqual(verifyDelivery(bytes, millis, [current], now), {
        kind: "failed",
        reason: 'webhook-timestamp is not whole Unix seconds: "1.5e12"',
      });
      const v2 = signed(message, [current]);
      v2.set("webhook-signature", "v1a,abc=");
      assert.deepEqual(verifyDelivery(bytes, v2, [current], now), {
        kind: "failed",
        reason: "webhook-signature holds no v1 signature",
      });
    },
  );
  await t.step("no secret given: not checked", () => {
    assert.deepEqual(
      verifyDelivery(bytes, signed(message, [current]), [], now),
      { kind: "unchecked" },
    );
  });
});

Deno.test("describeDelivery prints time, type, webhook-id, the order or endpoint, the statuses, the verdict and the answer", async (t) => {
  const receivedAt = new Date("2026-11-28T14:00:01.250Z");
  const encode = (text: string) => new TextEncoder().encode(text);
  const headersOf = (id: string) =>
    new Headers({ "webhook-id": id, "webhook-timestamp": "0" });
  const updated = eventBody(
    "order.updated",
    orderData("shipped", "processing"),
    "evt_1",
  );
  const created = eventBody(
    "order.created",
    orderData("pending", null),
    "evt_2",
  );
  const test = eventBody("webhook.test", { endpoint_id: "wh_9" }, "evt_3");
  const cases: [
    string,
    string,
    string,
    Parameters<typeof describeDelivery>[0]["verification"],
    number,
    string,
  ][] = [
    [
      "order.updated, verified",
      updated.body,
      "evt_1",
      { kind: "verified", secret: 1, secrets: 1, signatures: 1 },
      204,
      `2026-11-28T14:00:01.250Z order.updated evt_1 order_id=${ORDER_ID} status=shipped previous_status=processing · verified · answered 204`,
    ],
    [
      "order.created during a rotation, by the previous secret",
      created.body,
      "evt_2",
      { kind: "verified", secret: 2, secrets: 2, signatures: 2 },
      200,
      `2026-11-28T14:00:01.250Z order.created evt_2 order_id=${ORDER_ID} status=pending previous_status=null · verified (secret 2 of 2, 2 signatures) · answered 200`,
    ],
    [
      "webhook.test, not verified",
      test.body,
      "evt_3",
      { kind: "failed", reason: "no signature matches the secret given" },
      400,
      "2026-11-28T14:00:01.250Z webhook.test evt_3 endpoint_id=wh_9 · NOT VERIFIED: no signature matches the secret given · answered 400",
    ],
    [
      "not checked, and a body id that differs",
      updated.body,
      "evt_other",
      { kind: "unchecked" },
      204,
      `2026-11-28T14:00:01.250Z order.updated evt_other order_id=${ORDER_ID} status=shipped previous_status=processing (body id evt_1 differs from webhook-id) · signature not checked (no --secret or WEBHOOK_SECRET) · answered 204`,
    ],
    [
      "a body that is not JSON",
      "order shipped",
      "evt_4",
      { kind: "unchecked" },
      204,
      "2026-11-28T14:00:01.250Z (body is not a JSON event) evt_4 · signature not checked (no --secret or WEBHOOK_SECRET) · answered 204",
    ],
    [
      "hostile values are quoted and escaped, never sent to the terminal raw",
      JSON.stringify({
        type: "order.updated\u001b[2J",
        data: { order_id: "a b", status: { x: 1 } },
      }),
      "evt_5",
      { kind: "unchecked" },
      204,
      '2026-11-28T14:00:01.250Z "order.updated\\u001b[2J" evt_5 order_id="a b" status="{\\"x\\":1}" · signature not checked (no --secret or WEBHOOK_SECRET) · answered 204',
    ],
  ];
  for (const [name, body, id, verification, answered, line] of cases) {
    await t.step(name, () => {
      assert.equal(
        describeDelivery({
          receivedAt,
          headers: headersOf(id),
          body: encode(body),
          verification,
          answered,
        }),
        line,
      );
    });
  }
});

Deno.test("receiverUrl and startBanner: the URL to register, WEBHOOK_ALLOW_HOSTS and a curl command, never a secret", () => {
  assert.equal(receiverUrl("127.0.0.1", 8787), "http://127.0.0.1:8787/");
  assert.equal(receiverUrl("0.0.0.0", 8787), "http://127.0.0.1:8787/");
  assert.equal(receiverUrl("::1", 9000), "http://[::1]:9000/");
  const secret = newWebhookSecret();
  const banner = startBanner(
    options({ secrets: [secret] }),
    "http://127.0.0.1:8787/",
  );
  assert.match(
    banner,
    /^Listening for webhook deliveries on http:\/\/127\.0\.0\.1:8787\/ \(answering 204; signatures checked with 1 secret, a failure answered 400\)\n/,
  );
  assert.match(banner, /WEBHOOK_ALLOW_HOSTS=127\.0\.0\.1/);
  assert.ok(
    banner.includes(
      `curl -s -X POST http://127.0.0.1:8000/v1/webhook-endpoints -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"url":"http://127.0.0.1:8787/","description":"deno task webhook:listen"}'`,
    ),
  );
  assert.ok(!banner.includes(secret.slice(6)));
  assert.match(
    startBanner(options(), "http://127.0.0.1:8787/"),
    /Then start again with --secret/,
  );
});

/** `deno task webhook:listen` as a subprocess, read line by line. */
interface RunningListener {
  /** The URL it printed to register. */
  readonly url: string;
  /** The next line it prints on stdout. */
  nextLine(): Promise<string>;
  /** Everything it printed on stderr so far. */
  errors(): string;
  /** Sends SIGINT and waits for the exit; returns the code and the rest of stdout. */
  interrupt(): Promise<{ code: number; rest: string }>;
}

/** `deno run` of the tool as the task runs it, on any free port, with `args`. */
function toolArgs(args: string[]): string[] {
  return [
    "run",
    ...taskFlags(),
    new URL(SCRIPT, ROOT).pathname,
    "--port",
    "0",
    ...args,
  ];
}

async function startTool(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunningListener> {
  const child = new Deno.Command(Deno.execPath(), {
    args: toolArgs(args),
    env: { ...clockEnv(), ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let errors = "";
  const errorReader = child.stderr.getReader();
  let url: string | undefined;
  while (url === undefined) {
    const { done, value } = await errorReader.read();
    if (done) {
      await child.stdout.cancel();
      await child.status;
      throw new Error(`webhook:listen exited before listening: ${errors}`);
    }
    errors += decoder.decode(value, { stream: true });
    url = /^Listening for webhook deliveries on (\S+) /m.exec(errors)?.[1];
  }
  const errorsDone = (async () => {
    for (;;) {
      const { done, value } = await errorReader.read();
      if (done) return;
      errors += decoder.decode(value, { stream: true });
    }
  })();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  async function nextLine(): Promise<string> {
    for (;;) {
      const end = buffered.indexOf("\n");
      if (end !== -1) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        return line;
      }
      const { done, value } = await lines.read();
      if (done) throw new Error(`webhook:listen closed stdout: ${errors}`);
      buffered += value;
    }
  }
  return {
    url,
    nextLine,
    errors: () => errors,
    async interrupt() {
      child.kill("SIGINT");
      const { code } = await child.status;
      for (;;) {
        const { done, value } = await lines.read();
        if (done) break;
        buffered += value;
      }
      await errorsDone;
      return { code, rest: buffered };
    },
  };
}

/** POSTs a delivery and returns the status and Retry-After it was answered with. */
async function deliver(
  url: string,
  headers: Headers,
  body: string,
): Promise<{ status: number; retryAfter: string | null }> {
  const response = await fetch(url, { method: "POST", headers, body });
  await response.body?.cancel();
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
  };
}

Deno.test("deno task webhook:listen verifies deliveries signed by signature.ts, with either secret of a rotation, and refuses the rest", async () => {
  const [current, previous, other] = [
    newWebhookSecret(),
    newWebhookSecret(),
    newWebhookSecret(),
  ];
  const tool = await startTool([], {
    WEBHOOK_SECRET: `${current},${previous}`,
  });
  const { url } = tool;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.match(tool.errors(), /WEBHOOK_ALLOW_HOSTS=127\.0\.0\.1/);
  assert.ok(tool.errors().includes(`-d '{"url":"${url}",`));
  const iso = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
  const order = `order_id=${ORDER_ID}`;
  const exchanges: [string, () => Promise<{ status: number }>, RegExp][] = [];
  const updated = eventBody(
    "order.updated",
    orderData("shipped", "processing"),
  );
  exchanges.push([
    "two signatures, as during a rotation",
    () => deliver(url, signed(updated, [current, previous]), updated.body),
    new RegExp(
      `^${iso} order\\.updated ${updated.id} ${order} status=shipped previous_status=processing · verified \\(secret 1 of 2, 2 signatures\\) · answered 204$`,
    ),
  ]);
  const created = eventBody("order.created", orderData("pending", null));
  exchanges.push([
    "signed with the previous secret alone",
    () => deliver(url, signed(created, [previous]), created.body),
    new RegExp(
      `^${iso} order\\.created ${created.id} ${order} status=pending previous_status=null · verified \\(secret 2 of 2\\) · answered 204$`,
    ),
  ]);
  const test = eventBody("webhook.test", { endpoint_id: "wh_0192" });
  exchanges.push([
    "a test event",
    () => deliver(url, signed(test, [current]), test.body),
    new RegExp(
      `^${iso} webhook\\.test ${test.id} endpoint_id=wh_0192 · verified \\(secret 1 of 2\\) · answered 204$`,
    ),
  ]);
  const cancelled = eventBody(
    "order.cancelled",
    orderData("cancelled", "pending"),
  );
  exchanges.push([
    "a bad signature",
    () => deliver(url, signed(cancelled, [other]), cancelled.body),
    new RegExp(
      `^${iso} order\\.cancelled ${cancelled.id} ${order} status=cancelled previous_status=pending · NOT VERIFIED: no signature matches any of the 2 secrets given \\(1 signature checked over the raw body\\) · answered 400$`,
    ),
  ]);
  exchanges.push([
    "a body altered after signing",
    () =>
      deliver(
        url,
        signed(cancelled, [current]),
        cancelled.body.replace('"USD"', '"EUR"'),
      ),
    / · NOT VERIFIED: no signature matches any of the 2 secrets given .* · answered 400$/,
  ]);
  exchanges.push([
    "a stale timestamp",
    () =>
      deliver(
        url,
        signed(updated, [current], nowSeconds() - 3600),
        updated.body,
      ),
    / · NOT VERIFIED: webhook-timestamp is \d+ s in the past \(a clock off, or an old request replayed\), beyond the 300 s standardwebhooks accepts, although its signature matches secret 1 · answered 400$/,
  ]);
  let failure: unknown;
  try {
    for (const [name, send, line] of exchanges) {
      const { status } = await send();
      const printed = await tool.nextLine();
      assert.match(printed, line, name);
      assert.equal(status, /answered 204$/.test(printed) ? 204 : 400, name);
    }
  } catch (error) {
    failure = error;
  }
  const { code, rest } = await tool.interrupt();
  if (failure) throw failure;
  assert.equal(code, 0, tool.errors());
  assert.equal(rest, "");
  assert.match(tool.errors(), /Stopped after 6 request\(s\)\n$/);
  for (const secret of [current, previous]) {
    assert.ok(!tool.errors().includes(secret.slice(6)), "a secret was printed");
  }
});

Deno.test("deno task webhook:listen answers --status with --retry-after, prints bodies with --json, and takes --secret flags", async () => {
  const secret = newWebhookSecret();
  const tool = await startTool([
    "--secret",
    secret,
    "--status",
    "503",
    "--retry-after",
    "30",
    "--json",
  ]);
  let failure: unknown;
  try {
    assert.match(tool.errors(), /answering 503 with Retry-After: 30/);
    const updated = eventBody(
      "order.updated",
      orderData("delivered", "shipped"),
    );
    const reply = await deliver(
      tool.url,
      signed(updated, [secret]),
      updated.body,
    );
    assert.deepEqual(reply, { status: 503, retryAfter: "30" });
    assert.match(
      await tool.nextLine(),
      new RegExp(
        ` order\\.updated ${updated.id} .* · verified · answered 503$`,
      ),
    );
    assert.equal(await tool.nextLine(), updated.body);
    const get = await fetch(tool.url);
    await get.body?.cancel();
    assert.equal(get.status, 405);
    assert.match(
      await tool.nextLine(),
      / GET \/ ignored: deliveries are POST requests · answered 405$/,
    );
  } catch (error) {
    failure = error;
  }
  const { code } = await tool.interrupt();
  if (failure) throw failure;
  assert.equal(code, 0);
  assert.ok(!tool.errors().includes(secret.slice(6)));
});

Deno.test("deno task webhook:listen refuses a malformed secret without printing it", async () => {
  const secret = `whsec_${btoa("far too short for a key")}!`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: toolArgs([]),
    env: { ...clockEnv(), WEBHOOK_SECRET: secret },
    clearEnv: true,
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 2);
  assert.equal(output.stdout.length, 0);
  assert.match(
    stderr,
    /^Cannot listen: secret 1 is not a webhook secret: the part after "whsec_" must be padded base64\nUsage: deno task webhook:listen/,
  );
  assert.ok(!stderr.includes(secret.slice(6)));
});
