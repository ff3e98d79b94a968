/**
 * The admin API of webhook endpoints through the real app on a real libSQL
 * database: registration and its URL rules, who may do what, changes,
 * deletion, secret rotation, test events, the attempts log and its cursors,
 * resending an event, the audit entries; and that a secret is shown only on
 * creation and rotation, never stored in clear or written to the audit log.
 */
import assert from "node:assert/strict";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import { parseAllowHosts } from "../../domain/webhook_destination.ts";
import {
  DEFAULT_WEBHOOK_MAX_ENDPOINTS,
  MAX_WEBHOOK_DESCRIPTION_LENGTH,
  PREVIOUS_SECRET_VALID_MS,
} from "../../domain/webhooks.ts";
import { ORDER_EVENT_TYPES } from "../../domain/order_events.ts";
import { buildOpenApiDocument } from "../../routes/openapi/standalone.ts";
import {
  type Callers,
  createOrder,
  expectJson,
  expectProblem,
  type Json,
  TEST_AUDIT_SEALER,
  type TestContext,
  type TestContextOptions,
  withTestContext,
} from "../fixtures/mod.ts";

const BASE = "/v1/webhook-endpoints";
const URL_TEXT = "https://hooks.example.com/orders";
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const MISSING = "00000000-0000-4000-8000-000000000000";
const ENDPOINT_FIELDS = [
  "id",
  "url",
  "event_types",
  "description",
  "enabled",
  "disabled_reason",
  "created_at",
  "updated_at",
];

/** Registers an endpoint as an admin (201) and returns the body. */
async function register(
  ctx: TestContext,
  who: Callers,
  body: Record<string, unknown> = {},
): Promise<Json> {
  return await expectJson(
    await ctx.request("POST", BASE, {
      token: who.admin,
      body: { url: URL_TEXT, ...body },
    }),
    201,
  );
}

/** The stored rows of a table, as text, to look for what must not be there. */
async function tableText(ctx: TestContext, table: string): Promise<string> {
  const { rows } = await ctx.database.client.execute(`SELECT * FROM ${table}`);
  return JSON.stringify(rows);
}

/** The audit entries of an endpoint's chain, in order. */
async function auditOf(ctx: TestContext, id: string): Promise<Json[]> {
  const { rows } = await ctx.database.client.execute({
    sql:
      "SELECT chain_seq, action, actor_user_id, request_id, changes, order_id FROM audit_log WHERE chain_id = ? ORDER BY chain_seq",
    args: [`webhook_endpoint:${id}`],
  });
  return rows.map((row) => ({
    seq: Number(row.chain_seq),
    action: row.action,
    actor: Number(row.actor_user_id),
    requestId: row.request_id,
    changes: JSON.parse(String(row.changes)),
    orderId: row.order_id,
  }));
}

/** The queued deliveries of an endpoint, oldest first. */
async function deliveriesOf(ctx: TestContext, id: string): Promise<Json[]> {
  const { rows } = await ctx.database.client.execute({
    sql:
      "SELECT event_id, event_type, order_id, payload FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY seq",
    args: [id],
  });
  return rows.map((row) => ({
    eventId: row.event_id,
    eventType: row.event_type,
    orderId: row.order_id,
    payload: String(row.payload),
  }));
}

function withAllowHosts(list: string): TestContextOptions {
  const parsed = parseAllowHosts(list);
  if (!parsed.ok) throw new Error(parsed.reason);
  return {
    webhookSettings: {
      allowHosts: parsed.hosts,
      maxEndpoints: DEFAULT_WEBHOOK_MAX_ENDPOINTS,
    },
  };
}

Deno.test("POST /v1/webhook-endpoints registers an enabled endpoint and shows its secret there only, never stored in clear nor audited", () =>
  withTestContext(async (ctx, who) => {
    const created = await register(ctx, who, {
      event_types: ["order.created", "order.cancelled"],
      description: "  <b>Warehouse</b> system ",
    });
    assert.deepEqual(Object.keys(created), [...ENDPOINT_FIELDS, "secret"]);
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.url, URL_TEXT);
    assert.deepEqual(created.event_types, ["order.created", "order.cancelled"]);
    assert.equal(created.description, "Warehouse system");
    assert.equal(created.enabled, true);
    assert.equal(created.disabled_reason, null);
    assert.equal(created.created_at, new Date(ctx.clock.now()).toISOString());
    assert.equal(created.updated_at, created.created_at);
    assert.match(created.secret, SECRET);

    const read = await expectJson(
      await ctx.request("GET", `${BASE}/${created.id}`, { token: who.admin }),
      200,
    );
    const { secret, ...shown } = created;
    assert.deepEqual(read, shown);
    const list = await expectJson(
      await ctx.request("GET", BASE, { token: who.admin }),
      200,
    );
    assert.deepEqual(list, { endpoints: [shown] });

    // Stored encrypted: neither the secret nor its key bytes in any form.
    const key = secret.slice("whsec_".length);
    const stored = await tableText(ctx, "webhook_endpoints");
    assert.ok(stored.includes(created.id));
    for (const form of [secret, key, atob(key)]) {
      assert.equal(stored.includes(form), false);
    }
    const audit = await auditOf(ctx, created.id);
    assert.deepEqual(audit.map((entry) => [entry.seq, entry.action]), [
      [1, "webhook_endpoint.created"],
    ]);
    assert.equal(audit[0]!.actor, 9);
    assert.equal(audit[0]!.orderId, null);
    assert.deepEqual(audit[0]!.changes, {
      url: { from: null, to: URL_TEXT },
      event_types: { from: null, to: ["order.created", "order.cancelled"] },
      description: { from: null, to: "Warehouse system" },
      enabled: { from: null, to: true },
    });
    const everyAudit = await tableText(ctx, "audit_log");
    assert.equal(everyAudit.includes(key), false);
  }));

Deno.test("POST /v1/webhook-endpoints: event_types absent or [] is every type, shown as []; unknown fields are ignored", () =>
  withTestContext(async (ctx, who) => {
    const every = await register(ctx, who);
    assert.deepEqual(every.event_types, []);
    assert.equal(every.description, null);
    const empty = await register(ctx, who, {
      event_types: [],
      description: null,
      enabled: false,
      secret: "whsec_mine",
      id: MISSING,
    });
    assert.deepEqual(empty.event_types, []);
    assert.equal(empty.enabled, true);
    assert.notEqual(empty.id, MISSING);
    assert.notEqual(empty.secret, "whsec_mine");
    const blank = await register(ctx, who, { description: "  <i></i> " });
    assert.equal(blank.description, null);
  }));

Deno.test("every webhook endpoint route is admins' alone: 403 for users and fulfillment before the body or the id is looked at, 401 without a token", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const { id: eventId } = (await expectJson(
      await ctx.request("GET", "/v1/events", { token: who.admin }),
      200,
    )).events[0] ?? { id: "evt_x" };
    const routes: [string, string, unknown][] = [
      ["POST", BASE, { url: "https://10.0.0.1/" }],
      ["GET", BASE, undefined],
      ["GET", `${BASE}/${endpoint.id}`, undefined],
      ["GET", `${BASE}/${MISSING}`, undefined],
      ["GET", `${BASE}/not-a-uuid`, undefined],
      ["PATCH", `${BASE}/${endpoint.id}`, { enabled: "nope" }],
      ["PATCH", `${BASE}/${MISSING}`, { enabled: false }],
      ["DELETE", `${BASE}/${endpoint.id}`, undefined],
      ["POST", `${BASE}/${endpoint.id}/rotate-secret`, undefined],
      ["POST", `${BASE}/${endpoint.id}/test`, undefined],
      ["GET", `${BASE}/${endpoint.id}/attempts?limit=0`, undefined],
      ["POST", `/v1/events/${eventId}/resend`, { endpoint_id: 5 }],
    ];
    for (const [method, path, body] of routes) {
      for (const token of [who.owner, who.fulfillment]) {
        const problem = await expectProblem(
          await ctx.request(method, path, { token, body }),
          403,
          /^Only an admin may/,
        );
        assert.equal(problem.type, "urn:orders-api:problem:forbidden");
      }
      const anonymous = await ctx.request(method, path, { body });
      await expectProblem(anonymous, 401);
      assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    // Nothing was changed by the refused requests.
    const after = await expectJson(
      await ctx.request("GET", `${BASE}/${endpoint.id}`, { token: who.admin }),
      200,
    );
    assert.equal(after.updated_at, endpoint.updated_at);
    assert.equal((await auditOf(ctx, endpoint.id)).length, 1);
  }));

Deno.test("POST /v1/webhook-endpoints refuses a url that is not a public https:// URL with 422 naming url", async (t) => {
  await withTestContext(async (ctx, who) => {
    const refused: [string, unknown, RegExp][] = [
      ["private, dotted", "https://10.0.0.1/hooks", /non-public.*private/],
      ["private 172.16/12", "https://172.20.1.1/", /private/],
      ["private 192.168/16", "https://192.168.1.20/", /private/],
      ["loopback, decimal", "https://2130706433/", /127\.0\.0\.1.*loopback/],
      ["loopback, hex", "https://0x7f000001/", /loopback/],
      ["loopback, octal", "https://0177.0.0.1/", /loopback/],
      ["loopback, shortened", "https://127.1/", /loopback/],
      ["IPv6 loopback", "https://[::1]/", /loopback/],
      ["IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]/", /loopback/],
      ["cloud metadata", "https://169.254.169.254/latest", /metadata/],
      ["link-local IPv6", "https://[fe80::1]/", /link-local/],
      ["unique-local IPv6", "https://[fd00::1]/", /unique-local/],
      ["shared address space", "https://100.64.0.1/", /carrier-grade/],
      ["0/8", "https://0.0.0.0/", /non-public/],
      ["broadcast", "https://255.255.255.255/", /broadcast/],
      ["multicast", "https://224.0.0.1/", /multicast/],
      ["benchmarking", "https://198.18.0.1/", /benchmarking/],
      ["documentation", "https://192.0.2.1/", /documentation/],
      ["localhost", "https://localhost/hooks", /localhost/],
      ["a localhost subdomain", "https://api.localhost/", /localhost/],
      ["http:// without the allow list", "http://hooks.example.com/", /https/],
      ["another scheme", "ftp://hooks.example.com/", /https/],
      ["user info", "https://user:pw@hooks.example.com/", /user info/],
      ["a fragment", "https://hooks.example.com/#top", /fragment/],
      ["relative", "/hooks", /absolute/],
      ["spaces", "https://hooks.example.com/a b", /spaces/],
      ["too long", `https://hooks.example.com/${"a".repeat(2048)}`, /2048/],
      ["not a string", 42, /string/],
      ["missing", undefined, /Required/],
    ];
    for (const [name, url, message] of refused) {
      await t.step(name, async () => {
        const problem = await expectProblem(
          await ctx.request("POST", BASE, {
            token: who.admin,
            body: url === undefined ? {} : { url },
          }),
          422,
        );
        assert.equal(problem.type, "urn:orders-api:problem:validation-failed");
        assert.deepEqual(problem.errors.map((e: Json) => e.path), ["url"]);
        assert.match(problem.errors[0].message, message);
      });
    }
    assert.equal(
      (await expectJson(
        await ctx.request("GET", BASE, { token: who.admin }),
        200,
      )).endpoints.length,
      0,
    );
  });
});

Deno.test("WEBHOOK_ALLOW_HOSTS exempts the hosts it lists, as the URL parser normalises them, and allows http:// for them only", () =>
  withTestContext(async (ctx, who) => {
    const loopback = await register(ctx, who, {
      url: "http://2130706433:8080/hook",
    });
    assert.equal(loopback.url, "http://127.0.0.1:8080/hook");
    const named = await register(ctx, who, {
      url: "http://Receiver.Internal/x",
    });
    assert.equal(named.url, "http://receiver.internal/x");
    for (const url of ["https://10.0.0.1/", "http://hooks.example.com/"]) {
      const problem = await expectProblem(
        await ctx.request("POST", BASE, { token: who.admin, body: { url } }),
        422,
      );
      assert.equal(problem.errors[0].path, "url");
    }
  }, withAllowHosts("127.0.0.1, receiver.internal")));

Deno.test("POST /v1/webhook-endpoints refuses unknown, repeated or ill-typed event_types and invalid descriptions with 422 naming the field", async (t) => {
  await withTestContext(async (ctx, who) => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [
        "an unknown type",
        { event_types: ["order.created", "order.shipped"] },
        "event_types[1]",
        /Must be one of order\.created/,
      ],
      [
        "the test type",
        { event_types: ["webhook.test"] },
        "event_types[0]",
        /Must be one of/,
      ],
      [
        "a repeated type",
        { event_types: ["order.created", "order.created"] },
        "event_types[1]",
        /repeat/,
      ],
      [
        "not an array",
        { event_types: "order.created" },
        "event_types",
        /array/,
      ],
      [
        "more items than types",
        { event_types: Array(ORDER_EVENT_TYPES.length + 1000).fill("x") },
        "event_types",
        new RegExp(`there are ${ORDER_EVENT_TYPES.length}`),
      ],
      [
        "a description too long",
        { description: "a".repeat(MAX_WEBHOOK_DESCRIPTION_LENGTH + 1) },
        "description",
        new RegExp(`at most ${MAX_WEBHOOK_DESCRIPTION_LENGTH}`),
      ],
      [
        "a bidirectional override",
        { description: "safe\u202Etxt.exe" },
        "description",
        /bidirectional/,
      ],
      [
        "a control character",
        { description: "a\u0007b" },
        "description",
        /control/,
      ],
      ["a number", { description: 5 }, "description", /string/],
    ];
    for (const [name, body, path, message] of cases) {
      await t.step(name, async () => {
        const problem = await expectProblem(
          await ctx.request("POST", BASE, {
            token: who.admin,
            body: { url: URL_TEXT, ...body },
          }),
          422,
        );
        assert.deepEqual(problem.errors.map((e: Json) => e.path), [path]);
        assert.match(problem.errors[0].message, message);
      });
    }
    await t.step("several invalid fields, one entry each", async () => {
      const problem = await expectProblem(
        await ctx.request("POST", BASE, {
          token: who.admin,
          body: {
            url: "https://[::1]/",
            event_types: ["nope"],
            description: 1,
          },
        }),
        422,
      );
      assert.deepEqual(
        problem.errors.map((e: Json) => e.path).sort(),
        ["description", "event_types[0]", "url"],
      );
    });
    await t.step(
      "a body that is not JSON, or none, is 400; another media type 415",
      async () => {
        await expectProblem(
          await ctx.request("POST", BASE, { token: who.admin, body: "{" }),
          400,
        );
        await expectProblem(
          await ctx.request("POST", BASE, { token: who.admin }),
          400,
        );
        await expectProblem(
          await ctx.request("POST", BASE, {
            token: who.admin,
            body: "{}",
            headers: { "Content-Type": "text/plain" },
          }),
          415,
        );
        await expectProblem(
          await ctx.request("POST", BASE, {
            token: who.admin,
            body: [URL_TEXT],
          }),
          422,
        );
      },
    );
  });
});

Deno.test("POST /v1/webhook-endpoints beyond WEBHOOK_MAX_ENDPOINTS is 409 and writes nothing; deleting one frees a place", () =>
  withTestContext(async (ctx, who) => {
    const first = await register(ctx, who);
    await register(ctx, who);
    const problem = await expectProblem(
      await ctx.request("POST", BASE, {
        token: who.admin,
        body: { url: URL_TEXT },
      }),
      409,
      /at most 2 may be registered/,
    );
    assert.equal(problem.type, "urn:orders-api:problem:conflict");
    const { rows } = await ctx.database.client.execute(
      "SELECT count(*) AS n FROM webhook_endpoints",
    );
    assert.equal(Number(rows[0]!.n), 2);
    assert.equal(
      (await tableText(ctx, "audit_log")).match(/webhook_endpoint\.created/g)
        ?.length,
      2,
    );
    await ctx.request("DELETE", `${BASE}/${first.id}`, { token: who.admin });
    await register(ctx, who);
  }, { webhookSettings: { allowHosts: new Set(), maxEndpoints: 2 } }));

Deno.test("GET /v1/webhook-endpoints/{id}: an unknown id or one that is not a UUID is 404; a UUID in upper case is the same endpoint", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    for (const id of [MISSING, "nope", "1", `${endpoint.id}x`]) {
      const problem = await expectProblem(
        await ctx.request("GET", `${BASE}/${id}`, { token: who.admin }),
        404,
        /^No such webhook endpoint$/,
      );
      assert.equal(problem.type, "urn:orders-api:problem:not-found");
    }
    const upper = await expectJson(
      await ctx.request("GET", `${BASE}/${endpoint.id.toUpperCase()}`, {
        token: who.admin,
      }),
      200,
    );
    assert.equal(upper.id, endpoint.id);
  }));

Deno.test("PATCH /v1/webhook-endpoints/{id} changes the fields it names, audited from/to; a change that changes nothing writes nothing", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who, { description: "Old" });
    ctx.clock.advance(60_000);
    const path = `${BASE}/${endpoint.id}`;
    const changed = await expectJson(
      await ctx.request("PATCH", path, {
        token: who.admin,
        body: {
          url: "https://erp.example.com/hooks",
          event_types: ["order.updated"],
          description: null,
          ignored: true,
        },
      }),
      200,
    );
    assert.deepEqual(Object.keys(changed), ENDPOINT_FIELDS);
    assert.equal(changed.url, "https://erp.example.com/hooks");
    assert.deepEqual(changed.event_types, ["order.updated"]);
    assert.equal(changed.description, null);
    assert.equal(changed.created_at, endpoint.created_at);
    assert.equal(changed.updated_at, new Date(ctx.clock.now()).toISOString());
    assert.deepEqual(
      await expectJson(
        await ctx.request("GET", path, { token: who.admin }),
        200,
      ),
      changed,
    );
    const audit = await auditOf(ctx, endpoint.id);
    assert.deepEqual(audit.map((e) => [e.seq, e.action]), [
      [1, "webhook_endpoint.created"],
      [2, "webhook_endpoint.updated"],
    ]);
    assert.deepEqual(audit[1]!.changes, {
      url: { from: URL_TEXT, to: "https://erp.example.com/hooks" },
      event_types: { from: [], to: ["order.updated"] },
      description: { from: "Old", to: null },
    });

    // The same values again: 200 with the endpoint as it is, no entry.
    const same = await expectJson(
      await ctx.request("PATCH", path, {
        token: who.admin,
        body: { event_types: ["order.updated"], enabled: true },
      }),
      200,
    );
    assert.deepEqual(same, changed);
    assert.equal((await auditOf(ctx, endpoint.id)).length, 2);
  }));

Deno.test("PATCH enabled: false disables with a reason, enabled: true enables again and resets the failure count", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const path = `${BASE}/${endpoint.id}`;
    const disabled = await expectJson(
      await ctx.request("PATCH", path, {
        token: who.admin,
        body: { enabled: false },
      }),
      200,
    );
    assert.equal(disabled.enabled, false);
    assert.equal(disabled.disabled_reason, "Disabled by an admin");
    // As the dispatcher leaves an endpoint it disabled after failures.
    await ctx.database.client.execute({
      sql:
        "UPDATE webhook_endpoints SET failed_deliveries = 10, disabled_reason = 'The last 10 deliveries all failed' WHERE id = ?",
      args: [endpoint.id],
    });
    const enabled = await expectJson(
      await ctx.request("PATCH", path, {
        token: who.admin,
        body: { enabled: true },
      }),
      200,
    );
    assert.equal(enabled.enabled, true);
    assert.equal(enabled.disabled_reason, null);
    const { rows } = await ctx.database.client.execute({
      sql: "SELECT failed_deliveries FROM webhook_endpoints WHERE id = ?",
      args: [endpoint.id],
    });
    assert.equal(Number(rows[0]!.failed_deliveries), 0);
    const audit = await auditOf(ctx, endpoint.id);
    assert.deepEqual(audit.slice(1).map((e) => [e.action, e.changes]), [
      ["webhook_endpoint.updated", { enabled: { from: true, to: false } }],
      ["webhook_endpoint.updated", { enabled: { from: false, to: true } }],
    ]);
  }));

Deno.test("PATCH /v1/webhook-endpoints/{id} refuses an empty or invalid change with 422 before looking the endpoint up, and an unknown one with 404", async (t) => {
  await withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const path = `${BASE}/${endpoint.id}`;
    const cases: [string, unknown, string][] = [
      ["no field", {}, "body"],
      ["only unknown fields", { secret: "whsec_x", id: MISSING }, "body"],
      ["enabled not a boolean", { enabled: "false" }, "enabled"],
      ["a private url", { url: "https://127.0.0.1/" }, "url"],
      ["a null url", { url: null }, "url"],
      ["an unknown type", { event_types: ["order.lost"] }, "event_types[0]"],
    ];
    for (const [name, body, field] of cases) {
      await t.step(name, async () => {
        for (const target of [path, `${BASE}/${MISSING}`]) {
          const problem = await expectProblem(
            await ctx.request("PATCH", target, { token: who.admin, body }),
            422,
          );
          assert.deepEqual(problem.errors.map((e: Json) => e.path), [field]);
        }
      });
    }
    await t.step("no body is 400", async () => {
      await expectProblem(
        await ctx.request("PATCH", path, { token: who.admin }),
        400,
      );
    });
    await t.step("an unknown endpoint is 404", async () => {
      await expectProblem(
        await ctx.request("PATCH", `${BASE}/${MISSING}`, {
          token: who.admin,
          body: { enabled: false },
        }),
        404,
      );
    });
    assert.equal((await auditOf(ctx, endpoint.id)).length, 1);
  });
});

Deno.test("DELETE /v1/webhook-endpoints/{id} answers 204, drops its pending deliveries, is audited, and then the endpoint is gone", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const kept = await register(ctx, who);
    for (const id of [endpoint.id, kept.id]) {
      await expectJson(
        await ctx.request("POST", `${BASE}/${id}/test`, { token: who.admin }),
        202,
      );
    }
    assert.equal((await deliveriesOf(ctx, endpoint.id)).length, 1);
    const path = `${BASE}/${endpoint.id}`;
    const deleted = await ctx.request("DELETE", path, { token: who.admin });
    assert.equal(deleted.status, 204);
    assert.equal(await deleted.text(), "");
    assert.deepEqual(await deliveriesOf(ctx, endpoint.id), []);
    assert.equal((await deliveriesOf(ctx, kept.id)).length, 1);
    await expectProblem(
      await ctx.request("GET", path, { token: who.admin }),
      404,
    );
    await expectProblem(
      await ctx.request("DELETE", path, { token: who.admin }),
      404,
    );
    const audit = await auditOf(ctx, endpoint.id);
    assert.deepEqual(audit.map((e) => [e.seq, e.action]), [
      [1, "webhook_endpoint.created"],
      [2, "webhook_endpoint.deleted"],
    ]);
    assert.deepEqual(audit[1]!.changes, {
      url: { from: URL_TEXT, to: null },
      event_types: { from: [], to: null },
      enabled: { from: true, to: null },
    });
  }));

Deno.test("POST /v1/webhook-endpoints/{id}/rotate-secret answers a new secret once, keeps the old one signing for a day, audits no secret", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const path = `${BASE}/${endpoint.id}/rotate-secret`;
    const before = await ctx.database.client.execute({
      sql: "SELECT secret FROM webhook_endpoints WHERE id = ?",
      args: [endpoint.id],
    });
    ctx.clock.advance(1_000);
    const rotated = await expectJson(
      await ctx.request("POST", path, { token: who.admin }),
      200,
    );
    assert.deepEqual(Object.keys(rotated), ["secret"]);
    assert.match(rotated.secret, SECRET);
    assert.notEqual(rotated.secret, endpoint.secret);
    const { rows } = await ctx.database.client.execute({
      sql:
        "SELECT secret, previous_secret, previous_secret_until FROM webhook_endpoints WHERE id = ?",
      args: [endpoint.id],
    });
    assert.equal(rows[0]!.previous_secret, before.rows[0]!.secret);
    assert.notEqual(rows[0]!.secret, before.rows[0]!.secret);
    assert.equal(
      Number(rows[0]!.previous_secret_until),
      ctx.clock.now() + PREVIOUS_SECRET_VALID_MS,
    );
    const stored = await tableText(ctx, "webhook_endpoints");
    const audits = await tableText(ctx, "audit_log");
    for (const secret of [endpoint.secret, rotated.secret]) {
      const key = secret.slice("whsec_".length);
      assert.equal(stored.includes(key), false);
      assert.equal(audits.includes(key), false);
    }
    const audit = await auditOf(ctx, endpoint.id);
    assert.deepEqual(audit.map((e) => [e.seq, e.action, e.changes]), [
      [1, "webhook_endpoint.created", audit[0]!.changes],
      [2, "webhook_endpoint.secret_rotated", {
        secret: { from: "(previous secret)", to: "(new secret)" },
      }],
    ]);
    // The secret is never shown again.
    const read = await expectJson(
      await ctx.request("GET", `${BASE}/${endpoint.id}`, { token: who.admin }),
      200,
    );
    assert.equal("secret" in read, false);
    await expectProblem(
      await ctx.request("POST", `${BASE}/${MISSING}/rotate-secret`, {
        token: who.admin,
      }),
      404,
    );
  }));

Deno.test("POST /v1/webhook-endpoints/{id}/test queues a webhook.test event and wakes the dispatcher; a disabled endpoint is 409", async () => {
  let wakes = 0;
  await withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const before = wakes;
    const queued = await expectJson(
      await ctx.request("POST", `${BASE}/${endpoint.id}/test`, {
        token: who.admin,
      }),
      202,
    );
    assert.ok(wakes > before);
    assert.match(queued.event_id, /^evt_[0-9a-f-]{36}$/);
    assert.deepEqual(queued.endpoint_ids, [endpoint.id]);
    const [delivery, ...rest] = await deliveriesOf(ctx, endpoint.id);
    assert.deepEqual(rest, []);
    assert.equal(delivery!.eventId, queued.event_id);
    assert.equal(delivery!.eventType, "webhook.test");
    assert.equal(delivery!.orderId, null);
    assert.deepEqual(JSON.parse(delivery!.payload), {
      id: queued.event_id,
      type: "webhook.test",
      timestamp: new Date(ctx.clock.now()).toISOString(),
      data: { endpoint_id: endpoint.id },
    });
    await ctx.request("PATCH", `${BASE}/${endpoint.id}`, {
      token: who.admin,
      body: { enabled: false },
    });
    await expectProblem(
      await ctx.request("POST", `${BASE}/${endpoint.id}/test`, {
        token: who.admin,
      }),
      409,
      /is disabled: enable it first/,
    );
    await expectProblem(
      await ctx.request("POST", `${BASE}/${MISSING}/test`, {
        token: who.admin,
      }),
      404,
    );
    assert.equal((await deliveriesOf(ctx, endpoint.id)).length, 1);
  }, { wakeDispatcher: () => void wakes++ });
});

/** Inserts `count` attempts for an endpoint, oldest first, and returns their seqs. */
async function insertAttempts(
  ctx: TestContext,
  endpointId: string,
  count: number,
): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 1; i <= count; i++) {
    const result = await ctx.database.client.execute({
      sql:
        "INSERT INTO webhook_attempts (endpoint_id, event_id, event_type, attempt, at, outcome, response_status, duration_ms) VALUES (?, ?, 'order.created', ?, ?, ?, ?, ?)",
      args: [
        endpointId,
        `evt_${i}`,
        i,
        1_700_000_000_000 + i * 1000,
        i % 2 === 0 ? "succeeded" : "timeout",
        i % 2 === 0 ? 200 : null,
        10 * i,
      ],
    });
    seqs.push(Number(result.lastInsertRowid));
  }
  return seqs;
}

Deno.test("GET /v1/webhook-endpoints/{id}/attempts pages newest first with cursors bound to the caller and the endpoint", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const other = await register(ctx, who);
    await insertAttempts(ctx, endpoint.id, 2);
    await insertAttempts(ctx, other.id, 2);
    await insertAttempts(ctx, endpoint.id, 3);
    const path = `${BASE}/${endpoint.id}/attempts`;

    const seen: Json[] = [];
    let page = await expectJson(
      await ctx.request("GET", `${path}?limit=2`, { token: who.admin }),
      200,
    );
    const first = page;
    seen.push(...page.attempts);
    while (page.next_cursor !== null) {
      page = await expectJson(
        await ctx.request(
          "GET",
          `${path}?limit=2&cursor=${encodeURIComponent(page.next_cursor)}`,
          { token: who.admin },
        ),
        200,
      );
      seen.push(...page.attempts);
    }
    assert.deepEqual(seen.map((a) => a.event_id), [
      "evt_3",
      "evt_2",
      "evt_1",
      "evt_2",
      "evt_1",
    ]);
    assert.deepEqual(seen[0], {
      event_id: "evt_3",
      event_type: "order.created",
      attempt: 3,
      at: new Date(1_700_000_003_000).toISOString(),
      outcome: "timeout",
      response_status: null,
      duration_ms: 30,
    });
    assert.deepEqual(seen[1].outcome, "succeeded");
    assert.deepEqual(seen[1].response_status, 200);
    // Default limit: everything on one page, no cursor.
    const all = await expectJson(
      await ctx.request("GET", path, { token: who.admin }),
      200,
    );
    assert.equal(all.attempts.length, 5);
    assert.equal(all.next_cursor, null);

    const cursor = encodeURIComponent(first.next_cursor);
    const otherAdmin = await ctx.token(10, ["admin"]);
    const refusals: [string, string][] = [
      [`${BASE}/${other.id}/attempts?cursor=${cursor}`, who.admin],
      [`${path}?cursor=${cursor}`, otherAdmin],
      [`${path}?cursor=${cursor}x`, who.admin],
      [`${path}?cursor=nope`, who.admin],
    ];
    for (const [target, token] of refusals) {
      const problem = await expectProblem(
        await ctx.request("GET", target, { token }),
        400,
      );
      assert.equal(problem.errors[0].path, "cursor");
    }
    for (const limit of ["0", "101", "x", "-1"]) {
      const problem = await expectProblem(
        await ctx.request("GET", `${path}?limit=${limit}`, {
          token: who.admin,
        }),
        422,
      );
      assert.equal(problem.errors[0].path, "limit");
    }
    await expectProblem(
      await ctx.request("GET", `${BASE}/${MISSING}/attempts`, {
        token: who.admin,
      }),
      404,
    );
    const none = await expectJson(
      await ctx.request("GET", `${BASE}/${other.id}/attempts?limit=100`, {
        token: who.admin,
      }),
      200,
    );
    assert.equal(none.attempts.length, 2);
  }));

Deno.test("POST /v1/events/{id}/resend queues the event as GET /v1/events/{id} shows it, to every enabled subscribed endpoint or the one named", () =>
  withTestContext(async (ctx, who) => {
    const order = await createOrder(ctx, who.owner);
    const { events } = await expectJson(
      await ctx.request("GET", "/v1/events", { token: who.admin }),
      200,
    );
    const eventId = events[0].id;
    const shown = await expectJson(
      await ctx.request("GET", `/v1/events/${eventId}`, { token: who.admin }),
      200,
    );
    const every = await register(ctx, who);
    const created = await register(ctx, who, {
      event_types: ["order.created"],
    });
    const cancelled = await register(ctx, who, {
      event_types: ["order.cancelled"],
    });
    const off = await register(ctx, who);
    await ctx.request("PATCH", `${BASE}/${off.id}`, {
      token: who.admin,
      body: { enabled: false },
    });
    const path = `/v1/events/${eventId}/resend`;

    const queued = await expectJson(
      await ctx.request("POST", path, { token: who.admin }),
      202,
    );
    assert.equal(queued.event_id, eventId);
    assert.deepEqual(
      [...queued.endpoint_ids].sort(),
      [every.id, created.id].sort(),
    );
    for (const id of [every.id, created.id]) {
      const [delivery, ...rest] = await deliveriesOf(ctx, id);
      assert.deepEqual(rest, []);
      assert.equal(delivery!.eventId, eventId);
      assert.equal(delivery!.orderId, order.id);
      assert.equal(delivery!.payload, JSON.stringify(shown));
    }
    assert.deepEqual(await deliveriesOf(ctx, cancelled.id), []);
    assert.deepEqual(await deliveriesOf(ctx, off.id), []);

    // Named: that endpoint only.
    const named = await expectJson(
      await ctx.request("POST", path, {
        token: who.admin,
        body: { endpoint_id: created.id.toUpperCase() },
      }),
      202,
    );
    assert.deepEqual(named.endpoint_ids, [created.id]);
    assert.equal((await deliveriesOf(ctx, created.id)).length, 2);
    assert.equal((await deliveriesOf(ctx, every.id)).length, 1);
    await expectJson(
      await ctx.request("POST", path, {
        token: who.admin,
        body: { endpoint_id: null },
      }),
      202,
    );

    // Refusals, in the order of checks.
    await expectProblem(
      await ctx.request("POST", path, {
        token: who.admin,
        body: { endpoint_id: cancelled.id },
      }),
      409,
      /not subscribed to order\.created/,
    );
    await expectProblem(
      await ctx.request("POST", path, {
        token: who.admin,
        body: { endpoint_id: off.id },
      }),
      409,
      /is disabled/,
    );
    for (const endpointId of [MISSING, "nope"]) {
      const problem = await expectProblem(
        await ctx.request("POST", path, {
          token: who.admin,
          body: { endpoint_id: endpointId },
        }),
        422,
      );
      assert.deepEqual(problem.errors, [
        { path: "endpoint_id", message: "No such webhook endpoint" },
      ]);
    }
    const unknownEvent =
      "/v1/events/evt_00000000-0000-4000-8000-000000000000/resend";
    await expectProblem(
      await ctx.request("POST", unknownEvent, {
        token: who.admin,
        body: { endpoint_id: MISSING },
      }),
      404,
      /^No such event$/,
    );
    const wrongType = await expectProblem(
      await ctx.request("POST", unknownEvent, {
        token: who.admin,
        body: { endpoint_id: 5 },
      }),
      422,
    );
    assert.equal(wrongType.errors[0].path, "endpoint_id");
    await expectProblem(
      await ctx.request("POST", path, { token: who.admin, body: "{" }),
      400,
    );
    await expectProblem(
      await ctx.request("POST", path, { token: who.admin, body: [] }),
      422,
    );
  }));

Deno.test("a resend to no subscribed endpoint queues nothing and answers 202 with no endpoint_ids", () =>
  withTestContext(async (ctx, who) => {
    await createOrder(ctx, who.owner);
    const { events } = await expectJson(
      await ctx.request("GET", "/v1/events", { token: who.admin }),
      200,
    );
    const queued = await expectJson(
      await ctx.request("POST", `/v1/events/${events[0].id}/resend`, {
        token: who.admin,
        body: {},
      }),
      202,
    );
    assert.deepEqual(queued.endpoint_ids, []);
    const { rows } = await ctx.database.client.execute(
      "SELECT count(*) AS n FROM webhook_deliveries",
    );
    assert.equal(Number(rows[0]!.n), 0);
  }));

Deno.test("the webhook endpoints' audit chains verify, and hold no secret", () =>
  withTestContext(async (ctx, who) => {
    const endpoint = await register(ctx, who);
    const path = `${BASE}/${endpoint.id}`;
    await ctx.request("PATCH", path, {
      token: who.admin,
      body: { description: "Renamed" },
    });
    const rotated = await expectJson(
      await ctx.request("POST", `${path}/rotate-secret`, { token: who.admin }),
      200,
    );
    await ctx.request("DELETE", path, { token: who.admin });
    const audit = await auditOf(ctx, endpoint.id);
    assert.deepEqual(audit.map((e) => e.action), [
      "webhook_endpoint.created",
      "webhook_endpoint.updated",
      "webhook_endpoint.secret_rotated",
      "webhook_endpoint.deleted",
    ]);
    assert.ok(audit.every((e) => e.actor === 9 && e.orderId === null));
    assert.equal(new Set(audit.map((e) => e.requestId)).size, 4);
    const text = JSON.stringify(audit);
    for (const secret of [endpoint.secret, rotated.secret]) {
      assert.equal(text.includes(secret.slice("whsec_".length)), false);
    }
    assert.doesNotMatch(text, /whsec_/);
    const verified = await verifyAuditLog(ctx.database.db, {
      keys: new Map([[TEST_AUDIT_SEALER.keyId, TEST_AUDIT_SEALER]]),
    });
    assert.equal(verified.broken, undefined);
    assert.equal(verified.entries, 4);
  }));

Deno.test("the OpenAPI document describes every delivery under webhooks: each order event type and webhook.test, signed, with what each answer does", () => {
  const document = JSON.parse(JSON.stringify(buildOpenApiDocument()));
  assert.deepEqual(
    Object.keys(document.webhooks).sort(),
    [
      ...ORDER_EVENT_TYPES,
      "webhook.test",
    ].sort(),
  );
  for (
    const [type, item] of Object.entries(document.webhooks) as [string, Json][]
  ) {
    const post = item.post;
    assert.deepEqual(Object.keys(item), ["post"], type);
    assert.deepEqual(post.security, [], type);
    assert.equal(
      post.requestBody.content["application/json"].schema.$ref,
      type === "webhook.test"
        ? "#/components/schemas/WebhookTestEvent"
        : "#/components/schemas/OrderEvent",
    );
    assert.deepEqual(
      post.parameters.map((p: Json) => [p.in, p.name, p.required]),
      [
        ["header", "webhook-id", true],
        ["header", "webhook-timestamp", true],
        ["header", "webhook-signature", true],
      ],
    );
    assert.ok(post.responses["2XX"], type);
    assert.ok(post.responses["410"], type);
  }
});
