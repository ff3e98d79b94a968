/**
 * The status machine, as an exhaustive table: every (from, to) pair. The
 * expected moves are written out literally, from the contract, not derived
 * from the code under test.
 */
import assert from "node:assert/strict";
import {
  canTransition,
  isAddressChangeable,
  isTerminalStatus,
} from "../../domain/lifecycle.ts";
import { ORDER_STATUSES } from "../../domain/order.ts";

/** The moves the contract allows, nothing else. */
const ALLOWED_MOVES = new Set([
  "pending>processing",
  "pending>cancelled",
  "processing>shipped",
  "processing>cancelled",
  "shipped>delivered",
]);

Deno.test("the transition table allows exactly the moves of the contract", async (t) => {
  for (const from of ORDER_STATUSES) {
    for (const to of ORDER_STATUSES) {
      await t.step(`${from} → ${to}`, () => {
        assert.equal(
          canTransition(from, to),
          ALLOWED_MOVES.has(`${from}>${to}`),
        );
      });
    }
  }
});

Deno.test("delivered and cancelled are the only terminal statuses", () => {
  assert.deepEqual(
    ORDER_STATUSES.filter(isTerminalStatus),
    ["delivered", "cancelled"],
  );
  assert.deepEqual(
    ORDER_STATUSES.filter(isAddressChangeable),
    ["pending", "processing"],
  );
});
