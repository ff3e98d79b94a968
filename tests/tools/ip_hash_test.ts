/**
 * `deno task ip:hash` hashes what the service hashes: the address's bucket,
 * so an operator finds an IPv6 client's events however its address was
 * written; and it refuses what is not an address.
 */
import assert from "node:assert/strict";
import { createAddressHasher } from "../../monitoring/security_events.ts";
import { runTool } from "../fixtures/mod.ts";

Deno.test("deno task ip:hash prints the hash of an address's bucket: an IPv6 address's /64, an IPv4-mapped address's IPv4", async () => {
  const key = "an-ip-hash-key-for-the-tool-test-0123456789";
  const args = [
    "2001:db8:1:2::1",
    "[2001:DB8:1:2:ffff::9]:443",
    "::ffff:203.0.113.5",
    "203.0.113.5:40001",
  ];
  const result = await runTool("ip_hash.ts", {
    args,
    env: { IP_HASH_KEY: key },
  });
  assert.equal(result.code, 0, result.stderr);
  const hash = createAddressHasher(key);
  const ipv6 = hash("2001:db8:1:2::/64");
  const ipv4 = hash("203.0.113.5");
  assert.equal(
    result.stdout,
    [ipv6, ipv6, ipv4, ipv4].map((h, i) => `${h}  ${args[i]}\n`).join(""),
  );
});

Deno.test("deno task ip:hash refuses what is not an IP address", async () => {
  const bad = await runTool("ip_hash.ts", { args: ["203.0.113.5", "nope"] });
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, "");
  assert.match(bad.stderr, /Cannot hash: not an IP address: "nope"/);
  const good = await runTool("ip_hash.ts", {
    args: ["203.0.113.5", "2001:DB8::1"],
  });
  assert.equal(good.code, 0, good.stderr);
  assert.match(
    good.stdout,
    /^[0-9a-f]{32} {2}203\.0\.113\.5\n[0-9a-f]{32} {2}2001:DB8::1\n$/,
  );
});
