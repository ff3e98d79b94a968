/**
 * `deno task openapi [--out file]`: writes the OpenAPI document, the same
 * one `GET /openapi.json` serves, to a file or to standard output. No
 * server, database or secret needed.
 */
import { parseArgs } from "node:util";
import { buildOpenApiDocument } from "../routes/openapi/standalone.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { out: { type: "string" } },
});
const json = JSON.stringify(buildOpenApiDocument(), null, 2) + "\n";
if (values.out) {
  await Deno.writeTextFile(values.out, json);
} else {
  await Deno.stdout.write(new TextEncoder().encode(json));
}
