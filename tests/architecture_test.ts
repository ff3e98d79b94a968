import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** The server's entry point; the tasks in tools/ are entry points too. */
const ALLOWED = new Set(["main.ts"]);
const SKIPPED_FOLDERS = new Set(["tools", "tests", "node_modules", "data"]);

async function* sources(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      if (SKIPPED_FOLDERS.has(path) || entry.name.startsWith(".")) continue;
      yield* sources(new URL(`${entry.name}/`, dir), `${path}/`);
    } else if (entry.name.endsWith(".ts")) {
      yield path;
    }
  }
}

Deno.test("only main.ts and the command-line tools read the environment", async () => {
  let checked = 0;
  for await (const path of sources(ROOT)) {
    if (ALLOWED.has(path)) continue;
    checked++;
    const source = await Deno.readTextFile(new URL(path, ROOT));
    assert.doesNotMatch(source, /Deno\.env/, `${path} reads the environment`);
  }
  assert.ok(checked > 50, `checked ${checked} files`);
});
