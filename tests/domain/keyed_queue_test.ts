import assert from "node:assert/strict";
import { createKeyedQueue } from "../../domain/keyed_queue.ts";

Deno.test("a keyed queue runs tasks of one key one at a time in arrival order, other keys freely, past failures", async () => {
  const enqueue = createKeyedQueue();
  const log: string[] = [];
  let running = 0;
  const task = (name: string, fail = false) => async () => {
    running++;
    assert.equal(running, 1, `${name} overlapped another task of its key`);
    log.push(`start ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
    log.push(`end ${name}`);
    running--;
    if (fail) throw new Error(`${name} failed`);
    return name;
  };
  let otherRan = false;
  const results = await Promise.allSettled([
    enqueue("a", task("1")),
    enqueue("a", task("2", true)),
    enqueue("a", task("3")),
    enqueue("b", () => {
      otherRan = log.length < 6;
      return Promise.resolve("b");
    }),
  ]);
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
    "fulfilled",
  ]);
  assert.deepEqual(log, [
    "start 1",
    "end 1",
    "start 2",
    "end 2",
    "start 3",
    "end 3",
  ]);
  assert.ok(otherRan, "a task of another key waited for key a");
});
