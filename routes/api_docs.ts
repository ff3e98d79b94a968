/**
 * The API's own description: `GET /openapi.json` and `GET /docs`, both
 * public, and the components every route's declaration refers to. The
 * document is generated once, on its first request.
 */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { registerSharedComponents } from "./openapi/components.ts";
import { DOCS_PAGE_HTML, DOCS_PATH } from "./openapi/docs_page.ts";
import { documented, jsonText } from "./openapi/documented.ts";
import type { OpenApiDocument } from "./openapi/generate.ts";
import { html, json } from "./openapi/responses.ts";
import { openApiDocumentSchema } from "./response_schemas.ts";

/**
 * The documentation sub-app; `document` generates the document of the
 * whole app (asked once, on the first request for it).
 */
export function apiDocsRoutes(
  document: () => OpenApiDocument,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  registerSharedComponents(app.openAPIRegistry);
  let documentJson: string | undefined;

  documented(app, {
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tags: ["Documentation"],
    summary: "This OpenAPI document",
    description:
      "The OpenAPI 3.1 document, generated from the routes' own declarations and the zod schemas the handlers validate with. Generate a typed client from it with `openapi-typescript`.",
    security: [],
    responses: {
      200: json("The OpenAPI 3.1 document.", openApiDocumentSchema),
    },
  }, (c) => {
    documentJson ??= JSON.stringify(document());
    c.header("Content-Type", "application/json; charset=UTF-8");
    return jsonText<z.output<typeof openApiDocumentSchema>, 200>(
      c,
      documentJson,
      200,
    );
  });

  documented(app, {
    method: "get",
    path: DOCS_PATH,
    operationId: "getDocs",
    tags: ["Documentation"],
    summary: "Interactive documentation",
    description:
      "Swagger UI over `/openapi.json`. Its scripts and styles come from a CDN, pinned to one version with Subresource Integrity; the page's own Content-Security-Policy allows exactly those files.",
    security: [],
    responses: { 200: html("An HTML page.") },
  }, (c) => c.html(DOCS_PAGE_HTML));

  return app;
}
