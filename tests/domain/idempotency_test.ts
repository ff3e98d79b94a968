/**
 * Which `Idempotency-Key` values are well formed, and the canonical JSON a
 * request body is fingerprinted by.
 */
import assert from "node:assert/strict";
import {
  canonicalJson,
  parseIdempotencyKey,
} from "../../domain/idempotency.ts";

Deno.test("canonicalJson gives equal JSON values equal text whatever their formatting", () => {
  assert.equal(
    canonicalJson(JSON.parse('{"b": [1, {"y": 2, "x": 1}], "a": "z"}')),
    canonicalJson(JSON.parse('{"a":"z","b":[1,{"x":1,"y":2.0}]}')),
  );
  assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  assert.notEqual(canonicalJson({ a: "1" }), canonicalJson({ a: 1 }));
});

Deno.test("parseIdempotencyKey accepts 1 to 255 printable ASCII characters", () => {
  assert.equal(parseIdempotencyKey(undefined), undefined);
  assert.equal(parseIdempotencyKey("a"), "a");
  assert.equal(parseIdempotencyKey("~ !".repeat(85)), "~ !".repeat(85));
  for (const bad of ["", "k".repeat(256), "café", "tab\there", "nl\n"]) {
    assert.throws(() => parseIdempotencyKey(bad), bad);
  }
});
