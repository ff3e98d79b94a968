/**
 * The API's own description: `GET /openapi.json` and `GET /docs`, both
 * public, and the components every route's declaration refers to. The
 * document is generated once, on its first request.
 */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { registerSharedComponents } from "./openapi/components.ts";
import {
  DOCS_PAGE_HTML,
  DOCS_PATH,
  SWAGGER_UI_ASSETS,
  SWAGGER_UI_VERSION,
  swaggerUiAsset,
} from "./openapi/docs_page.ts";
import { documented, jsonText } from "./openapi/documented.ts";
import type { OpenApiDocument } from "./openapi/generate.ts";
import { html, json, staticFile } from "./openapi/responses.ts";
import { openApiDocumentSchema } from "./openapi/response_schemas.ts";

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
      "Swagger UI over `/openapi.json`. Its script and style are served by the service itself (`/docs/swagger-ui-bundle.js`, `/docs/swagger-ui.css`, from the pinned `swagger-ui-dist`), with Subresource Integrity, so the page needs no third-party host; its own Content-Security-Policy allows scripts and styles from this origin only.",
    security: [],
    responses: { 200: html("An HTML page.") },
  }, (c) => c.html(DOCS_PAGE_HTML));

  // The page's own files, from the pinned swagger-ui-dist.
  for (const [kind, asset] of Object.entries(SWAGGER_UI_ASSETS)) {
    documented(app, {
      method: "get",
      path: asset.url,
      operationId: kind === "script" ? "getDocsScript" : "getDocsStyle",
      tags: ["Documentation"],
      summary: `Swagger UI's ${kind} (${asset.file})`,
      description:
        `The documentation page's ${kind}, served from the pinned \`swagger-ui-dist\` ${SWAGGER_UI_VERSION}, byte for byte (its Subresource Integrity is in the page).`,
      security: [],
      responses: {
        200: staticFile(`\`${asset.file}\`.`, asset.contentType),
      },
    }, async (c) => {
      c.header("Content-Type", asset.contentType);
      return c.body(await swaggerUiAsset(asset));
    });
  }

  return app;
}
