/**
 * An unexpected error in a request is answered with a bare 500 and logged as
 * `http.unhandled_error` with its message and code (and its cause's),
 * scrubbed of credentials and tokens, never with the request's body.
 */
import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client/web";
import { createTestContext, orderBody } from "../fixtures/mod.ts";

const ADDRESS = "77 Hidden Lane, Springfield";

/** Asserts `res` is the bare 500 and returns its request id. */
async function assertBare500(res: Response): Promise<string> {
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const requestId = res.headers.get("x-request-id") ?? "";
  assert.deepEqual(await res.json(), {
    type: "urn:orders-api:problem:internal",
    title: "Internal server error",
    status: 500,
    detail: "The server could not complete the request",
    request_id: requestId,
  });
  return requestId;
}

Deno.test("an unexpected database error is logged with its message and code, and the answer is a bare 500", async () => {
  const ctx = await createTestContext();
  try {
    await ctx.database.client.execute("DROP TABLE order_items");
    const res = await ctx.request("GET", "/v1/orders", {
      token: await ctx.token(42),
    });
    const requestId = await assertBare500(res);
    const line = ctx.logs.find((l) => l.event === "http.unhandled_error");
    assert.equal(line?.level, "error");
    assert.equal(line?.request_id, requestId);
    assert.match(String(line?.error_message), /no such table: order_items/);
    assert.equal(line?.error_code, "SQLITE_ERROR");
  } finally {
    ctx.close();
  }
});

Deno.test("a database error naming a URL with credentials or a token is logged scrubbed, without the request body", async () => {
  const ctx = await createTestContext();
  try {
    // The database itself answers with a message full of secrets.
    await ctx.database.client.execute(
      `CREATE TRIGGER leak BEFORE INSERT ON orders BEGIN SELECT RAISE(ABORT,
        'replica libsql://admin:hunter2@db.example.com?authToken=tok-123 refused Bearer abc.def.ghi');
      END`,
    );
    const token = await ctx.token(42);
    const res = await ctx.request("POST", "/v1/orders", {
      token,
      body: orderBody({ shipping_address: ADDRESS }),
    });
    await assertBare500(res);
    const line = ctx.logs.find((l) => l.event === "http.unhandled_error");
    assert.equal(
      line?.error_message,
      "replica libsql://[redacted]@db.example.com?authToken=[redacted] refused Bearer [redacted]",
    );
    assert.match(String(line?.error_code), /^SQLITE_CONSTRAINT/);
    const logs = JSON.stringify(ctx.logs);
    for (const secret of ["hunter2", "tok-123", "abc.def.ghi", token]) {
      assert.ok(!logs.includes(secret), `the logs hold ${secret}`);
    }
    assert.ok(!logs.includes("Hidden Lane"), "the logs hold the address");
  } finally {
    ctx.close();
  }
});

Deno.test("a remote database's error is logged with its code and its cause's message and code, scrubbed", async () => {
  const base = await createTestContext();
  const refused = Object.assign(
    new Error(
      "error sending request for url (https://db.example.com/v2/pipeline?authToken=eyJhbGciOiJIUzI1NiJ9.eyJhIjoicncifQ.c2ln): Connection refused",
    ),
    { code: "ECONNREFUSED" },
  );
  const failing = await createTestContext({
    store: {
      ...base.store,
      listOrders: () =>
        Promise.reject(
          new LibsqlError(
            "Server returned HTTP status 503",
            "SERVER_ERROR",
            undefined,
            undefined,
            new TypeError("fetch failed", { cause: refused }),
          ),
        ),
    },
  });
  try {
    const res = await failing.request("GET", "/v1/orders", {
      token: await failing.token(42),
    });
    await assertBare500(res);
    const line = failing.logs.find((l) => l.event === "http.unhandled_error");
    assert.deepEqual(
      {
        error_name: line?.error_name,
        error_message: line?.error_message,
        error_code: line?.error_code,
        error_cause_message: line?.error_cause_message,
        error_cause_code: line?.error_cause_code,
      },
      {
        error_name: "LibsqlError",
        error_message: "SERVER_ERROR: Server returned HTTP status 503",
        error_code: "SERVER_ERROR",
        error_cause_message:
          "error sending request for url (https://db.example.com/v2/pipeline?authToken=[redacted]): Connection refused",
        error_cause_code: "ECONNREFUSED",
      },
    );
  } finally {
    failing.close();
    base.close();
  }
});
