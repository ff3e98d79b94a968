/** The benchmark's seed data: a repeatable shuffle. */
import assert from "node:assert/strict";
import { shuffled } from "../../../tools/bench/seed.ts";

Deno.test("shuffled is a repeatable permutation", () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const once = shuffled(items, 7);
  assert.deepEqual(once, shuffled(items, 7));
  assert.notDeepEqual(once, items);
  assert.deepEqual([...once].sort((a, b) => a - b), items);
});
