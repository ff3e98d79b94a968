/**
 * `deno task token` refuses what the service would refuse, with a message,
 * instead of printing something that cannot work.
 */
import assert from "node:assert/strict";
import { createTokenVerifier } from "../../auth/token_verifier.ts";
import { DEV_JWT_SECRET } from "../../config.ts";
import { runTool } from "../fixtures/mod.ts";

Deno.test("deno task token refuses a bad sub, an unknown role, a too-long TTL and unknown flags", async (t) => {
  const cases: [string[], RegExp][] = [
    [
      ["--sub", "abc"],
      /--sub must be a positive integer \(a user id\), not "abc"/,
    ],
    [["--sub", "0"], /--sub must be a positive integer/],
    [["--sub=-3"], /--sub must be a positive integer/],
    [
      ["--roles", "admn"],
      /unknown role "admn": a token grants admin or fulfillment/,
    ],
    [
      ["--ttl", "86401"],
      /--ttl must be a whole number of seconds from 1 to 86400/,
    ],
    [["--ttl", "1h"], /--ttl must be a whole number of seconds/],
    [["--subject", "42"], /Unknown option '--subject'/],
    [["42"], /Unexpected argument '42'/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stdout, stderr } = await runTool("token.ts", { args });
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, /^Cannot mint a token: /);
      assert.match(stderr, message);
      assert.match(stderr, /Usage: deno task token/);
    });
  }
});

Deno.test("deno task token says when it signs with the dev secret, and its token verifies", async () => {
  const { code, stdout, stderr } = await runTool("token.ts", {
    args: ["--sub", "42", "--roles", "admin,fulfillment", "--ttl", "600"],
  });
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /JWT_SECRET is not set: signed with the public dev-only secret/,
  );
  const verifier = await createTokenVerifier({
    secret: DEV_JWT_SECRET,
    maxTtlSeconds: 86_400,
    // The tool signed on this process's clock (a shifted one included).
    now: () => Date.now(),
  });
  const verified = await verifier.verify(stdout.trim());
  assert.deepEqual(verified.principal, {
    userId: 42,
    roles: ["admin", "fulfillment", "user"],
  });
  const real = await runTool("token.ts", {
    env: { JWT_SECRET: "a-real-secret-for-the-token-tool-test-0123456789" },
  });
  assert.equal(real.code, 0);
  assert.equal(real.stderr, "");
});
