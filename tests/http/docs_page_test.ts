import assert from "node:assert/strict";
import getSwaggerUiDistPath from "swagger-ui-dist/absolute-path.js";
import {
  DOCS_PAGE_HTML,
  SWAGGER_UI_ASSETS,
  SWAGGER_UI_VERSION,
} from "../../routes/openapi/docs_page.ts";
import { withTestContext } from "../fixtures/mod.ts";

async function digest(
  algorithm: "SHA-256" | "SHA-384",
  bytes: Uint8Array,
): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest(algorithm, bytes as Uint8Array<ArrayBuffer>),
  );
  return btoa(String.fromCharCode(...hash));
}

function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(";").map((part) => part.trim().split(/\s+/)).map((
      [name, ...values],
    ) => [name!, values]),
  );
}

Deno.test("GET /docs serves Swagger UI under its own Content-Security-Policy", () =>
  withTestContext(async (ctx) => {
    const res = await ctx.request("GET", "/docs");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const html = await res.text();
    assert.equal(html, DOCS_PAGE_HTML);
    const policy = directives(res.headers.get("content-security-policy")!);

    // The script and the style: exactly the pinned files, with integrity.
    const script = SWAGGER_UI_ASSETS.script;
    const style = SWAGGER_UI_ASSETS.style;
    assert.ok(
      html.includes(
        `<script src="${script.url}" integrity="${script.integrity}" crossorigin="anonymous"></script>`,
      ),
    );
    assert.ok(
      html.includes(
        `<link rel="stylesheet" href="${style.url}" integrity="${style.integrity}" crossorigin="anonymous">`,
      ),
    );
    // Offline: the page names no other host.
    assert.doesNotMatch(html, /https?:\/\//);
    assert.equal(script.url, "/docs/swagger-ui-bundle.js");
    assert.equal(style.url, "/docs/swagger-ui.css");

    // The one inline script is allowed by its hash, and nothing else is.
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
    assert.equal(inline.length, 1);
    const inlineHash = `'sha256-${await digest(
      "SHA-256",
      new TextEncoder().encode(inline[0]![1]!),
    )}'`;
    assert.deepEqual(policy.get("script-src"), ["'self'", inlineHash]);
    assert.deepEqual(policy.get("style-src"), ["'self'"]);
    assert.deepEqual(policy.get("default-src"), ["'none'"]);
    assert.deepEqual(policy.get("connect-src"), ["'self'"]);
    assert.deepEqual(policy.get("img-src"), ["'self'", "data:"]);
    assert.deepEqual(policy.get("frame-ancestors"), ["'none'"]);
    assert.deepEqual(policy.get("base-uri"), ["'none'"]);
    for (const [name, values] of policy) {
      assert.ok(!values.includes("'unsafe-inline'"), name);
      assert.ok(!values.includes("'unsafe-eval'"), name);
      assert.ok(!values.includes("*"), name);
    }
    assert.ok(html.includes('url: "/openapi.json"'));
    // A script that does not load is said, not left at "Loading".
    assert.ok(
      inline[0]![1]!.includes(
        "Swagger UI could not be loaded from /docs/swagger-ui-bundle.js",
      ),
    );
    assert.ok(html.includes("persistAuthorization: false"));
    // The other security headers stay as on every route.
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("cache-control"), "no-store");
  }));

Deno.test("every other route keeps Content-Security-Policy default-src 'none'", () =>
  withTestContext(async (ctx) => {
    for (
      const path of ["/healthz", "/openapi.json", "/v1/orders", "/docs/", "/x"]
    ) {
      const res = await ctx.request("GET", path);
      await res.body?.cancel();
      assert.equal(
        res.headers.get("content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'",
        path,
      );
    }
  }));

Deno.test("the page's Subresource Integrity matches swagger-ui-dist as published on npm", async () => {
  const dist = getSwaggerUiDistPath() as string;
  const manifest = JSON.parse(
    await Deno.readTextFile(`${dist}/package.json`),
  ) as { version: string };
  assert.equal(manifest.version, SWAGGER_UI_VERSION);
  for (const asset of Object.values(SWAGGER_UI_ASSETS)) {
    const bytes = await Deno.readFile(`${dist}/${asset.file}`);
    assert.equal(
      `sha384-${await digest("SHA-384", bytes)}`,
      asset.integrity,
      asset.file,
    );
  }
});

Deno.test("the service serves the page's script and style itself, byte for byte as pinned", () =>
  withTestContext(async (ctx) => {
    for (const asset of Object.values(SWAGGER_UI_ASSETS)) {
      const res = await ctx.request("GET", asset.url);
      assert.equal(res.status, 200, asset.url);
      assert.equal(res.headers.get("content-type"), asset.contentType);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.equal(
        `sha384-${await digest("SHA-384", bytes)}`,
        asset.integrity,
        asset.url,
      );
    }
  }));
