/**
 * `createOrder`, the use case behind `POST /v1/orders`, on the real store
 * (encrypting, over an in-memory libSQL database with the real migrations).
 * A recording wrapper around that store, and the command's own callbacks,
 * show in which order the use case asks, decides and writes.
 */
import assert from "node:assert/strict";
import {
  createOrder,
  type CreateOrderCommand,
  type CreateOrderDeps,
  type CreateOrderOutcome,
  KEY_IN_FLIGHT,
  KEY_REUSED,
  KEY_REUSED_FIELD,
} from "../../domain/create_order.ts";
import { REPLAY_WINDOW_MS } from "../../domain/idempotency.ts";
import { createKeyedQueue } from "../../domain/keyed_queue.ts";
import type { Order } from "../../domain/order.ts";
import type { OrderStore } from "../../domain/ports.ts";
import type { ReviewPolicy } from "../../domain/review.ts";
import { ADMIN, OWNER } from "../fixtures/domain.ts";
import {
  countRows,
  createTestContext,
  orderBody,
  PERMISSIVE_REVIEW_POLICY,
  rejectsWithDomainError,
  storeInFlightClaim,
  type TestContext,
} from "../fixtures/mod.ts";

const KEY = "checkout-1";
/** `orderBody()`'s total: 2 × 12.50. */
const BODY_TOTAL_CENTS = 2_500n;

/** A creation test's parts: the context, the recorded events, the deps. */
interface Harness {
  readonly ctx: TestContext;
  /** What the store was asked and the command called, in order. */
  readonly events: string[];
  /** The recording store over `ctx.store`. */
  readonly store: OrderStore;
  readonly deps: CreateOrderDeps;
  /** A command as `OWNER` with `orderBody()`, no key, recording its calls. */
  command(overrides?: Partial<CreateOrderCommand>): CreateOrderCommand;
}

/** The store, recording each look-up, count and write into `events`. */
function recording(store: OrderStore, events: string[]): OrderStore {
  return {
    ...store,
    async findIdempotencyKey(use) {
      events.push("findIdempotencyKey");
      return await store.findIdempotencyKey(use);
    },
    async countOwnOrdersSince(userId, since) {
      events.push("countOwnOrdersSince");
      return await store.countOwnOrdersSince(userId, since);
    },
    async insertOrder(order, entry, completion, guard) {
      events.push(guard ? "insertOrder (guarded)" : "insertOrder");
      return await store.insertOrder(order, entry, completion, guard);
    },
  };
}

/** What `render` makes of an order: enough to tell orders and holds apart. */
function render(order: Order): string {
  return JSON.stringify({
    id: order.id,
    user_id: order.userId,
    review: order.review ?? null,
  });
}

/** Runs `fn` on a fresh test context (with `reviewPolicy`), closed afterwards. */
async function withHarness(
  fn: (h: Harness) => Promise<void>,
  options: { reviewPolicy?: ReviewPolicy } = {},
): Promise<void> {
  const ctx = await createTestContext();
  try {
    const events: string[] = [];
    const store = recording(ctx.store, events);
    let ids = 0;
    const deps: CreateOrderDeps = {
      store,
      clock: ctx.clock,
      newId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
      reviewPolicy: options.reviewPolicy ?? PERMISSIVE_REVIEW_POLICY,
    };
    let requests = 0;
    const command = (
      overrides: Partial<CreateOrderCommand> = {},
    ): CreateOrderCommand => ({
      principal: OWNER,
      requestId: `request-${++requests}`,
      body: orderBody(),
      idempotencyKey: undefined,
      countCreation: () => {
        events.push("countCreation");
        return Promise.resolve();
      },
      render,
      ...overrides,
    });
    await fn({ ctx, events, store, deps, command });
  } finally {
    ctx.close();
  }
}

/** Asserts that `outcome` replays the stored 201 whose body is `body`. */
function assertReplayed(outcome: CreateOrderOutcome, body: unknown): void {
  assert.deepEqual(outcome, { kind: "replayed", status: 201, body });
}

/** Asserts that `outcome` is a creation and returns its order. */
function created(outcome: CreateOrderOutcome): Order {
  assert.ok(outcome.kind === "created", `not created: ${outcome.kind}`);
  return outcome.order;
}

Deno.test("createOrder looks the key up, waits for admission, counts the creation, then writes", () =>
  withHarness(async ({ events, deps, command }) => {
    const outcome = await createOrder(
      deps,
      command({
        idempotencyKey: KEY,
        admitted: () => {
          events.push("admitted");
          return Promise.resolve();
        },
        beginWrite: () => {
          events.push("beginWrite");
        },
      }),
    );
    created(outcome);
    assert.deepEqual(events, [
      "findIdempotencyKey",
      "admitted",
      "countCreation",
      "beginWrite",
      "insertOrder (guarded)",
    ]);
  }));

Deno.test("createOrder without a key looks nothing up and writes no key record", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    created(await createOrder(deps, command()));
    assert.deepEqual(events, ["countCreation", "insertOrder (guarded)"]);
    assert.equal(await countRows(ctx, "orders"), 1);
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
  }));

Deno.test("a created outcome carries the stored order and its rendered 201, written with its audit entry and key record", () =>
  withHarness(async ({ ctx, deps, command }) => {
    const outcome = await createOrder(
      deps,
      command({ idempotencyKey: KEY, requestId: "request-created" }),
    );
    const order = created(outcome);
    assert.deepEqual(outcome, {
      kind: "created",
      order,
      status: 201,
      body: render(order),
    });
    assert.equal(order.userId, OWNER.userId);
    assert.equal(order.createdBy, OWNER.userId);
    assert.equal(order.totalCents, BODY_TOTAL_CENTS);
    assert.equal(order.status, "pending");
    assert.equal(order.version, 1);
    assert.equal(order.createdAt, ctx.clock.now());
    assert.equal(order.review, undefined);
    const stored = await ctx.store.findOrder(order.id);
    assert.equal(stored?.id, order.id);
    assert.equal(stored?.totalCents, order.totalCents);
    assert.equal(stored?.shippingAddress, order.shippingAddress);
    const history = await ctx.store.listOrderHistory(order.id);
    assert.deepEqual(
      history.map((entry) => [entry.action, entry.requestId]),
      [["order.created", "request-created"]],
    );
    assert.equal(await countRows(ctx, "idempotency_keys"), 1);
  }));

Deno.test("a completed key with the same body replays the stored 201 without counting the creation or writing", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    const first = await createOrder(deps, command({ idempotencyKey: KEY }));
    created(first);
    events.length = 0;
    const replay = await createOrder(
      deps,
      command({
        idempotencyKey: KEY,
        // The same JSON value, its keys in another order.
        body: Object.fromEntries(Object.entries(orderBody()).reverse()),
      }),
    );
    assertReplayed(replay, first.body);
    assert.deepEqual(events, ["findIdempotencyKey"]);
    assert.equal(await countRows(ctx, "orders"), 1);
  }));

Deno.test("a key reused with another body is a 422 naming Idempotency-Key, without counting the creation", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    created(await createOrder(deps, command({ idempotencyKey: KEY })));
    events.length = 0;
    const error = await rejectsWithDomainError(
      createOrder(
        deps,
        command({
          idempotencyKey: KEY,
          body: orderBody({ shipping_address: "2 Side St, Springfield" }),
        }),
      ),
      "validation_failed",
      KEY_REUSED,
    );
    assert.deepEqual(error.errors, [
      { path: "Idempotency-Key", message: KEY_REUSED_FIELD },
    ]);
    assert.deepEqual(events, ["findIdempotencyKey"]);
    assert.equal(await countRows(ctx, "orders"), 1);
  }));

Deno.test("a key held by an in-flight claim is a 409, without counting the creation", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    await storeInFlightClaim(ctx, {
      userId: OWNER.userId,
      key: KEY,
      body: orderBody(),
    });
    await rejectsWithDomainError(
      createOrder(deps, command({ idempotencyKey: KEY })),
      "conflict",
      KEY_IN_FLIGHT,
    );
    assert.deepEqual(events, ["findIdempotencyKey"]);
    assert.equal(await countRows(ctx, "orders"), 0);
  }));

Deno.test("a key past the replay window is free again: the request creates a new order", () =>
  withHarness(async ({ ctx, deps, command }) => {
    const first = created(
      await createOrder(deps, command({ idempotencyKey: KEY })),
    );
    ctx.clock.advance(REPLAY_WINDOW_MS + 1);
    const second = created(
      await createOrder(deps, command({ idempotencyKey: KEY })),
    );
    assert.notEqual(second.id, first.id);
    assert.equal(await countRows(ctx, "orders"), 2);
  }));

Deno.test("validation comes after the creation count: an invalid body is counted, then a 422, and nothing is written", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    const error = await rejectsWithDomainError(
      createOrder(
        deps,
        command({
          body: orderBody({
            items: [{
              product_id: "sku-1",
              product_name: "Mug",
              quantity: 1,
              price: "twelve",
            }],
          }),
        }),
      ),
      "validation_failed",
    );
    assert.deepEqual(error.errors?.map((e) => e.path), ["items[0].price"]);
    assert.deepEqual(events, ["countCreation"]);
    assert.equal(await countRows(ctx, "orders"), 0);
  }));

Deno.test("a used-up creation limit refuses before validation and before any write", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    const limited = new Error("Too many orders created: retry in 60 s");
    const countCreation = () => Promise.reject(limited);
    await assert.rejects(
      createOrder(deps, command({ countCreation, body: { items: "none" } })),
      (error) => error === limited,
    );
    await assert.rejects(
      createOrder(deps, command({ countCreation, idempotencyKey: KEY })),
      (error) => error === limited,
    );
    assert.deepEqual(events, ["findIdempotencyKey"]);
    assert.equal(await countRows(ctx, "orders"), 0);
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
  }));

Deno.test("a request that fails leaves its key free: a retry with a valid body creates the order", () =>
  withHarness(async ({ ctx, deps, command }) => {
    await rejectsWithDomainError(
      createOrder(
        deps,
        command({ idempotencyKey: KEY, body: orderBody({ items: [] }) }),
      ),
      "bad_request",
    );
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
    created(await createOrder(deps, command({ idempotencyKey: KEY })));
  }));

Deno.test("only an admin creates an order for another user: anyone else gets a 403 after the count, with nothing written", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    await rejectsWithDomainError(
      createOrder(deps, command({ body: orderBody({ user_id: 7 }) })),
      "forbidden",
      /Only an admin/,
    );
    assert.deepEqual(events, ["countCreation"]);
    assert.equal(await countRows(ctx, "orders"), 0);

    const own = created(
      await createOrder(deps, command({ body: orderBody({ user_id: 42 }) })),
    );
    assert.equal(own.userId, OWNER.userId);

    const forOther = created(
      await createOrder(
        deps,
        command({ principal: ADMIN, body: orderBody({ user_id: 7 }) }),
      ),
    );
    assert.equal(forOther.userId, 7);
    assert.equal(forOther.createdBy, ADMIN.userId);
  }));

Deno.test("an order whose total reaches the review threshold is held, and stored and rendered held", async (t) => {
  for (
    const [name, thresholdCents, review] of [
      ["at the threshold", BODY_TOTAL_CENTS, {
        state: "pending",
        reasons: ["total_threshold"],
      }],
      ["below it", BODY_TOTAL_CENTS + 1n, undefined],
    ] as const
  ) {
    await t.step(name, () =>
      withHarness(async ({ ctx, deps, command }) => {
        const outcome = await createOrder(deps, command());
        const order = created(outcome);
        assert.deepEqual(order.review, review);
        assert.equal(outcome.body, render(order));
        assert.deepEqual((await ctx.store.findOrder(order.id))?.review, review);
      }, { reviewPolicy: { thresholdCents, velocityOrders: 1_000_000 } }));
  }
});

Deno.test("the velocity rule: a guarded write that fails is followed by the count, and the order is held and written again", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    for (let i = 0; i < 2; i++) {
      assert.equal(
        created(await createOrder(deps, command())).review,
        undefined,
      );
    }
    events.length = 0;
    const outcome = await createOrder(
      deps,
      command({ beginWrite: () => void events.push("beginWrite") }),
    );
    const order = created(outcome);
    assert.deepEqual(order.review, { state: "pending", reasons: ["velocity"] });
    assert.equal(outcome.body, render(order));
    assert.deepEqual(events, [
      "countCreation",
      "beginWrite",
      "insertOrder (guarded)",
      "countOwnOrdersSince",
      "beginWrite",
      "insertOrder",
    ]);
    assert.equal(await countRows(ctx, "orders"), 3);
    assert.deepEqual(
      (await ctx.store.findOrder(order.id))?.review,
      order.review,
    );
  }, {
    reviewPolicy: {
      thresholdCents: PERMISSIVE_REVIEW_POLICY.thresholdCents,
      velocityOrders: 2,
    },
  }));

Deno.test("the velocity rule counts only orders users create for themselves", () =>
  withHarness(async ({ events, deps, command }) => {
    // With a velocity limit of 0, every order a user creates for themself is held.
    const own = created(await createOrder(deps, command()));
    assert.deepEqual(own.review, { state: "pending", reasons: ["velocity"] });
    events.length = 0;
    const forOther = created(
      await createOrder(
        deps,
        command({ principal: ADMIN, body: orderBody({ user_id: 7 }) }),
      ),
    );
    assert.equal(forOther.review, undefined);
    assert.deepEqual(events, ["countCreation", "insertOrder"]);
  }, {
    reviewPolicy: {
      thresholdCents: PERMISSIVE_REVIEW_POLICY.thresholdCents,
      velocityOrders: 0,
    },
  }));

/** An `admitted` that settles on a later timer turn, recording when it is asked and settles. */
function slowAdmission(events: string[], refusal?: Error) {
  return async () => {
    events.push("admitted?");
    await new Promise((resolve) => setTimeout(resolve, 5));
    events.push(refusal ? "refused" : "admitted");
    if (refusal) throw refusal;
  };
}

Deno.test("admitted is awaited before anything is decided: created, replayed or refused", async (t) => {
  await t.step(
    "a creation counts and writes only once admitted",
    () =>
      withHarness(async ({ events, deps, command }) => {
        created(
          await createOrder(
            deps,
            command({ idempotencyKey: KEY, admitted: slowAdmission(events) }),
          ),
        );
        assert.deepEqual(events, [
          "findIdempotencyKey",
          "admitted?",
          "admitted",
          "countCreation",
          "insertOrder (guarded)",
        ]);
      }),
  );
  await t.step(
    "a request that is not admitted is neither counted, refused nor written",
    () =>
      withHarness(async ({ ctx, events, deps, command }) => {
        const tooMany = new Error("Too many requests");
        // A held key with another body would be a 422; admission comes first.
        created(await createOrder(deps, command({ idempotencyKey: KEY })));
        events.length = 0;
        for (
          const body of [
            orderBody({ shipping_address: "Elsewhere" }),
            orderBody(),
          ]
        ) {
          await assert.rejects(
            createOrder(
              deps,
              command({
                idempotencyKey: KEY,
                body,
                admitted: slowAdmission(events, tooMany),
              }),
            ),
            (error) => error === tooMany,
          );
        }
        await assert.rejects(
          createOrder(
            deps,
            command({
              idempotencyKey: "another-key",
              admitted: slowAdmission(events, tooMany),
            }),
          ),
          (error) => error === tooMany,
        );
        assert.deepEqual(events, [
          ...["findIdempotencyKey", "admitted?", "refused"],
          ...["findIdempotencyKey", "admitted?", "refused"],
          ...["findIdempotencyKey", "admitted?", "refused"],
        ]);
        assert.equal(await countRows(ctx, "orders"), 1);
      }),
  );
  await t.step(
    "a replay is answered only once admitted",
    () =>
      withHarness(async ({ events, deps, command }) => {
        const first = await createOrder(deps, command({ idempotencyKey: KEY }));
        events.length = 0;
        const replay = await createOrder(
          deps,
          command({ idempotencyKey: KEY, admitted: slowAdmission(events) }),
        );
        assertReplayed(replay, first.body);
        assert.deepEqual(events, [
          "findIdempotencyKey",
          "admitted?",
          "admitted",
        ]);
      }),
  );
});

Deno.test("beginWrite runs before each write, and one that throws stops the write and leaves the key free", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    const cutOff = new Error("The request timed out");
    await assert.rejects(
      createOrder(
        deps,
        command({
          idempotencyKey: KEY,
          beginWrite: () => {
            events.push("beginWrite");
            throw cutOff;
          },
        }),
      ),
      (error) => error === cutOff,
    );
    assert.deepEqual(events, [
      "findIdempotencyKey",
      "countCreation",
      "beginWrite",
    ]);
    assert.equal(await countRows(ctx, "orders"), 0);
    assert.equal(await countRows(ctx, "idempotency_keys"), 0);
  }));

/**
 * A store whose first write is preceded by `other` (another process's
 * request, on the real store), run to its end.
 */
function racedBy(
  store: OrderStore,
  other: () => Promise<unknown>,
  after: () => Promise<unknown> = () => Promise.resolve(),
): OrderStore {
  let raced = false;
  return {
    ...store,
    async insertOrder(...args) {
      if (raced) return await store.insertOrder(...args);
      raced = true;
      await other();
      const written = await store.insertOrder(...args);
      await after();
      return written;
    },
  };
}

Deno.test("a write that finds the key taken by another process's request answers as a replay of it, or a 422 for another body", async (t) => {
  await t.step(
    "the same body: a replay of the other request's 201",
    () =>
      withHarness(async ({ ctx, events, store, deps, command }) => {
        let other: CreateOrderOutcome | undefined;
        const raced = racedBy(store, async () => {
          other = await createOrder(
            { ...deps, store: ctx.store },
            command({ idempotencyKey: KEY }),
          );
        });
        const outcome = await createOrder(
          { ...deps, store: raced },
          command({ idempotencyKey: KEY }),
        );
        assert.ok(other);
        created(other);
        assertReplayed(outcome, other.body);
        assert.deepEqual(events, [
          "findIdempotencyKey",
          "countCreation",
          "countCreation",
          "insertOrder (guarded)",
          "findIdempotencyKey",
        ]);
        assert.equal(await countRows(ctx, "orders"), 1);
      }),
  );
  await t.step(
    "another body: 422",
    () =>
      withHarness(async ({ ctx, store, deps, command }) => {
        const raced = racedBy(store, () =>
          createOrder(
            { ...deps, store: ctx.store },
            command({
              idempotencyKey: KEY,
              body: orderBody({ shipping_address: "2 Side St, Springfield" }),
            }),
          ));
        await rejectsWithDomainError(
          createOrder(
            { ...deps, store: raced },
            command({ idempotencyKey: KEY }),
          ),
          "validation_failed",
          KEY_REUSED,
        );
        assert.equal(await countRows(ctx, "orders"), 1);
      }),
  );
});

Deno.test("a key whose record is gone between the refused write and the look-up is a 409", () =>
  withHarness(async ({ ctx, store, deps, command }) => {
    const raced = racedBy(
      store,
      () =>
        createOrder(
          { ...deps, store: ctx.store },
          command({ idempotencyKey: KEY }),
        ),
      // A purge takes the other request's record away.
      () => ctx.store.purgeIdempotencyKeys(ctx.clock.now() + 1),
    );
    await rejectsWithDomainError(
      createOrder({ ...deps, store: raced }, command({ idempotencyKey: KEY })),
      "conflict",
      /Another request took over this Idempotency-Key/,
    );
    assert.equal(await countRows(ctx, "orders"), 1);
  }));

Deno.test("requests with one user and key queue in this process: the second replays the first and is never counted", () =>
  withHarness(async ({ ctx, events, deps, command }) => {
    const queued = { ...deps, queue: createKeyedQueue() };
    const outcomes = await Promise.all([
      createOrder(queued, command({ idempotencyKey: KEY })),
      createOrder(queued, command({ idempotencyKey: KEY })),
    ]);
    assert.deepEqual(outcomes.map((o) => o.kind), ["created", "replayed"]);
    assert.equal(outcomes[1]?.body, outcomes[0]?.body);
    assert.equal(events.filter((e) => e === "countCreation").length, 1);
    assert.equal(await countRows(ctx, "orders"), 1);
  }));
