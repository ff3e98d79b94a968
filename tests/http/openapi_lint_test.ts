import assert from "node:assert/strict";
import { lintOpenApiDocument } from "../../tools/openapi_linter.ts";

Deno.test("the OpenAPI document lints clean with Redocly CLI (recommended-strict: no errors, no warnings)", async () => {
  const result = await lintOpenApiDocument();
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /Your API description is valid/);
  assert.doesNotMatch(result.output, /warning/i);
});
