import assert from "node:assert/strict";
import {
  blockNames,
  DOCUMENTS,
  GENERATED_BLOCKS,
  regenerate,
} from "../../tools/docs_generate.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("the docs' generated blocks are what the code gives today (else run deno task docs:generate)", async () => {
  const used = new Set<string>();
  for (const path of DOCUMENTS) {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    for (const name of blockNames(text)) used.add(name);
    assert.equal(regenerate(text), text, `${path} is out of date`);
  }
  // Every block is shown somewhere: none is written for nothing.
  assert.deepEqual([...used].sort(), Object.keys(GENERATED_BLOCKS).sort());
});

Deno.test("regenerate rewrites a stale block and refuses an unknown one", () => {
  const stale =
    "a\n<!-- generated: roles-table -->\nold\n<!-- end generated -->\nb";
  const written = regenerate(stale);
  assert.ok(written.startsWith("a\n<!-- generated: roles-table -->\n| action"));
  assert.ok(written.endsWith("\n<!-- end generated -->\nb"));
  assert.throws(
    () => regenerate("<!-- generated: nothing -->\nx\n<!-- end generated -->"),
    /No generated block is called "nothing"/,
  );
});
