/**
 * The client address the failed-authentication limit and `ip_hash` key on:
 * taken from `X-Forwarded-For` only as far as `TRUST_PROXY` hops, and one
 * bucket per IPv4 address and per IPv6 /64, whatever the port or the
 * spelling, through the real app.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Hono } from "hono";
import { MINUTE_MS } from "../../limits/rate_limiter.ts";
import type { AppEnv } from "../../routes/env.ts";
import {
  addressBucket,
  clientAddress,
  UNKNOWN_ADDRESS,
} from "../../routes/middleware/client_address.ts";
import { createTestContext } from "../fixtures/mod.ts";

Deno.test("clientAddress trusts X-Forwarded-For only as far as TRUST_PROXY hops", async (t) => {
  const cases: [string, {
    peer?: string;
    forwarded?: string;
    hops: number;
    expected: string;
  }][] = [
    ["peer without proxies", {
      peer: "198.51.100.7",
      hops: 0,
      expected: "198.51.100.7",
    }],
    ["header ignored without proxies", {
      peer: "198.51.100.7",
      forwarded: "192.0.2.1",
      hops: 0,
      expected: "198.51.100.7",
    }],
    ["one proxy: the rightmost entry", {
      peer: "10.0.0.2",
      forwarded: "203.0.113.50, 192.0.2.1",
      hops: 1,
      expected: "192.0.2.1",
    }],
    ["two proxies: the second from the right", {
      peer: "10.0.0.2",
      forwarded: "203.0.113.50, 192.0.2.1, 10.0.0.1",
      hops: 2,
      expected: "192.0.2.1",
    }],
    ["fewer entries than proxies: the leftmost", {
      peer: "10.0.0.2",
      forwarded: "192.0.2.1",
      hops: 3,
      expected: "192.0.2.1",
    }],
    ["no header behind a proxy: the peer", {
      peer: "10.0.0.2",
      hops: 1,
      expected: "10.0.0.2",
    }],
    ["not an address: the peer", {
      peer: "10.0.0.2",
      forwarded: "<script>",
      hops: 1,
      expected: "10.0.0.2",
    }],
    ["IPv6: its /64, lower case", {
      peer: "10.0.0.2",
      forwarded: "2001:DB8::1",
      hops: 1,
      expected: "2001:db8::/64",
    }],
    ["no connection info (in-process requests)", {
      hops: 0,
      expected: UNKNOWN_ADDRESS,
    }],
  ];
  for (const [name, { peer, forwarded, hops, expected }] of cases) {
    await t.step(name, async () => {
      const app = new Hono<AppEnv>().get(
        "/",
        (c) => c.text(clientAddress(c, hops)),
      );
      const env = peer === undefined
        ? undefined
        : { remoteAddr: { transport: "tcp", hostname: peer, port: 1 } };
      const response = await app.request("/", {
        headers: forwarded === undefined
          ? {}
          : { "X-Forwarded-For": forwarded },
      }, env);
      assert.equal(await response.text(), expected);
    });
  }
});

Deno.test("addressBucket drops ports and brackets, maps IPv4-mapped addresses to IPv4, and keeps an IPv6 address's /64", async (t) => {
  const cases: [string, string][] = [
    ["203.0.113.6", "203.0.113.6"],
    ["203.0.113.6:40001", "203.0.113.6"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255:65535", "255.255.255.255"],
    ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:0003:0004:0005:0006", "2001:db8:1:2::/64"],
    ["[2001:db8:1:2::1]", "2001:db8:1:2::/64"],
    ["[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"],
    ["2001:db8:0:0:1::1", "2001:db8::/64"],
    ["2001:0:0:1::", "2001:0:0:1::/64"],
    ["0:0:1::", "0:0:1::/64"],
    ["fe80::1:2:3:4", "fe80::/64"],
    ["::1", "::/64"],
    ["::", "::/64"],
    ["::1:2:3:4:5:6:7", "0:1:2:3::/64"],
    ["64:ff9b::203.0.113.6", "64:ff9b::/64"],
    ["::ffff:203.0.113.6", "203.0.113.6"],
    ["::FFFF:cb00:7106", "203.0.113.6"],
    ["[0:0:0:0:0:ffff:203.0.113.6]:8080", "203.0.113.6"],
  ];
  for (const [entry, expected] of cases) {
    await t.step(entry, () => assert.equal(addressBucket(entry), expected));
  }
  const garbage = [
    "",
    "unknown",
    "<script>",
    "203.0.113",
    "203.0.113.6.7",
    "203.0.113.256",
    "203.0.113.06",
    "203.0.113.6:",
    "203.0.113.6:http",
    "203.0.113.6:123456",
    "[203.0.113.6]",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7::8",
    "1:2:3:4:5:6:7",
    ":1:2:3:4:5:6:7",
    "12345::",
    "2001:db8::g",
    "fe80::1%eth0",
    "[2001:db8::1",
    "2001:db8::1]",
    "[2001:db8::1]:",
    "[]",
    "::ffff:203.0.113.6:80",
    "::203.0.113.6:ffff",
    "1:2:3:4:5:6:7:203.0.113.6",
    "2001:db8::1 ",
    "１.２.３.４",
    "9".repeat(100_000),
  ];
  for (const entry of garbage) {
    await t.step(
      `not an address: ${JSON.stringify(entry.slice(0, 40))}`,
      () => assert.equal(addressBucket(entry), undefined),
    );
  }
});

Deno.test("addressBucket never throws, and gives every spelling of an address one bucket", () => {
  // A fixed seed: the same cases on every run.
  const settings = { seed: 20, numRuns: 1_000 };
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 64 }), (text) => {
      addressBucket(text);
    }),
    settings,
  );
  fc.assert(
    fc.property(fc.ipV4(), fc.nat(65_535), (address, port) => {
      assert.equal(addressBucket(address), address);
      assert.equal(addressBucket(`${address}:${port}`), address);
    }),
    settings,
  );
  fc.assert(
    fc.property(fc.ipV6(), fc.nat(65_535), (address, port) => {
      const bucket = addressBucket(address);
      assert.ok(bucket !== undefined, address);
      assert.equal(addressBucket(address.toUpperCase()), bucket);
      assert.equal(addressBucket(`[${address}]:${port}`), bucket);
      // The WHATWG URL parser's canonical form is the same address.
      const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
      assert.equal(addressBucket(canonical), bucket);
      // And a /64 is written in canonical form (URL serialises as RFC 5952).
      const prefix = bucket.replace(/\/64$/, "");
      if (prefix !== bucket) {
        assert.equal(new URL(`http://[${prefix}]/`).hostname, `[${prefix}]`);
      }
    }),
    settings,
  );
});

/** Where a request comes from: the connection's peer and what a proxy wrote. */
interface Origin {
  readonly peer: string;
  readonly forwarded?: string;
}

Deno.test("addresses that differ only by port or within one IPv6 /64 share one failed-authentication bucket", async (t) => {
  const cases: [string, {
    trustedProxies: number;
    first: Origin;
    same: Origin;
    other: Origin;
  }][] = [
    ["X-Forwarded-For entries that differ only by port", {
      trustedProxies: 1,
      first: { peer: "10.0.0.2", forwarded: "203.0.113.6:40001" },
      same: { peer: "10.0.0.2", forwarded: "203.0.113.6:40002" },
      other: { peer: "10.0.0.2", forwarded: "203.0.113.7:40001" },
    }],
    ["X-Forwarded-For IPv6 entries in one /64, bracketed with a port or not", {
      trustedProxies: 1,
      first: { peer: "10.0.0.2", forwarded: "2001:db8:1:2::1" },
      same: { peer: "10.0.0.2", forwarded: "[2001:DB8:1:2:ffff::9]:443" },
      other: { peer: "10.0.0.2", forwarded: "2001:db8:1:3::1" },
    }],
    ["an IPv4-mapped X-Forwarded-For entry and its IPv4 address", {
      trustedProxies: 1,
      first: { peer: "10.0.0.2", forwarded: "::ffff:203.0.113.6" },
      same: { peer: "10.0.0.2", forwarded: "203.0.113.6" },
      other: { peer: "10.0.0.2", forwarded: "::ffff:203.0.113.7" },
    }],
    ["peers in one IPv6 /64", {
      trustedProxies: 0,
      first: { peer: "2001:db8:1:2::1" },
      same: { peer: "2001:db8:1:2:0:ffff:0:1" },
      other: { peer: "2001:db8:1:3::1" },
    }],
  ];
  for (const [name, { trustedProxies, first, same, other }] of cases) {
    await t.step(name, async () => {
      const ctx = await createTestContext({
        limits: { auth_failures: { limit: 1, windowMs: MINUTE_MS } },
        trustedProxies,
      });
      try {
        const attempt = async (origin: Origin) => {
          const response = await ctx.request("GET", "/v1/orders", {
            token: "bad",
            remoteAddress: origin.peer,
            ...(origin.forwarded !== undefined &&
              { headers: { "X-Forwarded-For": origin.forwarded } }),
          });
          await response.body?.cancel();
          return response.status;
        };
        assert.equal(await attempt(first), 401);
        assert.equal(await attempt(same), 429, "one bucket");
        assert.equal(await attempt(other), 401, "another bucket");
        // Security events hash the bucket too: one ip_hash for both.
        const hashes = ctx.logs.filter((l) => l.event === "auth.failed")
          .map((l) => l.ip_hash);
        assert.equal(hashes.length, 3);
        assert.equal(hashes[1], hashes[0]);
        assert.notEqual(hashes[2], hashes[0]);
      } finally {
        ctx.close();
      }
    });
  }
});
