/**
 * Master-key rotation end to end: orders written under master key A; the
 * service refuses to start with only B; `deno task pii:rotate` with B and
 * A as the previous key re-wraps every data key; then `main.ts` with only B
 * reads every order, history and export as before, and the audit log still
 * verifies.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import {
  createTestContext,
  orderBody,
  runTool,
  startServer,
  TEST_SECRET,
} from "../fixtures/mod.ts";

const KEY_A = btoa("master-key-A-for-the-rotate-test");
const KEY_B = btoa("master-key-B-for-the-rotate-test");

/** What the API shows: every order, history and export, by admin. */
async function snapshot(
  get: (path: string) => Promise<unknown>,
  users: number[],
): Promise<unknown> {
  const view: Record<string, unknown> = {};
  for (const user of users) {
    const exported = await get(`/v1/users/${user}/export`) as {
      exported_at?: string;
      orders: { id: string }[];
    };
    delete exported.exported_at;
    view[`export:${user}`] = exported;
    for (const order of exported.orders) {
      view[order.id] = await get(`/v1/orders/${order.id}`);
      view[`${order.id}/history`] = await get(`/v1/orders/${order.id}/history`);
    }
  }
  view.list = await get("/v1/orders?limit=100");
  return view;
}

Deno.test("pii:rotate re-wraps every data key; afterwards the service runs and reads everything with only the new key", async () => {
  const dir = await Deno.makeTempDir();
  const url = `file:${dir}/orders.db`;
  try {
    // Written under master key A, through the real app.
    const ctx = await createTestContext({ url, piiKeys: { current: KEY_A } });
    const admin = await ctx.token(9, ["admin"]);
    for (const user of [41, 42, 43]) {
      const token = await ctx.token(user);
      const created = await ctx.request("POST", "/v1/orders", {
        token,
        body: orderBody({ shipping_address: `${user} Rotation Rd` }),
        headers: { "Idempotency-Key": `rotate-${user}` },
      });
      const { id } = await created.json();
      await (await ctx.request("PATCH", `/v1/orders/${id}`, {
        token,
        body: { shipping_address: `${user} Rotated Ave` },
      })).body?.cancel();
      if (user === 43) {
        await (await ctx.request("POST", `/v1/orders/${id}/cancel`, { token }))
          .body?.cancel();
        const erased = await ctx.request(
          "DELETE",
          "/v1/users/43/personal-data",
          { token },
        );
        assert.equal(erased.status, 204);
      }
    }
    const before = await snapshot(async (path) => {
      const response = await ctx.request("GET", path, { token: admin });
      assert.equal(response.status, 200, path);
      return await response.json();
    }, [41, 42, 43]);
    ctx.close();

    // With only B, the keys wrapped by A cannot be unwrapped.
    await assert.rejects(
      () =>
        startServer({ DATABASE_URL: url, PII_ENCRYPTION_KEY: KEY_B }, {
          args: ["--dev"],
        }),
      /Cannot start: 2 data keys are wrapped by a master key that is not configured/,
    );
    const withoutPrevious = await runTool("pii_rotate.ts", {
      env: {
        DATABASE_URL: url,
        PII_ENCRYPTION_KEY: KEY_B,
      },
    });
    assert.equal(withoutPrevious.code, 1);
    assert.match(withoutPrevious.stdout, /Re-wrapped 0 data keys/);
    assert.match(withoutPrevious.stderr, /2 data keys could not be unwrapped/);

    const rotated = await runTool("pii_rotate.ts", {
      env: {
        DATABASE_URL: url,
        PII_ENCRYPTION_KEY: KEY_B,
        PII_ENCRYPTION_KEY_PREVIOUS: KEY_A,
      },
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(
      rotated.stdout,
      /Re-wrapped 2 data keys under master key [0-9a-f]{16}; 0 live data keys are still wrapped by another master key/,
    );
    for (const output of [rotated.stdout, rotated.stderr]) {
      assert.ok(!output.includes(KEY_A) && !output.includes(KEY_B));
    }
    const again = await runTool("pii_rotate.ts", {
      env: {
        DATABASE_URL: url,
        PII_ENCRYPTION_KEY: KEY_B,
        PII_ENCRYPTION_KEY_PREVIOUS: KEY_A,
      },
    });
    assert.match(again.stdout, /Re-wrapped 0 data keys/);

    // The real service with only B reads everything as before.
    const server = await startServer({
      DATABASE_URL: url,
      PII_ENCRYPTION_KEY: KEY_B,
    }, { args: ["--dev"] });
    try {
      const token = await signToken(TEST_SECRET, { sub: 9, roles: ["admin"] });
      const after = await snapshot(async (path) => {
        const response = await fetch(`${server.url}${path}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        assert.equal(response.status, 200, path);
        return await response.json();
      }, [41, 42, 43]);
      assert.deepEqual(after, before);
      const replay = await fetch(`${server.url}/v1/orders`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${await signToken(TEST_SECRET, { sub: 41 })}`,
          "Content-Type": "application/json",
          "Idempotency-Key": "rotate-41",
        },
        body: JSON.stringify(
          orderBody({ shipping_address: "41 Rotation Rd" }),
        ),
      });
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.equal((await replay.json()).shipping_address, "41 Rotation Rd");
      // New orders are wrapped by B.
      const created = await fetch(`${server.url}/v1/orders`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${await signToken(TEST_SECRET, { sub: 44 })}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify(orderBody({ shipping_address: "44 New Rd" })),
      });
      assert.equal((await created.json()).shipping_address, "44 New Rd");
    } finally {
      await server.stop();
    }
    const verified = await runTool("audit_verify.ts", {
      env: { DATABASE_URL: url },
    });
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /Audit log verified/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
