/**
 * Sets `key` to `value` as the newest entry of `map`, first dropping the
 * oldest entry when `map` already holds `maxEntries` (maps iterate in
 * insertion order: the first key is the oldest). For per-instance caches
 * and memories that must not grow with the number of users.
 */
export function setBounded<K, V>(
  map: Map<K, V>,
  key: K,
  value: V,
  maxEntries: number,
): void {
  map.delete(key);
  if (map.size >= maxEntries) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
