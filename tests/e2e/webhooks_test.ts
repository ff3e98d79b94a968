/**
 * Webhooks across processes: `main.ts` runs as subprocesses on one database
 * file and delivers to a real receiver in this process. The service is
 * killed with SIGKILL while attempts are in flight, and two processes share
 * the outbox.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import {
  httpClient,
  orderBody,
  type RunningServer,
  runTool,
  startServer,
  TEST_SECRET,
  withDatabaseFile,
  withTempDir,
} from "../fixtures/mod.ts";
import { startLibsqlHttpServer } from "../fixtures/libsql_http_server.ts";
import { type Receiver, startReceiver } from "../webhooks/receiver.ts";

/** Quick retries and leases, so a killed process delays little. */
const WEBHOOK_ENV = {
  JWT_SECRET: TEST_SECRET,
  WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
  WEBHOOK_TIMEOUT_MS: "1000",
  WEBHOOK_RETRY_SCHEDULE: "1,1,1,1,1",
};

const admin = () => signToken(TEST_SECRET, { sub: 2, roles: ["admin"] });
const owner = () => signToken(TEST_SECRET, { sub: 42 });

/** Registers the receiver through `server`; returns the endpoint's id. */
async function register(
  server: RunningServer,
  receiver: Receiver,
): Promise<string> {
  const created = await httpClient(server.url)(
    "POST",
    "/v1/webhook-endpoints",
    { token: await admin(), body: { url: receiver.url } },
  );
  assert.equal(created.status, 201, created.text);
  return created.body.id;
}

/** Creates an order through `server` and cancels it: two events. */
async function createAndCancel(server: RunningServer): Promise<void> {
  const call = httpClient(server.url);
  const token = await owner();
  const created = await call("POST", "/v1/orders", {
    token,
    body: orderBody(),
  });
  assert.equal(created.status, 201, created.text);
  const cancelled = await call("POST", `/v1/orders/${created.body.id}/cancel`, {
    token,
  });
  assert.equal(cancelled.status, 200, cancelled.text);
}

/** Every event id of the feed, oldest first. */
async function allEventIds(server: RunningServer): Promise<string[]> {
  const call = httpClient(server.url);
  const token = await admin();
  const ids: string[] = [];
  let cursor = "";
  for (;;) {
    const page = await call(
      "GET",
      `/v1/events?limit=100${cursor && `&cursor=${cursor}`}`,
      { token },
    );
    assert.equal(page.status, 200, page.text);
    ids.push(...page.body.events.map((e: { id: string }) => e.id));
    if (!page.body.has_more) return ids;
    cursor = page.body.next_cursor;
  }
}

/** Resolves once the receiver got every id in `ids` at least once. */
async function receivedAll(receiver: Receiver, ids: string[]): Promise<void> {
  for (;;) {
    const got = new Set(receiver.deliveries.map((d) => d.id));
    if (ids.every((id) => got.has(id))) return;
    await receiver.waitFor(receiver.deliveries.length + 1);
  }
}

Deno.test("every acknowledged event is delivered after the service is killed mid-delivery", async () => {
  await withDatabaseFile("webhooks-kill", async (url) => {
    const receiver = startReceiver();
    // Slow answers: attempts are in flight when the process dies.
    let answering = 0;
    let inFlight: (() => void) | undefined;
    receiver.script(async () => {
      answering++;
      inFlight?.();
      await new Promise((resolve) => setTimeout(resolve, 300));
      answering--;
      return new Response(null, { status: 200 });
    });
    const env = { DATABASE_URL: url, ...WEBHOOK_ENV };
    let server = await startServer(env, { args: ["--dev"] });
    try {
      await register(server, receiver);
      for (let i = 0; i < 5; i++) await createAndCancel(server);
      // Every change above was acknowledged: kill the service while an
      // attempt is in flight.
      if (answering === 0) {
        await new Promise<void>((resolve) => inFlight = resolve);
      }
      const cut = receiver.deliveries.at(-1)!.id;
      await server.kill();
      server = await startServer(env, { args: ["--dev"] });
      const acknowledged = await allEventIds(server);
      assert.equal(acknowledged.length, 10);
      await receivedAll(receiver, acknowledged);
      // The attempt cut by the kill was made again, with the same id.
      assert.ok(
        receiver.deliveries.filter((d) => d.id === cut).length >= 2,
        "the cut attempt was retried",
      );
      // Duplicates are allowed (at least once); each carries its event's id.
      for (const delivery of receiver.deliveries) {
        assert.ok(acknowledged.includes(delivery.id));
        assert.equal(delivery.json.id, delivery.id);
      }
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
});

Deno.test("two service processes on one database make one attempt per delivery", async () => {
  await withDatabaseFile("webhooks-two", async (url) => {
    const receiver = startReceiver();
    const env = { DATABASE_URL: url, ...WEBHOOK_ENV };
    const first = await startServer(env, { args: ["--dev"] });
    const second = await startServer(env, { args: ["--dev"] });
    try {
      const endpoint = await register(first, receiver);
      await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => createAndCancel(i % 2 === 0 ? first : second),
        ),
      );
      const events = await allEventIds(first);
      assert.equal(events.length, 20);
      await receivedAll(receiver, events);
      // Each attempt is recorded after its answer: wait for the records.
      let attempts;
      do {
        await new Promise((resolve) => setTimeout(resolve, 50));
        attempts = await httpClient(second.url)(
          "GET",
          `/v1/webhook-endpoints/${endpoint}/attempts?limit=100`,
          { token: await admin() },
        );
        assert.equal(attempts.status, 200, attempts.text);
      } while (attempts.body.attempts.length < 20);
      assert.equal(attempts.body.attempts.length, 20);
      assert.equal(receiver.deliveries.length, 20, "no doubled attempt");
      assert.ok(
        attempts.body.attempts.every((a: { attempt: number }) =>
          a.attempt === 1
        ),
      );
    } finally {
      await Promise.all([first.stop(), second.stop()]);
      await receiver.close();
    }
  });
});

Deno.test("remote mode: deliveries are queued with their changes, leased and delivered over libSQL's HTTP protocol", async () => {
  await withTempDir("webhooks-remote", async (dir) => {
    const token = "remote-webhooks-test-token";
    const database = startLibsqlHttpServer(`${dir}/remote.db`, {
      authToken: token,
    });
    const receiver = startReceiver();
    const dbEnv = { DATABASE_URL: database.url, DATABASE_AUTH_TOKEN: token };
    try {
      const migrated = await runTool("db_migrate.ts", { env: dbEnv });
      assert.equal(migrated.code, 0, migrated.stderr);
      // As Deno Deploy runs it: no FFI, no writes to the disk.
      const server = await startServer({ ...dbEnv, ...WEBHOOK_ENV }, {
        args: ["--dev"],
        denoFlags: [
          "--allow-net",
          "--allow-env",
          "--allow-read",
          "--deny-ffi",
          "--deny-write",
        ],
      });
      try {
        await register(server, receiver);
        receiver.script((_, n) =>
          new Response(null, { status: n === 0 ? 500 : 204 })
        );
        await createAndCancel(server);
        const events = await allEventIds(server);
        assert.equal(events.length, 2);
        await receivedAll(receiver, events);
        // The creation failed once and was retried before the cancellation.
        assert.deepEqual(
          receiver.deliveries.map((d) => [d.json.type, d.status]),
          [["order.created", 500], ["order.created", 204], [
            "order.cancelled",
            204,
          ]],
        );
      } finally {
        await server.stop();
      }
    } finally {
      await receiver.close();
      await database.close();
    }
  });
});
