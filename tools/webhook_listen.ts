/**
 * `deno task webhook:listen [--secret whsec_…]… [--port 8787] [--host
 * 127.0.0.1] [--status 204] [--retry-after <s>] [--json] [--api <url>]`: a
 * local receiver for webhook deliveries, for developers (like
 * `stripe listen`). It prints the URL to register and a curl command that
 * registers it, then one line per delivery on stdout: when it came, its
 * type, `webhook-id`, the order (or the endpoint of a `webhook.test`), the
 * status move, and whether its signature verified with the `standardwebhooks`
 * package — and why not. Several secrets (a rotation) are given as a
 * repeated flag or comma-separated, in `--secret` or `WEBHOOK_SECRET`. It
 * answers `--status` (a failed signature check: 400, as a receiver should),
 * never prints a secret, and stops cleanly on Ctrl-C. See docs/webhooks.md.
 */
import { parseArgs } from "node:util";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { parseWebhookSecret } from "../webhooks/signature.ts";

/** The port the receiver listens on unless told otherwise. */
export const DEFAULT_LISTEN_PORT = 8787;

/** The address the receiver listens on unless told otherwise. */
export const DEFAULT_LISTEN_HOST = "127.0.0.1";

/** The status a delivery is answered with unless told otherwise. */
export const DEFAULT_LISTEN_STATUS = 204;

/** The service the printed registration command talks to by default. */
export const DEFAULT_API_URL = "http://127.0.0.1:8000";

/**
 * How far `webhook-timestamp` may be from now, in seconds: fixed at 5
 * minutes inside the `standardwebhooks` package, restated to explain a refusal.
 */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

/** The status a delivery whose signature does not verify is answered with. */
export const UNVERIFIED_STATUS = 400;

/** The usage line printed with every refusal. */
export const USAGE =
  "Usage: deno task webhook:listen [--secret whsec_…]… [--port 8787] [--host 127.0.0.1] [--status 204] [--retry-after <seconds>] [--json] [--api http://127.0.0.1:8000]";

/** What the receiver was asked to do. */
export interface ListenOptions {
  /** The secrets to verify with, in the order given; empty: not checked. */
  readonly secrets: readonly string[];
  readonly hostname: string;
  /** 0: any free port. */
  readonly port: number;
  /** The status a delivery is answered with (200–599). */
  readonly status: number;
  /** Seconds sent as `Retry-After` with every answer, when set. */
  readonly retryAfter?: number | undefined;
  /** Print each raw body after its line. */
  readonly json: boolean;
  /** The service the printed registration command talks to. */
  readonly api: string;
}

/** The outcome of reading the command line. */
export type ParsedArgs =
  | { readonly ok: true; readonly options: ListenOptions }
  | { readonly ok: false; readonly problem: string };

/**
 * Reads the command line, and `WEBHOOK_SECRET` when no `--secret` is given.
 * Every secret must be a `whsec_` secret the service could have issued; a
 * problem names the secret by position, never by value.
 */
export function parseListenArgs(
  args: readonly string[],
  env: { readonly WEBHOOK_SECRET?: string | undefined } = {},
): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        secret: { type: "string", multiple: true },
        port: { type: "string", default: String(DEFAULT_LISTEN_PORT) },
        host: { type: "string", default: DEFAULT_LISTEN_HOST },
        status: { type: "string", default: String(DEFAULT_LISTEN_STATUS) },
        "retry-after": { type: "string" },
        json: { type: "boolean", default: false },
        api: { type: "string", default: DEFAULT_API_URL },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error));
  }
  const given = values.secret ?? [env.WEBHOOK_SECRET ?? ""];
  const secrets = given.flatMap((list) => list.split(","))
    .map((secret) => secret.trim()).filter((secret) => secret !== "");
  for (const [index, secret] of secrets.entries()) {
    try {
      parseWebhookSecret(secret);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return refuse(
        `secret ${index + 1} is not a webhook secret: ${
          why.replace(/^Invalid webhook secret: /, "")
        }`,
      );
    }
  }
  const port = wholeNumber(values.port);
  if (!(port >= 0 && port <= 65_535)) {
    return refuse(
      `--port must be a port number from 0 (any free port) to 65535, not ${
        JSON.stringify(values.port)
      }`,
    );
  }
  const hostname = values.host ?? "";
  if (hostname === "") return refuse("--host must not be empty");
  const status = wholeNumber(values.status);
  if (!(status >= 200 && status <= 599)) {
    return refuse(
      `--status must be an HTTP status from 200 to 599, not ${
        JSON.stringify(values.status)
      }`,
    );
  }
  const retryAfterText = values["retry-after"];
  const retryAfter = retryAfterText === undefined
    ? undefined
    : wholeNumber(retryAfterText);
  if (retryAfter !== undefined && !(retryAfter >= 0)) {
    return refuse(
      `--retry-after must be whole seconds, not ${
        JSON.stringify(retryAfterText)
      }`,
    );
  }
  const api = (values.api ?? "").replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s'"\\]+$/.test(api)) {
    return refuse(
      `--api must be the service's http:// or https:// URL, not ${
        JSON.stringify(values.api)
      }`,
    );
  }
  return {
    ok: true,
    options: {
      secrets,
      hostname,
      port,
      status,
      retryAfter,
      json: values.json ?? false,
      api,
    },
  };
}

function refuse(problem: string): ParsedArgs {
  return { ok: false, problem };
}

/** A string of digits as a number, anything else NaN. */
function wholeNumber(text: string | undefined): number {
  return /^[0-9]{1,9}$/.test(text ?? "") ? Number(text) : NaN;
}

/** Whether, and how, a delivery's signature verified. */
export type Verification =
  | {
    readonly kind: "verified";
    /** Which secret verified it, from 1, in the order given. */
    readonly secret: number;
    readonly secrets: number;
    /** How many signatures `webhook-signature` carried. */
    readonly signatures: number;
  }
  | { readonly kind: "unchecked" }
  | { readonly kind: "failed"; readonly reason: string };

/**
 * Verifies a delivery with `new Webhook(secret).verify(body, headers)` for
 * each secret until one accepts it. The package decides; when it refuses,
 * the reason says why in words: missing headers, a timestamp outside its
 * fixed 5-minute tolerance (seconds off, by `nowMs`, and whether the
 * signature matches all the same), or no signature matching.
 */
export function verifyDelivery(
  body: Uint8Array,
  headers: Headers,
  secrets: readonly string[],
  nowMs: number,
): Verification {
  if (secrets.length === 0) return { kind: "unchecked" };
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signature = headers.get("webhook-signature");
  const missing = [
    id === null && "webhook-id",
    timestamp === null && "webhook-timestamp",
    signature === null && "webhook-signature",
  ].filter((name) => name !== false);
  if (id === null || timestamp === null || signature === null) {
    return { kind: "failed", reason: `missing ${missing.join(" and ")}` };
  }
  if (!/^[0-9]{1,15}$/.test(timestamp)) {
    return {
      kind: "failed",
      reason: `webhook-timestamp is not whole Unix seconds: ${
        quoted(timestamp)
      }`,
    };
  }
  const passed = signature.split(" ").filter((part) => part !== "");
  const record = Object.fromEntries(headers);
  let timestampRefused = false;
  for (const [index, secret] of secrets.entries()) {
    try {
      new Webhook(secret).verify(body, record, { jsonParse: false });
      return {
        kind: "verified",
        secret: index + 1,
        secrets: secrets.length,
        signatures: passed.length,
      };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      if (/timestamp too (old|new)/.test(error.message)) {
        timestampRefused = true;
      }
    }
  }
  const which = secrets.length === 1
    ? "the secret given"
    : `any of the ${secrets.length} secrets given`;
  const matching = secrets.findIndex((secret) =>
    passed.includes(
      new Webhook(secret).sign(id, new Date(Number(timestamp) * 1000), body),
    )
  );
  if (timestampRefused) {
    const offBy = Math.floor(nowMs / 1000) - Number(timestamp);
    const when = offBy >= 0
      ? `${offBy} s in the past (a clock off, or an old request replayed)`
      : `${-offBy} s in the future (a clock off)`;
    const match = matching === -1
      ? `and no signature matches ${which} either`
      : "although its signature matches" +
        (secrets.length === 1 ? "" : ` secret ${matching + 1}`);
    return {
      kind: "failed",
      reason:
        `webhook-timestamp is ${when}, beyond the ${TIMESTAMP_TOLERANCE_SECONDS} s standardwebhooks accepts, ${match}`,
    };
  }
  const v1 = passed.filter((part) => part.startsWith("v1,")).length;
  return {
    kind: "failed",
    reason: v1 === 0
      ? "webhook-signature holds no v1 signature"
      : `no signature matches ${which} (${v1} signature${
        v1 === 1 ? "" : "s"
      } checked over the raw body)`,
  };
}

/** One delivery as the receiver saw it. */
export interface Delivery {
  readonly receivedAt: Date;
  readonly headers: Headers;
  /** The raw body, as received. */
  readonly body: Uint8Array;
  readonly verification: Verification;
  /** The status it was answered with. */
  readonly answered: number;
}

/**
 * The line printed for a delivery: time, type, `webhook-id`, `order_id`
 * with `status` and `previous_status` (or `endpoint_id` for a
 * `webhook.test`), the signature's verdict and the answer. Values from the
 * request are printed as they are when plain, else quoted and escaped.
 */
export function describeDelivery(delivery: Delivery): string {
  const { receivedAt, headers, body, verification, answered } = delivery;
  const event = parseEvent(body);
  const id = headers.get("webhook-id");
  const parts = [
    receivedAt.toISOString(),
    event === undefined
      ? "(body is not a JSON event)"
      : shown(event.type ?? "(no type)"),
    id === null ? "(no webhook-id)" : shown(id),
  ];
  const data = event?.data;
  if (data !== undefined) {
    for (const field of ["order_id", "endpoint_id", "status"] as const) {
      if (field in data) parts.push(`${field}=${shown(data[field])}`);
    }
    if ("previous_status" in data) {
      parts.push(`previous_status=${shown(data.previous_status)}`);
    }
  }
  if (event?.id !== undefined && id !== null && event.id !== id) {
    parts.push(`(body id ${shown(event.id)} differs from webhook-id)`);
  }
  return `${parts.join(" ")} · ${verdict(verification)} · answered ${answered}`;
}

function verdict(verification: Verification): string {
  switch (verification.kind) {
    case "unchecked":
      return "signature not checked (no --secret or WEBHOOK_SECRET)";
    case "failed":
      return `NOT VERIFIED: ${verification.reason}`;
    case "verified": {
      const notes = [
        verification.secrets > 1 &&
        `secret ${verification.secret} of ${verification.secrets}`,
        verification.signatures > 1 &&
        `${verification.signatures} signatures`,
      ].filter((note) => note !== false);
      return notes.length === 0 ? "verified" : `verified (${notes.join(", ")})`;
    }
  }
}

interface ParsedEvent {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly data?: Readonly<Record<string, unknown>>;
}

function parseEvent(body: Uint8Array): ParsedEvent | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(body));
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return undefined;
    }
    const { id, type, data } = value as Record<string, unknown>;
    return {
      id,
      type,
      ...(typeof data === "object" && data !== null && !Array.isArray(data) &&
        { data: data as Record<string, unknown> }),
    };
  } catch {
    return undefined;
  }
}

/** The longest value printed from a request, in characters. */
const MAX_SHOWN = 120;

/**
 * A value from a request, safe for a terminal: printable ASCII without
 * spaces as it is, anything else (and every string that is not) quoted as
 * JSON with every character outside printable ASCII escaped, and cut short.
 */
function shown(value: unknown): string {
  if (typeof value === "string" && /^[\x21-\x7e]{1,120}$/.test(value)) {
    return value;
  }
  if (value === null || typeof value === "number" || value === undefined) {
    return String(value);
  }
  return quoted(
    typeof value === "string" ? value : JSON.stringify(value) ?? "",
  );
}

/** A value from a request in quotes, escaped and cut short. */
function quoted(text: string): string {
  const cut = text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
  return escapeForTerminal(JSON.stringify(cut));
}

/** Every character outside printable ASCII (and not a newline) as `\uXXXX`. */
function escapeForTerminal(text: string): string {
  return text.replace(
    /[^\x20-\x7e\n]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The URL to register for a receiver listening on `hostname:port`: a
 * wildcard address is reached on loopback, an IPv6 address in brackets.
 */
export function receiverUrl(hostname: string, port: number): string {
  const host = hostname === "0.0.0.0"
    ? "127.0.0.1"
    : hostname === "::"
    ? "[::1]"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  return `http://${host}:${port}/`;
}

/**
 * What the receiver prints when it starts: where it listens, what it
 * answers, and a command that registers it (with an admin token minted by
 * `deno task token`; the token is never printed here).
 */
export function startBanner(options: ListenOptions, url: string): string {
  const host = new URL(url).hostname;
  const body = JSON.stringify({
    url,
    description: "deno task webhook:listen",
  });
  const checks = options.secrets.length === 0
    ? "signatures not checked: no --secret or WEBHOOK_SECRET"
    : `signatures checked with ${options.secrets.length} secret${
      options.secrets.length === 1 ? "" : "s"
    }, a failure answered ${UNVERIFIED_STATUS}`;
  const answer = options.retryAfter === undefined
    ? `answering ${options.status}`
    : `answering ${options.status} with Retry-After: ${options.retryAfter}`;
  return [
    `Listening for webhook deliveries on ${url} (${answer}; ${checks})`,
    `Register it as an admin (the service must run with WEBHOOK_ALLOW_HOSTS=${host} to accept this http:// URL):`,
    `  ADMIN=$(deno task -q token --sub 1 --roles admin)`,
    `  curl -s -X POST ${options.api}/v1/webhook-endpoints -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '${body}'`,
    options.secrets.length === 0
      ? `Then start again with --secret <the "secret" it answers> (or WEBHOOK_SECRET) to check signatures.`
      : `Send a test event: curl -s -X POST ${options.api}/v1/webhook-endpoints/<id>/test -H "Authorization: Bearer $ADMIN"`,
    "Ctrl-C stops.",
  ].join("\n");
}

/** A running receiver. */
export interface Listener {
  /** The URL to register, with the port actually bound. */
  readonly url: string;
  /** How many requests it has answered. */
  readonly received: () => number;
  /** Stops listening once the requests in flight are answered. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/** Where the receiver writes: one call per line. */
export interface ListenOutput {
  /** A delivery's line (and, with `--json`, its body). */
  readonly line: (text: string) => void;
}

/**
 * Starts the receiver with `options`; each delivery is verified, answered
 * and described through `output`. Rejects when the address cannot be bound.
 */
export function startListener(
  options: ListenOptions,
  output: ListenOutput = { line: (text) => console.log(text) },
): Listener {
  let count = 0;
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
  }, async function receive(request) {
    const receivedAt = new Date();
    count++;
    if (request.method !== "POST") {
      await request.body?.cancel();
      output.line(
        `${receivedAt.toISOString()} ${request.method} ${
          shown(new URL(request.url).pathname)
        } ignored: deliveries are POST requests · answered 405`,
      );
      return new Response(null, { status: 405, headers: { Allow: "POST" } });
    }
    const body = await request.bytes();
    const verification = verifyDelivery(
      body,
      request.headers,
      options.secrets,
      Date.now(),
    );
    const answered = verification.kind === "failed"
      ? UNVERIFIED_STATUS
      : options.status;
    output.line(describeDelivery({
      receivedAt,
      headers: request.headers,
      body,
      verification,
      answered,
    }));
    if (options.json) {
      output.line(escapeForTerminal(new TextDecoder().decode(body)));
    }
    const headers = new Headers();
    if (options.retryAfter !== undefined && answered === options.status) {
      headers.set("Retry-After", String(options.retryAfter));
    }
    return new Response(null, { status: answered, headers });
  });
  return {
    url: receiverUrl(options.hostname, server.addr.port),
    received: () => count,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}

async function main(): Promise<void> {
  const parsed = parseListenArgs(Deno.args, {
    WEBHOOK_SECRET: Deno.env.get("WEBHOOK_SECRET"),
  });
  if (!parsed.ok) {
    console.error(`Cannot listen: ${parsed.problem}\n${USAGE}`);
    Deno.exit(2);
  }
  const { options } = parsed;
  let listener: Listener;
  try {
    listener = startListener(options);
  } catch (error) {
    console.error(
      `Cannot listen on ${options.hostname}:${options.port}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    Deno.exit(1);
  }
  console.error(startBanner(options, listener.url));
  const stop = async () => {
    await listener.shutdown();
    console.error(`Stopped after ${listener.received()} request(s)`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await listener.finished;
}

if (import.meta.main) await main();
