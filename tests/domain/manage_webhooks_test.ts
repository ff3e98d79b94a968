/**
 * The webhook endpoint use cases over an in-memory port: what the HTTP
 * tests cannot provoke on demand (lost races, an endpoint deleted while a
 * change was decided), the order of checks, and that nothing is written
 * after a refusal.
 */
import assert from "node:assert/strict";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  MAX_WEBHOOK_CHANGE_ATTEMPTS,
  patchedEndpoint,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  type WebhookDeps,
} from "../../domain/manage_webhooks.ts";
import type { WebhookEndpointStore } from "../../domain/ports.ts";
import type { WebhookEndpoint } from "../../domain/webhooks.ts";
import { ADMIN, OWNER } from "../fixtures/domain.ts";
import { rejectsWithDomainError } from "../fixtures/mod.ts";

const ID = "0d9c3b2a-6f1e-4e7d-8c5b-4a3f2e1d0c9b";

const ENDPOINT: WebhookEndpoint = {
  id: ID,
  url: "https://hooks.example.com/orders",
  eventTypes: [],
  description: null,
  enabled: true,
  disabledReason: null,
  failedDeliveries: 0,
  createdAt: 1_000,
  updatedAt: 1_000,
  version: 1,
};

/**
 * A port whose writes answer from `outcomes` (true: written), in order,
 * and whose reads answer from `reads` (the last one repeats); `calls`
 * records what was asked.
 */
function fakeStore(
  reads: (WebhookEndpoint | undefined)[],
  outcomes: boolean[],
): WebhookEndpointStore & { calls: string[] } {
  const calls: string[] = [];
  let read = 0;
  const write = (name: string) => () => {
    calls.push(name);
    return Promise.resolve(outcomes.shift() ?? true);
  };
  return {
    calls,
    listEndpoints: () => Promise.resolve([]),
    findEndpoint: () => {
      calls.push("find");
      return Promise.resolve(reads[Math.min(read++, reads.length - 1)]);
    },
    createEndpoint: write("create"),
    updateEndpoint: write("update"),
    deleteEndpoint: write("delete"),
    rotateSecret: write("rotate"),
    enqueueDeliveries: () => Promise.resolve(),
    listAttempts: () => Promise.resolve({ attempts: [], hasMore: false }),
  };
}

function depsOf(webhooks: WebhookEndpointStore): WebhookDeps {
  return {
    webhooks,
    clock: { now: () => 5_000 },
    newId: () => ID,
    newSecret: () => "whsec_test",
    allowHosts: new Set(),
    maxEndpoints: 20,
  };
}

const REQUEST = { principal: ADMIN, requestId: "req-1" };

Deno.test("a change that loses a race reads again and decides on the newer version", async () => {
  const newer = { ...ENDPOINT, description: "Renamed", version: 2 };
  const store = fakeStore([ENDPOINT, newer], [false, true]);
  const after = await updateWebhookEndpoint(depsOf(store), {
    ...REQUEST,
    id: ID,
    readBody: () => Promise.resolve({ enabled: false }),
  });
  assert.deepEqual(store.calls, ["find", "update", "find", "update"]);
  assert.equal(after.version, 3);
  assert.equal(after.description, "Renamed");
  assert.equal(after.enabled, false);
});

Deno.test(`a change that loses ${MAX_WEBHOOK_CHANGE_ATTEMPTS} races in a row is a 409; one whose endpoint is deleted meanwhile a 404`, async () => {
  const losing = fakeStore([ENDPOINT], Array(99).fill(false));
  await rejectsWithDomainError(
    rotateWebhookSecret(depsOf(losing), { ...REQUEST, id: ID }),
    "conflict",
    /kept changing/,
  );
  assert.equal(
    losing.calls.filter((call) => call === "rotate").length,
    MAX_WEBHOOK_CHANGE_ATTEMPTS,
  );
  const gone = fakeStore([ENDPOINT, undefined], [false]);
  await rejectsWithDomainError(
    deleteWebhookEndpoint(depsOf(gone), { ...REQUEST, id: ID }),
    "not_found",
  );
  assert.deepEqual(gone.calls, ["find", "delete", "find"]);
});

Deno.test("the admin role is checked before the body is read, and a refused registration writes nothing", async () => {
  const store = fakeStore([ENDPOINT], []);
  let read = false;
  await rejectsWithDomainError(
    createWebhookEndpoint(depsOf(store), {
      principal: OWNER,
      requestId: "req-1",
      readBody: () => {
        read = true;
        return Promise.resolve({ url: "https://hooks.example.com/" });
      },
    }),
    "forbidden",
  );
  assert.equal(read, false);
  await rejectsWithDomainError(
    createWebhookEndpoint(depsOf(store), {
      ...REQUEST,
      readBody: () => Promise.resolve({ url: "https://127.0.0.1/" }),
    }),
    "validation_failed",
  );
  const full = fakeStore([], [false]);
  await rejectsWithDomainError(
    createWebhookEndpoint(depsOf(full), {
      ...REQUEST,
      readBody: () => Promise.resolve({ url: "https://hooks.example.com/" }),
    }),
    "conflict",
    /at most 20/,
  );
  assert.deepEqual(store.calls, []);
});

Deno.test("patchedEndpoint: the same values are no change; event types in another order are the same; enabling resets the failures", () => {
  assert.equal(
    patchedEndpoint(ENDPOINT, { url: ENDPOINT.url, enabled: true }, 9),
    undefined,
  );
  const typed = { ...ENDPOINT, eventTypes: ["order.created", "order.updated"] };
  assert.equal(
    patchedEndpoint(
      typed as WebhookEndpoint,
      { eventTypes: ["order.updated", "order.created"] },
      9,
    ),
    undefined,
  );
  const failing = {
    ...ENDPOINT,
    enabled: false,
    disabledReason: "The receiver answered 410 Gone",
    failedDeliveries: 4,
  };
  assert.deepEqual(patchedEndpoint(failing, { enabled: true }, 9), {
    ...failing,
    enabled: true,
    disabledReason: null,
    failedDeliveries: 0,
    updatedAt: 9,
    version: 2,
  });
});
