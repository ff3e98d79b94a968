/** The benchmark's process helpers: reading /proc's CPU lists. */
import assert from "node:assert/strict";
import { expandCpuList } from "../../../tools/bench/process.ts";

Deno.test("expandCpuList reads /proc's ranges and lists", () => {
  assert.deepEqual(expandCpuList("0-2,5"), [0, 1, 2, 5]);
  assert.deepEqual(expandCpuList("1"), [1]);
});
