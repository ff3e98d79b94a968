/**
 * Runs tasks that share a key one after another, in the order they arrive;
 * tasks with different keys run freely. Used so that changes to one order
 * within this process never race each other.
 */

/** Runs `task` once every earlier task with the same key has settled. */
export type KeyedQueue = <T>(key: string, task: () => Promise<T>) => Promise<T>;

/** A new queue; it holds a key only while tasks with that key are pending. */
export function createKeyedQueue(): KeyedQueue {
  const tails = new Map<string, Promise<void>>();
  return function enqueue<T>(key: string, task: () => Promise<T>) {
    const result = (tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(() => {}, () => {});
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
}
