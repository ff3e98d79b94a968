/**
 * `GET /docs`: Swagger UI over `/openapi.json`, and the Content-Security-
 * Policy of that page alone.
 *
 * Swagger UI's script and style are served by the service itself, from the
 * pinned npm package `swagger-ui-dist`, so the page works offline and asks
 * no third-party host; they carry Subresource Integrity all the same. The
 * page's policy allows scripts and styles from this origin, the one inline
 * script (by its hash), images from this origin and `data:` URLs (Swagger
 * UI's icons), and requests to this origin only ("Try it out"). When the
 * script does not load, the page says so instead of "Loading". Tokens
 * pasted into "Authorize" stay in the page; they are not stored
 * (`persistAuthorization: false`).
 */
import type { secureHeaders } from "hono/secure-headers";

type ContentSecurityPolicy = NonNullable<
  NonNullable<Parameters<typeof secureHeaders>[0]>["contentSecurityPolicy"]
>;

/** The path of the documentation page. */
export const DOCS_PATH = "/docs";

/** The pinned Swagger UI release (npm package `swagger-ui-dist`). */
export const SWAGGER_UI_VERSION = "5.35.0";

/** A file of `swagger-ui-dist` the page loads. */
export interface SwaggerUiAsset {
  readonly file: string;
  /** Where the service serves it. */
  readonly url: string;
  readonly contentType: string;
  /** SHA-384 of the file as published on npm (a test recomputes it). */
  readonly integrity: string;
}

/** The files the page loads, served from this origin. */
export const SWAGGER_UI_ASSETS = {
  script: {
    file: "swagger-ui-bundle.js",
    url: `${DOCS_PATH}/swagger-ui-bundle.js`,
    contentType: "text/javascript; charset=utf-8",
    integrity:
      "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
  },
  style: {
    file: "swagger-ui.css",
    url: `${DOCS_PATH}/swagger-ui.css`,
    contentType: "text/css; charset=utf-8",
    integrity:
      "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
  },
} as const satisfies Record<string, SwaggerUiAsset>;

const assetBytes = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();

/**
 * The bytes of an asset, read from the installed `swagger-ui-dist` on first
 * use (the package is loaded only then) and kept.
 */
export function swaggerUiAsset(
  asset: SwaggerUiAsset,
): Promise<Uint8Array<ArrayBuffer>> {
  let bytes = assetBytes.get(asset.file);
  if (!bytes) {
    bytes = (async () => {
      const { default: packageDir } = await import(
        "swagger-ui-dist/absolute-path.js"
      );
      return await Deno.readFile(`${packageDir()}/${asset.file}`);
    })();
    bytes.catch(() => assetBytes.delete(asset.file));
    assetBytes.set(asset.file, bytes);
  }
  return bytes;
}

/** Starts Swagger UI; allowed by the page's policy through its hash. */
const INIT_SCRIPT = `
if (typeof SwaggerUIBundle === "function") {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    displayRequestDuration: true,
    validatorUrl: null
  });
} else {
  document.getElementById("swagger-ui").textContent =
    "Swagger UI could not be loaded from ${SWAGGER_UI_ASSETS.script.url}. The OpenAPI document is at /openapi.json.";
}
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
<p>Loading Swagger UI ${SWAGGER_UI_VERSION}. The OpenAPI document itself is at <a href="/openapi.json">/openapi.json</a>.</p>
</div>
<script src="${SWAGGER_UI_ASSETS.script.url}" integrity="${SWAGGER_UI_ASSETS.script.integrity}" crossorigin="anonymous"></script>
<script>${INIT_SCRIPT}</script>
</body>
</html>
`;

/** The Content-Security-Policy of the documentation page. */
export const DOCS_CONTENT_SECURITY_POLICY: ContentSecurityPolicy = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'", INIT_SCRIPT_HASH],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};
