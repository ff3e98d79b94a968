/**
 * `planOrderChange`, the pure decision behind every update: properties over
 * random sequences of changes by random callers.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DomainError } from "../../domain/errors.ts";
import {
  canTransition,
  isAddressChangeable,
  isTerminalStatus,
} from "../../domain/lifecycle.ts";
import { type Order, ORDER_STATUSES } from "../../domain/order.ts";
import {
  type OrderChange,
  planOrderChange,
} from "../../domain/order_change.ts";
import type { Principal } from "../../domain/principal.ts";

const OWNER_ID = 42;

const INITIAL: Order = {
  id: "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10",
  userId: OWNER_ID,
  items: [{
    productId: "sku-1",
    productName: "Mug",
    quantity: 2,
    unitPrice: 125_000n,
  }],
  totalCents: 2500n,
  currency: "USD",
  status: "pending",
  shippingAddress: "1 Main St",
  version: 1,
  createdAt: 1_000,
  updatedAt: 1_000,
};

const PRINCIPALS: readonly Principal[] = [
  { userId: OWNER_ID, roles: ["user"] },
  { userId: 7, roles: ["user"] },
  { userId: 8, roles: ["fulfillment", "user"] },
  { userId: 9, roles: ["admin", "user"] },
  { userId: OWNER_ID, roles: ["admin", "user"] },
  { userId: OWNER_ID, roles: ["fulfillment", "user"] },
];

const changeArb: fc.Arbitrary<OrderChange> = fc.record({
  status: fc.option(fc.constantFrom(...ORDER_STATUSES), { nil: undefined }),
  shippingAddress: fc.option(
    fc.constantFrom("1 Main St", "2 Side St", "3 Rd"),
    {
      nil: undefined,
    },
  ),
  reason: fc.option(fc.constantFrom("late", "changed my mind"), {
    nil: undefined,
  }),
});

const stepsArb = fc.array(
  fc.tuple(fc.constantFrom(...PRINCIPALS), changeArb),
  { maxLength: 25 },
);

Deno.test("planOrderChange keeps every invariant over any sequence of changes", () => {
  fc.assert(
    fc.property(stepsArb, (steps) => {
      let order = INITIAL;
      let now = INITIAL.createdAt;
      for (const [principal, change] of steps) {
        now += 1000;
        let plan;
        try {
          plan = planOrderChange(order, change, {
            principal,
            requestId: "r",
            now,
          });
        } catch (error) {
          assert.ok(error instanceof DomainError);
          assert.ok(["forbidden", "bad_request"].includes(error.code));
          continue;
        }
        if (!plan.changed) {
          // Only a request that asks for nothing new is a no-op.
          assert.ok(
            change.status === undefined ||
              (change.status === order.status &&
                !isTerminalStatus(order.status)),
          );
          assert.ok(
            change.shippingAddress === undefined ||
              change.shippingAddress === order.shippingAddress,
          );
          continue;
        }
        const next = plan.order;
        // Immutable fields never change; the version grows by exactly one.
        assert.equal(next.id, order.id);
        assert.equal(next.userId, order.userId);
        assert.equal(next.items, order.items);
        assert.equal(next.totalCents, order.totalCents);
        assert.equal(next.currency, order.currency);
        assert.equal(next.createdAt, order.createdAt);
        assert.equal(next.version, order.version + 1);
        assert.equal(next.updatedAt, now);
        // Only allowed moves, and addresses only while they may change.
        if (next.status !== order.status) {
          assert.ok(canTransition(order.status, next.status));
        }
        if (next.shippingAddress !== order.shippingAddress) {
          assert.ok(isAddressChangeable(order.status));
        }
        // The entry records exactly what changed, and who changed it.
        const expected: Record<string, unknown> = {};
        const fields = [
          ["status", order.status, next.status],
          ["shipping_address", order.shippingAddress, next.shippingAddress],
        ] as const;
        for (const [field, from, to] of fields) {
          if (from !== to) expected[field] = { from, to };
        }
        const cancels = next.status === "cancelled" &&
          order.status !== "cancelled";
        if (cancels && change.reason !== undefined) {
          expected.cancellation_reason = { from: null, to: change.reason };
        }
        assert.ok(
          Object.keys(expected).some((k) => k !== "cancellation_reason"),
        );
        assert.deepEqual(plan.draft.changes, expected);
        assert.equal(
          plan.draft.action,
          cancels ? "order.cancelled" : "order.updated",
        );
        assert.equal(plan.draft.actorUserId, principal.userId);
        assert.deepEqual(plan.draft.actorRoles, principal.roles);
        assert.equal(plan.draft.at, now);
        order = next;
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("planOrderChange refuses another user's order even when nothing would change", () => {
  assert.throws(
    () =>
      planOrderChange(INITIAL, {}, {
        principal: { userId: 7, roles: ["user"] },
        requestId: "r",
        now: 0,
      }),
    (error) => error instanceof DomainError && error.code === "forbidden",
  );
});
