import assert from "node:assert/strict";
import fc from "fast-check";
import {
  classifyAddress,
  destinationAllowed,
  isPublicAddress,
  MAX_WEBHOOK_URL_LENGTH,
  parseAllowHosts,
  parseWebhookUrl,
  SPECIAL_ADDRESS_RANGES,
} from "../../domain/webhook_destination.ts";

/** A fixed seed: the same cases on every run. */
const PROPERTY_SETTINGS = { seed: 20_260_601, numRuns: 2_000 };

const NO_ALLOWED_HOSTS: ReadonlySet<string> = new Set();

function allowHosts(list: string): ReadonlySet<string> {
  const result = parseAllowHosts(list);
  if (!result.ok) throw new Error(`Unexpected rejection: ${result.reason}`);
  return result.hosts;
}

function refusal(text: string, allowed = NO_ALLOWED_HOSTS): string {
  const result = parseWebhookUrl(text, allowed);
  assert.ok(!result.ok, `${text} was accepted as ${result.ok && result.url}`);
  return result.reason;
}

/** A step per URL of `cases`, each refused with a reason matching `pattern`. */
async function refusesEach(
  t: Deno.TestContext,
  cases: readonly string[],
  pattern: RegExp,
): Promise<void> {
  for (const url of cases) {
    await t.step(url, () => assert.match(refusal(url), pattern));
  }
}

function accepted(text: string, allowed = NO_ALLOWED_HOSTS): URL {
  const result = parseWebhookUrl(text, allowed);
  if (!result.ok) throw new Error(`${text} was refused: ${result.reason}`);
  return result.url;
}

// [address, public?] — for every block the first and last address, and the
// addresses just outside it where those are public.
const ADDRESSES: Record<string, readonly (readonly [string, boolean])[]> = {
  '0.0.0.0/8 "this network" and unspecified': [
    ["0.0.0.0", false],
    ["0.0.0.1", false],
    ["0.255.255.255", false],
    ["1.0.0.0", true],
  ],
  "10.0.0.0/8 private": [
    ["9.255.255.255", true],
    ["10.0.0.0", false],
    ["10.255.255.255", false],
    ["11.0.0.0", true],
  ],
  "100.64.0.0/10 shared": [
    ["100.63.255.255", true],
    ["100.64.0.0", false],
    ["100.127.255.255", false],
    ["100.128.0.0", true],
  ],
  "127.0.0.0/8 loopback": [
    ["126.255.255.255", true],
    ["127.0.0.0", false],
    ["127.0.0.1", false],
    ["127.255.255.255", false],
    ["128.0.0.0", true],
  ],
  "169.254.0.0/16 link-local and the metadata service": [
    ["169.253.255.255", true],
    ["169.254.0.0", false],
    ["169.254.169.254", false],
    ["169.254.255.255", false],
    ["169.255.0.0", true],
  ],
  "172.16.0.0/12 private": [
    ["172.15.255.255", true],
    ["172.16.0.0", false],
    ["172.31.255.255", false],
    ["172.32.0.0", true],
  ],
  "192.0.0.0/24 IETF protocol assignments": [
    ["191.255.255.255", true],
    ["192.0.0.0", false],
    ["192.0.0.255", false],
    ["192.0.1.0", true],
  ],
  "192.0.2.0/24 documentation": [
    ["192.0.1.255", true],
    ["192.0.2.0", false],
    ["192.0.2.255", false],
    ["192.0.3.0", true],
  ],
  "192.88.99.0/24 deprecated 6to4 relay anycast": [
    ["192.88.98.255", true],
    ["192.88.99.0", false],
    ["192.88.99.255", false],
    ["192.88.100.0", true],
  ],
  "192.168.0.0/16 private": [
    ["192.167.255.255", true],
    ["192.168.0.0", false],
    ["192.168.255.255", false],
    ["192.169.0.0", true],
  ],
  "198.18.0.0/15 benchmarking": [
    ["198.17.255.255", true],
    ["198.18.0.0", false],
    ["198.19.255.255", false],
    ["198.20.0.0", true],
  ],
  "198.51.100.0/24 documentation": [
    ["198.51.99.255", true],
    ["198.51.100.0", false],
    ["198.51.100.255", false],
    ["198.51.101.0", true],
  ],
  "203.0.113.0/24 documentation": [
    ["203.0.112.255", true],
    ["203.0.113.0", false],
    ["203.0.113.255", false],
    ["203.0.114.0", true],
  ],
  "224.0.0.0/4 multicast": [
    ["223.255.255.255", true],
    ["224.0.0.0", false],
    ["239.255.255.255", false],
  ],
  "240.0.0.0/4 reserved and the broadcast address": [
    ["240.0.0.0", false],
    ["255.255.255.254", false],
    ["255.255.255.255", false],
  ],
  "public IPv4": [
    ["93.184.216.34", true],
    ["8.8.8.8", true],
    ["1.1.1.1", true],
  ],
  "::/128 unspecified, ::1/128 loopback, ::/96 IPv4-compatible": [
    ["::", false],
    ["0:0:0:0:0:0:0:0", false],
    ["::1", false],
    ["::2", false],
    ["::7f00:1", false],
    ["::93.184.216.34", false],
  ],
  "::ffff:0:0/96 IPv4-mapped: the embedded address decides": [
    ["::ffff:0.0.0.0", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:7f00:1", false],
    ["::FFFF:7F00:1", false],
    ["0:0:0:0:0:ffff:7f00:1", false],
    ["::ffff:10.0.0.1", false],
    ["::ffff:169.254.169.254", false],
    ["::ffff:255.255.255.255", false],
    ["::ffff:93.184.216.34", true],
    ["::ffff:5db8:d822", true],
    ["0:0:0:0:0:ffff:5db8:d822", true],
    ["::fffe:5db8:d822", false],
    ["::1:ffff:5db8:d822", false],
  ],
  "64:ff9b::/96 NAT64: the embedded address decides": [
    ["64:ff9b::", false],
    ["64:ff9b::7f00:1", false],
    ["64:ff9b::127.0.0.1", false],
    ["64:ff9b::a00:1", false],
    ["64:ff9b::93.184.216.34", true],
    ["64:ff9b::5db8:d822", true],
    ["64:ff9b::ffff:ffff", false],
    ["64:ff9b::1:5db8:d822", false],
  ],
  "64:ff9b:1::/48 NAT64 local use": [
    ["64:ff9b:1::", false],
    ["64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false],
  ],
  "2002::/16 6to4: the embedded address decides": [
    ["2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["2002::", false],
    ["2002:7f00:1::", false],
    ["2002:a00:1::1", false],
    ["2002:c0a8:101::", false],
    ["2002:5db8:d822::1", true],
    ["2002:5db8:d822:ffff:ffff:ffff:ffff:ffff", true],
    ["2002:ffff:ffff::", false],
    ["2003::", true],
  ],
  "2001::/23 IETF protocol assignments, 2001::/32 Teredo": [
    ["2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["2001::", false],
    ["2001::1", false],
    ["2001:0:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2001:2::1", false],
    ["2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2001:200::", true],
  ],
  "2001:db8::/32 and 3fff::/20 documentation": [
    ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["2001:db8::", false],
    ["2001:db8::1", false],
    ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2001:db9::", true],
    ["3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["3fff::", false],
    ["3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["3fff:1000::", true],
  ],
  "fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local": [
    ["fc00::", false],
    ["fd00:ec2::254", false],
    ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["fe80::", false],
    ["fe80::1", false],
    ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["fec0::", false],
  ],
  "ff00::/8 multicast": [
    ["ff00::", false],
    ["ff02::1", false],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
  ],
  "only global unicast 2000::/3 is public": [
    ["100::", false],
    ["1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["2000::", true],
    ["3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["4000::", false],
    ["8000::", false],
  ],
  "public IPv6": [
    ["2606:4700:4700::1111", true],
    ["2a00:1450:4001:800::200e", true],
    ["2A00:1450:4001:0800:0000:0000:0000:200E", true],
    ["2a00:1450:4001:800::93.184.216.34", true],
  ],
};

Deno.test("isPublicAddress refuses every special-purpose block and accepts its public neighbours", async (t) => {
  for (const [block, cases] of Object.entries(ADDRESSES)) {
    await t.step(block, () => {
      for (const [address, expected] of cases) {
        assert.equal(isPublicAddress(address), expected, address);
      }
    });
  }
});

Deno.test("classifyAddress names the block that refuses an address, and what carried an embedded one", async (t) => {
  const cases: [string, string, string | undefined][] = [
    ["127.0.0.1", "127.0.0.0/8", undefined],
    ["169.254.169.254", "169.254.169.254/32", undefined],
    ["169.254.1.1", "169.254.0.0/16", undefined],
    ["0.0.0.0", "0.0.0.0/32", undefined],
    ["0.1.2.3", "0.0.0.0/8", undefined],
    ["255.255.255.255", "255.255.255.255/32", undefined],
    ["2001::1", "2001::/32", undefined],
    ["2001:2::1", "2001:2::/48", undefined],
    ["2001:1::1", "2001::/23", undefined],
    ["::1", "::1/128", undefined],
    ["::ffff:10.0.0.1", "10.0.0.0/8", "::ffff:0:0/96"],
    ["64:ff9b::c0a8:1", "192.168.0.0/16", "64:ff9b::/96"],
    ["2002:a9fe:a9fe::", "169.254.169.254/32", "2002::/16"],
  ];
  for (const [address, cidr, via] of cases) {
    await t.step(`${address} is refused by ${cidr}`, () => {
      const found = classifyAddress(address);
      assert.equal(found.kind, "non_public");
      assert.ok(found.kind === "non_public");
      assert.equal(found.range.cidr, cidr);
      assert.equal(found.via?.cidr, via);
    });
  }
  assert.deepEqual(classifyAddress("93.184.216.34"), { kind: "public" });
});

Deno.test("classifyAddress finds anything but a dotted IPv4 or a plain IPv6 address invalid", async (t) => {
  const garbage = [
    "",
    "localhost",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.04",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    " 1.2.3.4",
    "1.2.3.4 ",
    "１.２.３.４",
    "[::1]",
    "::1%lo",
    "fe80::1%eth0",
    "fe80::1%25eth0",
    ":",
    ":::",
    "1::2::3",
    "::1::",
    ":1::",
    "1::2:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7::8",
    "::1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "::ffff:1.2.3",
    "::ffff:1.2.3.4.5",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::ffff:256.0.0.1",
    "1.2.3.4::",
  ];
  for (const text of garbage) {
    await t.step(JSON.stringify(text), () => {
      assert.deepEqual(classifyAddress(text), { kind: "invalid" });
      assert.equal(isPublicAddress(text), false);
    });
  }
});

/** The first and last address of an IPv4 or IPv6 block, fully written out. */
function blockBounds(cidr: string): [string, string] {
  const [address = "", length = ""] = cidr.split("/");
  const v6 = address.includes(":");
  const bits = v6 ? 128n : 32n;
  let value: bigint;
  if (v6) {
    const [head = "", tail = ""] = address.split("::");
    const groups = (text: string) => text === "" ? [] : text.split(":");
    const h = groups(head);
    const t = groups(tail);
    const all = address.includes("::")
      ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
      : h;
    value = all.reduce((n, group) => (n << 16n) | BigInt(`0x${group}`), 0n);
  } else {
    value = address.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n);
  }
  const hostMask = (1n << (bits - BigInt(length))) - 1n;
  const format = (n: bigint) =>
    v6
      ? Array.from(
        { length: 8 },
        (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
      ).join(":")
      : Array.from(
        { length: 4 },
        (_, i) => String((n >> BigInt(24 - 8 * i)) & 0xffn),
      ).join(".");
  return [format(value & ~hostMask), format(value | hostMask)];
}

Deno.test("SPECIAL_ADDRESS_RANGES lists every block the contract names, and refuses both ends of each", async (t) => {
  const listed = new Set(SPECIAL_ADDRESS_RANGES.map((range) => range.cidr));
  const contract = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "2001::/32",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
  ];
  for (const cidr of contract) assert.ok(listed.has(cidr), `${cidr} missing`);
  for (const range of SPECIAL_ADDRESS_RANGES) {
    await t.step(`${range.cidr} ${range.name}`, () => {
      assert.ok(range.name !== "" && /^RFC \d+$/.test(range.reference));
      for (const address of blockBounds(range.cidr)) {
        assert.equal(classifyAddress(address).kind, "non_public", address);
      }
    });
  }
});

Deno.test("parseWebhookUrl refuses a private IP literal in every notation the URL parser accepts", async (t) => {
  const cases = [
    "https://127.0.0.1/",
    "https://127.0.0.1:8443/hook?x=1",
    "https://127.0.0.1./",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0X7F000001/",
    "https://0177.0.0.1/",
    "https://0177.0000.0000.0001/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0x7f.1/",
    "https://%31%32%37.0.0.1/",
    "https://１２７.０.０.１/",
    "https://0/",
    "https://0x0/",
    "https://10.1/",
    "https://167772161/",
    "https://0xa9fea9fe/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://192.0.0.1/",
    "https://198.18.0.1/",
    "https://203.0.113.9/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://4294967295/",
    "https://[::1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://[::]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:127.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::127.0.0.1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:7f00:1::]/",
    "https://[2001::1]/",
    "https://[2001:db8::1]/",
    "https://[fc00::1]/",
    "https://[fd00:ec2::254]/",
    "https://[fe80::1]/",
    "https://[FE80::1]/",
    "https://[ff02::1]/",
  ];
  await refusesEach(t, cases, /^Must not point to a non-public address: /);
});

Deno.test("parseWebhookUrl names the normalised address and its block in the refusal", () => {
  assert.equal(
    refusal("https://2130706433/"),
    "Must not point to a non-public address: 127.0.0.1 is loopback (127.0.0.0/8)",
  );
  assert.equal(
    refusal("https://[::ffff:169.254.169.254]/"),
    "Must not point to a non-public address: [::ffff:a9fe:a9fe] carries 169.254.169.254 (IPv4-mapped, ::ffff:0:0/96), which is the cloud metadata service (169.254.169.254/32)",
  );
});

Deno.test("parseWebhookUrl refuses a zone id, which the URL parser does not accept", () => {
  for (const url of ["https://[fe80::1%25eth0]/", "https://[fe80::1%eth0]/"]) {
    assert.equal(refusal(url), "Must be a valid absolute URL");
  }
});

Deno.test("parseWebhookUrl refuses localhost and its subdomains in any case, with trailing dots", async (t) => {
  const cases = [
    "https://localhost/",
    "https://localhost:8443/x",
    "https://LOCALHOST./",
    "https://localhost../",
    "https://a.localhost/",
    "https://A.B.LocalHost./",
    "https://loc%61lhost/",
    "https://ｌｏｃａｌｈｏｓｔ/",
  ];
  await refusesEach(t, cases, /^Must not point to localhost: /);
  for (
    const url of ["https://localhost.example.com/", "https://mylocalhost/"]
  ) {
    await t.step(`${url} is another name`, () => {
      assert.equal(accepted(url).href, url);
    });
  }
});

Deno.test("parseWebhookUrl refuses what is not an absolute https:// URL without user info or fragment", async (t) => {
  const cases: [string, RegExp][] = [
    ["http://hooks.example.com/x", /^Must be an https:\/\/ URL$/],
    ["HTTP://hooks.example.com/x", /^Must be an https:\/\/ URL$/],
    ["http://93.184.216.34/", /^Must be an https:\/\/ URL$/],
    ["ftp://hooks.example.com/", /^Must be an absolute https:\/\/ URL$/],
    ["wss://hooks.example.com/", /^Must be an absolute https:\/\/ URL$/],
    ["https:hooks.example.com/x", /^Must be an absolute https:\/\/ URL$/],
    ["https:/hooks.example.com/x", /^Must be an absolute https:\/\/ URL$/],
    ["https:\\\\hooks.example.com/x", /^Must be an absolute https:\/\/ URL$/],
    ["//hooks.example.com/x", /^Must be an absolute https:\/\/ URL$/],
    ["/x", /^Must be an absolute https:\/\/ URL$/],
    ["hooks.example.com", /^Must be an absolute https:\/\/ URL$/],
    ["", /^Must be an absolute https:\/\/ URL$/],
    ["https://", /^Must be a valid absolute URL$/],
    ["https://hooks.example.com:99999/", /^Must be a valid absolute URL$/],
    ["https://1.2.3.4.5/", /^Must be a valid absolute URL$/],
    ["https://4294967296/", /^Must be a valid absolute URL$/],
    ["not a url", /^Must not contain spaces or control characters$/],
    [" https://hooks.example.com/", /^Must not contain spaces/],
    ["https://hooks.example.com/ ", /^Must not contain spaces/],
    ["https://hooks.exa\nmple.com/", /^Must not contain spaces/],
    ["https://hooks.exa\tmple.com/", /^Must not contain spaces/],
    ["https://hooks.example.com/a b", /^Must not contain spaces/],
    ["https://user:pass@hooks.example.com/", /^Must not contain user info/],
    ["https://user@hooks.example.com/", /^Must not contain user info/],
    ["https://:pass@hooks.example.com/", /^Must not contain user info/],
    ["https://@hooks.example.com/", /^Must not contain user info/],
    ["https://:@hooks.example.com/", /^Must not contain user info/],
    ["https://hooks.example.com/x#frag", /^Must not contain a fragment/],
    ["https://hooks.example.com/x#", /^Must not contain a fragment/],
    ["https://hooks.example.com#", /^Must not contain a fragment/],
  ];
  for (const [url, reason] of cases) {
    await t.step(JSON.stringify(url), () => assert.match(refusal(url), reason));
  }
});

Deno.test(`parseWebhookUrl accepts ${MAX_WEBHOOK_URL_LENGTH} characters, as written and once normalised, and no more`, () => {
  const base = "https://hooks.example.com/";
  const longest = base + "a".repeat(MAX_WEBHOOK_URL_LENGTH - base.length);
  assert.equal(accepted(longest).href, longest);
  assert.equal(
    refusal(`${longest}a`),
    `Must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`,
  );
  // Code points are counted, not UTF-16 units…
  const astral = base + "😀".repeat(10);
  assert.ok(astral.length > base.length + 10);
  accepted(astral);
  // …but percent-encoding can make the stored URL longer than the text.
  const encoded = base + "é".repeat(1_000);
  assert.equal(
    refusal(encoded),
    `Must be at most ${MAX_WEBHOOK_URL_LENGTH} characters: it has ${
      base.length + 6_000
    } once normalised`,
  );
  assert.equal(
    refusal("https://x/" + "a".repeat(100_000)),
    `Must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`,
  );
});

Deno.test("parseWebhookUrl accepts public hosts and returns the normalised URL", async (t) => {
  const cases: [string, string][] = [
    ["https://hooks.example.com/x", "https://hooks.example.com/x"],
    ["HTTPS://Hooks.Example.COM/x", "https://hooks.example.com/x"],
    [
      "https://hooks.example.com:8443/x?y=1&z=%20",
      "https://hooks.example.com:8443/x?y=1&z=%20",
    ],
    ["https://hooks.example.com:443/x", "https://hooks.example.com/x"],
    ["https://hooks.example.com./x", "https://hooks.example.com./x"],
    ["https://bücher.example/", "https://xn--bcher-kva.example/"],
    ["https://93.184.216.34/", "https://93.184.216.34/"],
    ["https://1572395042/", "https://93.184.216.34/"],
    ["https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/"],
    ["https://[::ffff:93.184.216.34]/", "https://[::ffff:5db8:d822]/"],
    ["https://[64:ff9b::93.184.216.34]/", "https://[64:ff9b::5db8:d822]/"],
    ["https://[2002:5db8:d822::1]/", "https://[2002:5db8:d822::1]/"],
  ];
  for (const [url, href] of cases) {
    await t.step(url, () => assert.equal(accepted(url).href, href));
  }
});

Deno.test("parseAllowHosts normalises entries as the URL parser normalises a host", () => {
  const hosts = allowHosts(
    " Hooks.Internal. , 2130706433,::1, [FE80::1], localhost,0x0a000001,bücher.example",
  );
  assert.deepEqual([...hosts].sort(), [
    "10.0.0.1",
    "127.0.0.1",
    "[::1]",
    "[fe80::1]",
    "hooks.internal",
    "localhost",
    "xn--bcher-kva.example",
  ]);
  assert.equal(allowHosts("").size, 0);
  assert.equal(allowHosts(" , ,").size, 0);
});

Deno.test("parseAllowHosts refuses what is not a bare host name or IP literal", async (t) => {
  const cases = [
    "hooks.internal:8080",
    "127.0.0.1:80",
    "[::1]:80",
    "[::1",
    "http://hooks.internal",
    "hooks.internal/x",
    "user@hooks.internal",
    "fe80::1%eth0",
    "*.internal",
    "a b",
    "1.2.3.4.5",
    "[not-ipv6]",
  ];
  for (const entry of cases) {
    await t.step(entry, () => {
      const result = parseAllowHosts(`ok.internal, ${entry}`);
      assert.deepEqual(result, {
        ok: false,
        reason: `Not a host name or IP literal: ${JSON.stringify(entry)}`,
      });
    });
  }
});

Deno.test("parseWebhookUrl lets allowed hosts skip the public rule and use http://", async (t) => {
  const allowed = allowHosts("127.0.0.1, ::1, hooks.internal, localhost");
  const cases: [string, string][] = [
    ["http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"],
    ["http://2130706433:8080/hook", "http://127.0.0.1:8080/hook"],
    ["https://0x7f000001/", "https://127.0.0.1/"],
    ["http://[::1]:9000/", "http://[::1]:9000/"],
    ["http://[0:0::1]/", "http://[::1]/"],
    ["http://hooks.internal/x", "http://hooks.internal/x"],
    ["https://HOOKS.internal./x", "https://hooks.internal./x"],
    ["http://localhost:3000/", "http://localhost:3000/"],
  ];
  for (const [url, href] of cases) {
    await t.step(url, () => assert.equal(accepted(url, allowed).href, href));
  }
  const refused: [string, RegExp][] = [
    ["http://hooks.example.com/", /^Must be an https:\/\/ URL$/],
    ["https://127.0.0.2/", /^Must not point to a non-public address/],
    // Matched as the parser writes the host: not the same as 127.0.0.1.
    ["https://[::ffff:127.0.0.1]/", /^Must not point to a non-public address/],
    ["https://a.hooks.internal.localhost/", /^Must not point to localhost/],
    ["https://a.localhost/", /^Must not point to localhost/],
    ["ftp://hooks.internal/", /^Must be an absolute https:\/\/ URL$/],
    ["http://user@hooks.internal/", /^Must not contain user info/],
    ["http://hooks.internal/#x", /^Must not contain a fragment/],
  ];
  for (const [url, reason] of refused) {
    await t.step(`${url} is still refused`, () => {
      assert.match(refusal(url, allowed), reason);
    });
  }
});

Deno.test("destinationAllowed connects to public addresses, and to private ones only for allowed hosts", async (t) => {
  const allowed = allowHosts("127.0.0.1, ::1, hooks.internal");
  const cases: [string, string, ReadonlySet<string>, boolean][] = [
    ["93.184.216.34", "hooks.example.com", NO_ALLOWED_HOSTS, true],
    ["2606:4700:4700::1111", "hooks.example.com", NO_ALLOWED_HOSTS, true],
    // A public name that now resolves to a private address (DNS rebinding).
    ["10.0.0.5", "hooks.example.com", NO_ALLOWED_HOSTS, false],
    ["169.254.169.254", "metadata.example.com", NO_ALLOWED_HOSTS, false],
    ["::ffff:127.0.0.1", "hooks.example.com", NO_ALLOWED_HOSTS, false],
    ["fe80::1", "hooks.example.com", NO_ALLOWED_HOSTS, false],
    // A listed IP literal allows exactly that address.
    ["127.0.0.1", "127.0.0.1", allowed, true],
    ["::ffff:127.0.0.1", "127.0.0.1", allowed, true],
    ["::1", "[::1]", allowed, true],
    ["127.0.0.2", "127.0.0.1", allowed, false],
    ["127.0.0.1", "127.0.0.1", NO_ALLOWED_HOSTS, false],
    // An IP listed there does not exempt a name that resolves to it.
    ["127.0.0.1", "evil.example.com", allowed, false],
    ["::1", "evil.example.com", allowed, false],
    // A listed name may resolve to any address.
    ["10.1.2.3", "hooks.internal", allowed, true],
    ["fd12:3456::1", "hooks.internal", allowed, true],
    ["10.1.2.3", "hooks.internal.", allowed, true],
    ["10.1.2.3", "a.hooks.internal", allowed, false],
    ["93.184.216.34", "hooks.internal", allowed, true],
    // An address that is not one is never connected to.
    ["", "hooks.internal", allowed, false],
    ["fe80::1%eth0", "hooks.internal", allowed, false],
    ["2130706433", "hooks.example.com", NO_ALLOWED_HOSTS, false],
    ["[::1]", "[::1]", allowed, false],
  ];
  for (const [address, host, hosts, expected] of cases) {
    const listed = hosts === allowed ? "listed" : "no list";
    await t.step(`${address} for ${host} (${listed}) → ${expected}`, () => {
      assert.equal(destinationAllowed(address, host, hosts), expected);
    });
  }
});

/** Both ends of every IPv4 block, and the addresses just outside them. */
const IPV4_BOUNDARIES: number[] = SPECIAL_ADDRESS_RANGES
  .filter((range) => !range.cidr.includes(":"))
  .flatMap((range) => blockBounds(range.cidr))
  .map((dotted) => dotted.split(".").reduce((n, o) => n * 256 + +o, 0))
  .flatMap((n) => [n - 1, n, n + 1])
  .filter((n) => n >= 0 && n <= 0xffff_ffff);

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}

Deno.test("an IPv4 address is judged the same in every URL notation and by isPublicAddress", () => {
  const address = fc.oneof(
    fc.integer({ min: 0, max: 0xffff_ffff }),
    fc.constantFrom(...IPV4_BOUNDARIES),
  );
  fc.assert(
    fc.property(address, (n) => {
      const text = dotted(n);
      const expected = isPublicAddress(text);
      const octets = text.split(".").map(Number);
      const hi = (n >>> 16).toString(16);
      const lo = (n & 0xffff).toString(16);
      const ipv4Notations = [
        text,
        String(n),
        `0x${n.toString(16)}`,
        octets.map((o) => `0${o.toString(8)}`).join("."),
        `${octets[0]}.${n & 0xff_ffff}`,
      ];
      for (const host of ipv4Notations) {
        const result = parseWebhookUrl(`https://${host}/`, NO_ALLOWED_HOSTS);
        assert.equal(result.ok, expected, host);
        if (result.ok) assert.equal(result.url.hostname, text);
      }
      const mapped = [`::ffff:${text}`, `::ffff:${hi}:${lo}`];
      for (const host of mapped) {
        assert.equal(isPublicAddress(host), expected, host);
        const result = parseWebhookUrl(`https://[${host}]/`, NO_ALLOWED_HOSTS);
        assert.equal(result.ok, expected, host);
      }
      assert.equal(isPublicAddress(`64:ff9b::${text}`), expected);
      assert.equal(isPublicAddress(`2002:${hi}:${lo}::1`), expected);
      assert.equal(
        destinationAllowed(text, "a.example", NO_ALLOWED_HOSTS),
        expected,
      );
    }),
    PROPERTY_SETTINGS,
  );
});

Deno.test("an IPv6 address is judged the same however it is written", () => {
  fc.assert(
    fc.property(fc.ipV6(), (address) => {
      const found = classifyAddress(address);
      assert.notEqual(found.kind, "invalid", address);
      assert.deepEqual(classifyAddress(address.toUpperCase()), found);
      // The URL parser's canonical form (RFC 5952) is the same address.
      const canonical = new URL(`https://[${address}]/`).hostname;
      assert.deepEqual(classifyAddress(canonical.slice(1, -1)), found);
      assert.equal(
        parseWebhookUrl(`https://[${address}]/`, NO_ALLOWED_HOSTS).ok,
        found.kind === "public",
      );
    }),
    PROPERTY_SETTINGS,
  );
});

Deno.test("parseWebhookUrl and classifyAddress never throw on arbitrary text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => {
      parseWebhookUrl(text, NO_ALLOWED_HOSTS);
      parseWebhookUrl(`https://${text}`, NO_ALLOWED_HOSTS);
      classifyAddress(text);
      destinationAllowed(text, text, NO_ALLOWED_HOSTS);
    }),
    PROPERTY_SETTINGS,
  );
});
