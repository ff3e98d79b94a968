/**
 * Standard Webhooks signing, checked three ways: the specification's
 * published test vector, an HMAC computed here by hand with node:crypto,
 * and the official `standardwebhooks` package verifying what we send.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac, randomBytes } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import {
  newWebhookSecret,
  parseWebhookSecret,
  signWebhook,
  webhookHeaders,
  type WebhookMessage,
} from "../../webhooks/signature.ts";

/** The Standard Webhooks reference implementations' test vector. */
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  message: {
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
  },
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
} as const;

/** A secret of 32 fixed bytes (0, 1, …, 31). */
const FIXED_SECRET = "whsec_" +
  Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString("base64");

const EVENT_ID = "evt_0192f0c4-6f1e-7c3a-9d2b-1a2b3c4d5e6f";
const BODY = JSON.stringify({
  id: EVENT_ID,
  type: "order.updated",
  timestamp: "2026-11-28T14:00:00.000Z",
  data: { order_id: "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10", version: 3 },
});

/** Unix seconds now: the official verifier accepts only ±5 minutes. */
function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The signature computed by hand over the UTF-8 bytes of the content. */
function handSignature(secret: string, message: WebhookMessage): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const content = Buffer.from(
    `${message.id}.${message.timestamp}.${message.body}`,
    "utf8",
  );
  return `v1,${createHmac("sha256", key).update(content).digest("base64")}`;
}

/** Whether the official package accepts the delivery. */
function officialVerifies(
  secret: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
): boolean {
  try {
    new Webhook(secret).verify(body, headers, { jsonParse: false });
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

Deno.test("signWebhook reproduces the Standard Webhooks published test vector", () => {
  assert.equal(signWebhook(VECTOR.message, [VECTOR.secret]), VECTOR.signature);
  // The official package, signing the same content, agrees.
  assert.equal(
    new Webhook(VECTOR.secret).sign(
      VECTOR.message.id,
      new Date(VECTOR.message.timestamp * 1000),
      VECTOR.message.body,
    ),
    VECTOR.signature,
  );
});

Deno.test("signWebhook equals an HMAC-SHA256 computed by hand over <id>.<timestamp>.<body>", () => {
  const message = { id: EVENT_ID, timestamp: 1_795_000_000, body: BODY };
  const signature = signWebhook(message, [FIXED_SECRET]);
  assert.equal(signature, handSignature(FIXED_SECRET, message));
  assert.match(signature, /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.equal(
    new Webhook(FIXED_SECRET).sign(
      message.id,
      new Date(message.timestamp * 1000),
      message.body,
    ),
    signature,
  );
});

Deno.test("the official standardwebhooks verifier accepts a delivery's headers and body", () => {
  const secret = newWebhookSecret();
  const headers = webhookHeaders(
    { id: EVENT_ID, timestamp: nowSeconds(), body: BODY },
    [secret],
  );
  // verify returns the parsed body when the signature matches.
  assert.deepEqual(
    new Webhook(secret).verify(BODY, { ...headers }),
    JSON.parse(BODY),
  );
  // And as bytes off the wire.
  assert.ok(
    officialVerifies(secret, new TextEncoder().encode(BODY), { ...headers }),
  );
  // Another secret does not verify it.
  assert.equal(
    officialVerifies(newWebhookSecret(), BODY, { ...headers }),
    false,
  );
});

Deno.test("webhookHeaders are the four headers of a delivery, and nothing else", () => {
  const message = { id: EVENT_ID, timestamp: 1_795_000_000, body: BODY };
  const headers = webhookHeaders(message, [FIXED_SECRET]);
  assert.deepEqual(headers, {
    "content-type": "application/json",
    "webhook-id": EVENT_ID,
    "webhook-timestamp": "1795000000",
    "webhook-signature": handSignature(FIXED_SECRET, message),
  });
  // They travel as they are on a fetch request.
  const request = new Request("https://hooks.example.com/orders", {
    method: "POST",
    headers: { ...headers },
    body: BODY,
  });
  assert.equal(request.headers.get("Webhook-Timestamp"), "1795000000");
  assert.equal(request.headers.get("Content-Type"), "application/json");
});

Deno.test("two secrets give two signatures, new first, each verifying on its own", () => {
  const newSecret = newWebhookSecret();
  const oldSecret = newWebhookSecret();
  const message = { id: EVENT_ID, timestamp: nowSeconds(), body: BODY };
  const headers = webhookHeaders(message, [newSecret, oldSecret]);
  const signatures = headers["webhook-signature"].split(" ");
  assert.deepEqual(signatures, [
    handSignature(newSecret, message),
    handSignature(oldSecret, message),
  ]);
  assert.notEqual(signatures[0], signatures[1]);
  // A receiver that still holds the old secret, and one already on the new.
  assert.ok(officialVerifies(newSecret, BODY, { ...headers }));
  assert.ok(officialVerifies(oldSecret, BODY, { ...headers }));
  assert.equal(
    officialVerifies(newWebhookSecret(), BODY, { ...headers }),
    false,
  );
  // Each signature alone is enough.
  for (
    const [secret, signature] of [[newSecret, signatures[0]], [
      oldSecret,
      signatures[1],
    ]] as const
  ) {
    assert.ok(
      officialVerifies(secret, BODY, {
        ...headers,
        "webhook-signature": signature ?? "",
      }),
    );
  }
});

Deno.test("a body with non-ASCII characters is signed as its UTF-8 bytes", () => {
  const body = JSON.stringify({ note: "Zoë’s café — 日本 🚚" });
  const message = { id: EVENT_ID, timestamp: nowSeconds(), body };
  const signature = signWebhook(message, [FIXED_SECRET]);
  assert.equal(signature, handSignature(FIXED_SECRET, message));
  // Not Latin-1 or UTF-16 code units: a byte-wise mistake would differ.
  const key = parseWebhookSecret(FIXED_SECRET);
  const content = `${message.id}.${message.timestamp}.${body}`;
  for (const encoding of ["latin1", "utf16le"] as const) {
    const wrong = createHmac("sha256", key)
      .update(Buffer.from(content, encoding))
      .digest("base64");
    assert.notEqual(signature, `v1,${wrong}`);
  }
  const headers = { ...webhookHeaders(message, [FIXED_SECRET]) };
  assert.ok(officialVerifies(FIXED_SECRET, body, headers));
  assert.ok(
    officialVerifies(FIXED_SECRET, new TextEncoder().encode(body), headers),
  );
});

Deno.test("a tampered body, id or timestamp fails verification", async (t) => {
  const secret = newWebhookSecret();
  const timestamp = nowSeconds();
  const headers = {
    ...webhookHeaders({ id: EVENT_ID, timestamp, body: BODY }, [secret]),
  };
  assert.ok(officialVerifies(secret, BODY, headers), "the original verifies");
  const cases: [string, string, Record<string, string>][] = [
    ["body", BODY.replace('"version":3', '"version":4'), headers],
    ["body with a trailing newline", `${BODY}\n`, headers],
    ["id", BODY, { ...headers, "webhook-id": `${EVENT_ID}x` }],
    // Within the verifier's 5-minute tolerance: only the signature fails.
    ["timestamp", BODY, {
      ...headers,
      "webhook-timestamp": String(timestamp + 1),
    }],
    ["signature", BODY, {
      ...headers,
      "webhook-signature": headers["webhook-signature"].replace(
        /^v1,./,
        (head) => head.endsWith("A") ? "v1,B" : "v1,A",
      ),
    }],
  ];
  for (const [name, body, tampered] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => new Webhook(secret).verify(body, tampered),
        (error: unknown) =>
          error instanceof WebhookVerificationError &&
          error.message === "No matching signature found",
      );
    });
  }
});

Deno.test("newWebhookSecret is whsec_ and the base64 of 32 random bytes", () => {
  const secrets = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const secret = newWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(parseWebhookSecret(secret).length, 32);
    secrets.add(secret);
  }
  assert.equal(secrets.size, 20);
});

Deno.test("parseWebhookSecret returns the decoded key after whsec_", () => {
  const bytes = randomBytes(32);
  const key = parseWebhookSecret(`whsec_${bytes.toString("base64")}`);
  assert.ok(key instanceof Uint8Array);
  assert.deepEqual([...key], [...bytes]);
  // The published vector's 24-byte key is accepted too.
  assert.equal(parseWebhookSecret(VECTOR.secret).length, 24);
});

Deno.test("parseWebhookSecret refuses malformed secrets without echoing them", async (t) => {
  const base64Of = (n: number) => Buffer.alloc(n, 7).toString("base64");
  const cases: [string, string, RegExp][] = [
    ["no prefix", base64Of(32), /must start with "whsec_"/],
    ["upper-case prefix", `WHSEC_${base64Of(32)}`, /must start with "whsec_"/],
    ["another provider's prefix", `sk_${base64Of(32)}`, /must start/],
    ["empty", "", /must start with "whsec_"/],
    ["prefix only", "whsec_", /must be padded base64/],
    ["not base64", `whsec_${"*".repeat(44)}`, /must be padded base64/],
    [
      "base64url alphabet",
      `whsec_${base64Of(32).replace(/^./, "-")}`,
      /must be padded base64/,
    ],
    ["missing padding", `whsec_${base64Of(32).replace(/=+$/, "")}`, /base64/],
    ["inner whitespace", `whsec_${base64Of(30)} ${base64Of(3)}`, /base64/],
    ["16-byte key", `whsec_${base64Of(16)}`, /24 to 64 bytes, not 16/],
    ["65-byte key", `whsec_${base64Of(65)}`, /24 to 64 bytes, not 65/],
  ];
  for (const [name, secret, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseWebhookSecret(secret), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /^Invalid webhook secret: /);
        assert.match(error.message, message);
        const encoded = secret.replace(/^whsec_/, "");
        if (encoded.length > 8) {
          assert.ok(!error.message.includes(encoded), "echoes the secret");
        }
        return true;
      });
    });
  }
});

Deno.test("signWebhook refuses what cannot make a valid header", async (t) => {
  const good = { id: EVENT_ID, timestamp: 1_795_000_000, body: BODY };
  const cases: [string, WebhookMessage, string[], RegExp][] = [
    ["no secret", good, [], /no secret given/],
    ["a malformed secret among good ones", good, [
      FIXED_SECRET,
      "whsec_short",
    ], /Invalid webhook secret/],
    ["milliseconds", { ...good, timestamp: 1_795_000_000_000 }, [
      FIXED_SECRET,
    ], /whole Unix seconds/],
    ["fractional seconds", { ...good, timestamp: 1_795_000_000.5 }, [
      FIXED_SECRET,
    ], /whole Unix seconds/],
    ["negative", { ...good, timestamp: -1 }, [FIXED_SECRET], /Unix seconds/],
    ["NaN", { ...good, timestamp: NaN }, [FIXED_SECRET], /Unix seconds/],
    ["empty id", { ...good, id: "" }, [FIXED_SECRET], /the id must be/],
    ["id with a space", { ...good, id: "evt_1 2" }, [FIXED_SECRET], /id/],
    ["id with a newline", { ...good, id: "evt_1\r\nx-a: b" }, [
      FIXED_SECRET,
    ], /id/],
    ["non-ASCII id", { ...good, id: "evt_é" }, [FIXED_SECRET], /id/],
  ];
  for (const [name, message, secrets, expected] of cases) {
    await t.step(name, () => {
      assert.throws(() => signWebhook(message, secrets), expected);
    });
  }
});

Deno.test("an empty body is signed and verifies", () => {
  const message = { id: EVENT_ID, timestamp: nowSeconds(), body: "" };
  const headers = { ...webhookHeaders(message, [FIXED_SECRET]) };
  assert.equal(
    headers["webhook-signature"],
    handSignature(FIXED_SECRET, message),
  );
  assert.ok(officialVerifies(FIXED_SECRET, "", headers));
});
