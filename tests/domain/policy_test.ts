/**
 * The policy, as an exhaustive table: every (from, to) pair and every
 * status, for every kind of caller. The expected table is written out
 * literally, from the contract, not derived from the code under test.
 */
import assert from "node:assert/strict";
import { ORDER_STATUSES, type OrderStatus } from "../../domain/order.ts";
import { decideOrderAction, type OrderAction } from "../../domain/policy.ts";
import type { Principal } from "../../domain/principal.ts";

const OWNER_ID = 42;
const ORDER_ID = "5b0c2c6e-8f3a-4a44-9d0b-3f1c1c1e2a10";
const OWNER: Principal = { userId: OWNER_ID, roles: ["user"] };
const FULFILLMENT: Principal = { userId: 8, roles: ["fulfillment", "user"] };
const ADMIN: Principal = { userId: 9, roles: ["admin", "user"] };

/**
 * Expected outcomes, one letter per cell: `.` allowed, `F` forbidden (403),
 * `B` refused by a status rule (400). Rows are the current status, columns
 * the requested one, both in the order pending, processing, shipped,
 * delivered, cancelled.
 */
type Expectation = "." | "F" | "B";

interface Caller {
  readonly name: string;
  readonly principal: Principal;
  /** `set_status`: five rows of five cells. */
  readonly status: readonly string[];
  /** `change_address`: one cell per current status. */
  readonly address: string;
  /** `read_history`, whatever the status. */
  readonly history: Expectation;
}

const ADMIN_LIKE_STATUS = [
  "..BB.", // pending: same, processing, cancelled
  "B..B.", // processing: same, shipped, cancelled
  "BB..B", // shipped: same, delivered
  "BBBBB", // delivered: terminal
  "BBBBB", // cancelled: terminal
];

const CALLERS: readonly Caller[] = [
  {
    name: "user (owner)",
    principal: OWNER,
    status: [
      ".FFF.",
      "F.FF.",
      "FF.FB",
      "FFFFB",
      "FFFFB",
    ],
    address: "..BBB",
    history: ".",
  },
  {
    name: "user (not owner)",
    principal: { userId: 7, roles: ["user"] },
    status: ["FFFFF", "FFFFF", "FFFFF", "FFFFF", "FFFFF"],
    address: "FFFFF",
    history: "F",
  },
  {
    name: "fulfillment",
    principal: FULFILLMENT,
    status: [
      "..BBF",
      "B..BF",
      "BB..F",
      "BBBBF",
      "BBBBF",
    ],
    address: "FFFFF",
    history: "F",
  },
  {
    name: "admin",
    principal: ADMIN,
    status: ADMIN_LIKE_STATUS,
    address: "..BBB",
    history: ".",
  },
  {
    name: "admin + owner",
    principal: { userId: OWNER_ID, roles: ["admin", "user"] },
    status: ADMIN_LIKE_STATUS,
    address: "..BBB",
    history: ".",
  },
  {
    name: "fulfillment + owner",
    principal: { userId: OWNER_ID, roles: ["fulfillment", "user"] },
    status: ADMIN_LIKE_STATUS,
    address: "..BBB",
    history: ".",
  },
  {
    name: "admin + fulfillment",
    principal: { userId: 9, roles: ["admin", "fulfillment", "user"] },
    status: ADMIN_LIKE_STATUS,
    address: "..BBB",
    history: ".",
  },
];

function outcome(
  principal: Principal,
  status: OrderStatus,
  action: OrderAction,
): Expectation {
  const decision = decideOrderAction(
    principal,
    { id: ORDER_ID, userId: OWNER_ID, status },
    action,
  );
  if (decision.allowed) return ".";
  assert.ok(decision.reason.length > 0);
  assert.ok(!decision.reason.endsWith("."), decision.reason);
  return decision.code === "forbidden" ? "F" : "B";
}

Deno.test("decideOrderAction follows the roles table of the contract", async (t) => {
  for (const caller of CALLERS) {
    await t.step(caller.name, async (t) => {
      for (const [row, from] of ORDER_STATUSES.entries()) {
        for (const [column, to] of ORDER_STATUSES.entries()) {
          await t.step(`set status ${from} → ${to}`, () => {
            assert.equal(
              outcome(caller.principal, from, { kind: "set_status", to }),
              caller.status[row]?.[column],
            );
          });
        }
      }
      for (const [column, status] of ORDER_STATUSES.entries()) {
        await t.step(`change the address while ${status}`, () => {
          assert.equal(
            outcome(caller.principal, status, { kind: "change_address" }),
            caller.address[column],
          );
        });
        await t.step(`read the history while ${status}`, () => {
          assert.equal(
            outcome(caller.principal, status, { kind: "read_history" }),
            caller.history,
          );
        });
      }
    });
  }
});

Deno.test("decideOrderAction explains refusals with the order and its status", () => {
  const order = { id: ORDER_ID, userId: OWNER_ID };
  const refusals: [OrderStatus, OrderStatus, string][] = [
    [
      "shipped",
      "cancelled",
      `Cannot cancel order "${ORDER_ID}": order is shipped`,
    ],
    [
      "pending",
      "shipped",
      `Cannot move order "${ORDER_ID}" from pending to shipped: the next status may be processing or cancelled`,
    ],
  ];
  for (const [status, to, reason] of refusals) {
    assert.deepEqual(
      decideOrderAction(ADMIN, { ...order, status }, {
        kind: "set_status",
        to,
      }),
      { allowed: false, code: "bad_request", reason },
    );
  }
});

Deno.test("a held order moves forward only after approval; cancelling and rights are unaffected", async (t) => {
  const held = {
    id: ORDER_ID,
    userId: OWNER_ID,
    status: "pending" as const,
    review: { state: "pending" as const, reasons: ["velocity" as const] },
  };
  const approved = {
    ...held,
    review: { ...held.review, state: "approved" as const },
  };
  const cases: [string, Principal, OrderStatus, string, string][] = [
    ["fulfillment", FULFILLMENT, "processing", "conflict", "."],
    ["admin", ADMIN, "processing", "conflict", "."],
    ["admin skipping", ADMIN, "shipped", "bad_request", "bad_request"],
    ["owner moving", OWNER, "processing", "forbidden", "forbidden"],
    ["owner cancelling", OWNER, "cancelled", ".", "."],
    ["admin cancelling", ADMIN, "cancelled", ".", "."],
    [
      "fulfillment cancelling",
      FULFILLMENT,
      "cancelled",
      "forbidden",
      "forbidden",
    ],
  ];
  for (const [name, principal, to, whileHeld, onceApproved] of cases) {
    await t.step(`${name} → ${to}`, () => {
      const code = (order: typeof held | typeof approved) => {
        const decision = decideOrderAction(principal, order, {
          kind: "set_status",
          to,
        });
        return decision.allowed ? "." : decision.code;
      };
      assert.equal(code(held), whileHeld);
      assert.equal(code(approved), onceApproved);
    });
  }
});
