/**
 * The security events' address hash (`ip_hash`): keyed, so a leaked log
 * does not give the addresses away.
 */
import assert from "node:assert/strict";
import { createAddressHasher } from "../../monitoring/security_events.ts";
import { TEST_IP_HASH_SECRET } from "../fixtures/mod.ts";

const ADDRESS = "198.51.100.23";

Deno.test("ip_hash is a keyed hash: stable per address and key, different across addresses and keys", () => {
  const hash = createAddressHasher(TEST_IP_HASH_SECRET);
  const other = createAddressHasher("another-secret-of-at-least-32-bytes!!");
  assert.equal(hash(ADDRESS), hash(ADDRESS));
  assert.notEqual(hash(ADDRESS), hash("198.51.100.24"));
  assert.notEqual(hash(ADDRESS), other(ADDRESS));
  assert.match(hash("::1"), /^[0-9a-f]{32}$/);
});
