/**
 * `GET /docs`: Swagger UI over `/openapi.json`, and the Content-Security-
 * Policy of that page alone.
 *
 * Swagger UI's script and style come from jsDelivr, pinned to one version
 * and checked with Subresource Integrity, so a changed file on the CDN is
 * refused by the browser. The page's policy allows exactly those two files,
 * the one inline script (by its hash), images from this origin and `data:`
 * URLs (Swagger UI's icons), and requests to this origin only ("Try it
 * out"). Tokens pasted into "Authorize" stay in the page; they are not
 * stored (`persistAuthorization: false`).
 */
import type { secureHeaders } from "hono/secure-headers";

type ContentSecurityPolicy = NonNullable<
  NonNullable<Parameters<typeof secureHeaders>[0]>["contentSecurityPolicy"]
>;

/** The path of the documentation page. */
export const DOCS_PATH = "/docs";

/** The pinned Swagger UI release (npm package `swagger-ui-dist`). */
export const SWAGGER_UI_VERSION = "5.35.0";

const CDN_BASE =
  `https://cdn.jsdelivr.net/npm/swagger-ui-dist@${SWAGGER_UI_VERSION}/`;

/**
 * The files the page loads, with their Subresource Integrity: the SHA-384
 * of the files of `swagger-ui-dist@5.35.0` as published on npm, which is
 * what jsDelivr serves (a test recomputes them from the npm package).
 */
export const SWAGGER_UI_ASSETS = {
  script: {
    file: "swagger-ui-bundle.js",
    url: `${CDN_BASE}swagger-ui-bundle.js`,
    integrity:
      "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
  },
  style: {
    file: "swagger-ui.css",
    url: `${CDN_BASE}swagger-ui.css`,
    integrity:
      "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
  },
} as const;

/** Starts Swagger UI; allowed by the page's policy through its hash. */
const INIT_SCRIPT = `
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  displayRequestDuration: true,
  validatorUrl: null
});
`;

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

const INIT_SCRIPT_HASH = `'sha256-${await sha256Base64(INIT_SCRIPT)}'`;

/** The page. */
export const DOCS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orders API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${SWAGGER_UI_ASSETS.style.url}" integrity="${SWAGGER_UI_ASSETS.style.integrity}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui">
<p>Loading Swagger UI ${SWAGGER_UI_VERSION} from cdn.jsdelivr.net. The OpenAPI document itself is at <a href="/openapi.json">/openapi.json</a>.</p>
</div>
<script src="${SWAGGER_UI_ASSETS.script.url}" integrity="${SWAGGER_UI_ASSETS.script.integrity}" crossorigin="anonymous"></script>
<script>${INIT_SCRIPT}</script>
</body>
</html>
`;

/** The Content-Security-Policy of the documentation page. */
export const DOCS_CONTENT_SECURITY_POLICY: ContentSecurityPolicy = {
  defaultSrc: ["'none'"],
  scriptSrc: [SWAGGER_UI_ASSETS.script.url, INIT_SCRIPT_HASH],
  styleSrc: [SWAGGER_UI_ASSETS.style.url],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};
