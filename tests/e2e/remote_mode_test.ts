/**
 * Remote mode end to end: `main.ts` without FFI (so no native module can
 * load) against a libSQL server over HTTP (`tests/fixtures/libsql_http_server.ts`),
 * migrated by `deno task db:migrate`, with in-memory limits and with
 * Upstash. The contract's main flows run over real HTTP, and the audit log
 * verifies through the remote URL afterwards.
 */
import assert from "node:assert/strict";
import { signToken } from "../../auth/sign_token.ts";
import {
  bearerClient,
  orderBody,
  type RunningServer,
  runTool,
  TEST_AUDIT_KEY,
  TEST_AUDIT_SIGNING_KEY,
  withServer,
} from "../fixtures/mod.ts";
import {
  type LibsqlHttpServer,
  startLibsqlHttpServer,
} from "../fixtures/libsql_http_server.ts";
import { redisTest, startUpstashBridge } from "../fixtures/upstash_bridge.ts";
import {
  renderRemoteReport,
  runRemoteBenchmark,
} from "../../tools/bench/remote.ts";

const DB_TOKEN = "remote-test-database-token";
const SECRET = "remote-mode-test-secret-0123456789-abcdefghijklmn";

/** `main.ts` as Deno Deploy runs it: no FFI, no writes to the disk. */
const EDGE_FLAGS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--deny-ffi",
  "--deny-write",
];

// deno-lint-ignore no-explicit-any
type Json = any; // response bodies are checked field by field

async function withRemoteDatabase(
  fn: (database: LibsqlHttpServer) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "orders-remote-" });
  const database = startLibsqlHttpServer(`${dir}/remote.db`, {
    authToken: DB_TOKEN,
  });
  try {
    await fn(database);
  } finally {
    await database.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function serviceEnv(database: LibsqlHttpServer): Record<string, string> {
  return {
    DATABASE_URL: database.url,
    DATABASE_AUTH_TOKEN: DB_TOKEN,
    JWT_SECRET: SECRET,
  };
}

async function migrate(database: LibsqlHttpServer): Promise<void> {
  const migrated = await runTool("db_migrate.ts", {
    env: { DATABASE_URL: database.url, DATABASE_AUTH_TOKEN: DB_TOKEN },
  });
  assert.equal(migrated.code, 0, migrated.stderr);
}

/** The contract's main flows against one running service. */
async function contractFlows(server: RunningServer): Promise<void> {
  const call = bearerClient(server.url);
  const owner = await signToken(SECRET, { sub: 42 });
  const admin = await signToken(SECRET, { sub: 9, roles: ["admin"] });
  const fulfillment = await signToken(SECRET, {
    sub: 8,
    roles: ["fulfillment"],
  });

  // Create, replay, read, list.
  const key = { "Idempotency-Key": `remote-${crypto.randomUUID()}` };
  const created = await call("POST", "/v1/orders", owner, orderBody(), key);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  const replay = await call("POST", "/v1/orders", owner, orderBody(), key);
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(replay.body, created.body);
  const read = await call("GET", `/v1/orders/${id}`, owner);
  assert.deepEqual(read.body, created.body);
  assert.equal(read.headers.get("etag"), '"1"');
  const listed = await call("GET", "/v1/orders?limit=10", owner);
  assert.deepEqual(listed.body.orders, [created.body]);
  assert.equal(listed.body.next_cursor, null);

  // Cursor pagination (keyset SQL over HTTP): another user's order, then
  // an admin's pages of one order each, following next_cursor.
  const another = await signToken(SECRET, { sub: 43 });
  const second = await call("POST", "/v1/orders", another, orderBody());
  assert.equal(second.status, 201);
  const firstPage = await call("GET", "/v1/orders?limit=1", admin);
  assert.equal(firstPage.body.count, 2);
  assert.match(firstPage.headers.get("link") ?? "", /&cursor=.+>; rel="next"$/);
  const nextPage = await call(
    "GET",
    `/v1/orders?limit=1&cursor=${firstPage.body.next_cursor}`,
    admin,
  );
  assert.equal(nextPage.status, 200);
  assert.equal(nextPage.body.next_cursor, null);
  assert.deepEqual(
    [...firstPage.body.orders, ...nextPage.body.orders].map((o: Json) => o.id)
      .sort(),
    [id, second.body.id].sort(),
  );
  const stolen = await call(
    "GET",
    `/v1/orders?limit=1&cursor=${firstPage.body.next_cursor}`,
    fulfillment,
  );
  assert.equal(stolen.status, 400);
  assert.equal(
    (await call(
      "GET",
      `/v1/orders/${id}`,
      await signToken(SECRET, {
        sub: 43,
      }),
    )).status,
    403,
  );

  // Hostile text is refused before it reaches the remote database.
  const lone = await call(
    "POST",
    "/v1/orders",
    owner,
    '{"items":[{"product_id":"a","product_name":"\\ud800","quantity":1,"price":"1"}],"shipping_address":"x"}',
  );
  assert.equal(lone.status, 422);
  assert.equal(lone.body.errors[0].path, "items[0].product_name");
  const nul = await call(
    "POST",
    "/v1/orders",
    owner,
    orderBody({ shipping_address: "1 Main\u0000 St" }),
  );
  assert.equal(nul.status, 422);

  // Versions: If-Match, then 20 parallel changes without it.
  const changed = await call("PATCH", `/v1/orders/${id}`, owner, {
    shipping_address: "2 Side St",
  }, { "If-Match": '"1"' });
  assert.equal(changed.status, 200);
  assert.equal(changed.body.version, 2);
  const stale = await call("PATCH", `/v1/orders/${id}`, owner, {
    shipping_address: "3 Side St",
  }, { "If-Match": '"1"' });
  assert.equal(stale.status, 412);
  const parallel = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) =>
        call("PATCH", `/v1/orders/${id}`, i % 2 ? admin : owner, {
          shipping_address: `${i} Parallel St`,
        }),
    ),
  );
  assert.deepEqual(parallel.map((r) => r.status), Array(20).fill(200));
  const moved = await call("PATCH", `/v1/orders/${id}`, fulfillment, {
    status: "processing",
  });
  assert.equal(moved.status, 200);
  assert.equal(moved.body.version, 23);

  // Cancel with a reason; history numbers every version.
  const cancelled = await call("POST", `/v1/orders/${id}/cancel`, owner, {
    reason: "Changed my mind",
  });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, "cancelled");
  const history = await call("GET", `/v1/orders/${id}/history`, owner);
  assert.deepEqual(
    history.body.events.map((e: Json) => e.seq),
    Array.from({ length: 24 }, (_, i) => i + 1),
  );

  // Erasure, visible in the export.
  const erased = await call("DELETE", "/v1/users/42/personal-data", owner);
  assert.equal(erased.status, 204);
  const exported = await call("GET", "/v1/users/42/export", admin);
  assert.equal(exported.status, 200);
  assert.equal(exported.body.orders[0].shipping_address, null);
  assert.equal(exported.body.orders[0].personal_data_erased, true);
  assert.deepEqual(
    exported.body.events.map((e: Json) => [e.action, e.actor.user_id]),
    [["user.personal_data_erased", 42]],
  );
}

/** The status `GET /readyz` answers with. */
async function readyStatus(server: RunningServer): Promise<number> {
  const ready = await fetch(`${server.url}/readyz`);
  await ready.body?.cancel();
  return ready.status;
}

/**
 * `audit:verify` over the remote URL with the audit key, against the
 * checkpoints the service published: the `audit.checkpoint` lines of its
 * output (its last one written on shutdown), or, given `redis`, the list.
 */
async function assertAuditVerifies(
  database: LibsqlHttpServer,
  served: RunningServer | undefined,
  redis?: { url: string; token: string },
): Promise<void> {
  assert.ok(served);
  assert.match(served.output(), /"event":"audit.checkpoint"/);
  const dir = await Deno.makeTempDir({ prefix: "remote-checkpoints-" });
  try {
    const file = `${dir}/service.log`;
    await Deno.writeTextFile(file, served.output());
    const verified = await runTool("audit_verify.ts", {
      args: ["--checkpoints", redis ? "redis" : file],
      env: {
        DATABASE_URL: database.url,
        DATABASE_AUTH_TOKEN: DB_TOKEN,
        AUDIT_KEY: TEST_AUDIT_KEY,
        AUDIT_SIGNING_KEY: TEST_AUDIT_SIGNING_KEY,
        ...(redis && {
          UPSTASH_REDIS_REST_URL: redis.url,
          UPSTASH_REDIS_REST_TOKEN: redis.token,
        }),
      },
    });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(
      verified.stdout,
      /^Audit log verified: \d+ entries in \d+ chains; consistent with [1-9]\d* checkpoints, the latest at /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("remote mode: an unmigrated remote database is not ready; after db:migrate the contract's flows work without FFI", async () => {
  await withRemoteDatabase(async (database) => {
    await withServer(serviceEnv(database), async (unmigrated) => {
      assert.equal(await readyStatus(unmigrated), 503);
    }, { denoFlags: EDGE_FLAGS });

    await migrate(database);
    let served: RunningServer | undefined;
    await withServer(serviceEnv(database), async (server) => {
      served = server;
      assert.equal(await readyStatus(server), 200);
      const before = database.pipelineRequests();
      await contractFlows(server);
      assert.ok(database.pipelineRequests() > before);
    }, { denoFlags: EDGE_FLAGS });
    await assertAuditVerifies(database, served);
  });
});

redisTest(
  "remote mode with Upstash: the contract's flows work against remote libSQL and Upstash rate limits",
  async () => {
    await withRemoteDatabase(async (database) => {
      await migrate(database);
      await using bridge = await startUpstashBridge();
      let served: RunningServer | undefined;
      await withServer({
        ...serviceEnv(database),
        UPSTASH_REDIS_REST_URL: bridge.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
      }, async (server) => {
        served = server;
        assert.match(
          server.output(),
          /"event":"ratelimit.configured".*"backend":"upstash"/,
        );
        await contractFlows(server);
        assert.ok(bridge.commands.length > 0, "the limits went to Redis");
      }, { denoFlags: EDGE_FLAGS });
      // The checkpoints went to the Redis list as well as to the log.
      await assertAuditVerifies(database, served, bridge);
    });
  },
);

redisTest(
  "deno task bench --remote: in every cache state each kind of request asks Redis once, and the database once per step, the account state and the owner's keys riding along",
  async () => {
    const report = await runRemoteBenchmark({ delayMs: 1, requests: 2 });
    // Counts, not times: which stores each request asks, and how often,
    // per cache state ([database, Redis, target round trips]).
    const counts = (state: string) =>
      Object.fromEntries(
        report.scenarios.filter((s) => s.state === state).map((
          s,
        ) => [s.id, [s.databaseRequests, s.redisRequests, s.target]]),
      );
    const warm = {
      get_by_id: [1, 1, 1],
      list: [1, 1, 1],
      history: [1, 1, 1],
      // The orders with their histories and the owner's keys, and beside
      // them the events of the user's chain.
      export: [2, 1, 1],
      events: [1, 1, 1],
      create: [1, 1, 2],
      // The key's record is read while Redis answers.
      create_keyed: [2, 1, 2],
      // So is the data key, created on first use.
      first_order: [2, 1, 2],
      // The order is read while Redis answers, then written.
      patch: [2, 1, 2],
      cancel: [2, 1, 2],
    };
    // Idle past every per-user cache: the account state is read while
    // Redis answers (one request more); an order's owner's data keys come
    // with the order, so a read or a change needs no read of them; a
    // creation offers the owner's key while Redis answers.
    const idle = {
      get_by_id: [2, 1, 1],
      list: [2, 1, 1],
      history: [2, 1, 1],
      export: [3, 1, 1],
      events: [2, 1, 1],
      create: [3, 1, 2],
      create_keyed: [4, 1, 2],
      first_order: [3, 1, 2],
      patch: [3, 1, 2],
      cancel: [3, 1, 2],
    };
    assert.deepEqual(counts("warm"), warm);
    assert.deepEqual(counts("idle"), idle);
    // A fresh instance did its one-time work before it listened: its
    // first request asks what an idle user's does.
    assert.deepEqual(counts("fresh"), idle);
    assert.match(
      renderRemoteReport(report),
      /\| GET one order by id \| fresh \| /,
    );
  },
);
