import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import {
  parseCancelOrder,
  parseNewOrder,
  parseOrderPatch,
} from "../../domain/order_input.ts";
import { parseReviewDecision } from "../../domain/review.ts";
import type { z } from "zod";
import { buildOpenApiDocument } from "../../routes/openapi/standalone.ts";
import {
  healthSchema,
  openApiDocumentSchema,
  orderHistorySchema,
  orderListSchema,
  orderSchema,
  personalDataExportSchema,
  problemSchema,
  readinessSchema,
} from "../../routes/openapi/response_schemas.ts";
import { MINUTE_MS } from "../../limits/rate_limiter.ts";
import {
  createTestContext,
  orderBody,
  type RequestOptions,
  storeInFlightClaim,
  withTestContext,
} from "../fixtures/mod.ts";
import {
  eventListSchema,
  eventSchema,
} from "../../routes/openapi/event_schemas.ts";
import {
  parseNewWebhookEndpoint,
  parseResendEvent,
  parseWebhookEndpointPatch,
} from "../../domain/webhook_input.ts";
import {
  createdWebhookEndpointSchema,
  queuedWebhookEventSchema,
  webhookAttemptListSchema,
  webhookEndpointListSchema,
  webhookEndpointSchema,
  webhookSecretSchema,
} from "../../routes/openapi/webhook_schemas.ts";

type Json = Record<string, unknown>;

// ajv-formats is CommonJS: its function is the default export's default.
const addFormats = (addFormatsModule as unknown as {
  default: (ajv: Ajv2020) => Ajv2020;
}).default ?? addFormatsModule;

/** The document as JSON, as `GET /openapi.json` serves it. */
const DOCUMENT = JSON.parse(JSON.stringify(buildOpenApiDocument())) as Json & {
  paths: Record<string, Record<string, Json>>;
};
const SCHEMA_BASE = "urn:orders-api:openapi";

/** The zod schema of each response body the document names. */
const SCHEMAS: Record<string, z.ZodType> = {
  Order: orderSchema,
  OrderList: orderListSchema,
  OrderHistory: orderHistorySchema,
  PersonalDataExport: personalDataExportSchema,
  Problem: problemSchema,
  Health: healthSchema,
  Readiness: readinessSchema,
  OpenApiDocument: openApiDocumentSchema,
  OrderEvent: eventSchema,
  OrderEventList: eventListSchema,
  WebhookEndpoint: webhookEndpointSchema,
  CreatedWebhookEndpoint: createdWebhookEndpointSchema,
  WebhookEndpointList: webhookEndpointListSchema,
  WebhookSecret: webhookSecretSchema,
  WebhookAttemptList: webhookAttemptListSchema,
  QueuedWebhookEvent: queuedWebhookEventSchema,
};

/** One operation of the document. */
interface Operation {
  method: string;
  path: string;
  operationId: string;
  /** Whether it requires a bearer token (it has no `security: []`). */
  authenticated: boolean;
  /** The statuses it documents itself, not by `$ref` to a shared response. */
  ownStatuses: string[];
}

/** Every operation of the document. */
const OPERATIONS: Operation[] = Object.entries(DOCUMENT.paths).flatMap((
  [path, item],
) =>
  Object.entries(item).map(([method, operation]) => ({
    method,
    path,
    operationId: operation.operationId as string,
    authenticated: operation.security === undefined,
    ownStatuses: Object.entries(operation.responses as Json)
      .filter(([, response]) => !("$ref" in (response as Json)))
      .map(([status]) => status),
  }))
);

function validator(document: Json): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const components = document.components as { schemas: Json };
  ajv.addSchema({
    $id: SCHEMA_BASE,
    components: { schemas: components.schemas },
  });
  return ajv;
}

/** Follows a local `$ref` in the document. */
function resolve(document: Json, value: unknown): Json {
  const ref = (value as { $ref?: string }).$ref;
  if (ref === undefined) return value as Json;
  let target: unknown = document;
  for (const part of ref.replace(/^#\//, "").split("/")) {
    target = (target as Json)[
      part.replaceAll("~1", "/").replaceAll(
        "~0",
        "~",
      )
    ];
  }
  assert.ok(target, `Unresolved reference ${ref}`);
  return target as Json;
}

/** Hono's `/v1/orders/:id` as an OpenAPI path. */
function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

Deno.test("the document lists exactly the routes the app serves, and nothing else", () =>
  withTestContext((ctx) => {
    const served = new Set(
      ctx.app.routes.filter((route) => route.method !== "ALL").map((route) =>
        `${route.method} ${openApiPath(route.path)}`
      ),
    );
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(DOCUMENT.paths)) {
      for (const method of Object.keys(item)) {
        documented.add(`${method.toUpperCase()} ${path}`);
      }
    }
    const undocumented = [...served].filter((route) => !documented.has(route));
    const phantom = [...documented].filter((route) => !served.has(route));
    assert.deepEqual(undocumented, [], "Routes missing from the document");
    assert.deepEqual(phantom, [], "Documented routes the app does not serve");
    assert.ok(served.size >= 10);
  }));

Deno.test("GET /openapi.json serves the document without authentication", () =>
  withTestContext(async (ctx) => {
    const res = await ctx.request("GET", "/openapi.json");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.ok(res.headers.get("x-request-id"));
    assert.equal(
      res.headers.get("content-security-policy"),
      "default-src 'none'; frame-ancestors 'none'",
    );
    const document = await res.json();
    assert.deepEqual(document, JSON.parse(JSON.stringify(DOCUMENT)));
    assert.equal(document.openapi, "3.1.0");
    // Built once: a second request serves the same text.
    const again = await ctx.request("GET", "/openapi.json");
    assert.deepEqual(await again.json(), document);
  }));

Deno.test("the document describes the bearer JWT scheme, the headers and every problem type", () => {
  const components = DOCUMENT.components as Record<string, Json>;
  const bearer = (components.securitySchemes as Json).bearerAuth as Json;
  assert.equal(bearer.type, "http");
  assert.equal(bearer.scheme, "bearer");
  assert.equal(bearer.bearerFormat, "JWT");
  assert.match(String(bearer.description), /HS256/);
  assert.deepEqual(DOCUMENT.security, [{ bearerAuth: [] }]);
  const text = JSON.stringify(DOCUMENT);
  for (
    const header of [
      "Idempotency-Key",
      "If-Match",
      "ETag",
      "Link",
      "Location",
      "RateLimit-Limit",
      "RateLimit-Remaining",
      "RateLimit-Reset",
      "Retry-After",
      "X-Request-Id",
      "Idempotent-Replayed",
      "WWW-Authenticate",
    ]
  ) {
    assert.ok(text.includes(`"${header}"`), `${header} is not documented`);
  }
  const description = (DOCUMENT.info as Json).description as string;
  for (
    const slug of [
      "bad-request",
      "malformed-json",
      "unauthenticated",
      "forbidden",
      "account-disabled",
      "not-found",
      "method-not-allowed",
      "conflict",
      "version-mismatch",
      "payload-too-large",
      "unsupported-media-type",
      "validation-failed",
      "rate-limited",
      "internal",
      "unavailable",
      "timeout",
    ]
  ) {
    assert.ok(
      description.includes(`urn:orders-api:problem:${slug}`),
      `${slug} is missing from the problem table`,
    );
  }
  for (const operation of OPERATIONS) {
    const documented = DOCUMENT.paths[operation.path]?.[
      operation.method
    ] as Json;
    // Every /v1 route requires the token, and only they do.
    assert.equal(
      operation.authenticated,
      operation.path.startsWith("/v1/"),
      `${operation.operationId}: security`,
    );
    if (!operation.authenticated) {
      assert.deepEqual(documented.security, [], operation.operationId);
    } else {
      const statuses = Object.keys(documented.responses as Json);
      for (const status of ["401", "403", "429", "500", "503"]) {
        assert.ok(statuses.includes(status), `${operation.operationId}`);
      }
    }
  }
});

Deno.test("the request schemas carry what their transforms hide: price forms, cleaned text, query integers", () => {
  const schemas = (DOCUMENT.components as { schemas: Record<string, Json> })
    .schemas;
  const create = schemas.CreateOrderRequest as {
    properties: Record<string, Json>;
  };
  const items = create.properties.items as Json & { items: Json };
  assert.equal(items.minItems, 1);
  assert.equal(items.maxItems, 100);
  const line = (items.items as { properties: Record<string, Json> })
    .properties;
  assert.deepEqual(line.price?.oneOf, [
    { type: "number", minimum: 0, maximum: 1000000 },
    { type: "string", pattern: "^[0-9]+(\\.[0-9]{1,4})?$" },
  ]);
  assert.equal(line.product_name?.type, "string");
  assert.equal(line.product_name?.minLength, 1);
  assert.match(String(line.product_name?.description), /1–200 characters/);
  assert.match(
    String(create.properties.shipping_address?.description),
    /1–500 characters/,
  );
  assert.deepEqual(create.properties.shipping_address?.examples, [
    "1 Main St, Springfield",
  ]);
  const list = DOCUMENT.paths["/v1/orders"]?.get as {
    parameters: Json[];
  };
  const limit = list.parameters.find((p) => p.name === "limit");
  // The generator repeats the description in the schema.
  const { description: _, ...limitSchema } = limit?.schema as Json;
  assert.deepEqual({ ...limit, schema: limitSchema }, {
    name: "limit",
    in: "query",
    required: false,
    description: "How many orders to return at most.",
    schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
  });
  assert.equal(JSON.stringify(DOCUMENT).includes('"$schema"'), false);
});

Deno.test("every example in the document passes the parser or schema it illustrates", async (t) => {
  const ajv = validator(DOCUMENT);
  const parsers: Record<string, (body: unknown) => unknown> = {
    CreateOrderRequest: parseNewOrder,
    UpdateOrderRequest: parseOrderPatch,
    CancelOrderRequest: parseCancelOrder,
    ReviewDecisionRequest: parseReviewDecision,
    CreateWebhookEndpointRequest: (body) =>
      parseNewWebhookEndpoint(body, new Set()),
    UpdateWebhookEndpointRequest: (body) =>
      parseWebhookEndpointPatch(body, new Set()),
    ResendEventRequest: parseResendEvent,
  };
  let checked = 0;
  function checkContent(where: string, content: Json | undefined) {
    for (const media of Object.values(content ?? {})) {
      const { schema, examples } = media as {
        schema?: { $ref?: string };
        examples?: Record<string, { value: unknown }>;
      };
      const name = schema?.$ref?.split("/").pop();
      for (const [key, example] of Object.entries(examples ?? {})) {
        if (!name) continue;
        const parse = parsers[name];
        if (parse) {
          parse(structuredClone(example.value));
        } else {
          const zodSchema = SCHEMAS[name];
          assert.ok(zodSchema, `${where} ${key}: no zod schema for ${name}`);
          assert.deepEqual(
            zodSchema.parse(example.value),
            example.value,
            `${where} ${key}: not exactly ${name}`,
          );
        }
        const validate = ajv.getSchema(`${SCHEMA_BASE}${schema?.$ref}`);
        assert.ok(validate?.(example.value), `${where} ${key}`);
        checked++;
      }
    }
  }
  for (const [path, item] of Object.entries(DOCUMENT.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      await t.step(`${method.toUpperCase()} ${path}`, () => {
        const operation = raw as Json;
        const body = operation.requestBody as Json | undefined;
        checkContent(`${method} ${path} request`, body?.content as Json);
        for (
          const [status, response] of Object.entries(
            operation.responses as Json,
          )
        ) {
          checkContent(
            `${method} ${path} ${status}`,
            resolve(DOCUMENT, response).content as Json,
          );
        }
      });
    }
  }
  assert.ok(checked > 40, `only ${checked} examples`);
});

/** What the response test saw, per operation and status. */
interface Observed {
  operationId: string;
  status: number;
  problemType?: string;
}

/**
 * Checks a real response against the document: its status is documented
 * for the operation, its media type too, its body validates against the
 * documented schema (and has no field the zod schema lacks), and every
 * required documented header is present.
 */
async function checkResponse(
  ajv: Ajv2020,
  res: Response,
  route: { method: string; path: string },
  seen: Observed[],
): Promise<void> {
  const operation = DOCUMENT.paths[route.path]?.[route.method] as
    | Json
    | undefined;
  assert.ok(operation, `${route.method} ${route.path} is not documented`);
  const id = `${operation.operationId} ${res.status}`;
  const documented = (operation.responses as Json)[String(res.status)];
  assert.ok(documented, `${id}: status not documented`);
  const response = resolve(DOCUMENT, documented);
  for (const [name, header] of Object.entries(response.headers as Json)) {
    if (resolve(DOCUMENT, header).required === true) {
      assert.ok(res.headers.has(name), `${id}: no ${name} header`);
    }
  }
  const observed: Observed = {
    operationId: operation.operationId as string,
    status: res.status,
  };
  if (res.status === 204) {
    assert.equal(response.content, undefined, `${id}: documents a body`);
    assert.equal(await res.text(), "", `${id}: has a body`);
    seen.push(observed);
    return;
  }
  const contentType = res.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!;
  const content = (response.content ?? {}) as Record<string, Json>;
  // A documented media type may carry parameters (`text/plain;
  // version=0.0.4`): the response must carry them too.
  const documentedType = Object.keys(content).find((type) =>
    type.split(";")[0]!.trim() === mediaType
  );
  assert.ok(documentedType, `${id}: ${mediaType} is not documented`);
  for (const parameter of documentedType.split(";").slice(1)) {
    assert.ok(
      contentType.includes(parameter.trim()),
      `${id}: ${contentType} lacks ${parameter.trim()}`,
    );
  }
  const media = content[documentedType]!;
  if (mediaType.startsWith("text/") && mediaType !== "text/html") {
    assert.equal((media.schema as Json).type, "string");
    assert.notEqual(await res.text(), "", `${id}: empty text`);
  } else if (mediaType !== "text/html") {
    const body = await res.json();
    const ref = (media.schema as { $ref: string }).$ref;
    const validate = ajv.getSchema(`${SCHEMA_BASE}${ref}`);
    assert.ok(validate, `${id}: no schema ${ref}`);
    assert.ok(
      validate(body),
      `${id}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(body)}`,
    );
    const name = ref.split("/").pop()!;
    if (name !== "OpenApiDocument") {
      // zod drops unknown keys: equal after parsing means no undocumented field.
      const zodSchema = SCHEMAS[name];
      assert.ok(zodSchema, `${id}: no zod schema for ${name}`);
      assert.deepEqual(zodSchema.parse(body), body, `${id}: extra fields`);
    }
    if (mediaType === "application/problem+json") {
      observed.problemType = body.type;
      assert.equal(body.request_id, res.headers.get("x-request-id"));
      if (!("$ref" in (documented as Json))) {
        const types = Object.values(media.examples as Json).map((example) =>
          ((example as Json).value as Json).type
        );
        assert.ok(
          types.includes(body.type),
          `${id}: ${body.type} has no example`,
        );
      }
    }
  } else {
    await res.body?.cancel();
  }
  seen.push(observed);
}

Deno.test("real responses of every operation match the document", async () => {
  // Orders of 1000.00 or more are held for review; the usual ones are not.
  const ctx = await createTestContext({
    reviewPolicy: { thresholdCents: 100_000n, velocityOrders: 1_000_000 },
  });
  const ajv = validator(DOCUMENT);
  const seen: Observed[] = [];
  const owner = await ctx.token(42);
  const other = await ctx.token(43);
  const fulfillment = await ctx.token(7, ["fulfillment"]);
  const admin = await ctx.token(1, ["admin"]);
  const missing = "00000000-0000-4000-8000-000000000000";
  async function call(
    method: string,
    path: string,
    route: string,
    options: RequestOptions = {},
  ): Promise<Response> {
    const res = await ctx.request(method, path, options);
    const copy = res.clone();
    await checkResponse(
      ajv,
      res,
      { method: method.toLowerCase(), path: route },
      seen,
    );
    return copy;
  }
  /** A checked call of one operation on an order, `id` by default. */
  function operation(method: string, route: string, defaultId: string) {
    return (options: RequestOptions, id = defaultId) =>
      call(method, route.replace("{id}", id), route, options);
  }
  try {
    // POST /v1/orders
    const created = await call("POST", "/v1/orders", "/v1/orders", {
      token: owner,
      body: orderBody(),
      headers: { "Idempotency-Key": "key-1" },
    });
    assert.equal(created.status, 201);
    const order = await created.json();
    const replay = await call("POST", "/v1/orders", "/v1/orders", {
      token: owner,
      body: orderBody(),
      headers: { "Idempotency-Key": "key-1" },
    });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    const create = (
      options: RequestOptions,
    ) => call("POST", "/v1/orders", "/v1/orders", options);
    await create({ token: owner, body: orderBody({ items: [] }) });
    await create({ token: owner, body: "{" });
    await create({
      token: owner,
      body: orderBody(),
      headers: { "Idempotency-Key": "\u00e9" },
    });
    await create({ body: orderBody() });
    await create({ token: owner, body: orderBody({ user_id: 43 }) });
    await create({
      token: owner,
      body: orderBody({ shipping_address: "" }),
    });
    await create({
      token: owner,
      body: orderBody({ shipping_address: "elsewhere" }),
      headers: { "Idempotency-Key": "key-1" },
    });
    await create({
      token: owner,
      body: "x".repeat(70_000),
    });
    await create({
      token: owner,
      body: "{}",
      headers: { "Content-Type": "text/plain" },
    });
    const inFlightBody = orderBody({ shipping_address: "in flight" });
    await storeInFlightClaim(ctx, {
      userId: 42,
      key: "key-2",
      body: inFlightBody,
    });
    await create({
      token: owner,
      body: inFlightBody,
      headers: { "Idempotency-Key": "key-2" },
    });

    // GET /v1/orders
    await call("GET", "/v1/orders", "/v1/orders", { token: owner });
    await call("GET", "/v1/orders?user_id=43", "/v1/orders", { token: owner });
    await call("GET", "/v1/orders?limit=0", "/v1/orders", { token: owner });
    await call("GET", "/v1/orders?cursor=x.y", "/v1/orders", { token: owner });

    // GET /v1/orders/{id}
    const one = "/v1/orders/{id}";
    const path = `/v1/orders/${order.id}`;
    await call("GET", path, one, { token: owner });
    await call("GET", path, one, { token: other });
    await call("GET", `/v1/orders/${missing}`, one, { token: owner });

    // PATCH /v1/orders/{id}
    const patch = operation("PATCH", one, order.id);
    await patch({ token: owner, body: { status: "bogus" } });
    await patch({ token: owner, body: { status: "shipped" } });
    await patch({ token: other, body: { status: "processing" } });
    await patch({ token: owner, body: {} }, missing);
    await patch({
      token: owner,
      body: { shipping_address: "2 Side St" },
      headers: { "If-Match": '"9"' },
    });
    await patch({
      token: owner,
      body: {},
      headers: { "If-Match": "3" },
    });
    await patch({ token: owner, body: { shipping_address: "<b></b>" } });
    await patch({ token: owner, body: "nope" });
    const moved = await patch({
      token: fulfillment,
      body: { status: "processing" },
      headers: { "If-Match": '"1"' },
    });
    assert.equal(moved.status, 200);

    // POST /v1/orders/{id}/cancel
    const cancel = operation("POST", "/v1/orders/{id}/cancel", order.id);
    await cancel({ token: fulfillment });
    await cancel({ token: owner }, missing);
    await cancel({ token: owner, headers: { "If-Match": '"1"' } });
    await cancel({ token: owner, body: { reason: 5 } });
    await cancel({ token: owner, body: "{", headers: {} });
    const cancelled = await cancel({
      token: owner,
      body: { reason: "Ordered the wrong size" },
    });
    assert.equal(cancelled.status, 200);
    await cancel({ token: admin });

    // GET /v1/orders/{id}/history
    const history = "/v1/orders/{id}/history";
    await call("GET", `${path}/history`, history, { token: owner });
    await call("GET", `${path}/history`, history, { token: fulfillment });
    await call("GET", `/v1/orders/${missing}/history`, history, {
      token: owner,
    });

    // A held order: PATCH to processing is 409 until an admin decides.
    const heldBody = orderBody({
      items: [{
        product_id: "sku-9",
        product_name: "Espresso machine",
        quantity: 1,
        price: "2000.00",
      }],
    });
    const heldCreated = await create({ token: owner, body: heldBody });
    const held = await heldCreated.json();
    assert.equal(held.review, undefined, "an owner never sees the review");
    const heldPath = `/v1/orders/${held.id}`;
    const heldRead = await call("GET", heldPath, one, { token: fulfillment });
    assert.deepEqual((await heldRead.json()).review, {
      state: "pending",
      reasons: ["total_threshold"],
    });
    const blocked = await patch(
      { token: fulfillment, body: { status: "processing" } },
      held.id,
    );
    assert.equal(blocked.status, 409);

    // POST /v1/orders/{id}/review
    const review = operation("POST", "/v1/orders/{id}/review", held.id);
    const approve = { decision: "approve", note: "Confirmed by phone" };
    await review({ token: fulfillment, body: approve });
    await review({ token: other, body: approve });
    await review({ token: admin, body: approve }, missing);
    await review({ token: admin, body: "{" });
    await review({ token: admin, body: approve, headers: { "If-Match": "1" } });
    await review({
      token: admin,
      body: approve,
      headers: { "If-Match": '"9"' },
    });
    await review({ token: admin, body: { decision: "maybe" } });
    await review({ token: admin, body: { decision: "approve", note: 5 } });
    await review({ token: admin, body: approve }, order.id);
    const approved = await review({
      token: admin,
      body: approve,
      headers: { "If-Match": '"1"' },
    });
    assert.equal(approved.status, 200);
    assert.equal((await approved.json()).review.state, "approved");
    assert.equal((await review({ token: admin, body: approve })).status, 409);
    const toReject = await (await create({ token: owner, body: heldBody }))
      .json();
    const rejected = await review(
      { token: admin, body: { decision: "reject" } },
      toReject.id,
    );
    assert.equal((await rejected.json()).status, "cancelled");
    const reviewed = await call("GET", `${heldPath}/history`, history, {
      token: admin,
    });
    const actions = (await reviewed.json()).events.map((e: Json) => e.action);
    assert.deepEqual(actions, ["order.created", "order.review_approved"]);
    await call("GET", `${heldPath}/history`, history, { token: owner });

    // GET /v1/users/{user_id}/export
    const exportRoute = "/v1/users/{user_id}/export";
    await call("GET", "/v1/users/42/export", exportRoute, { token: owner });
    await call("GET", "/v1/users/42/export", exportRoute, { token: admin });
    await call("GET", "/v1/users/42/export", exportRoute, { token: other });
    await call("GET", "/v1/users/4x2/export", exportRoute, { token: owner });

    // DELETE /v1/users/{user_id}/personal-data: 409 while an order is
    // active; a user whose only order was delivered is erased.
    const eraseRoute = "/v1/users/{user_id}/personal-data";
    const erase = (userId: string, token: string) =>
      call("DELETE", `/v1/users/${userId}/personal-data`, eraseRoute, {
        token,
      });
    assert.equal((await erase("42", owner)).status, 409);
    await erase("42", other);
    await erase("0", admin);
    const customer = await ctx.token(44);
    const delivered = await (await create({
      token: customer,
      body: orderBody(),
    })).json();
    for (const status of ["processing", "shipped", "delivered"]) {
      const moved = await ctx.request("PATCH", `/v1/orders/${delivered.id}`, {
        token: fulfillment,
        body: { status },
      });
      assert.equal(moved.status, 200);
    }
    assert.equal((await erase("44", customer)).status, 204);
    const erased = await call("GET", `/v1/orders/${delivered.id}`, one, {
      token: customer,
    });
    const erasedOrder = await erased.json();
    assert.equal(erasedOrder.shipping_address, null);
    assert.equal(erasedOrder.personal_data_erased, true);
    await call("GET", "/v1/users/44/export", exportRoute, { token: customer });
    await call("GET", `/v1/orders/${delivered.id}/history`, history, {
      token: customer,
    });

    // GET /v1/events and /v1/events/{id}
    const eventsRoute = "/v1/events";
    const eventRoute = "/v1/events/{id}";
    const feed = await call("GET", "/v1/events", eventsRoute, { token: admin });
    const firstEvent = (await feed.json()).events[0];
    await call("GET", "/v1/events", eventsRoute, { token: owner });
    await call("GET", "/v1/events?cursor=x.y", eventsRoute, { token: admin });
    await call("GET", "/v1/events?limit=0", eventsRoute, { token: admin });
    await call("GET", `/v1/events/${firstEvent.id}`, eventRoute, {
      token: admin,
    });
    await call("GET", `/v1/events/${firstEvent.id}`, eventRoute, {
      token: other,
    });
    const early = await (await call("GET", "/v1/events?limit=1", eventsRoute, {
      token: admin,
    })).json();
    // Every event but the newest purged: the early cursor is behind.
    await ctx.events.purgeEvents(Number.MAX_SAFE_INTEGER);
    const expired = await call(
      "GET",
      `/v1/events?limit=1&cursor=${encodeURIComponent(early.next_cursor)}`,
      eventsRoute,
      { token: admin },
    );
    assert.equal(expired.status, 410);

    // /v1/webhook-endpoints and POST /v1/events/{id}/resend
    const endpoints = "/v1/webhook-endpoints";
    const endpointRoute = "/v1/webhook-endpoints/{id}";
    const registerEndpoint = (options: RequestOptions) =>
      call("POST", endpoints, endpoints, options);
    const hook = await (await registerEndpoint({
      token: admin,
      body: { url: "https://hooks.example.com/orders" },
    })).json();
    await registerEndpoint({ token: admin, body: "{" });
    await registerEndpoint({ token: owner, body: {} });
    await registerEndpoint({ token: admin, body: { url: "https://[::1]/" } });
    await call("GET", endpoints, endpoints, { token: admin });
    const oneEndpoint = (method: string, suffix = "") =>
      operation(method, `${endpointRoute}${suffix}`, hook.id);
    const readEndpoint = oneEndpoint("GET");
    await readEndpoint({ token: admin });
    await readEndpoint({ token: admin }, missing);
    const patchEndpoint = oneEndpoint("PATCH");
    await patchEndpoint({ token: admin, body: { description: "Warehouse" } });
    await patchEndpoint({ token: admin, body: "{" });
    await patchEndpoint({ token: admin, body: {} });
    await patchEndpoint({ token: admin, body: { enabled: false } }, missing);
    const rotate = oneEndpoint("POST", "/rotate-secret");
    await rotate({ token: admin });
    await rotate({ token: admin }, missing);
    const testEndpoint = oneEndpoint("POST", "/test");
    await testEndpoint({ token: admin });
    await testEndpoint({ token: admin }, missing);
    const attempts = oneEndpoint("GET", "/attempts");
    await attempts({ token: admin });
    await attempts({ token: admin }, missing);
    await call(
      "GET",
      `${endpoints}/${hook.id}/attempts?cursor=x.y`,
      `${endpointRoute}/attempts`,
      { token: admin },
    );
    await call(
      "GET",
      `${endpoints}/${hook.id}/attempts?limit=0`,
      `${endpointRoute}/attempts`,
      { token: admin },
    );
    // The newest event: the only one the purge above kept.
    const kept = (await (await ctx.request("GET", "/v1/events", {
      token: admin,
    })).json()).events[0];
    const resend = operation("POST", "/v1/events/{id}/resend", kept.id);
    await resend({ token: admin });
    await resend({ token: admin, body: "{" });
    await resend({ token: admin, body: { endpoint_id: missing } });
    await resend({ token: admin }, "evt_unknown");
    await patchEndpoint({ token: admin, body: { enabled: false } });
    await testEndpoint({ token: admin });
    await resend({ token: admin, body: { endpoint_id: hook.id } });
    const limited = await createTestContext({
      webhookSettings: { allowHosts: new Set(), maxEndpoints: 0 },
    });
    try {
      const res = await limited.request("POST", endpoints, {
        token: await limited.token(1, ["admin"]),
        body: { url: "https://hooks.example.com/orders" },
      });
      await checkResponse(ajv, res, { method: "post", path: endpoints }, seen);
    } finally {
      limited.close();
    }
    await oneEndpoint("DELETE")({ token: admin });
    await oneEndpoint("DELETE")({ token: admin });

    // /v1/admin: account actions and metrics
    for (const action of ["disable", "enable", "revoke-tokens"]) {
      const route = `/v1/admin/users/{user_id}/${action}`;
      await call("POST", `/v1/admin/users/45/${action}`, route, {
        token: owner,
      });
      await call("POST", `/v1/admin/users/-1/${action}`, route, {
        token: admin,
      });
      const done = await call("POST", `/v1/admin/users/45/${action}`, route, {
        token: admin,
      });
      assert.equal(done.status, 204);
    }
    await call("GET", "/v1/admin/metrics", "/v1/admin/metrics", {
      token: admin,
    });
    await call("GET", "/v1/admin/metrics", "/v1/admin/metrics", {
      token: owner,
    });

    // A revoked token is 401; a disabled account is 403 on every
    // authenticated operation, before anything else is checked.
    const revoked = await call("GET", "/v1/orders", "/v1/orders", {
      token: await ctx.token(45),
    });
    assert.equal(revoked.status, 401);
    const disabled = await ctx.token(46);
    const disabling = await ctx.request("POST", "/v1/admin/users/46/disable", {
      token: admin,
    });
    assert.equal(disabling.status, 204);
    for (const operation of OPERATIONS.filter((op) => op.authenticated)) {
      const url = operation.path.replace("{id}", order.id).replace(
        "{user_id}",
        "46",
      );
      const res = await call(
        operation.method.toUpperCase(),
        url,
        operation.path,
        {
          token: disabled,
        },
      );
      assert.equal(res.status, 403, operation.operationId);
      assert.equal(
        seen.at(-1)?.problemType,
        "urn:orders-api:problem:account-disabled",
      );
    }

    // Public routes
    await call("GET", "/healthz", "/healthz");
    await call("GET", "/readyz", "/readyz");
    await call("GET", "/openapi.json", "/openapi.json");
    await call("GET", "/docs", "/docs");
    await call(
      "GET",
      "/docs/swagger-ui-bundle.js",
      "/docs/swagger-ui-bundle.js",
    );
    await call("GET", "/docs/swagger-ui.css", "/docs/swagger-ui.css");
  } finally {
    ctx.close();
  }

  // The readiness probe with a database that does not answer.
  const down = await createTestContext();
  try {
    const failing = await createTestContext({
      store: { ...down.store, ping: () => Promise.reject(new Error("down")) },
    });
    try {
      const res = await failing.request("GET", "/readyz");
      await checkResponse(ajv, res, { method: "get", path: "/readyz" }, seen);
    } finally {
      failing.close();
    }
  } finally {
    down.close();
  }

  // A rate limit used up.
  const limited = await createTestContext({
    limits: { requests: { limit: 1, windowMs: MINUTE_MS } },
  });
  try {
    const token = await limited.token(42);
    for (const expected of [200, 429]) {
      const res = await limited.request("GET", "/v1/orders", { token });
      assert.equal(res.status, expected);
      await checkResponse(
        ajv,
        res,
        { method: "get", path: "/v1/orders" },
        seen,
      );
    }
  } finally {
    limited.close();
  }

  // Every status an operation documents itself (not a shared response) was
  // seen, except those that need a race to provoke.
  const unseen: string[] = [];
  for (const operation of OPERATIONS) {
    for (const status of operation.ownStatuses) {
      const wasSeen = seen.some((s) =>
        s.operationId === operation.operationId && s.status === Number(status)
      );
      if (!wasSeen) unseen.push(`${operation.operationId} ${status}`);
    }
  }
  assert.deepEqual(unseen, [
    "cancelOrder 409",
    "updateWebhookEndpoint 409",
    "deleteWebhookEndpoint 409",
    "rotateWebhookSecret 409",
    "disableUser 409",
    "enableUser 409",
    "revokeUserTokens 409",
  ]);
  for (const status of [401, 413, 415, 429]) {
    assert.ok(seen.some((s) => s.status === status), `no ${status} seen`);
  }
});
