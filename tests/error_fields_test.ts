import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client/web";
import { errorFields, errorSummary, scrubSecrets } from "../error_fields.ts";

Deno.test("scrubSecrets removes credentials and tokens and keeps the rest", async (t) => {
  const cases: [string, string, string][] = [
    [
      "the user and password of a URL",
      "cannot reach libsql://admin:hunter2@db.example.com:8080/v2",
      "cannot reach libsql://[redacted]@db.example.com:8080/v2",
    ],
    [
      "a token as a URL's user",
      "GET https://tok3n@db.example.com/",
      "GET https://[redacted]@db.example.com/",
    ],
    [
      "an authToken query parameter",
      "https://db.example.com/v2/pipeline?tls=1&authToken=abc.def-123&x=y",
      "https://db.example.com/v2/pipeline?tls=1&authToken=[redacted]&x=y",
    ],
    [
      "a bearer token",
      "Authorization: Bearer abc123.def456.ghi789 refused",
      "Authorization: Bearer [redacted] refused",
    ],
    [
      "a bare JWT",
      "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl expired",
      "token [redacted] expired",
    ],
    [
      "settings written as key and value",
      `{"authToken":"s3cret","password": "pw", DATABASE_AUTH_TOKEN=t0k}`,
      `{"authToken":"[redacted]","password": "[redacted]", DATABASE_AUTH_TOKEN=[redacted]}`,
    ],
    [
      "the values drizzle appends to a failed query",
      "Failed query: INSERT INTO orders VALUES (?, ?)\nparams: 42,1 Main St",
      "Failed query: INSERT INTO orders VALUES (?, ?)\nparams: [redacted]",
    ],
    [
      "a message without secrets",
      "SQLITE_ERROR: no such table: orders (at http://127.0.0.1:8080/v2)",
      "SQLITE_ERROR: no such table: orders (at http://127.0.0.1:8080/v2)",
    ],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => assert.equal(scrubSecrets(text), expected));
  }
});

Deno.test("errorFields logs the message and code of an error and of its innermost cause, scrubbed", () => {
  const refused = Object.assign(
    new Error(
      "error sending request for url (https://u:pw@db.example.com/v2?authToken=tok): Connection refused",
    ),
    { code: "ECONNREFUSED" },
  );
  const error = new LibsqlError(
    "Server returned HTTP status 401",
    "SERVER_ERROR",
    undefined,
    undefined,
    new TypeError("fetch failed", { cause: refused }),
  );
  assert.deepEqual(errorFields(error), {
    error_name: "LibsqlError",
    error_message: "SERVER_ERROR: Server returned HTTP status 401",
    error_code: "SERVER_ERROR",
    error_cause_name: "Error",
    error_cause_message:
      "error sending request for url (https://[redacted]@db.example.com/v2?authToken=[redacted]): Connection refused",
    error_cause_code: "ECONNREFUSED",
  });
  assert.equal(
    errorSummary(error),
    "error sending request for url (https://[redacted]@db.example.com/v2?authToken=[redacted]): Connection refused",
  );
});

Deno.test("errorFields describes errors without a cause or code, values that are not errors, and cyclic causes", () => {
  assert.deepEqual(errorFields(new RangeError("out of range")), {
    error_name: "RangeError",
    error_message: "out of range",
  });
  assert.deepEqual(errorFields("Bearer abc"), {
    error_name: "string",
    error_message: "Bearer [redacted]",
  });
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  assert.equal(errorFields(a).error_cause_message, "b");
  const long = errorFields(new Error("x".repeat(2000)));
  assert.equal(String(long.error_message).length, 501);
});
