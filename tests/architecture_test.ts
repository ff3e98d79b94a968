import assert from "node:assert/strict";

const ALLOWED_IN_DOMAIN = new Set(["zod", "string-strip-html"]);

Deno.test("domain/ imports no HTTP, database, JWT or Redis library", async () => {
  const dir = new URL("../domain/", import.meta.url);
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(new URL(entry.name, dir));
    for (
      const [, specifier] of source.matchAll(
        /(?:import|export)[^"']*?from\s+["']([^"']+)["']/g,
      )
    ) {
      assert.ok(
        specifier!.startsWith("./") || ALLOWED_IN_DOMAIN.has(specifier!),
        `domain/${entry.name} imports ${specifier}`,
      );
    }
  }
});

Deno.test("only main.ts and the command-line tools read the environment", async () => {
  for (const folder of ["domain", "routes", "db", "auth"]) {
    const dir = new URL(`../${folder}/`, import.meta.url);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".ts")) continue;
      const source = await Deno.readTextFile(new URL(entry.name, dir));
      assert.doesNotMatch(
        source,
        /Deno\.env/,
        `${folder}/${entry.name} reads the environment`,
      );
    }
  }
});
