/**
 * `deno task openapi:lint`: writes the OpenAPI document to a temporary file
 * and lints it with Redocly CLI (the version pinned in deno.json) under
 * `redocly.yaml`. Exits with the linter's status: non-zero on any error or
 * warning.
 */
import { lintOpenApiDocument } from "./openapi_linter.ts";

const result = await lintOpenApiDocument();
await Deno.stdout.write(new TextEncoder().encode(result.output));
Deno.exit(result.code);
