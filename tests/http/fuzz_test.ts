/**
 * Property-based HTTP fuzzing: fast-check drives the in-process app
 * (`app.request()`, one app per test over a real in-memory libSQL database)
 * with random and hostile bodies, headers, tokens, paths and query strings.
 * Whatever is sent, the service never answers 5xx, every error is a
 * well-formed problem+json, no response reveals internals, and what a 2xx
 * creation or change says is exactly what later reads return.
 *
 * Budget: `FUZZ_SEED` (an integer, or `random`; a fixed default) and
 * `FUZZ_RUNS` (runs per property; a CI-sized default). On a failure
 * fast-check prints the seed, the path and the shrunk counterexample;
 * `FUZZ_SEED=<seed>` repeats the run. `deno task fuzz` runs longer with a
 * random seed.
 */
import fc from "fast-check";
import { ORDER_STATUSES } from "../../domain/order.ts";
import { BIDI_FORMATTING as BIDI_FORMATTING_CHARACTERS } from "../fixtures/domain.ts";
import {
  createTestContext,
  TEST_SECRET,
  type TestContext,
} from "../fixtures/mod.ts";

// ---------------------------------------------------------------------------
// Budget

/** The seed of every property unless `FUZZ_SEED` says otherwise. */
const DEFAULT_SEED = 20_261_128;
/** Runs per property unless `FUZZ_RUNS` says otherwise: seconds in CI. */
const DEFAULT_RUNS = 250;

const SEED = readSeed(Deno.env.get("FUZZ_SEED"));
const RUNS = readRuns(Deno.env.get("FUZZ_RUNS"));

function readSeed(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_SEED;
  if (text === "random") {
    const seed = crypto.getRandomValues(new Int32Array(1))[0] ?? 0;
    console.log(`http_fuzz_test: FUZZ_SEED=${seed} (repeat with it)`);
    return seed;
  }
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`FUZZ_SEED must be an integer or "random", not "${text}"`);
  }
  return seed;
}

function readRuns(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_RUNS;
  const runs = Number(text);
  if (!Number.isSafeInteger(runs) || runs < 1) {
    throw new Error(`FUZZ_RUNS must be a positive integer, not "${text}"`);
  }
  return runs;
}

const FUZZ_PARAMETERS = { seed: SEED, numRuns: RUNS };

// ---------------------------------------------------------------------------
// Contract constants, written out so the test does not trust the code

const MAX_BODY_BYTES = 65_536;
const MAX_JSON_DEPTH = 32;
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Control characters (Cc) other than tab, line feed and carriage return. */
const FORBIDDEN_CONTROL =
  // deno-lint-ignore no-control-regex -- matching them is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
/** Bidirectional formatting characters ("Trojan Source"), refused alike. */
const BIDI_FORMATTING = /[\u202A-\u202E\u2066-\u2069]/;
const JWT_MAX_TTL_SECONDS = 86_400;
const CLOCK_TOLERANCE_SECONDS = 30;

/** What a response must never show: stack traces, paths, libraries, SQL. */
const INTERNAL_MARKERS: readonly RegExp[] = [
  /Error:/,
  / {4}at \S/,
  /\bat \S+ \((?:file|node|ext):/,
  /file:\/\//,
  /node_modules/,
  /sqlite/i,
  /libsql/i,
  /drizzle/i,
  /RangeError/,
  /TypeError/,
  /SyntaxError/,
  /ReferenceError/,
  /\b(?:SELECT \S[^\n]{0,200} FROM|INSERT INTO|DELETE FROM|UPDATE \S+ SET)\b/,
  /"stack"/,
  new RegExp(escapeRegExp(new URL("../..", import.meta.url).pathname)),
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------
// Actors

const USER = 1001;
const OTHER_USER = 1002;
const ADMIN = 1003;
const FULFILLMENT = 1004;

interface Actor {
  readonly name: string;
  readonly id: number;
  readonly roles: readonly string[];
  readonly token: string;
}

interface Actors {
  readonly user: Actor;
  readonly other: Actor;
  readonly admin: Actor;
  readonly fulfillment: Actor;
}

async function actorsOf(ctx: TestContext): Promise<Actors> {
  const actor = async (name: string, id: number, roles: string[]) => ({
    name,
    id,
    roles,
    token: await ctx.token(id, roles),
  });
  return {
    user: await actor("user", USER, []),
    other: await actor("other user", OTHER_USER, []),
    admin: await actor("admin", ADMIN, ["admin"]),
    fulfillment: await actor("fulfillment", FULFILLMENT, ["fulfillment"]),
  };
}

/**
 * Runs one property test on its own app: permissive rate limits (the
 * helper's), and orders from 1000.00 up held for review, so review decisions
 * have orders to act on. Afterwards the logs and the audit log are checked
 * (`checkAftermath`).
 */
async function withFuzzContext(
  fn: (ctx: TestContext, actors: Actors) => Promise<void>,
): Promise<void> {
  const ctx = await createTestContext({
    reviewPolicy: { thresholdCents: 100_000n, velocityOrders: 1_000_000 },
  });
  try {
    const actors = await actorsOf(ctx);
    await fn(ctx, actors);
    await checkAftermath(ctx, actors);
  } finally {
    ctx.close();
  }
}

/** Orders to act on: two of the user's (one held for review), one of another user's. */
async function ordersToActOn(
  ctx: TestContext,
  actors: Actors,
): Promise<string[]> {
  return [
    await createOrder(ctx, actors.user, "12.50"),
    await createOrder(ctx, actors.user, "5000.00"),
    await createOrder(ctx, actors.other, "3.00"),
  ];
}

// ---------------------------------------------------------------------------
// Sending requests and reading answers

interface FuzzRequest {
  readonly method: string;
  /** Path and query, starting with `/`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array<ArrayBuffer> | undefined;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function send(ctx: TestContext, request: FuzzRequest): Promise<Answer> {
  rememberClientText(ctx, request);
  const init: RequestInit = {
    method: request.method,
    headers: new Headers(request.headers),
  };
  if (
    request.body !== undefined && request.method !== "GET" &&
    request.method !== "HEAD"
  ) {
    init.body = request.body;
  }
  const response = await ctx.app.request(
    `http://localhost${request.path}`,
    init,
  );
  const bytes = await response.bytes();
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw failure("the response body is not UTF-8", request, {
      status: response.status,
      headers: response.headers,
      text: new TextDecoder().decode(bytes),
    });
  }
  return { status: response.status, headers: response.headers, text };
}

/** The user id a JWT's `sub` names, read without checking anything. */
function tokenSubject(authorization: string | undefined): number | undefined {
  try {
    const payload = authorization?.split(" ").at(-1)?.split(".")[1] ?? "";
    const { sub } = JSON.parse(
      atob(payload.replace(/-/g, "+").replace(/_/g, "/")),
    ) as { sub?: unknown };
    const id = typeof sub === "number" || typeof sub === "string"
      ? Number(sub)
      : NaN;
    return Number.isSafeInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

function jsonRequest(
  method: string,
  path: string,
  actor: Actor,
  body: unknown,
): FuzzRequest {
  return {
    method,
    path,
    headers: { ...bearer(actor.token), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** An error naming the broken rule, the exact request and the response. */
function failure(
  rule: string,
  request: FuzzRequest,
  answer?: Answer,
): Error {
  const lines = [rule, `  request: ${request.method} ${clip(request.path)}`];
  for (const [name, value] of Object.entries(request.headers)) {
    lines.push(`    ${name}: ${clip(JSON.stringify(value))}`);
  }
  if (request.body !== undefined) {
    lines.push(
      typeof request.body === "string"
        ? `    body (${request.body.length} chars, JSON-escaped here): ${
          clip(JSON.stringify(request.body))
        }`
        : `    body (${request.body.byteLength} bytes, hex): ${
          clip(
            Array.from(request.body, (b) => b.toString(16).padStart(2, "0"))
              .join(" "),
          )
        }`,
    );
  }
  if (answer) {
    lines.push(
      `  response: ${answer.status} ${
        answer.headers.get("content-type") ?? ""
      }`,
      `    body: ${clip(answer.text)}`,
    );
  }
  return new Error(lines.join("\n"));
}

function clip(text: string, max = 600): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length} chars in all)`;
}

// ---------------------------------------------------------------------------
// What every response must satisfy

interface ResponseContext {
  /** The request carried a token the service must accept. */
  readonly validToken?: boolean;
}

/**
 * The rules every response obeys: no 5xx, an `X-Request-Id` following the
 * echo rule, security headers, problem+json on every error with a body, and
 * no internals anywhere (unless the request itself carried the text).
 */
function checkResponse(
  ctx: TestContext,
  request: FuzzRequest,
  answer: Answer,
  context: ResponseContext = {},
): void {
  if (answer.status >= 500) {
    throw failure(`answered ${answer.status} (a 5xx)`, request, answer);
  }
  const requestId = answer.headers.get("x-request-id");
  if (requestId === null || requestId === "") {
    throw failure("the response has no X-Request-Id", request, answer);
  }
  const incoming = new Headers(request.headers).get("x-request-id");
  if (incoming !== null) {
    const echoed = requestId === incoming;
    if (WELL_FORMED_REQUEST_ID.test(incoming) !== echoed) {
      throw failure(
        echoed
          ? "a malformed X-Request-Id was echoed"
          : "a well-formed X-Request-Id was not echoed",
        request,
        answer,
      );
    }
  }
  if (answer.headers.get("x-content-type-options") !== "nosniff") {
    throw failure(
      "X-Content-Type-Options: nosniff is missing",
      request,
      answer,
    );
  }
  if (
    context.validToken &&
    !/\bno-store\b/.test(answer.headers.get("cache-control") ?? "")
  ) {
    throw failure(
      "Cache-Control: no-store is missing (valid token)",
      request,
      answer,
    );
  }
  if (answer.status >= 400 && answer.text !== "") {
    checkProblem(request, answer, requestId);
  }
  if (
    answer.status < 300 && answer.text !== "" &&
    /json/.test(answer.headers.get("content-type") ?? "")
  ) {
    checkShownText(request, answer);
  }
  if (answer.status === 401) {
    const challenge = answer.headers.get("www-authenticate") ?? "";
    if (!/^Bearer\b/.test(challenge)) {
      throw failure("a 401 without WWW-Authenticate: Bearer", request, answer);
    }
  }
  checkNoInternals(ctx, request, answer);
}

/**
 * A 2xx shows no text the contract refuses to store (a lone surrogate, a
 * control character other than tab, line feed and carriage return, a
 * bidirectional formatting character).
 */
function checkShownText(request: FuzzRequest, answer: Answer): void {
  let shown: unknown;
  try {
    shown = JSON.parse(answer.text);
  } catch {
    throw failure("a 2xx JSON body is not JSON", request, answer);
  }
  for (const text of jsonStrings(shown)) {
    const defect = textDefect(text);
    if (defect) {
      throw failure(
        `a 2xx shows text holding ${defect}: ${
          clip(JSON.stringify(text), 120)
        }`,
        request,
        answer,
      );
    }
  }
}

function checkProblem(
  request: FuzzRequest,
  answer: Answer,
  requestId: string,
): void {
  const contentType = answer.headers.get("content-type") ?? "";
  if (!/^application\/problem\+json\b/.test(contentType)) {
    throw failure(
      `an error is ${contentType || "untyped"}, not application/problem+json`,
      request,
      answer,
    );
  }
  let problem: unknown;
  try {
    problem = JSON.parse(answer.text);
  } catch {
    throw failure("a problem+json body is not JSON", request, answer);
  }
  const shapeError = problemShapeError(problem, answer.status, requestId);
  if (shapeError) {
    throw failure(`a malformed problem: ${shapeError}`, request, answer);
  }
}

function problemShapeError(
  problem: unknown,
  status: number,
  requestId: string,
): string | undefined {
  if (!isPlainObject(problem)) return "not an object";
  for (const field of ["type", "title", "detail"]) {
    if (typeof problem[field] !== "string" || problem[field] === "") {
      return `"${field}" is not a non-empty string`;
    }
  }
  if (problem.status !== status) return `"status" is not ${status}`;
  if (problem.request_id !== requestId) {
    return '"request_id" differs from X-Request-Id';
  }
  if (problem.errors !== undefined) {
    if (!Array.isArray(problem.errors)) return '"errors" is not an array';
    for (const error of problem.errors) {
      if (
        !isPlainObject(error) || typeof error.path !== "string" ||
        typeof error.message !== "string"
      ) {
        return '"errors" holds an entry without a string path and message';
      }
    }
  }
  return undefined;
}

/**
 * Internal markers in the body or a header value. A marker the request
 * itself carried (an echoed product name, say) is the client's own text.
 */
function checkNoInternals(
  ctx: TestContext,
  request: FuzzRequest,
  answer: Answer,
): void {
  const shown = [
    answer.text,
    ...Array.from(answer.headers, ([name, value]) => `${name}: ${value}`),
  ].join("\n");
  for (const marker of INTERNAL_MARKERS) {
    const found = marker.exec(shown);
    if (!found) continue;
    const fromClient = requestTexts(request).some((text) =>
      marker.test(text)
    ) ||
      (clientTexts.get(ctx) ?? []).some((text) => text.includes(found[0]));
    if (fromClient) continue;
    throw failure(
      `the response reveals internals (${marker}: "${clip(found[0], 80)}")`,
      request,
      answer,
    );
  }
}

const requestTextsCache = new WeakMap<FuzzRequest, string[]>();

/**
 * The texts clients sent to an app that look like internals: the app may
 * store them (an address, a request id in the audit trail) and show them
 * later, which is no leak.
 */
const clientTexts = new WeakMap<TestContext, string[]>();

function rememberClientText(ctx: TestContext, request: FuzzRequest): void {
  const suspicious = requestTexts(request).filter((text) =>
    INTERNAL_MARKERS.some((marker) => marker.test(text))
  );
  if (suspicious.length === 0) return;
  const texts = clientTexts.get(ctx) ?? [];
  texts.push(...suspicious);
  clientTexts.set(ctx, texts);
}

/** Every text of a request, raw, decoded, and with tags removed. */
function requestTexts(request: FuzzRequest): string[] {
  const cached = requestTextsCache.get(request);
  if (cached) return cached;
  const texts = [request.path, safeDecodeUri(request.path)];
  texts.push(...Object.values(request.headers));
  if (request.body !== undefined) {
    const body = typeof request.body === "string"
      ? request.body
      : new TextDecoder().decode(request.body);
    texts.push(body);
    try {
      texts.push(...jsonStrings(JSON.parse(body)));
    } catch {
      // not JSON: the raw text is all there is
    }
  }
  const all = texts.flatMap((text) => [text, text.replace(/<[^<>]*>/g, "")]);
  requestTextsCache.set(request, all);
  return all;
}

function safeDecodeUri(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Every key and string in a JSON value, without recursion. */
function jsonStrings(value: unknown): string[] {
  const strings: string[] = [];
  const stack = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === "string") strings.push(next);
    else if (next !== null && typeof next === "object") {
      for (const [key, child] of Object.entries(next)) {
        strings.push(key);
        stack.push(child);
      }
    }
  }
  return strings;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(request: FuzzRequest, answer: Answer): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    throw failure("a 2xx body is not JSON", request, answer);
  }
}

// ---------------------------------------------------------------------------
// Read-backs: what a 2xx says is what later reads return

/** The audit form of an order line: the response's, without `line_total`. */
function auditItems(items: unknown): unknown {
  return Array.isArray(items)
    ? items.map((item) => {
      if (!isPlainObject(item)) return item;
      const { line_total: _lineTotal, ...rest } = item;
      return rest;
    })
    : items;
}

/** What a creation check needs to know beyond the request and answer. */
interface CreationContext {
  /** The caller's user id, when the test knows it. */
  readonly callerId?: number | undefined;
  /**
   * The clock moved since the last creation, so the new order is the
   * newest: the listing's first order must be it.
   */
  readonly newest?: boolean;
}

/**
 * A 201 from `POST /v1/orders` says what the contract says it must (the
 * lines, prices and total exact, the texts cleaned, the owner and currency),
 * reads back byte for byte with the same token (alone and in the listing),
 * its `order.created` history entry agrees with it, and a retry with the
 * same `Idempotency-Key` replays it.
 */
async function checkCreationReadsBack(
  ctx: TestContext,
  actors: Actors,
  request: FuzzRequest,
  answer: Answer,
  context: CreationContext = {},
): Promise<void> {
  const created = parseJson(request, answer);
  if (!isPlainObject(created) || typeof created.id !== "string") {
    throw failure("a 201 without an order id", request, answer);
  }
  const path = `/v1/orders/${created.id}`;
  if (answer.headers.get("location") !== path) {
    throw failure(`a 201 whose Location is not ${path}`, request, answer);
  }
  if (answer.headers.get("etag") !== `"${created.version}"`) {
    throw failure("a 201 whose ETag is not its version", request, answer);
  }
  if (created.version !== 1 || created.status !== "pending") {
    throw failure(
      "a new order that is not pending at version 1",
      request,
      answer,
    );
  }
  const echoError = creationEchoError(
    sentJson(request),
    created,
    context.callerId,
  );
  const { history, events } = await checkReadsBack(ctx, actors, {
    request,
    answer,
    path,
    what: "created",
    order: created,
    echoError,
  });
  if (context.newest) {
    const listPath = `/v1/orders?limit=1&user_id=${created.user_id}`;
    const list = await readBack(ctx, listPath, authorization(request), request);
    const first = (JSON.parse(list.text) as { orders?: unknown[] }).orders
      ?.[0];
    if (list.status !== 200 || JSON.stringify(first) !== answer.text) {
      throw failure(
        `the created order is listed differently: GET ${listPath} answered ${list.status} ${
          clip(list.text)
        }`,
        request,
        answer,
      );
    }
  }
  const entry = events.find((event) =>
    isPlainObject(event) && event.action === "order.created"
  );
  const changes = isPlainObject(entry) && isPlainObject(entry.changes)
    ? entry.changes
    : {};
  const recorded = (field: string) => {
    const change = changes[field];
    return isPlainObject(change) ? change.to : undefined;
  };
  const expected: Record<string, unknown> = {
    items: auditItems(created.items),
    total: created.total,
    shipping_address: created.shipping_address,
    user_id: created.user_id,
    currency: created.currency,
    status: created.status,
  };
  for (const [field, value] of Object.entries(expected)) {
    if (!deepEqual(recorded(field), value)) {
      throw failure(
        `the order.created history entry disagrees on ${field}: ${
          clip(JSON.stringify(recorded(field)) ?? "undefined")
        } (history answered ${history.status})`,
        request,
        answer,
      );
    }
  }
  if (new Headers(request.headers).has("idempotency-key")) {
    const replay = await send(ctx, request);
    checkResponse(ctx, request, replay, { validToken: true });
    if (
      replay.status !== 201 || replay.text !== answer.text ||
      replay.headers.get("idempotent-replayed") !== "true"
    ) {
      throw failure(
        `a retry with the same Idempotency-Key answered ${replay.status} ${
          clip(replay.text)
        } (Idempotent-Replayed: ${
          replay.headers.get("idempotent-replayed")
        }), not the original 201`,
        request,
        answer,
      );
    }
  }
}

/** The `Authorization` header a request was sent with, or "". */
function authorization(request: FuzzRequest): string {
  return new Headers(request.headers).get("authorization") ?? "";
}

/**
 * The order a 2xx answered agrees with the request (`echoError` is why it
 * does not) and reads back byte for byte at `path` with the caller's own
 * `Authorization`; returns its history, as an admin reads it.
 */
async function checkReadsBack(
  ctx: TestContext,
  actors: Actors,
  exchange: {
    request: FuzzRequest;
    answer: Answer;
    path: string;
    what: "created" | "changed";
    order: Record<string, unknown>;
    echoError: string | undefined;
  },
): Promise<{ history: Answer; events: unknown[] }> {
  const { request, answer, path } = exchange;
  if (exchange.echoError) {
    throw failure(
      `the ${answer.status} disagrees with the request: ${exchange.echoError}`,
      request,
      answer,
    );
  }
  rememberAddress(ctx, exchange.order.shipping_address);
  const read = await readBack(ctx, path, authorization(request), request);
  if (read.status !== 200 || read.text !== answer.text) {
    throw failure(
      `the ${exchange.what} order reads back differently${
        sameJson(read.text, answer.text) ? " (same JSON, other bytes)" : ""
      }: GET ${path} answered ${read.status} ${clip(read.text)}`,
      request,
      answer,
    );
  }
  const history = await readBack(
    ctx,
    `${path}/history`,
    `Bearer ${actors.admin.token}`,
    request,
  );
  return { history, events: historyEvents(history) };
}

/** A read with the caller's `Authorization`, checked like every response. */
async function readBack(
  ctx: TestContext,
  path: string,
  authorization: string,
  after?: FuzzRequest,
): Promise<Answer> {
  const request: FuzzRequest = {
    method: "GET",
    path,
    headers: { Authorization: authorization },
  };
  const answer = await send(ctx, request);
  try {
    checkResponse(ctx, request, answer);
  } catch (error) {
    if (!after) throw error;
    // Name the request whose effect the read shows.
    const cause = failure("  … read after", after).message;
    throw new Error(`${(error as Error).message}\n${cause}`);
  }
  return answer;
}

function sameJson(a: string, b: string): boolean {
  try {
    return deepEqual(JSON.parse(a), JSON.parse(b));
  } catch {
    return false;
  }
}

/** The request body as the server parses it (undefined when it cannot). */
function sentJson(request: FuzzRequest): unknown {
  if (request.body === undefined) return undefined;
  try {
    const bytes = typeof request.body === "string"
      ? utf8(request.body)
      : request.body;
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
}

const PRICE_SCALE = 10_000n;
const MAX_PRICE_UNITS = 1_000_000n * PRICE_SCALE;
const MAX_TOTAL_CENTS = 100_000_000_000n;

/**
 * A request price in ten-thousandths, read as the contract says (a JSON
 * number through its shortest decimal form, or a plain decimal string), or
 * undefined when the contract refuses it.
 */
function priceUnits(value: unknown): bigint | undefined {
  const text = typeof value === "number"
    ? Number.isFinite(value) && value >= 0 ? String(value) : undefined
    : typeof value === "string"
    ? value
    : undefined;
  const match = text === undefined
    ? null
    : /^([0-9]+)(?:\.([0-9]{1,4}))?$/.exec(text);
  if (!match) return undefined;
  const units = BigInt(match[1] ?? "0") * PRICE_SCALE +
    BigInt((match[2] ?? "").padEnd(4, "0"));
  return units <= MAX_PRICE_UNITS ? units : undefined;
}

function centsOf(units: bigint): bigint {
  return (units + 50n) / 100n;
}

function formatCents(cents: bigint): string {
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;
}

function formatPrice(units: bigint): string {
  let fraction = (units % PRICE_SCALE).toString().padStart(4, "0");
  while (fraction.length > 2 && fraction.endsWith("0")) {
    fraction = fraction.slice(0, -1);
  }
  return `${units / PRICE_SCALE}.${fraction}`;
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * Why a cleaned text field breaks the contract: not trimmed, too short or
 * long, refused characters, or (for text without tags or entities) not the
 * sent text trimmed.
 */
function cleanedTextError(
  shown: unknown,
  sent: unknown,
  max: number,
): string | undefined {
  if (typeof shown !== "string" || typeof sent !== "string") {
    return `is ${JSON.stringify(shown)}, sent ${
      clip(JSON.stringify(sent) ?? "nothing", 80)
    }`;
  }
  const defect = textDefect(shown);
  if (defect) return `holds ${defect}`;
  if (shown !== shown.trim()) return "is not trimmed";
  const length = codePoints(shown);
  if (length < 1 || length > max) return `has ${length} characters (1–${max})`;
  // The cleaner also drops whitespace at the start of each line (the
  // service's documented rule); compare with that taken into account.
  const lineStarts = (text: string) =>
    text.replace(/([\r\n])[^\S\r\n]+/g, "$1");
  if (!/[<&]/.test(sent) && shown !== lineStarts(sent.trim())) {
    return `is ${
      clip(JSON.stringify(shown), 120)
    }, not the sent text trimmed (${clip(JSON.stringify(sent.trim()), 120)})`;
  }
  return undefined;
}

/** Why a 201 disagrees with the body it answers, or undefined. */
function creationEchoError(
  sent: unknown,
  created: Record<string, unknown>,
  callerId: number | undefined,
): string | undefined {
  if (!isPlainObject(sent) || !Array.isArray(sent.items)) {
    return "the body has no items array";
  }
  const shown = created.items;
  if (!Array.isArray(shown) || shown.length !== sent.items.length) {
    return `${sent.items.length} lines sent, ${
      Array.isArray(shown) ? shown.length : "no"
    } lines answered`;
  }
  if (sent.items.length < 1 || sent.items.length > 100) {
    return `${sent.items.length} lines accepted (1–100)`;
  }
  let sum = 0n;
  for (const [i, line] of sent.items.entries()) {
    const answered = shown[i];
    if (!isPlainObject(line) || !isPlainObject(answered)) {
      return `items[${i}] is not an object`;
    }
    if (!deepEqual(answered.product_id, line.product_id)) {
      return `items[${i}].product_id is ${
        JSON.stringify(answered.product_id)
      }, sent ${JSON.stringify(line.product_id)}`;
    }
    const quantity = line.quantity;
    if (
      typeof quantity !== "number" || !Number.isInteger(quantity) ||
      quantity < 1 || quantity > 10_000
    ) {
      return `items[${i}].quantity ${JSON.stringify(quantity)} was accepted`;
    }
    if (answered.quantity !== quantity) {
      return `items[${i}].quantity is ${answered.quantity}, sent ${quantity}`;
    }
    const units = priceUnits(line.price);
    if (units === undefined) {
      return `items[${i}].price ${JSON.stringify(line.price)} was accepted`;
    }
    if (answered.price !== formatPrice(units)) {
      return `items[${i}].price is ${
        JSON.stringify(answered.price)
      }, expected "${formatPrice(units)}" for ${JSON.stringify(line.price)}`;
    }
    const amount = BigInt(quantity) * units;
    if (answered.line_total !== formatCents(centsOf(amount))) {
      return `items[${i}].line_total is ${
        JSON.stringify(answered.line_total)
      }, expected "${formatCents(centsOf(amount))}"`;
    }
    const nameError = cleanedTextError(
      answered.product_name,
      line.product_name,
      200,
    );
    if (nameError) return `items[${i}].product_name ${nameError}`;
    sum += amount;
  }
  const total = centsOf(sum);
  if (total > MAX_TOTAL_CENTS) {
    return `a total of ${formatCents(total)} was accepted`;
  }
  if (created.total !== formatCents(total)) {
    return `total is ${JSON.stringify(created.total)}, expected "${
      formatCents(total)
    }"`;
  }
  const addressError = cleanedTextError(
    created.shipping_address,
    sent.shipping_address,
    500,
  );
  if (addressError) return `shipping_address ${addressError}`;
  const owner = Object.hasOwn(sent, "user_id") ? sent.user_id : callerId;
  if (owner !== undefined && created.user_id !== owner) {
    return `user_id is ${created.user_id}, expected ${JSON.stringify(owner)}`;
  }
  const currency = Object.hasOwn(sent, "currency") ? sent.currency : "USD";
  if (created.currency !== currency) {
    return `currency is ${JSON.stringify(created.currency)}, expected ${
      JSON.stringify(currency)
    }`;
  }
  return undefined;
}

/**
 * A 200 from a change (update, cancellation, review decision) did what the
 * body asked, reads back byte for byte, and the last history entry is the
 * version it answered and agrees with it.
 */
async function checkChangeReadsBack(
  ctx: TestContext,
  actors: Actors,
  route: BodyRoute,
  request: FuzzRequest,
  answer: Answer,
  orderId: string,
): Promise<void> {
  const changed = parseJson(request, answer);
  if (!isPlainObject(changed) || changed.id !== orderId) {
    throw failure("a 200 change that is not the order", request, answer);
  }
  const { events } = await checkReadsBack(ctx, actors, {
    request,
    answer,
    path: `/v1/orders/${orderId}`,
    what: "changed",
    order: changed,
    echoError: changeEchoError(route, sentJson(request), changed),
  });
  const last = events.at(-1);
  if (!isPlainObject(last) || last.seq !== changed.version) {
    throw failure(
      `the last history entry is not version ${changed.version}: ${
        clip(JSON.stringify(last) ?? "none")
      }`,
      request,
      answer,
    );
  }
  const changes = isPlainObject(last.changes) ? last.changes : {};
  const sent = sentJson(request);
  for (
    const [field, key] of [
      ["cancellation_reason", "reason"],
      ["review_note", "note"],
    ] as const
  ) {
    const change = changes[field];
    const text = isPlainObject(sent) ? sent[key] : undefined;
    if (!isPlainObject(change) || typeof text !== "string") continue;
    const error = cleanedTextError(change.to, text, 500);
    if (error) {
      throw failure(`the history's ${field} ${error}`, request, answer);
    }
  }
  for (const field of ["status", "shipping_address"]) {
    const change = changes[field];
    if (isPlainObject(change) && !deepEqual(change.to, changed[field])) {
      throw failure(
        `the history records ${field} → ${
          clip(JSON.stringify(change.to))
        }, the response says ${clip(JSON.stringify(changed[field]))}`,
        request,
        answer,
      );
    }
  }
}

/** Why a 200 change disagrees with the body it answers, or undefined. */
function changeEchoError(
  route: BodyRoute,
  sent: unknown,
  changed: Record<string, unknown>,
): string | undefined {
  const body = isPlainObject(sent) ? sent : {};
  switch (route) {
    case "update": {
      if (Object.hasOwn(body, "status") && changed.status !== body.status) {
        return `status is ${JSON.stringify(changed.status)}, sent ${
          JSON.stringify(body.status)
        }`;
      }
      if (Object.hasOwn(body, "shipping_address")) {
        const error = cleanedTextError(
          changed.shipping_address,
          body.shipping_address,
          500,
        );
        if (error) return `shipping_address ${error}`;
      }
      return undefined;
    }
    case "cancel":
      return changed.status === "cancelled"
        ? undefined
        : `status is ${JSON.stringify(changed.status)} after a cancellation`;
    case "review": {
      const review = isPlainObject(changed.review) ? changed.review : {};
      const state = body.decision === "approve" ? "approved" : "rejected";
      if (review.state !== state) {
        return `review is ${JSON.stringify(changed.review)} after "${
          String(body.decision)
        }"`;
      }
      if (state === "rejected" && changed.status !== "cancelled") {
        return `status is ${JSON.stringify(changed.status)} after a rejection`;
      }
      return undefined;
    }
    case "create":
      return undefined;
  }
}

/** Addresses 2xx answers stored, per app: none may appear in a log line. */
const storedAddresses = new WeakMap<TestContext, Set<string>>();

function rememberAddress(ctx: TestContext, address: unknown): void {
  // Short addresses ("0", "Mug") may occur in a log line by chance.
  if (typeof address !== "string" || codePoints(address) < 12) return;
  const addresses = storedAddresses.get(ctx) ?? new Set();
  if (addresses.size < 500) addresses.add(address);
  storedAddresses.set(ctx, addresses);
}

/**
 * After a property, across every request it made: nothing was logged as an
 * error (an unhandled one is a 500 somewhere, read-backs included), the
 * app counted no 5xx, and no log line holds a bearer token or an address a
 * 2xx stored.
 */
async function checkAftermath(ctx: TestContext, actors: Actors): Promise<void> {
  const errors = ctx.logs.filter((line) => line.level === "error");
  if (errors.length > 0) {
    throw new Error(
      `the app logged ${errors.length} error line(s); the first: ${
        clip(JSON.stringify(errors[0]))
      }`,
    );
  }
  const metrics = await readBack(
    ctx,
    "/v1/admin/metrics",
    `Bearer ${actors.admin.token}`,
  );
  const served = /orders_http_responses_total\{class="5xx"\} (\d+)/.exec(
    metrics.text,
  );
  if (metrics.status !== 200 || Number(served?.[1] ?? 0) > 0) {
    throw new Error(
      `the app served ${
        served?.[1]
      } 5xx response(s) (metrics ${metrics.status})`,
    );
  }
  const logText = ctx.logs.flatMap((line) => jsonStrings(line)).join("\n");
  const jwt = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/.exec(logText);
  if (jwt) throw new Error(`a log line holds a JWT: ${clip(jwt[0], 80)}`);
  for (const actor of Object.values(actors) as Actor[]) {
    const signature = actor.token.split(".")[2] ?? actor.token;
    if (logText.includes(signature)) {
      throw new Error(`a log line holds the ${actor.name}'s token signature`);
    }
  }
  for (const address of storedAddresses.get(ctx) ?? []) {
    if (logText.includes(address)) {
      throw new Error(
        `a log line holds the shipping address ${
          clip(JSON.stringify(address), 120)
        }`,
      );
    }
  }
}

/** The events of a history answer (none when it is not one). */
function historyEvents(answer: Answer): unknown[] {
  try {
    const history = JSON.parse(answer.text) as { events?: unknown };
    return Array.isArray(history.events) ? history.events : [];
  } catch {
    return [];
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((key) =>
    Object.hasOwn(b, key) &&
    deepEqual(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
    )
  );
}

// ---------------------------------------------------------------------------
// Hostile values

const LONE_SURROGATE = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) =>
  String.fromCharCode(unit)
);

const FORBIDDEN_CONTROL_CHARACTER = fc.constantFrom(
  ...Array.from({ length: 0x20 }, (_, code) => code)
    .filter((code) => code !== 0x09 && code !== 0x0a && code !== 0x0d)
    .concat(Array.from({ length: 0x21 }, (_, i) => 0x7f + i))
    .map((code) => String.fromCharCode(code)),
);

/** A text a client could legitimately send: tags, emoji, RTL, tabs. */
const VALID_TEXT = fc.oneof(
  fc.constantFrom(
    "Mug",
    "1 Main St, Springfield",
    "<b>1 Main</b> St",
    "Café ☕ & tea",
    "𝕏 shirt 👩‍👩‍👧",
    "Line one\nLine two\r\n\tTabbed",
    "e\u0301\u0301\u0301 combining",
    "\u200fRTL mark\u200e שלום",
    "\u200bzero\u200dwidth\ufeff",
    "null",
    "0",
    "Ω≈ç√∫˜µ≤≥÷",
    "田中さんにあげて下さい",
    "مرحبا test",
  ),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 })
    .filter((text) => /[^\s<>]/.test(text)),
);

const BIDI_FORMATTING_CHARACTER = fc.constantFrom(
  ...BIDI_FORMATTING_CHARACTERS,
);

/**
 * A text that must be refused: a lone surrogate, a control character or a
 * bidirectional formatting character.
 */
const DEFECTIVE_TEXT = fc.tuple(
  VALID_TEXT,
  fc.nat(),
  fc.oneof(
    LONE_SURROGATE,
    FORBIDDEN_CONTROL_CHARACTER,
    BIDI_FORMATTING_CHARACTER,
  ),
).map(([text, at, bad]) => {
  const i = at % (text.length + 1);
  return text.slice(0, i) + bad + text.slice(i);
});

const HOSTILE_SNIPPETS = [
  "",
  " ",
  "\t\n\r",
  "\u0000",
  "a\u0000b",
  "\u0007\u001b[31mred\u001b[0m",
  "\u007f\u0085\u009f",
  "\ud800",
  "\udfff",
  "x\udc00y",
  "\ud83d",
  "\u2028\u2029",
  "\u202eRTL override\u202c",
  "\u202a\u202atest\u202a",
  "\u2067isolate\u2069",
  "&#x202E;&#8294;",
  "\ufeff",
  "\ufffe\uffff",
  "<script>alert(1)</script>",
  "<script>",
  "</script><script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "<style>body{}</style>",
  "<b></b>",
  "<<>>",
  "<",
  "a <b c",
  "<!-- comment -->",
  "<![CDATA[x]]>",
  "&lt;b&gt;&amp;&#0;&#x0;",
  '<a href="javascript:alert(1)">x</a>',
  "'; DROP TABLE orders; --",
  '" OR 1=1 --',
  "%s%n%x%d",
  "${7*7}{{7*7}}#{7*7}",
  "../../../../etc/passwd",
  "C:\\Windows\\System32",
  "Error: boom\n    at handler (file:///x.ts:1:1)",
  "SQLITE_CONSTRAINT libsql drizzle TypeError RangeError",
  "__proto__",
  "constructor",
  "NaN",
  "Infinity",
  "-0",
  "1e308",
  "9007199254740993",
];

/** A very long text, around the field limits and past the body limit. */
const LONG_TEXT = fc.tuple(
  fc.constantFrom("a", "é", "€", "😀", "\u0301", " ", "<b>", "<p>x</p>", "\t"),
  fc.oneof(
    fc.constantFrom(64, 65, 199, 200, 201, 499, 500, 501, 2000),
    fc.integer({ min: 1, max: 70_000 }),
  ),
).map(([unit, count]) => unit.repeat(count));

/** Any UTF-16 code units: lone surrogates and controls included. */
const CODE_UNIT_TEXT = fc.array(fc.integer({ min: 0, max: 0xffff }), {
  maxLength: 40,
}).map((units) => String.fromCharCode(...units));

/**
 * HTML character references: a cleaner that decodes them may turn them into
 * characters the contract refuses (controls, surrogates) after the checks.
 */
const CHARACTER_REFERENCE = fc.oneof(
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 0x20 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x7f, max: 0xa0 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x110001 }) },
  ).chain((code) =>
    fc.constantFrom(
      `&#${code};`,
      `&#x${code.toString(16)};`,
      `&#X${code.toString(16).toUpperCase()}`,
    )
  ),
  fc.constantFrom(
    "&NewLine;",
    "&Tab;",
    "&nbsp;",
    "&lt;",
    "&gt;",
    "&amp;",
    "&quot;",
    "&ZeroWidthSpace;",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#0",
    "&#",
    "&#x;",
  ),
);

const REFERENCE_TEXT = fc.tuple(
  VALID_TEXT,
  fc.nat(),
  fc.array(CHARACTER_REFERENCE, { minLength: 1, maxLength: 3 }),
).map(([text, at, references]) => {
  const i = at % (text.length + 1);
  return text.slice(0, i) + references.join("") + text.slice(i);
});

/** Lines with indentation and the three line breaks. */
const MULTILINE_TEXT = fc.tuple(
  fc.array(
    fc.tuple(
      fc.constantFrom("", " ", "  ", "\t", "\u00a0", "\u3000"),
      fc.constantFrom("1 Main St", "Flat 2", "Springfield", "Café", "𝕏 7"),
      fc.constantFrom("", " ", "\t"),
    ).map(([indent, words, tail]) => indent + words + tail),
    { minLength: 2, maxLength: 4 },
  ),
  fc.constantFrom("\n", "\r\n", "\r", "\n\n"),
).map(([lines, newline]) => lines.join(newline));

/** Text a client may send and the service must accept, cleaned. */
const TRICKY_TEXT = fc.oneof(
  REFERENCE_TEXT,
  MULTILINE_TEXT,
  VALID_TEXT,
  fc.constantFrom(
    "<b>1 Main</b> St",
    "<p>1 Main St</p><p>Springfield</p>",
    "1 Main St<br>Springfield",
    "<script>alert(1)</script>1 Main St",
    "1 < 2 > 0",
    "Tom & Jerry",
    "a &amp; b",
  ),
);

const HOSTILE_TEXT = fc.oneof(
  REFERENCE_TEXT,
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  CODE_UNIT_TEXT,
  fc.constantFrom(...HOSTILE_SNIPPETS),
  LONG_TEXT,
  DEFECTIVE_TEXT,
  VALID_TEXT,
);

const HOSTILE_NUMBER = fc.oneof(
  fc.constantFrom(
    1e308,
    -1e308,
    -0,
    2 ** 53 + 1,
    2 ** 53,
    2 ** 53 - 1,
    Number.MIN_VALUE,
    1e21,
    1e-7,
    0.1 + 0.2,
    1.005,
    999_999.99995,
    1_000_000,
    1_000_000.0001,
    10_000,
    10_001,
    0,
    1,
    -1,
    0.5,
    1.23456,
  ),
  fc.double(),
  fc.integer(),
);

/** Decimal strings: huge, too precise, signed, exponent, exotic digits. */
const HOSTILE_DECIMAL = fc.oneof(
  fc.tuple(
    fc.string({
      unit: fc.constantFrom(..."0123456789"),
      minLength: 1,
      maxLength: 400,
    }),
    fc.option(
      fc.string({ unit: fc.constantFrom(..."0123456789"), maxLength: 40 }),
    ),
  ).map(([whole, fraction]) =>
    fraction === null ? whole : `${whole}.${fraction}`
  ),
  fc.constantFrom(
    "1e3",
    "1E2",
    "+1",
    " 1",
    "1 ",
    "1.",
    ".5",
    "0x10",
    "١٢",
    "１２",
    "12.50\n",
    "00012.5",
    "1_000",
    "-0",
    "-0.00",
    "12.5000",
    "12.50000",
    "1000000.0000",
    "1000000.0001",
  ),
);

/** JSON that JSON.stringify cannot write, spliced into the body text as is. */
class RawJson {
  constructor(readonly text: string) {}
}

const RAW_NUMBER = fc.constantFrom(
  "1e400",
  "-1e400",
  "1e-400",
  "-0",
  "-0.0",
  "123456789012345678901234567890",
  "9007199254740993",
  "1E2",
  "0.1e1",
  "12.500000000000000000001",
  "100000000000000000000000000000000000000000000000000000000000.5",
).map((text) => new RawJson(text));

/** Arrays and objects nested `depth` levels, built without recursion. */
function nested(
  depth: number,
  kinds: readonly boolean[],
  leaf: unknown,
): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) {
    value = kinds[level % Math.max(kinds.length, 1)] ? [value] : { a: value };
  }
  return value;
}

const NESTED_VALUE = fc.tuple(
  fc.oneof(
    fc.integer({ min: 1, max: 100 }),
    fc.constantFrom(31, 32, 33, 34),
  ),
  fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
  fc.constantFrom<unknown>(1, "x", null, [], {}),
).map(([depth, kinds, leaf]) => nested(depth, kinds, leaf));

/** Nesting far beyond any stack: written as text. */
const VERY_DEEP = fc.tuple(
  fc.integer({ min: 1_000, max: 30_000 }),
  fc.boolean(),
).map(([depth, arrays]) =>
  new RawJson(
    arrays
      ? "[".repeat(depth) + "]".repeat(depth)
      : '{"a":'.repeat(depth) + "0" + "}".repeat(depth),
  )
);

/** Keys that are special to JavaScript objects. */
const PROTOTYPE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
];

const PROTOTYPE_OBJECT = fc.tuple(
  fc.constantFrom(...PROTOTYPE_KEYS),
  fc.jsonValue({ maxDepth: 2 }),
).map(([key, value]) => withKey({}, key, value));

const HOSTILE_VALUE: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: HOSTILE_TEXT },
  { weight: 2, arbitrary: HOSTILE_NUMBER },
  { weight: 1, arbitrary: HOSTILE_DECIMAL },
  { weight: 1, arbitrary: RAW_NUMBER },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: NESTED_VALUE },
  { weight: 1, arbitrary: PROTOTYPE_OBJECT },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [[]], [{}]),
  },
);

const PLAIN_PROPERTY = { enumerable: true, writable: true, configurable: true };

/** A copy of an object with one own key set (`__proto__` included). */
function withKey(
  object: object,
  key: string,
  value: unknown,
): Record<string, unknown> {
  const copy = Object.defineProperties(
    {},
    Object.getOwnPropertyDescriptors(object),
  ) as Record<string, unknown>;
  // An own, plain data property, even for `__proto__`.
  Object.defineProperty(copy, key, { ...PLAIN_PROPERTY, value });
  return copy;
}

function withoutKey(object: object, key: string): Record<string, unknown> {
  const copy = Object.defineProperties(
    {},
    Object.getOwnPropertyDescriptors(object),
  ) as Record<string, unknown>;
  delete copy[key];
  return copy;
}

const RAW_MARK = "~~raw-json~~";

/** JSON text of a value, with `RawJson` parts spliced in verbatim. */
function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, part) => {
    if (part instanceof RawJson) {
      raws.push(part.text);
      return `${RAW_MARK}${raws.length - 1}${RAW_MARK}`;
    }
    return part;
  }) ?? "null";
  return text.replace(
    new RegExp(`"${RAW_MARK}(\\d+)${RAW_MARK}"`, "g"),
    (_, index) => raws[Number(index)] ?? "null",
  );
}

// ---------------------------------------------------------------------------
// Bodies for the order routes

type BodyRoute = "create" | "update" | "cancel" | "review";

/** A body to send, how it was made, and what the generator knows of it. */
interface BodyCase {
  readonly kind: string;
  readonly body: string | Uint8Array<ArrayBuffer>;
  /** A single refused text in an otherwise valid body: 422 naming `path`. */
  readonly refusedField?: string;
}

const VALID_ITEM = fc.record({
  product_id: fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  ),
  product_name: VALID_TEXT,
  quantity: fc.integer({ min: 1, max: 100 }),
  price: fc.oneof(
    fc.integer({ min: 0, max: 5_000 }),
    fc.integer({ min: 0, max: 50_000_000 }).map((units) =>
      (units / 10_000).toFixed(4)
    ),
    fc.constantFrom("12.50", "0.3333", "1.005", 3.99, 0.1, "0"),
  ),
});

const VALID_ORDER = fc.record({
  items: fc.array(VALID_ITEM, { minLength: 1, maxLength: 3 }),
  shipping_address: VALID_TEXT,
}).chain((order) =>
  fc.record({
    user_id: fc.constantFrom(USER, OTHER_USER, 77),
    currency: fc.constantFrom("USD", "EUR", "JPY"),
  }, { requiredKeys: [] }).map((extra) => ({ ...order, ...extra }))
);

/** A valid body for each route, and the fields worth replacing in it. */
const ROUTE_SHAPES: Record<
  BodyRoute,
  {
    valid: fc.Arbitrary<Record<string, unknown>>;
    fields: readonly string[];
    /** The text fields the contract checks, as paths into the body. */
    textFields(body: unknown): [string, string][];
    optionalBody: boolean;
  }
> = {
  create: {
    valid: VALID_ORDER,
    fields: ["items", "shipping_address", "user_id", "currency"],
    textFields(body) {
      if (!isPlainObject(body)) return [];
      const fields = ownText(body, "shipping_address", "shipping_address");
      if (Array.isArray(body.items)) {
        body.items.forEach((item, i) => {
          if (!isPlainObject(item)) return;
          fields.push(
            ...ownText(item, "product_id", `items[${i}].product_id`),
            ...ownText(item, "product_name", `items[${i}].product_name`),
          );
        });
      }
      return fields;
    },
    optionalBody: false,
  },
  update: {
    valid: fc.record({
      status: fc.constantFrom(...ORDER_STATUSES),
      shipping_address: VALID_TEXT,
    }, { requiredKeys: [] }),
    fields: ["status", "shipping_address"],
    textFields: (body) =>
      isPlainObject(body)
        ? ownText(body, "shipping_address", "shipping_address")
        : [],
    optionalBody: false,
  },
  cancel: {
    valid: fc.record({ reason: VALID_TEXT }, { requiredKeys: [] }),
    fields: ["reason"],
    textFields: (body) =>
      isPlainObject(body) ? ownText(body, "reason", "reason") : [],
    optionalBody: true,
  },
  review: {
    valid: fc.record({
      decision: fc.constantFrom("approve", "reject"),
      note: VALID_TEXT,
    }, { requiredKeys: ["decision"] }),
    fields: ["decision", "note"],
    textFields: (body) =>
      isPlainObject(body) ? ownText(body, "note", "note") : [],
    optionalBody: false,
  },
};

function ownText(
  object: Record<string, unknown>,
  key: string,
  path: string,
): [string, string][] {
  const value = Object.hasOwn(object, key) ? object[key] : undefined;
  return typeof value === "string" ? [[path, value]] : [];
}

const EXTRA_KEYS = [
  ...PROTOTYPE_KEYS,
  "total",
  "id",
  "status",
  "version",
  "created_at",
  "review",
  "items ",
  "ITEMS",
  "",
  "💥",
  "a".repeat(300),
];

type Mutation =
  | { where: "top"; key: string; value?: unknown }
  | { where: "item"; index: number; key: string; value?: unknown };

function mutationsFor(route: BodyRoute): fc.Arbitrary<Mutation[]> {
  const value = fc.option(HOSTILE_VALUE, { nil: undefined, freq: 6 });
  const top = fc.record({
    where: fc.constant("top" as const),
    key: fc.constantFrom(...ROUTE_SHAPES[route].fields, ...EXTRA_KEYS),
    value,
  });
  const item = fc.record({
    where: fc.constant("item" as const),
    index: fc.nat(3),
    key: fc.constantFrom(
      "product_id",
      "product_name",
      "quantity",
      "price",
      ...EXTRA_KEYS,
    ),
    value,
  });
  return fc.array(route === "create" ? fc.oneof(top, item) : top, {
    minLength: 1,
    maxLength: 3,
  });
}

/** A body with fields replaced by hostile values (undefined: removed). */
function mutate(
  body: Record<string, unknown>,
  mutations: readonly Mutation[],
): Record<string, unknown> {
  let result = body;
  for (const mutation of mutations) {
    if (mutation.where === "top") {
      result = mutation.value === undefined
        ? withoutKey(result, mutation.key)
        : withKey(result, mutation.key, mutation.value);
      continue;
    }
    if (!Array.isArray(result.items)) continue;
    const items = [...result.items];
    const item = items[mutation.index] ?? {};
    if (!isPlainObject(item)) continue;
    items[mutation.index] = mutation.value === undefined
      ? withoutKey(item, mutation.key)
      : withKey(item, mutation.key, mutation.value);
    result = withKey(result, "items", items);
  }
  return result;
}

/** The same key twice: JSON.parse keeps the last. */
function withDuplicateKey(
  text: string,
  key: string,
  value: unknown,
  first: boolean,
): string {
  const member = `${JSON.stringify(key)}:${toJsonText(value)}`;
  if (text === "{}") return `{${member}}`;
  return first
    ? `{${member},${text.slice(1)}`
    : `${text.slice(0, -1)},${member}}`;
}

const MALFORMED_JSON = [
  "",
  " ",
  "\n",
  "{",
  "}",
  "[",
  "{'items': []}",
  '{"items": [},',
  '{"a":1,}',
  "[1,2,]",
  "{items: []}",
  "NaN",
  "undefined",
  "// comment\n{}",
  "/* c */ {}",
  '{"a": 01}',
  '{"a": .5}',
  '{"a": 0x10}',
  '{"a": "\\x41"}',
  '{"a": "\\u12"}',
  '"unterminated',
  "\u0000",
  "\ufeff{}",
  "{}{}",
  "{} x",
  "nul",
  "tru",
  '{"a"\u0000: 1}',
];

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

/** Bytes that are not UTF-8 (overlong, surrogates, stray continuation). */
const INVALID_UTF8: readonly number[][] = [
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xff],
  [0xfe, 0xff],
  [0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
];

function bodyCases(route: BodyRoute): fc.Arbitrary<BodyCase> {
  const shape = ROUTE_SHAPES[route];
  const nearValid = fc.tuple(shape.valid, mutationsFor(route)).map((
    [valid, mutations],
  ) => ({
    kind: "near-valid",
    body: toJsonText(mutate(valid, mutations)),
  }));
  const refused = fc.tuple(shape.valid, DEFECTIVE_TEXT, fc.nat()).map((
    [valid, text, pick],
  ): BodyCase => {
    const paths = refusableFields(route, valid);
    const path = paths[pick % paths.length] ?? "";
    return {
      kind: "one refused text",
      body: toJsonText(setPath(valid, path, text)),
      refusedField: path,
    };
  });
  const tricky = fc.tuple(
    shape.valid,
    fc.array(fc.tuple(fc.nat(), TRICKY_TEXT), { minLength: 1, maxLength: 3 }),
  ).map(([valid, edits]) => {
    const paths = refusableFields(route, valid);
    let body = valid;
    for (const [pick, text] of edits) {
      body = setPath(body, paths[pick % paths.length] ?? "", text);
    }
    return { kind: "tricky text", body: toJsonText(body) };
  });
  const duplicated = fc.tuple(
    shape.valid,
    fc.constantFrom(...shape.fields, "__proto__"),
    HOSTILE_VALUE,
    fc.boolean(),
  ).map(([valid, key, value, first]) => ({
    kind: "duplicated key",
    body: withDuplicateKey(toJsonText(valid), key, value, first),
  }));
  const deep = fc.tuple(
    shape.valid,
    fc.oneof(NESTED_VALUE, VERY_DEEP),
    fc.constantFrom("whole body", "junk field", ...shape.fields),
  ).map(([valid, value, where]) => ({
    kind: `deep (${where})`,
    body: toJsonText(
      where === "whole body" ? value : withKey(valid, where, value),
    ),
  }));
  const oversize = fc.tuple(
    shape.valid,
    fc.integer({ min: MAX_BODY_BYTES - 200, max: MAX_BODY_BYTES + 200 }),
  ).map(([valid, size]) => {
    const base = toJsonText(withKey(valid, "padding", ""));
    const padding = "p".repeat(Math.max(0, size - utf8(base).byteLength));
    return {
      kind: "around 64 KiB",
      body: toJsonText(withKey(valid, "padding", padding)),
    };
  });
  const anyJson = fc.jsonValue().map((value) => ({
    kind: "any JSON",
    body: toJsonText(value),
  }));
  const notJson = fc.oneof(
    fc.constantFrom(...MALFORMED_JSON),
    fc.string({ unit: "binary", maxLength: 80 }),
    fc.tuple(shape.valid, fc.nat()).map(([valid, cut]) => {
      const text = toJsonText(valid);
      return text.slice(0, cut % text.length);
    }),
  ).map((body) => ({ kind: "not JSON", body }));
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 120 }),
    fc.tuple(
      shape.valid,
      fc.constantFrom(...INVALID_UTF8),
      fc.nat(),
    ).map(([valid, bad, at]) => {
      const text = utf8(toJsonText(valid));
      const i = at % (text.byteLength + 1);
      return new Uint8Array([
        ...text.subarray(0, i),
        ...bad,
        ...text.subarray(i),
      ]);
    }),
  ).map((body) => ({
    kind: "raw bytes",
    body: new Uint8Array(body) as Uint8Array<ArrayBuffer>,
  }));
  return fc.oneof(
    { weight: 6, arbitrary: nearValid },
    { weight: 4, arbitrary: tricky },
    { weight: 2, arbitrary: refused },
    { weight: 2, arbitrary: duplicated },
    { weight: 2, arbitrary: deep },
    { weight: 1, arbitrary: oversize },
    { weight: 2, arbitrary: anyJson },
    { weight: 2, arbitrary: notJson },
    { weight: 1, arbitrary: bytes },
  );
}

/** The text fields of a valid body that may hold a refused text. */
function refusableFields(
  route: BodyRoute,
  valid: Record<string, unknown>,
): string[] {
  switch (route) {
    case "create": {
      const items = valid.items as unknown[];
      return [
        "shipping_address",
        ...items.flatMap((_, i) => [
          `items[${i}].product_name`,
          `items[${i}].product_id`,
        ]),
      ];
    }
    case "update":
      return ["shipping_address"];
    case "cancel":
      return ["reason"];
    case "review":
      return ["note"];
  }
}

/** A copy of a body with the field at `path` (`a`, `items[1].b`) set. */
function setPath(
  body: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const match = /^items\[(\d+)\]\.(.+)$/.exec(path);
  if (!match) return withKey(body, path, value);
  const index = Number(match[1]);
  const items = [...(body.items as unknown[])];
  items[index] = withKey(items[index] as object, match[2] ?? "", value);
  return withKey(body, "items", items);
}

/** How deep arrays and objects nest in a value (`{}` is 1), without recursion. */
function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [next, depth] = stack.pop() as [unknown, number];
    if (next === null || typeof next !== "object") continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(next)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function textDefect(text: string): string | undefined {
  if (!text.isWellFormed()) return "a lone surrogate";
  const control = FORBIDDEN_CONTROL.exec(text);
  if (control) return `the control character ${codePointName(control[0])}`;
  const bidi = BIDI_FORMATTING.exec(text);
  if (bidi) {
    return `the bidirectional formatting character ${codePointName(bidi[0])}`;
  }
  return undefined;
}

function codePointName(char: string): string {
  return `U+${char.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`;
}

/** What the contract decides for a body, from its bytes alone. */
interface BodyVerdict {
  readonly statuses: readonly number[];
  readonly why: string;
}

function judgeBody(
  route: BodyRoute,
  body: string | Uint8Array,
): BodyVerdict | undefined {
  const bytes = typeof body === "string" ? utf8(body) : body;
  if (bytes.byteLength > MAX_BODY_BYTES) {
    return { statuses: [413], why: "the body is over 64 KiB" };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { statuses: [400], why: "the body is not UTF-8" };
  }
  const shape = ROUTE_SHAPES[route];
  if (shape.optionalBody && text.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { statuses: [400], why: "the body is not JSON" };
  }
  const depth = jsonDepth(value);
  if (depth > MAX_JSON_DEPTH) {
    return {
      statuses: [400],
      why: `the JSON nests ${depth} levels (more than ${MAX_JSON_DEPTH})`,
    };
  }
  const refused = shape.textFields(value).flatMap(([path, text]) => {
    const defect = textDefect(text);
    return defect ? [`${path} holds ${defect}`] : [];
  });
  if (refused.length > 0) {
    return { statuses: [400, 422], why: refused.join("; ") };
  }
  return undefined;
}

function checkVerdict(
  request: FuzzRequest,
  answer: Answer,
  verdict: BodyVerdict | undefined,
  refusedField: string | undefined,
): void {
  if (verdict && !verdict.statuses.includes(answer.status)) {
    throw failure(
      `${verdict.why}: expected ${
        verdict.statuses.join(" or ")
      }, got ${answer.status}`,
      request,
      answer,
    );
  }
  if (refusedField === undefined) return;
  const errors = answer.status === 422
    ? (JSON.parse(answer.text) as { errors?: { path?: unknown }[] }).errors
    : undefined;
  if (!errors?.some((error) => error.path === refusedField)) {
    throw failure(
      `a refused text in ${refusedField} (otherwise valid body): expected 422 naming "${refusedField}"`,
      request,
      answer,
    );
  }
}

// ---------------------------------------------------------------------------
// Orders the change routes act on

async function createOrder(
  ctx: TestContext,
  owner: Actor,
  price: string,
): Promise<string> {
  const request = jsonRequest("POST", "/v1/orders", owner, {
    items: [{
      product_id: "sku-1",
      product_name: "Mug",
      quantity: 1,
      price,
    }],
    shipping_address: "1 Main St, Springfield",
  });
  const answer = await send(ctx, request);
  if (answer.status !== 201) {
    throw failure("could not create an order to act on", request, answer);
  }
  return (JSON.parse(answer.text) as { id: string }).id;
}

/** A pending order (held for review when `held`), replaced after each 2xx. */
function orderTarget(ctx: TestContext, owner: Actor, held: boolean) {
  let id: string | undefined;
  return {
    async id(): Promise<string> {
      id ??= await createOrder(ctx, owner, held ? "5000.00" : "12.50");
      return id;
    },
    spent(): void {
      id = undefined;
    },
  };
}

// ---------------------------------------------------------------------------
// Property 1: bodies

Deno.test("fuzz: hostile bodies to the order routes never cause a 5xx or leak internals, are refused as the contract says, and every 2xx reads back identically", (t) =>
  withFuzzContext(async (ctx, actors) => {
    await t.step("POST /v1/orders", async () => {
      await fc.assert(
        fc.asyncProperty(
          bodyCases("create"),
          fc.constantFrom(actors.user, actors.admin, actors.fulfillment),
          fc.boolean(),
          async (bodyCase, actor, withKey) => {
            // A new creation is the newest order: the listing shows it first.
            ctx.clock.advance(1);
            const request: FuzzRequest = {
              method: "POST",
              path: "/v1/orders",
              headers: {
                ...bearer(actor.token),
                "Content-Type": "application/json",
                ...(withKey && { "Idempotency-Key": crypto.randomUUID() }),
              },
              body: bodyCase.body,
            };
            const answer = await send(ctx, request);
            checkResponse(ctx, request, answer, { validToken: true });
            checkVerdict(
              request,
              answer,
              judgeBody("create", bodyCase.body),
              bodyCase.refusedField,
            );
            if (answer.status === 201) {
              await checkCreationReadsBack(ctx, actors, request, answer, {
                callerId: actor.id,
                newest: true,
              });
            } else if (answer.status < 400) {
              throw failure(
                "a creation answered neither 201 nor an error",
                request,
                answer,
              );
            }
          },
        ),
        FUZZ_PARAMETERS,
      );
    });

    const changeRoutes: {
      route: BodyRoute;
      method: string;
      suffix: string;
      target: ReturnType<typeof orderTarget>;
      actors: Actor[];
    }[] = [
      {
        route: "update",
        method: "PATCH",
        suffix: "",
        target: orderTarget(ctx, actors.user, false),
        actors: [actors.user, actors.admin, actors.fulfillment],
      },
      {
        route: "cancel",
        method: "POST",
        suffix: "/cancel",
        target: orderTarget(ctx, actors.user, false),
        actors: [actors.user, actors.admin],
      },
      {
        route: "review",
        method: "POST",
        suffix: "/review",
        target: orderTarget(ctx, actors.user, true),
        actors: [actors.admin],
      },
    ];
    for (
      const { route, method, suffix, target, actors: callers } of changeRoutes
    ) {
      await t.step(`${method} /v1/orders/{id}${suffix}`, async () => {
        await fc.assert(
          fc.asyncProperty(
            bodyCases(route),
            fc.constantFrom(...callers),
            fc.constantFrom("none", "current", "stale"),
            async (bodyCase, actor, ifMatch) => {
              const id = await target.id();
              const request: FuzzRequest = {
                method,
                path: `/v1/orders/${id}${suffix}`,
                headers: {
                  ...bearer(actor.token),
                  "Content-Type": "application/json",
                  // Every target is a new order, at version 1.
                  ...(ifMatch === "current" && { "If-Match": '"1"' }),
                  ...(ifMatch === "stale" && { "If-Match": '"2"' }),
                },
                body: bodyCase.body,
              };
              const answer = await send(ctx, request);
              // Whatever a check says next, a 2xx changed the order: the
              // next run (a shrink, too) gets a new one.
              if (answer.status < 300) target.spent();
              checkResponse(ctx, request, answer, { validToken: true });
              if (ifMatch === "stale") {
                // If-Match is checked before anything about the body.
                if (![403, 412, 413].includes(answer.status)) {
                  throw failure(
                    `a stale If-Match must be 412 whatever the body, got ${answer.status}`,
                    request,
                    answer,
                  );
                }
                return;
              }
              checkVerdict(
                request,
                answer,
                judgeBody(route, bodyCase.body),
                bodyCase.refusedField,
              );
              if (answer.status < 300) {
                await checkChangeReadsBack(
                  ctx,
                  actors,
                  route,
                  request,
                  answer,
                  id,
                );
              }
            },
          ),
          FUZZ_PARAMETERS,
        );
      });
    }
  }));

// ---------------------------------------------------------------------------
// Tokens

const encoder = new TextEncoder();

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** A JWT with any header and payload, HMAC-SHA-256 signed with `secret`. */
async function signJwt(
  header: unknown,
  payload: unknown,
  secret = TEST_SECRET,
): Promise<string> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    hmacKeys.set(secret, key);
  }
  const input = `${base64Url(encoder.encode(JSON.stringify(header)))}.${
    base64Url(encoder.encode(JSON.stringify(payload)))
  }`;
  const signature = await crypto.subtle.sign(
    "HMAC",
    await key,
    encoder.encode(input),
  );
  return `${input}.${base64Url(new Uint8Array(signature))}`;
}

/** How the service must answer a token: refuse it (401), accept it, or either. */
type TokenVerdict = "refuse" | "accept" | "either";

/**
 * An `Authorization` header to send (as is, or a JWT to sign first), and
 * what the contract says of it. Kept as data so a counterexample shows the
 * claims.
 */
interface AuthCase {
  readonly kind: string;
  readonly verdict: TokenVerdict;
  readonly header?: string;
  readonly jwt?: {
    readonly header: Record<string, unknown>;
    readonly payload: Record<string, unknown>;
    readonly secret: string;
  };
}

async function authorizationOf(auth: AuthCase): Promise<string | undefined> {
  if (auth.jwt === undefined) return auth.header;
  const { header, payload, secret } = auth.jwt;
  return `Bearer ${await signJwt(header, payload, secret)}`;
}

/** Latin-1 text as a header value can carry it (no NUL, CR or LF). */
const HEADER_TEXT = fc.string({
  unit: fc.integer({ min: 1, max: 0xff })
    .filter((code) => code !== 0x0a && code !== 0x0d)
    .map((code) => String.fromCharCode(code)),
  maxLength: 80,
});

/** ASCII as a header value can carry it, controls included. */
const ASCII_HEADER_TEXT = fc.string({
  unit: fc.integer({ min: 1, max: 0x7f })
    .filter((code) => code !== 0x0a && code !== 0x0d)
    .map((code) => String.fromCharCode(code)),
  minLength: 1,
  maxLength: 300,
});

const LONG_HEADER_TEXT = fc.tuple(
  fc.constantFrom("a", "=", "é", " ", '"'),
  fc.integer({ min: 200, max: 20_000 }),
).map(([unit, count]) => unit.repeat(count));

const BASE64URL_SEGMENT = fc.string({
  unit: fc.constantFrom(
    ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  ),
  maxLength: 60,
});

const SUBS: readonly unknown[] = [
  USER,
  "1001",
  Number.MAX_SAFE_INTEGER,
  String(Number.MAX_SAFE_INTEGER),
  0,
  -1,
  1.5,
  "0",
  "-1",
  "01",
  " 1",
  "1 ",
  "1e3",
  "+1",
  "１",
  "1.0",
  2 ** 53,
  "9007199254740992",
  "99999999999999999999",
  1e21,
  1e308,
  true,
  null,
  {},
  [],
  [1],
  "",
  "abc",
  "admin",
  "1001\u0000",
];

const ROLES: readonly unknown[] = [
  undefined,
  [],
  ["admin"],
  ["fulfillment"],
  ["admin", "fulfillment", "admin"],
  ["Admin"],
  [" admin"],
  ["admin "],
  "admin",
  ["superuser", "root"],
  [null],
  [["admin"]],
  [{ admin: true }],
  { admin: true },
  1,
  null,
];

/** Whether claims signed with the right key are acceptable per the contract. */
function claimsVerdict(
  claims: Record<string, unknown>,
  now: number,
): TokenVerdict {
  const sub = claims.sub;
  const subValid = typeof sub === "number"
    ? Number.isSafeInteger(sub) && sub >= 1
    : typeof sub === "string" && /^[1-9][0-9]{0,15}$/.test(sub) &&
      Number(sub) <= Number.MAX_SAFE_INTEGER;
  const exp = claims.exp;
  if (!subValid || typeof exp !== "number" || !Number.isFinite(exp)) {
    return "refuse";
  }
  if (
    exp <= now - CLOCK_TOLERANCE_SECONDS ||
    exp > now + JWT_MAX_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS
  ) {
    return "refuse";
  }
  let edge = exp <= now + 60 || exp >= now + JWT_MAX_TTL_SECONDS - 60;
  for (const claim of ["nbf", "iat"]) {
    if (!Object.hasOwn(claims, claim)) continue;
    const value = claims[claim];
    if (typeof value !== "number") return "refuse";
    if (value > now + CLOCK_TOLERANCE_SECONDS) return "refuse";
    if (value > now - 60) edge = true;
  }
  return edge ? "either" : "accept";
}

function authCases(ctx: TestContext, actors: Actors): fc.Arbitrary<AuthCase> {
  const now = Math.floor(ctx.clock.now() / 1000);
  const everyActor = [
    actors.user,
    actors.other,
    actors.admin,
    actors.fulfillment,
  ];
  const valid = fc.constantFrom(...everyActor).map((actor): AuthCase => ({
    kind: `valid token (${actor.name})`,
    header: `Bearer ${actor.token}`,
    verdict: "accept",
  }));
  const schemeVariants = fc.tuple(
    fc.constantFrom(...everyActor),
    fc.constantFrom(
      "bearer {t}",
      "BEARER {t}",
      "Bearer    {t}   ",
      "Bearer {t}.",
      "Bearer {t}x",
      "Bearer {t} {t}",
      "Bearer\t{t}",
      "Basic {t}",
      "Token {t}",
      "{t}",
      "Bearer {h}.{p}",
      "Bearer {h}.{p}.",
      "Bearer {s}.{p}.{h}",
      "Bearer {h}..{s}",
    ),
  ).map(([actor, variant]): AuthCase => {
    const [h = "", p = "", s = ""] = actor.token.split(".");
    const header = variant.replaceAll("{t}", actor.token).replaceAll("{h}", h)
      .replaceAll("{p}", p).replaceAll("{s}", s);
    return {
      kind: `token in a varied header (${variant})`,
      header,
      // Only the exact token after one Bearer scheme is certain.
      verdict: variant.includes("{t}") ? "either" : "refuse",
    };
  });
  const garbage = fc.oneof(
    HEADER_TEXT,
    LONG_HEADER_TEXT,
    fc.constantFrom(
      "",
      "Bearer",
      "Bearer ",
      "Bearer null",
      "Bearer undefined",
      "Bearer ....",
      "Bearer a.b.c",
      "Bearer =",
      "Negotiate xyz",
      "Bearer \u00ff\u00fe",
    ),
  ).map((header): AuthCase => ({
    kind: "garbage Authorization",
    header,
    verdict: "refuse",
  }));
  const segments = fc.array(BASE64URL_SEGMENT, { minLength: 1, maxLength: 5 })
    .map((parts): AuthCase => ({
      kind: "random base64url segments",
      header: `Bearer ${parts.join(".")}`,
      verdict: "refuse",
    }));
  const goodClaims = (actor: Actor): Record<string, unknown> => ({
    sub: String(actor.id),
    roles: [...actor.roles],
    iat: now,
    exp: now + 3600,
  });
  const algNone = fc.tuple(
    fc.constantFrom("none", "None", "NONE", "nOnE", ""),
    fc.constantFrom(actors.admin, actors.user),
    fc.constantFrom("", "AAAA", "signature"),
  ).map(([alg, actor, signature]): AuthCase => ({
    kind: `alg "${alg}"`,
    header: `Bearer ${
      base64Url(encoder.encode(JSON.stringify({ alg, typ: "JWT" })))
    }.${
      base64Url(encoder.encode(JSON.stringify(goodClaims(actor))))
    }.${signature}`,
    verdict: "refuse",
  }));
  const wrongAlg = fc.tuple(
    fc.constantFrom<unknown>(
      "HS384",
      "HS512",
      "RS256",
      "ES256",
      "PS256",
      "EdDSA",
      "hs256",
      null,
      1,
      ["HS256"],
    ),
    fc.constantFrom(actors.admin, actors.user),
  ).map(([alg, actor]): AuthCase => ({
    kind: `alg ${JSON.stringify(alg)}, HMAC-signed with the HS256 key`,
    jwt: {
      header: { alg, typ: "JWT" },
      payload: goodClaims(actor),
      secret: TEST_SECRET,
    },
    verdict: "refuse",
  }));
  const otherSecret = fc.constantFrom(actors.admin, actors.user).map((
    actor,
  ): AuthCase => ({
    kind: "signed with another secret",
    jwt: {
      header: { alg: "HS256", typ: "JWT" },
      payload: goodClaims(actor),
      secret: `${TEST_SECRET}-but-not-quite`,
    },
    verdict: "refuse",
  }));
  const tampered = fc.constantFrom(actors.user, actors.other).map(
    (actor): AuthCase => {
      const [head, , signature] = actor.token.split(".");
      const payload = base64Url(
        encoder.encode(
          JSON.stringify({ ...goodClaims(actor), roles: ["admin"] }),
        ),
      );
      return {
        kind: "payload swapped under a valid signature",
        header: `Bearer ${head}.${payload}.${signature}`,
        verdict: "refuse",
      };
    },
  );
  const timeClaim = fc.oneof(
    fc.constantFrom<unknown>(
      now - 3600,
      now - 31,
      now,
      now + 3600,
      now + JWT_MAX_TTL_SECONDS + 3600,
      now + 10 * 365 * 86_400,
      "9999999999",
      1e308,
      -1,
      0,
      null,
      true,
      [now + 3600],
    ),
    fc.integer({ min: now - 200_000, max: now + 200_000 }),
  );
  const hostileClaims = fc.tuple(
    fc.record({
      sub: fc.constantFrom(...SUBS),
      roles: fc.constantFrom(...ROLES),
      exp: fc.oneof(
        { weight: 3, arbitrary: fc.constant<unknown>(now + 3600) },
        timeClaim,
      ),
      nbf: timeClaim,
      iat: fc.oneof(
        { weight: 2, arbitrary: fc.constant<unknown>(now - 3600) },
        timeClaim,
      ),
      iss: fc.jsonValue({ maxDepth: 1 }),
      aud: fc.jsonValue({ maxDepth: 1 }),
      jti: HEADER_TEXT,
      extra: fc.jsonValue({ maxDepth: 2 }),
    }, { requiredKeys: ["sub"] }),
    fc.record({
      alg: fc.constant("HS256"),
      typ: fc.constantFrom<unknown>("JWT", "jwt", "at+jwt", 1, null),
      kid: fc.constantFrom<unknown>("../../etc/passwd", "' OR 1=1", 0),
      crit: fc.constantFrom<unknown>(["exp"], [], ["b64"], "x"),
      b64: fc.constantFrom<unknown>(false, true),
      jku: fc.constant("http://attacker.example/jwks"),
    }, { requiredKeys: ["alg"] }),
  ).map(([claims, header]): AuthCase => {
    const payload = Object.fromEntries(
      Object.entries(claims).filter(([, value]) => value !== undefined),
    );
    const verdict = claimsVerdict(payload, now);
    // `crit` and `b64` may be refused by the JOSE library whatever the
    // claims; refusing them is fine, accepting bad claims never is.
    const joseExtras = Object.hasOwn(header, "crit") ||
      Object.hasOwn(header, "b64");
    return {
      kind: "hostile claims signed with the right key",
      jwt: { header, payload, secret: TEST_SECRET },
      verdict: joseExtras && verdict === "accept" ? "either" : verdict,
    };
  });
  const missing = fc.constant<AuthCase>({
    kind: "no Authorization",
    verdict: "refuse",
  });
  // Weights 6 and 3; 2 for each of the second group, 1 for each of the third.
  return fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 3, arbitrary: hostileClaims },
    { weight: 4, arbitrary: fc.oneof(schemeVariants, garbage) },
    {
      weight: 6,
      arbitrary: fc.oneof(
        missing,
        segments,
        algNone,
        wrongAlg,
        otherSecret,
        tampered,
      ),
    },
  );
}

// ---------------------------------------------------------------------------
// Property 2: headers and tokens

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json;charset=UTF-8",
  "APPLICATION/JSON",
  "application/merge-patch+json",
  "application/problem+json",
  "application/vnd.api+json",
  "application/jsonx",
  "application/json-seq",
  "application/json; charset=latin1",
  "application/json, text/plain",
  "application/json;",
  "application/",
  "json",
  "text/json",
  "text/plain",
  "text/html",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "*/*",
  "",
];

const IF_MATCH = [
  '"1"',
  '"2"',
  'W/"1"',
  "*",
  '"0"',
  '"01"',
  '"1", "2"',
  '"1" , W/"2"',
  '""',
  '"',
  ",",
  ", ,",
  '"99999999999999999999"',
  '"9007199254740993"',
  '"abc"',
  '"1"x',
  "1",
  '"-1"',
  '"1.0"',
  '"\u00ff"',
];

const REQUEST_IDS = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  fc.constantFrom(
    "a".repeat(64),
    "a".repeat(65),
    "TypeError",
    "../../etc",
    "id with spaces",
    "<script>",
    "é",
  ),
  HEADER_TEXT,
);

const IDEMPOTENCY_KEYS = fc.oneof(
  ASCII_HEADER_TEXT,
  fc.uuid(),
  fc.constantFrom("", " ", "a".repeat(255), "a".repeat(256), "é", "key\u007f"),
  HEADER_TEXT,
);

const EXTRA_HEADERS = fc.tuple(
  fc.constantFrom(
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Origin",
    "X-Forwarded-For",
    "Forwarded",
    "X-Real-IP",
    "Cookie",
    "Range",
    "X-HTTP-Method-Override",
    "Prefer",
    "Expect",
    "Content-Encoding",
    "Transfer-Encoding",
  ),
  fc.oneof(HEADER_TEXT, LONG_HEADER_TEXT),
);

/** A route the header fuzz calls: method, path and a valid body. */
interface HeaderRoute {
  readonly method: string;
  readonly path: (orderId: string) => string;
  readonly body?: fc.Arbitrary<unknown>;
}

const HEADER_ROUTES: readonly HeaderRoute[] = [
  { method: "POST", path: () => "/v1/orders", body: VALID_ORDER },
  { method: "GET", path: () => "/v1/orders" },
  { method: "GET", path: (id) => `/v1/orders/${id}` },
  {
    method: "PATCH",
    path: (id) => `/v1/orders/${id}`,
    body: ROUTE_SHAPES.update.valid,
  },
  {
    method: "POST",
    path: (id) => `/v1/orders/${id}/cancel`,
    body: fc.option(ROUTE_SHAPES.cancel.valid, { nil: undefined }),
  },
  {
    method: "POST",
    path: (id) => `/v1/orders/${id}/review`,
    body: ROUTE_SHAPES.review.valid,
  },
  { method: "GET", path: (id) => `/v1/orders/${id}/history` },
  { method: "GET", path: () => `/v1/users/${USER}/export` },
  { method: "GET", path: () => "/healthz" },
];

Deno.test("fuzz: hostile headers and tokens never cause a 5xx or leak internals, refused tokens get a 401 challenge, and replays are identical", () =>
  withFuzzContext(async (ctx, actors) => {
    const orders = await ordersToActOn(ctx, actors);
    const headerSets = fc.record({
      contentType: fc.oneof(fc.constantFrom(...CONTENT_TYPES), HEADER_TEXT),
      ifMatch: fc.oneof(
        fc.constantFrom(...IF_MATCH),
        HEADER_TEXT,
        LONG_HEADER_TEXT,
      ),
      idempotencyKey: IDEMPOTENCY_KEYS,
      requestId: REQUEST_IDS,
      extra: EXTRA_HEADERS,
    }, { requiredKeys: [] });
    // Plain data, so a counterexample prints the request.
    const routeCase = fc.constantFrom(...HEADER_ROUTES).chain((route) =>
      fc.record({
        method: fc.constant(route.method),
        path: fc.constantFrom(...orders.map(route.path)),
        body: route.body ?? fc.constant(undefined),
      })
    );
    await fc.assert(
      fc.asyncProperty(
        routeCase,
        authCases(ctx, actors),
        headerSets,
        async ({ method, path, body }, auth, headerSet) => {
          const authorization = await authorizationOf(auth);
          const headers: Record<string, string> = {};
          const [extraName, extraValue] = headerSet.extra ?? [];
          if (extraName !== undefined && extraValue !== undefined) {
            headers[extraName] = extraValue;
          }
          if (authorization !== undefined) {
            headers.Authorization = authorization;
          }
          if (body !== undefined) {
            headers["Content-Type"] = "application/json";
          }
          if (headerSet.contentType !== undefined) {
            headers["Content-Type"] = headerSet.contentType;
          }
          if (headerSet.ifMatch !== undefined) {
            headers["If-Match"] = headerSet.ifMatch;
          }
          if (headerSet.idempotencyKey !== undefined) {
            headers["Idempotency-Key"] = headerSet.idempotencyKey;
          }
          if (headerSet.requestId !== undefined) {
            headers["X-Request-Id"] = headerSet.requestId;
          }
          const request: FuzzRequest = {
            method,
            path,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
          };
          const answer = await send(ctx, request);
          checkResponse(ctx, request, answer, {
            validToken: auth.verdict === "accept",
          });
          const protectedRoute = request.path.startsWith("/v1/");
          if (
            protectedRoute && auth.verdict === "refuse" && answer.status !== 401
          ) {
            throw failure(
              `${auth.kind}: must be refused with 401, got ${answer.status}`,
              request,
              answer,
            );
          }
          if (
            protectedRoute && auth.verdict === "accept" && answer.status === 401
          ) {
            throw failure(
              `${auth.kind}: must be accepted, got 401`,
              request,
              answer,
            );
          }
          if (
            answer.status === 401 && authorization !== undefined &&
            /^Bearer +\S/i.test(authorization) &&
            !/error="invalid_token"/.test(
              answer.headers.get("www-authenticate") ?? "",
            )
          ) {
            throw failure(
              'a presented bearer token was refused without error="invalid_token"',
              request,
              answer,
            );
          }
          if (answer.status === 201 && request.path === "/v1/orders") {
            await checkCreationReadsBack(ctx, actors, request, answer, {
              callerId: tokenSubject(authorization),
            });
          }
        },
      ),
      FUZZ_PARAMETERS,
    );
  }));

// ---------------------------------------------------------------------------
// Property 3: paths and query strings

/** User ids admin routes may act on: never the actors', so they stay usable. */
const VICTIMS = [2001, 2002, 2003];

Deno.test("fuzz: random paths and query strings never cause a 5xx or leak internals, and users only ever see their own orders", () =>
  withFuzzContext(async (ctx, actors) => {
    const orders = await ordersToActOn(ctx, actors);
    const adminMade = jsonRequest("POST", "/v1/orders", actors.admin, {
      items: [{ product_id: 7, product_name: "Tea", quantity: 1, price: 1 }],
      shipping_address: "2 Side St",
      user_id: USER,
    });
    const answer = await send(ctx, adminMade);
    orders.push((JSON.parse(answer.text) as { id: string }).id);
    // Cursors the listing issued (to the user and to the admin), to send
    // as they are, to other callers and with other filters.
    const cursors = await issuedCursors(ctx, [actors.user, actors.admin]);

    const existingId = fc.constantFrom(...orders);
    const segment = fc.oneof(
      fc.constantFrom(
        "v1",
        "orders",
        "users",
        "admin",
        "metrics",
        "history",
        "cancel",
        "review",
        "export",
        "personal-data",
        "disable",
        "enable",
        "revoke-tokens",
        "healthz",
        "readyz",
        "openapi.json",
        "docs",
        "..",
        ".",
        "",
        "%2e%2e",
        "%2E",
        "%2f",
        "%2F..%2F",
        "%00",
        "%",
        "%%",
        "%zz",
        "%C0%AE",
        "%ff",
        "%E2%80%AE",
        "%F0%9F%92%A9",
        "%u0041",
        "%252e",
        "null",
        "undefined",
        "NaN",
        "-1",
        "0",
        "1e3",
        "9007199254740992",
        "9".repeat(40),
        "__proto__",
        "constructor",
        "*",
        ";",
        "%3B",
        ":id",
        "{id}",
        "\\",
        "@",
        "~",
      ),
      fc.webSegment(),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }).map(encodeURIComponent),
      existingId,
      existingId.map((id) => id.toUpperCase()),
      existingId.map((id) => `${id}%00`),
      existingId.map((id) => ` ${id}`),
      existingId.map((id) => id.replace(/-/g, "")),
      fc.uuid(),
      fc.integer({ min: 100, max: 20_000 }).map((n) => "a".repeat(n)),
    );
    const userIdSegment = fc.oneof(
      fc.constantFrom(
        ...VICTIMS.map(String),
        String(USER),
        String(OTHER_USER),
        "0",
        "-1",
        "01",
        "1e3",
        "9007199254740991",
        "9007199254740992",
        "%31%30%30%31",
      ),
      segment,
    );
    const template = fc.oneof(
      fc.constant("/v1/orders"),
      fc.constant("/v1/orders/"),
      segment.map((id) => `/v1/orders/${id}`),
      fc.tuple(
        segment,
        fc.constantFrom("history", "cancel", "review", "", "x"),
      ).map(([id, tail]) => `/v1/orders/${id}/${tail}`),
      fc.tuple(userIdSegment, fc.constantFrom("export", "personal-data", "x"))
        .map(([id, tail]) => `/v1/users/${id}/${tail}`),
      // Admin account actions only on victims' ids (or garbage), so the
      // actors stay enabled and their tokens valid.
      fc.tuple(
        fc.oneof(fc.constantFrom(...VICTIMS.map(String)), segment),
        fc.constantFrom("disable", "enable", "revoke-tokens", "x"),
      ).filter(([id]) =>
        ![USER, OTHER_USER, ADMIN, FULFILLMENT].map(String).includes(
          safeDecodeUri(id).trim(),
        )
      )
        .map(([id, action]) => `/v1/admin/users/${id}/${action}`),
      fc.constantFrom(
        "/v1/admin/metrics",
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/docs",
        "/",
        "//",
        "/v1",
        "/v1/",
        "/V1/ORDERS",
        "/v1//orders",
        "/v1/./orders",
        "/v1/orders/../admin/metrics",
        "/v1/orders/%2e%2e/admin/metrics",
        "/v1/orders/..%2F..%2Fadmin",
        "/v1/%6frders",
        "/v1/orders;jsessionid=1",
        "/v1/orders%00",
        "/v1/orders.json",
        "/healthz/../v1/orders",
        "/docs/../../etc/passwd",
        "/openapi.json%00.html",
      ),
    );
    const path = fc.oneof(
      { weight: 5, arbitrary: template },
      {
        weight: 2,
        arbitrary: fc.array(segment, { maxLength: 8 }).map((parts) =>
          `/${parts.join("/")}`
        ),
      },
      {
        weight: 1,
        arbitrary: fc.webPath().map((p) => `/${p.replace(/^\/+/, "")}`),
      },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1_000, max: 60_000 }).map((n) =>
          `/v1/orders/${"../".repeat(Math.floor(n / 3))}`
        ),
      },
    );
    const queryValue = fc.oneof(
      fc.constantFrom(
        "1",
        "0",
        "-1",
        "20",
        "100",
        "101",
        "100000",
        "100001",
        "1e2",
        "0x10",
        "01",
        "%201",
        "1%20",
        "1.0",
        "%2B1",
        "%EF%BC%91",
        "",
        "%",
        "%zz",
        "%00",
        "%ff",
        "9007199254740991",
        "9007199254740992",
        "99999999999999999999",
        "NaN",
        "Infinity",
        "null",
        "true",
        "[]",
        "{}",
        "pending",
        "PENDING",
        "shipped%00",
        "cancelled%20",
        "delivered",
        "processing",
        "pending,shipped",
        String(USER),
        String(OTHER_USER),
        String(ADMIN),
      ),
      fc.integer().map(String),
      fc.double().map(String),
      fc.string({ unit: "binary", maxLength: 20 }).map(encodeURIComponent),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.integer({ min: 100, max: 20_000 }).map((n) => "9".repeat(n)),
      fc.constantFrom(...cursors.values()),
      hostileCursor([...cursors.values()]).map(encodeQueryValue),
    );
    const queryKey = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          "limit",
          "offset",
          "status",
          "user_id",
          "cursor",
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "LIMIT",
          "limit[]",
          "CURSOR",
          "cursor[]",
          "user_id ",
          "__proto__",
          "constructor",
          "",
          "%00",
          "a".repeat(1000),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.string({ unit: "binary", maxLength: 10 }).map(
          encodeURIComponent,
        ),
      },
    );
    const query = fc.oneof(
      fc.constant(""),
      fc.array(fc.tuple(queryKey, queryValue), { maxLength: 6 }).map((pairs) =>
        `?${pairs.map(([key, value]) => `${key}=${value}`).join("&")}`
      ),
      fc.webQueryParameters().map((q) => `?${q}`),
      fc.string({ unit: "binary", maxLength: 60 }).map((q) => `?${q}`),
      fc.constantFrom(
        "?",
        "??",
        "?&&&",
        "?=",
        "?limit",
        "?limit=",
        "?limit=1&limit=2",
        "?#frag",
      ),
    );
    const everyActor = [
      actors.user,
      actors.other,
      actors.admin,
      actors.fulfillment,
    ];
    const caller = fc.option(fc.constantFrom(...everyActor), {
      nil: undefined,
      freq: 6,
    });
    const body = fc.option(
      fc.constantFrom(
        "{}",
        JSON.stringify({
          items: [{
            product_id: "sku-1",
            product_name: "Mug",
            quantity: 1,
            price: "1.00",
          }],
          shipping_address: "1 Main St",
        }),
        '{"status":"processing"}',
        '{"status":"cancelled"}',
        '{"shipping_address":"3 New Rd"}',
        '{"decision":"approve","note":"ok"}',
        '{"reason":"late"}',
        "not json",
      ),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "GET",
          "POST",
          "PATCH",
          "DELETE",
          "PUT",
          "HEAD",
          "OPTIONS",
        ),
        path,
        query,
        caller,
        body,
        async (method, pathText, queryText, actor, bodyText) => {
          const headers: Record<string, string> = actor
            ? bearer(actor.token)
            : {};
          if (bodyText !== undefined) {
            headers["Content-Type"] = "application/json";
          }
          const request: FuzzRequest = {
            method,
            path: pathText + queryText,
            headers,
            body: bodyText,
          };
          const answer = await send(ctx, request);
          checkResponse(ctx, request, answer, {
            validToken: actor !== undefined,
          });
          const url = new URL(`http://localhost${request.path}`);
          if (
            actor === undefined && url.pathname.startsWith("/v1/") &&
            answer.status !== 401 && answer.status !== 404 &&
            answer.status !== 405
          ) {
            throw failure(
              `/v1 without a token answered ${answer.status}, not 401`,
              request,
              answer,
            );
          }
          if (
            answer.status === 201 && method === "POST" &&
            url.pathname === "/v1/orders"
          ) {
            await checkCreationReadsBack(ctx, actors, request, answer, {
              callerId: actor?.id,
            });
          }
          if (
            actor && actor.roles.length === 0 && answer.status === 200 &&
            answer.text !== "" &&
            /json/.test(answer.headers.get("content-type") ?? "")
          ) {
            const shown = parseJson(request, answer);
            const owners = isPlainObject(shown)
              ? [
                shown.user_id,
                ...(Array.isArray(shown.orders)
                  ? shown.orders.map((order) =>
                    isPlainObject(order) ? order.user_id : undefined
                  )
                  : []),
              ].filter((owner) => owner !== undefined)
              : [];
            const foreign = owners.find((owner) => owner !== actor.id);
            if (foreign !== undefined) {
              throw failure(
                `${actor.name} ${actor.id} was shown data of user ${foreign}`,
                request,
                answer,
              );
            }
          }
        },
      ),
      FUZZ_PARAMETERS,
    );
  }));

// ---------------------------------------------------------------------------
// Cursors of the listing

/** The longest cursor the listing reads (routes/http/cursor.ts). */
const MAX_CURSOR_LENGTH = 512;

/** A query value as a client would send it (lone surrogates made whole). */
function encodeQueryValue(text: string): string {
  return encodeURIComponent(text.toWellFormed());
}

/**
 * The `next_cursor` of a first page of one order, for each of `actors`
 * and each filter the listing binds a cursor to, keyed by `cursorKey`;
 * listings with no second page (or refused) have none.
 */
async function issuedCursors(
  ctx: TestContext,
  actors: readonly Actor[],
): Promise<Map<string, string>> {
  const cursors = new Map<string, string>();
  for (const actor of actors) {
    for (const status of [undefined, "pending"]) {
      for (const userId of [undefined, USER, OTHER_USER]) {
        const key = cursorKey(actor, status, userId);
        const query = new URLSearchParams({ limit: "1" });
        if (status !== undefined) query.set("status", status);
        if (userId !== undefined) query.set("user_id", String(userId));
        const answer = await send(ctx, {
          method: "GET",
          path: `/v1/orders?${query}`,
          headers: bearer(actor.token),
        });
        if (answer.status !== 200) continue;
        const { next_cursor: cursor } = JSON.parse(answer.text) as {
          next_cursor: string | null;
        };
        if (cursor !== null) cursors.set(key, cursor);
      }
    }
  }
  return cursors;
}

/** What a cursor is issued for: the caller and the filters. */
function cursorKey(
  actor: Actor,
  status: string | undefined,
  userId: number | undefined,
): string {
  return JSON.stringify([actor.id, status ?? null, userId ?? null]);
}

/**
 * Cursors the listing never issued: issued ones altered (a character
 * changed, cut, doubled, padded past the limit, split differently), and
 * hostile text of every kind (SQL, JSON, base64 look-alikes, controls,
 * lone surrogates, huge).
 */
function hostileCursor(issued: readonly string[]): fc.Arbitrary<string> {
  const real = fc.constantFrom(...issued);
  const base64url = fc.string({
    unit: fc.constantFrom(
      ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    ),
    maxLength: 80,
  });
  return fc.oneof(
    fc.tuple(real, fc.nat(), fc.constantFrom("A", "_", "-", "0", "=", "."))
      .map(([cursor, at, unit]) => {
        const i = at % cursor.length;
        const changed = cursor.slice(0, i) + unit + cursor.slice(i + 1);
        return changed === cursor ? `${cursor}A` : changed;
      }),
    fc.tuple(real, fc.nat()).map(([cursor, at]) =>
      cursor.slice(0, at % cursor.length)
    ),
    real.map((cursor) => `${cursor}${cursor}`),
    real.map((cursor) => `${cursor}.${cursor}`),
    real.map((cursor) => cursor.split(".").reverse().join(".")),
    real.map((cursor) => cursor.padEnd(MAX_CURSOR_LENGTH + 1, "A")),
    fc.tuple(base64url, base64url).map(([body, mac]) => `${body}.${mac}`),
    base64url.map((body) => `${body}.`),
    fc.constantFrom(
      "",
      ".",
      "..",
      "null",
      "[]",
      "{}",
      '[1764338400000,"5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10"]',
      '{"createdAt":0,"id":"x"}',
      btoa('[0,"x"]'),
      `${btoa('[9e999,"x"]')}.${"A".repeat(43)}`,
      "' OR 1=1 --",
      "1) OR (1=1",
      "x'); DROP TABLE orders; --",
      "%00",
      "\u0000",
      "a".repeat(MAX_CURSOR_LENGTH),
      "a".repeat(MAX_CURSOR_LENGTH + 1),
    ),
    fc.constantFrom(...HOSTILE_SNIPPETS),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.integer({ min: 400, max: 20_000 }).map((n) => "A.".repeat(n)),
  );
}

Deno.test("fuzz: cursors thrown at GET /v1/orders are refused with 400 (422 for another bad parameter), never a 5xx, and only the caller's own cursor for the same filters pages on", () =>
  withFuzzContext(async (ctx, actors) => {
    await ordersToActOn(ctx, actors);
    for (const owner of [actors.user, actors.other, actors.user]) {
      await createOrder(ctx, owner, "1.00");
    }
    const everyActor = [
      actors.user,
      actors.other,
      actors.admin,
      actors.fulfillment,
    ];
    const cursors = await issuedCursors(ctx, everyActor);
    if (cursors.size < 8) throw new Error("too few cursors to fuzz with");
    // null: the cursor issued for the request's caller and filters.
    const cursor = fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.constantFrom(...cursors.values()) },
      { weight: 4, arbitrary: hostileCursor([...cursors.values()]) },
    );
    const seen = new Set<number>();
    const badParameter = fc.constantFrom(
      ["limit", "0"],
      ["limit", "abc"],
      ["offset", "-1"],
      ["status", "lost"],
      ["user_id", "0"],
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...everyActor),
        cursor,
        fc.option(fc.constantFrom(...ORDER_STATUSES, "pending")),
        fc.option(fc.constantFrom(USER, OTHER_USER)),
        fc.option(fc.integer({ min: 1, max: 100 })),
        fc.option(fc.constantFrom(0, 1, 20, 100_000)),
        fc.option(badParameter, { freq: 5 }),
        async (actor, chosen, status, userId, limit, offset, bad) => {
          const key = cursorKey(
            actor,
            status ?? undefined,
            userId ?? undefined,
          );
          const cursorText = chosen ?? cursors.get(key) ?? "none issued";
          const params = new Map<string, string>();
          if (status !== null) params.set("status", status);
          if (userId !== null) params.set("user_id", String(userId));
          if (limit !== null) params.set("limit", String(limit));
          if (offset !== null) params.set("offset", String(offset));
          // A bad value takes the place of a good one.
          if (bad !== null) params.set(bad[0], bad[1]);
          params.set("cursor", cursorText);
          const pairs = [...params];
          const request: FuzzRequest = {
            method: "GET",
            path: `/v1/orders?${
              pairs.map(([key, value]) => `${key}=${encodeQueryValue(value)}`)
                .join("&")
            }`,
            headers: bearer(actor.token),
          };
          const answer = await send(ctx, request);
          checkResponse(ctx, request, answer, { validToken: true });
          const issued = cursors.get(key) === cursorText.toWellFormed();
          const [expected, path] = bad !== null
            ? [422, undefined]
            : (offset ?? 0) !== 0
            ? [400, "offset"]
            : issued
            ? [200, undefined]
            : [400, "cursor"];
          seen.add(answer.status);
          if (answer.status !== expected) {
            throw failure(
              `answered ${answer.status}, not ${expected}`,
              request,
              answer,
            );
          }
          if (path !== undefined) {
            const problem = parseJson(request, answer) as {
              errors?: { path: string }[];
            };
            if (problem.errors?.[0]?.path !== path) {
              throw failure(`the 400 does not name ${path}`, request, answer);
            }
          }
          if (answer.status === 200) {
            const page = parseJson(request, answer) as {
              next_cursor: string | null;
            };
            if (answer.headers.has("link") !== (page.next_cursor !== null)) {
              throw failure(
                "Link and next_cursor disagree",
                request,
                answer,
              );
            }
          }
        },
      ),
      FUZZ_PARAMETERS,
    );
    if (RUNS >= 100 && !(seen.has(200) && seen.has(400) && seen.has(422))) {
      throw new Error(`the runs saw only ${[...seen].join(", ")}`);
    }
  }));

Deno.test("fuzz: GET /v1/events and /v1/events/{id} with hostile cursors, parameters and ids answer 200, 400, 404 or 422, never a 5xx", () =>
  withFuzzContext(async (ctx, actors) => {
    await ordersToActOn(ctx, actors);
    const everyActor = [
      actors.user,
      actors.other,
      actors.admin,
      actors.fulfillment,
    ];
    // Each caller's own cursor, without filters.
    const own = new Map<string, string>();
    for (const actor of everyActor) {
      const request: FuzzRequest = {
        method: "GET",
        path: "/v1/events?limit=1",
        headers: bearer(actor.token),
      };
      const page = parseJson(request, await send(ctx, request)) as {
        next_cursor: string;
      };
      own.set(actor.token, page.next_cursor);
    }
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        "0",
        "101",
        "-1",
        "order.created",
        "order.lost",
        "' OR 1=1 --",
        "00000000-0000-4000-8000-000000000000",
        "evt_",
        "%00",
      ),
    );
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...everyActor),
        fc.option(hostileCursor([...own.values()])),
        fc.dictionary(
          fc.constantFrom("limit", "type", "order_id", "cursor", "x"),
          value,
          { maxKeys: 3 },
        ),
        fc.oneof(value, fc.constant("evt_x")),
        async (actor, cursor, query, id) => {
          const params = new Map(Object.entries(query));
          if (cursor !== null) params.set("cursor", cursor);
          const feed: FuzzRequest = {
            method: "GET",
            path: `/v1/events?${
              [...params].map(([key, text]) =>
                `${key}=${encodeQueryValue(text)}`
              ).join("&")
            }`,
            headers: bearer(actor.token),
          };
          const one: FuzzRequest = {
            method: "GET",
            path: `/v1/events/${encodeURIComponent(id)}`,
            headers: bearer(actor.token),
          };
          for (const request of [feed, one]) {
            const answer = await send(ctx, request);
            checkResponse(ctx, request, answer, { validToken: true });
            seen.add(answer.status);
            if (![200, 400, 404, 422].includes(answer.status)) {
              throw failure(`answered ${answer.status}`, request, answer);
            }
          }
        },
      ),
      FUZZ_PARAMETERS,
    );
    if (RUNS >= 100 && !(seen.has(200) && seen.has(400) && seen.has(422))) {
      throw new Error(`the runs saw only ${[...seen].join(", ")}`);
    }
  }));

// ---------------------------------------------------------------------------
// Webhook endpoints and resending events

/** What each webhook route may answer an admin (besides 413/415 for a body). */
const WEBHOOK_ROUTE_STATUSES: Readonly<Record<string, readonly number[]>> = {
  create: [201, 400, 409, 422],
  list: [200],
  read: [200, 404],
  change: [200, 400, 404, 409, 422],
  delete: [204, 404, 409],
  rotate: [200, 404, 409],
  test: [202, 404, 409],
  attempts: [200, 400, 404, 422],
  resend: [202, 400, 404, 409, 422],
};

/** The routes whose 2xx shows a secret: the only ones that may. */
const SHOWS_SECRET = new Set(["create", "rotate"]);

Deno.test("fuzz: hostile bodies, ids, queries and cursors to the webhook endpoint routes and resend answer only their documented statuses, never a 5xx, and show a secret only on creation and rotation", () =>
  withFuzzContext(async (ctx, actors) => {
    await ordersToActOn(ctx, actors);
    const admin = bearer(actors.admin.token);
    const registered: string[] = [];
    for (const url of ["https://hooks.example.com/a", "https://b.example/x"]) {
      const answer = await send(
        ctx,
        jsonRequest("POST", "/v1/webhook-endpoints", actors.admin, { url }),
      );
      registered.push((JSON.parse(answer.text) as { id: string }).id);
    }
    for (let i = 0; i < 3; i++) {
      await ctx.database.client.execute({
        sql:
          "INSERT INTO webhook_attempts (endpoint_id, event_id, event_type, attempt, at, outcome, response_status, duration_ms) VALUES (?, 'evt_x', 'order.created', 1, 0, 'failed', 500, 1)",
        args: [registered[0]!],
      });
    }
    const paged = await send(ctx, {
      method: "GET",
      path: `/v1/webhook-endpoints/${registered[0]}/attempts?limit=1`,
      headers: admin,
    });
    const issued = (JSON.parse(paged.text) as { next_cursor: string })
      .next_cursor;
    const feed = await send(ctx, {
      method: "GET",
      path: "/v1/events",
      headers: admin,
    });
    const eventIds = (JSON.parse(feed.text) as { events: { id: string }[] })
      .events.map((event) => event.id);

    const id = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...registered) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          "00000000-0000-4000-8000-000000000000",
          registered[0]!.toUpperCase(),
          "not-a-uuid",
          "%00",
          "..",
          "' OR 1=1 --",
        ),
      },
      { weight: 1, arbitrary: HOSTILE_TEXT.map(encodeQueryValue) },
    );
    const eventId = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...eventIds) },
      { weight: 1, arbitrary: HOSTILE_TEXT.map(encodeQueryValue) },
    );
    const field = fc.oneof(
      { weight: 2, arbitrary: HOSTILE_VALUE },
      {
        weight: 2,
        arbitrary: fc.constantFrom<unknown>(
          "https://hooks.example.com/new",
          "http://hooks.example.com/",
          "https://127.0.0.1/",
          "https://[::ffff:10.0.0.1]/",
          "https://0x7f.1/",
          ["order.created"],
          ["order.created", "order.created"],
          ["order.lost"],
          [],
          true,
          false,
          null,
          "Warehouse",
          registered[1]!,
          "00000000-0000-4000-8000-000000000000",
        ),
      },
    );
    const body = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.dictionary(
          fc.constantFrom(
            "url",
            "event_types",
            "description",
            "enabled",
            "endpoint_id",
            "secret",
            "__proto__",
          ),
          field,
          { maxKeys: 4 },
        ).map((object) => JSON.stringify(object)),
      },
      { weight: 1, arbitrary: HOSTILE_VALUE.map((v) => JSON.stringify(v)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("", "{", "null", "[]", '{"url":'),
      },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    const query = fc.oneof(
      fc.constant(""),
      fc.tuple(
        fc.option(
          fc.oneof(
            fc.constant(issued),
            hostileCursor([issued]),
          ),
        ),
        fc.option(fc.oneof(
          fc.constantFrom("0", "1", "100", "101", "-1", "x"),
          HOSTILE_TEXT,
        )),
      ).map(([cursor, limit]) => {
        const pairs: string[] = [];
        if (cursor !== null) pairs.push(`cursor=${encodeQueryValue(cursor)}`);
        if (limit !== null) pairs.push(`limit=${encodeQueryValue(limit)}`);
        return `?${pairs.join("&")}`;
      }),
    );
    const route = fc.constantFrom(...Object.keys(WEBHOOK_ROUTE_STATUSES));
    const caller = fc.oneof(
      { weight: 6, arbitrary: fc.constant(actors.admin) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          actors.user,
          actors.other,
          actors.fulfillment,
        ),
      },
    );
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        route,
        caller,
        id,
        eventId,
        body,
        query,
        async (name, actor, endpointId, event, bodyText, queryText) => {
          const base = `/v1/webhook-endpoints/${endpointId}`;
          const [method, path, withBody] = {
            create: ["POST", "/v1/webhook-endpoints", true],
            list: ["GET", "/v1/webhook-endpoints", false],
            read: ["GET", base, false],
            change: ["PATCH", base, true],
            delete: ["DELETE", base, false],
            rotate: ["POST", `${base}/rotate-secret`, true],
            test: ["POST", `${base}/test`, true],
            attempts: ["GET", `${base}/attempts${queryText}`, false],
            resend: ["POST", `/v1/events/${event}/resend`, true],
          }[name] as [string, string, boolean];
          const headers: Record<string, string> = bearer(actor.token);
          if (withBody && bodyText !== undefined) {
            headers["Content-Type"] = "application/json";
          }
          const request: FuzzRequest = {
            method,
            path,
            headers,
            body: withBody ? bodyText : undefined,
          };
          const answer = await send(ctx, request);
          checkResponse(ctx, request, answer, { validToken: true });
          seen.add(answer.status);
          // A hostile id may name another route (a `/` decoded) or none.
          if (answer.status === 404 || answer.status === 405) return;
          // A body is refused for its size (413) or media type (415).
          const allowed = [
            ...(actor === actors.admin ? WEBHOOK_ROUTE_STATUSES[name]! : [403]),
            ...(withBody ? [413, 415] : []),
          ];
          if (!allowed.includes(answer.status)) {
            throw failure(
              `${name} answered ${answer.status}, not one of ${allowed}`,
              request,
              answer,
            );
          }
          if (answer.status < 300 && answer.text !== "") {
            const shown = JSON.stringify(JSON.parse(answer.text));
            if (/whsec_/.test(shown) !== SHOWS_SECRET.has(name)) {
              throw failure(
                SHOWS_SECRET.has(name)
                  ? "no secret on a creation or rotation"
                  : "a secret shown outside creation and rotation",
                request,
                answer,
              );
            }
          }
        },
      ),
      FUZZ_PARAMETERS,
    );
    if (RUNS >= 100 && !(seen.has(200) && seen.has(403) && seen.has(422))) {
      throw new Error(`the runs saw only ${[...seen].join(", ")}`);
    }
    // The secrets are stored encrypted, and the audit log holds none.
    const { rows } = await ctx.database.client.execute(
      "SELECT changes FROM audit_log WHERE chain_id LIKE 'webhook_endpoint:%'",
    );
    if (rows.some((row) => String(row.changes).includes("whsec_"))) {
      throw new Error("an audit entry holds a webhook secret");
    }
  }));
