/**
 * Logs and errors never contain a shipping address: the real service
 * (`main.ts` in `start` mode, at debug level) creates, replays, updates,
 * reads, exports, refuses, fails and erases, and nothing it wrote to
 * stdout or stderr, nor any response but the ones that are meant to show
 * the address to its owner, contains one.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import { openDatabase } from "../../db/client.ts";
import {
  bearerClient,
  type HttpReply,
  orderBody,
  withServerOnFile,
} from "../fixtures/mod.ts";

const SECRET = "a-real-jwt-secret-for-the-pii-logs-test-0123456789";
const ADDRESSES = [
  "12 Confidential Crescent, Springfield",
  "34 Undisclosed Avenue, Shelbyville",
  "56 Hidden Hollow, Capital City",
];
/** An address too long to be valid: refused, and not echoed either. */
const TOO_LONG = `78 Overlong Street ${"x".repeat(500)}`;

Deno.test("a run that creates, updates, exports and erases logs no address", async () => {
  const responses: string[] = [];
  const env = { JWT_SECRET: SECRET, LOG_LEVEL: "debug" };
  const server = await withServerOnFile(
    "orders-pii-logs-",
    env,
    async (server, url) => {
      const owner = await signToken(SECRET, { sub: 42 });
      const admin = await signToken(SECRET, { sub: 9, roles: ["admin"] });
      const call = bearerClient(server.url);
      /** A call whose answer must not contain an address. */
      const quiet = async (
        ...args: Parameters<typeof call>
      ): Promise<HttpReply> => {
        const result = await call(...args);
        responses.push(result.text);
        return result;
      };

      const create = (address: string, key: string) =>
        call(
          "POST",
          "/v1/orders",
          owner,
          orderBody({ shipping_address: address }),
          {
            "Idempotency-Key": key,
          },
        );
      const first = JSON.parse((await create(ADDRESSES[0]!, "a")).text);
      assert.equal((await create(ADDRESSES[0]!, "a")).status, 201);
      const second = JSON.parse((await create(ADDRESSES[1]!, "b")).text);
      assert.equal(
        (await quiet(
          "POST",
          "/v1/orders",
          owner,
          orderBody({ shipping_address: TOO_LONG }),
        )).status,
        422,
      );
      assert.equal(
        (await quiet("POST", "/v1/orders", owner, orderBody(), {
          "Idempotency-Key": "a",
        })).status,
        422,
        "same key, different body",
      );
      assert.equal(
        (await call("PATCH", `/v1/orders/${first.id}`, owner, {
          shipping_address: ADDRESSES[2],
        })).status,
        200,
      );
      assert.equal((await call("GET", "/v1/orders", owner)).status, 200);
      assert.equal(
        (await call("GET", `/v1/orders/${first.id}/history`, owner)).status,
        200,
      );
      assert.equal(
        (await call("GET", "/v1/users/42/export", admin)).status,
        200,
      );
      assert.equal(
        (await quiet("PATCH", `/v1/orders/${first.id}`, owner, {
          status: "shipped",
          shipping_address: ADDRESSES[0],
        })).status,
        403,
      );
      assert.equal(
        (await quiet("DELETE", "/v1/users/42/personal-data", owner)).status,
        409,
      );

      // A ciphertext moved to another row behind the service's back: the read
      // fails with a bare 500, and the error is logged without the address.
      const database = await openDatabase(url);
      const moveAddress = (from: string, to: string) =>
        database.client.execute({
          sql: `UPDATE orders SET shipping_address =
          (SELECT shipping_address FROM orders WHERE id = ?) WHERE id = ?`,
          args: [from, to],
        });
      const original = await database.client.execute({
        sql: "SELECT shipping_address FROM orders WHERE id = ?",
        args: [second.id],
      });
      await moveAddress(first.id, second.id);
      assert.equal(
        (await quiet("GET", `/v1/orders/${second.id}`, owner)).status,
        500,
      );
      await database.client.execute({
        sql: "UPDATE orders SET shipping_address = ? WHERE id = ?",
        args: [original.rows[0]?.shipping_address ?? null, second.id],
      });
      database.close();

      for (const id of [first.id, second.id]) {
        assert.equal(
          (await call("POST", `/v1/orders/${id}/cancel`, owner, {
            reason: "no longer needed",
          })).status,
          200,
        );
      }
      assert.equal(
        (await quiet("DELETE", "/v1/users/42/personal-data", owner)).status,
        204,
      );
      assert.equal(
        (await quiet("GET", "/v1/users/42/export", owner)).status,
        200,
      );
      assert.equal(
        (await quiet("GET", `/v1/orders/${first.id}/history`, admin)).status,
        200,
      );
      return server;
    },
  );

  const logs = server.output();
  const events = logs.trim().split("\n").map((line) => JSON.parse(line).event);
  for (
    const event of [
      "server.listening",
      "http.unhandled_error",
      "personal_data.exported",
      "personal_data.erased",
    ]
  ) {
    assert.ok(events.includes(event), `the run logged ${event}`);
  }
  for (const address of [...ADDRESSES, TOO_LONG]) {
    // Any distinctive part of an address, not only all of it.
    const part = address.slice(0, 14);
    assert.ok(!logs.includes(part), `stdout contains "${part}"`);
    assert.ok(
      !server.errorOutput().includes(part),
      `stderr contains "${part}"`,
    );
    for (const text of responses) {
      assert.ok(
        !text.includes(part),
        `a response contains "${part}": ${text}`,
      );
    }
  }
});
