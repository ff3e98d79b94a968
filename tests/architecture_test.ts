import assert from "node:assert/strict";

Deno.test("only main.ts and the command-line tools read the environment", async () => {
  for (const folder of ["domain", "routes", "db", "auth", "pii"]) {
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
