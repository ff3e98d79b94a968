/**
 * `exportPersonalData`, the use case behind `GET /v1/users/{user_id}/export`,
 * on the real stores (encrypting, over an in-memory libSQL database with
 * the real migrations) and the real erasure: who may export whose data, and
 * what an export holds.
 */
import assert from "node:assert/strict";
import {
  exportPersonalData,
  type ExportPersonalDataDeps,
} from "../../domain/export_personal_data.ts";
import { NOT_YOUR_PERSONAL_DATA } from "../../domain/policy.ts";
import { createPersonalDataEraser } from "../../pii/erasure.ts";
import { ADMIN, FULFILLMENT, OTHER, OWNER } from "../fixtures/domain.ts";
import {
  cancelAsOwner,
  placeOrder,
  recordingCalls,
  rejectsWithDomainError,
  type TestContext,
  withTestContext,
} from "../fixtures/mod.ts";

/** Runs `fn` on a fresh test context with the export's deps over it. */
function withContext(
  fn: (ctx: TestContext, deps: ExportPersonalDataDeps) => Promise<void>,
): Promise<void> {
  return withTestContext((ctx) =>
    fn(ctx, { store: ctx.store, accounts: ctx.accounts, clock: ctx.clock })
  );
}

/** The deps, with every read of the stores recorded into `reads`. */
function recording(
  deps: ExportPersonalDataDeps,
  reads: string[],
): ExportPersonalDataDeps {
  return {
    ...deps,
    store: recordingCalls(
      deps.store,
      ["listOrdersWithHistory"],
      reads,
    ),
    accounts: recordingCalls(deps.accounts, ["listUserEvents"], reads),
  };
}

Deno.test("a user exports their own orders, newest first, each with its history, and no one else's", () =>
  withContext(async (ctx, deps) => {
    const first = await placeOrder(ctx, OWNER);
    await placeOrder(ctx, OTHER);
    const second = await placeOrder(ctx, OWNER);
    await cancelAsOwner(ctx, first);
    ctx.clock.advance(1_000);
    const exported = await exportPersonalData(deps, {
      userId: OWNER.userId,
      principal: OWNER,
    });
    assert.equal(exported.userId, OWNER.userId);
    assert.equal(exported.exportedAt, ctx.clock.now());
    assert.deepEqual(
      exported.orders.map(({ order, history }) => [
        order.id,
        order.status,
        history.map((entry) => entry.action),
      ]),
      [
        [second.id, "pending", ["order.created"]],
        [first.id, "cancelled", ["order.created", "order.cancelled"]],
      ],
    );
    assert.equal(
      exported.orders[0]?.order.shippingAddress,
      second.shippingAddress,
    );
    assert.deepEqual(exported.events, []);
  }));

Deno.test("an admin exports another user's data, as the user would", () =>
  withContext(async (ctx, deps) => {
    const order = await placeOrder(ctx, OWNER);
    const command = { userId: OWNER.userId };
    const own = await exportPersonalData(deps, {
      ...command,
      principal: OWNER,
    });
    const admins = await exportPersonalData(deps, {
      ...command,
      principal: ADMIN,
    });
    assert.deepEqual(admins, own);
    assert.deepEqual(admins.orders.map(({ order }) => order.id), [order.id]);
  }));

Deno.test("another user and fulfillment are refused with forbidden, before anything is read", (t) =>
  withContext(async (ctx, deps) => {
    await placeOrder(ctx, OWNER);
    for (
      const [who, principal] of Object.entries({
        "another user": OTHER,
        fulfillment: FULFILLMENT,
      })
    ) {
      await t.step(who, async () => {
        const reads: string[] = [];
        await rejectsWithDomainError(
          exportPersonalData(recording(deps, reads), {
            userId: OWNER.userId,
            principal,
          }),
          "forbidden",
          NOT_YOUR_PERSONAL_DATA,
        );
        assert.deepEqual(reads, []);
      });
    }
  }));

Deno.test("a user without orders is exported with none", () =>
  withContext(async (ctx, deps) => {
    await placeOrder(ctx, OTHER);
    const exported = await exportPersonalData(deps, {
      userId: OWNER.userId,
      principal: OWNER,
    });
    assert.deepEqual(exported, {
      userId: OWNER.userId,
      exportedAt: ctx.clock.now(),
      orders: [],
      events: [],
    });
  }));

Deno.test("the export reads every order with its history, a page of 100 per read, and the user's events alongside the first page", () =>
  withContext(async (ctx, deps) => {
    const placed = [];
    for (let i = 0; i < 101; i++) placed.push(await placeOrder(ctx, OWNER));
    await cancelAsOwner(ctx, placed[0]!);
    const reads: string[] = [];
    const exported = await exportPersonalData(recording(deps, reads), {
      userId: OWNER.userId,
      principal: OWNER,
    });
    assert.deepEqual(
      exported.orders.map(({ order }) => order.id),
      placed.map((order) => order.id).reverse(),
    );
    // The oldest order, on the second page, with its whole history.
    assert.deepEqual(
      exported.orders.at(-1)?.history.map((entry) => entry.action),
      ["order.created", "order.cancelled"],
    );
    assert.deepEqual(reads, [
      "listOrdersWithHistory",
      "listUserEvents",
      "listOrdersWithHistory",
    ]);
  }));

Deno.test("the export reads past its first page only once the request is admitted, and not at all when refused", () =>
  withContext(async (ctx, deps) => {
    for (let i = 0; i < 101; i++) await placeOrder(ctx, OWNER);
    const reads: string[] = [];
    const recorded = recording(deps, reads);
    const firstPage = Promise.withResolvers<void>();
    const listPage = recorded.store.listOrdersWithHistory;
    recorded.store.listOrdersWithHistory = async (query) => {
      const page = await listPage(query);
      firstPage.resolve();
      return page;
    };
    const admission = Promise.withResolvers<void>();
    const pending = exportPersonalData(recorded, {
      userId: OWNER.userId,
      principal: OWNER,
      admitted: () => admission.promise,
    });
    // The first page is in; ungated, the second read would start at once.
    await firstPage.promise;
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(reads, ["listOrdersWithHistory", "listUserEvents"]);
    admission.resolve();
    assert.equal((await pending).orders.length, 101);
    assert.deepEqual(reads, [
      "listOrdersWithHistory",
      "listUserEvents",
      "listOrdersWithHistory",
    ]);

    const refusedReads: string[] = [];
    await assert.rejects(
      exportPersonalData(recording(deps, refusedReads), {
        userId: OWNER.userId,
        principal: OWNER,
        admitted: () => Promise.reject(new Error("refused")),
      }),
      /refused/,
    );
    assert.deepEqual(refusedReads, ["listOrdersWithHistory", "listUserEvents"]);
  }));

Deno.test("after an erasure the export holds the erasure event and the orders without their address", () =>
  withContext(async (ctx, deps) => {
    const order = await placeOrder(ctx, OWNER);
    await cancelAsOwner(ctx, order);
    const eraser = createPersonalDataEraser({
      store: ctx.personalDataStore,
      keyring: ctx.keyring,
      clock: ctx.clock,
    });
    await eraser.erase(OWNER.userId, { actor: ADMIN, requestId: "erase" });
    const exported = await exportPersonalData(deps, {
      userId: OWNER.userId,
      principal: OWNER,
    });
    assert.deepEqual(
      exported.events.map((entry) => [
        entry.action,
        entry.actorUserId,
        entry.requestId,
      ]),
      [["user.personal_data_erased", ADMIN.userId, "erase"]],
    );
    const [only] = exported.orders;
    assert.equal(only?.order.id, order.id);
    assert.equal(only?.order.shippingAddress, null);
    assert.equal(only?.order.personalDataErased, true);
  }));
