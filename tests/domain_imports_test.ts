/**
 * `domain/` is pure: it imports no HTTP, database, JWT or Redis library,
 * only its own modules and the validation and text libraries.
 */
import assert from "node:assert/strict";

const ALLOWED_PACKAGES = new Set(["zod", "string-strip-html"]);

Deno.test("domain modules import only each other, zod and string-strip-html", async () => {
  const dir = new URL("../domain/", import.meta.url);
  let files = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    files++;
    const source = await Deno.readTextFile(new URL(entry.name, dir));
    const specifiers = [
      ...source.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms),
      ...source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
    ].map((match) => match[1] ?? "");
    for (const specifier of specifiers) {
      assert.ok(
        /^\.\/[\w.]+\.ts$/.test(specifier) || ALLOWED_PACKAGES.has(specifier),
        `${entry.name} imports ${specifier}`,
      );
    }
  }
  assert.ok(files >= 10, "found the domain modules");
});
