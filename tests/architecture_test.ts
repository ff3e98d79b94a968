import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** The entry points (self-hosted and Deno Deploy); tools/ holds entry points too. */
const ALLOWED = new Set(["main.ts", "deploy.ts"]);
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

/** The relative imports of a source file, as paths from the root. */
async function relativeImports(path: string): Promise<string[]> {
  const source = await Deno.readTextFile(new URL(path, ROOT));
  const found: string[] = [];
  for (
    const match of source.matchAll(/(?:from|import)\s+"(\.{1,2}\/[^"]+)"/g)
  ) {
    found.push(
      new URL(match[1]!, new URL(path, ROOT)).href.slice(ROOT.href.length),
    );
  }
  return found;
}

Deno.test("no module imports itself through a circle of imports (types included)", async () => {
  const graph = new Map<string, string[]>();
  for await (const path of sources(ROOT)) {
    graph.set(path, await relativeImports(path));
  }
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  // Depth-first search; a module met again while still on the path closes
  // a circle.
  const done = new Set<string>();
  const circles: string[] = [];
  function visit(path: string, trail: string[]): void {
    const at = trail.indexOf(path);
    if (at >= 0) {
      circles.push([...trail.slice(at), path].join(" → "));
      return;
    }
    if (done.has(path)) return;
    for (const next of graph.get(path) ?? []) visit(next, [...trail, path]);
    done.add(path);
  }
  for (const path of graph.keys()) visit(path, []);
  assert.deepEqual(circles, []);
});
