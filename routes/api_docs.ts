/**
 * The API's own description: `GET /openapi.json` and `GET /docs`, both
 * public. The document is built once, on first request.
 */
import { Hono } from "hono";
import type { AppEnv } from "./env.ts";
import { DOCS_PAGE_HTML, DOCS_PATH } from "./openapi/docs_page.ts";
import { buildOpenApiDocument } from "./openapi/document.ts";

/** The documentation sub-app. */
export function apiDocsRoutes(): Hono<AppEnv> {
  let documentJson: string | undefined;
  return new Hono<AppEnv>()
    .get("/openapi.json", (c) => {
      documentJson ??= JSON.stringify(buildOpenApiDocument());
      c.header("Content-Type", "application/json; charset=UTF-8");
      return c.body(documentJson);
    })
    .get(DOCS_PATH, (c) => c.html(DOCS_PAGE_HTML));
}
