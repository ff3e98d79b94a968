import assert from "node:assert/strict";
import {
  formatPath,
  MAX_PATH_KEY_LENGTH,
  pathKey,
} from "../../domain/errors.ts";

Deno.test("pathKey keeps a key of up to MAX_PATH_KEY_LENGTH characters and cuts a longer one", () => {
  const fits = "k".repeat(MAX_PATH_KEY_LENGTH);
  assert.equal(pathKey(fits), fits);
  assert.equal(pathKey(`${fits}k`), `${fits}…`);
  // Characters are code points: an emoji is never cut in half.
  const emoji = "😀".repeat(MAX_PATH_KEY_LENGTH);
  assert.equal(pathKey(emoji), emoji);
  const cut = pathKey(`${emoji}😀`);
  assert.equal(cut, `${emoji}…`);
  assert.ok(cut.isWellFormed());
});

Deno.test("formatPath writes indexes in brackets and keys as pathKey shows them", () => {
  assert.equal(formatPath(["items", 0, "price"]), "items[0].price");
  assert.equal(
    formatPath(["x".repeat(70), 2]),
    `${"x".repeat(MAX_PATH_KEY_LENGTH)}…[2]`,
  );
});
