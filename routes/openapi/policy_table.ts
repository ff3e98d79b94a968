/**
 * Who may do what, as tables written from the policy itself
 * (`domain/policy.ts`) and the status machine (`domain/lifecycle.ts`): each
 * cell is the answer the policy gives an example caller, so a table can
 * never say what the code does not do. The OpenAPI document and `docs/`
 * show these tables.
 */
import { DomainError } from "../../domain/errors.ts";
import { ORDER_TRANSITIONS } from "../../domain/lifecycle.ts";
import { ORDER_STATUSES, type OrderStatus } from "../../domain/order.ts";
import {
  type AdminAction,
  assertAdmin,
  canManagePersonalData,
  canReadOrder,
  decideOrderAction,
  listingScope,
  type OrderAction,
  orderOwnerFor,
} from "../../domain/policy.ts";
import type { Principal } from "../../domain/principal.ts";

const OWNER_ID = 42;

/** The callers of the table's columns, as the policy sees them. */
const CALLERS: readonly { heading: string; principal: Principal }[] = [
  { heading: "owner", principal: { userId: OWNER_ID, roles: ["user"] } },
  { heading: "another user", principal: { userId: 7, roles: ["user"] } },
  {
    heading: "fulfillment",
    principal: { userId: 8, roles: ["fulfillment", "user"] },
  },
  { heading: "admin", principal: { userId: 9, roles: ["admin", "user"] } },
];

/** An order of the owner's in `status`, not held for review. */
function orderIn(status: OrderStatus) {
  return { id: "example", userId: OWNER_ID, status, review: undefined };
}

/** Whether `decide` throws a `forbidden` refusal. */
function refused(decide: () => unknown): boolean {
  try {
    decide();
    return false;
  } catch (error) {
    if (error instanceof DomainError && error.code === "forbidden") return true;
    throw error;
  }
}

/** The statuses in which the policy allows `action`, as `a/b`, or 403. */
function allowedWhile(
  principal: Principal,
  action: (from: OrderStatus) => OrderAction | undefined,
): string {
  const statuses = ORDER_STATUSES.filter((status) => {
    const tried = action(status);
    return tried !== undefined &&
      decideOrderAction(principal, orderIn(status), tried).allowed;
  });
  return statuses.length === 0 ? "403" : statuses.join("/");
}

/** The first move out of `from` that is not a cancellation, if any. */
function forwardMove(from: OrderStatus): OrderAction | undefined {
  const to = ORDER_TRANSITIONS[from].find((next) => next !== "cancelled");
  return to === undefined ? undefined : { kind: "set_status", to };
}

function yesOr403(allowed: boolean): string {
  return allowed ? "yes" : "403";
}

function adminOnly(action: AdminAction) {
  return (principal: Principal) =>
    yesOr403(!refused(() => assertAdmin(principal, action)));
}

/** Each row: what is done, and the cell for a caller. */
const ROWS: readonly {
  action: string;
  cell: (principal: Principal) => string;
}[] = [
  {
    action: "create an order",
    cell: (p) =>
      refused(() => orderOwnerFor(p, OWNER_ID + 1)) ? "for self" : "for anyone",
  },
  {
    action: "list orders",
    cell: (p) =>
      listingScope(p, undefined) === undefined
        ? "all"
        : "own only (403 with another's `user_id`)",
  },
  {
    action: "read an order",
    cell: (p) => yesOr403(canReadOrder(p, orderIn("pending"))),
  },
  {
    action: "cancel",
    cell: (p) =>
      allowedWhile(p, () => ({ kind: "set_status", to: "cancelled" })),
  },
  {
    action: "move the status forward, one step",
    cell: (p) => allowedWhile(p, forwardMove) === "403" ? "403" : "yes",
  },
  {
    action: "change the address",
    cell: (p) => allowedWhile(p, () => ({ kind: "change_address" })),
  },
  {
    action: "read the history",
    cell: (p) =>
      yesOr403(
        decideOrderAction(p, orderIn("pending"), { kind: "read_history" })
          .allowed,
      ),
  },
  { action: "decide a held order's review", cell: adminOnly("decide_review") },
  {
    action: "export or erase personal data (`/v1/users/{user_id}`)",
    cell: (p) =>
      p.userId !== OWNER_ID && canManagePersonalData(p, OWNER_ID)
        ? "anyone's"
        : canManagePersonalData(p, p.userId)
        ? "own only"
        : "403",
  },
  {
    action: "disable, enable, revoke tokens (`/v1/admin/users`)",
    cell: adminOnly("change_account"),
  },
  {
    action: "read metrics (`/v1/admin/metrics`)",
    cell: adminOnly("read_metrics"),
  },
  {
    action: "manage webhook endpoints (`/v1/webhook-endpoints`)",
    cell: adminOnly("manage_webhooks"),
  },
  {
    action: "resend an event (`/v1/events/{id}/resend`)",
    cell: adminOnly("resend_event"),
  },
];

/**
 * Who may do what to an order of the owner's, and to users' data, as a
 * Markdown table: one column per kind of caller.
 */
export function rolesTable(): string {
  const lines = [
    `| action | ${CALLERS.map((c) => c.heading).join(" | ")} |`,
    `|---|${CALLERS.map(() => "---").join("|")}|`,
    ...ROWS.map((row) =>
      `| ${row.action} | ${
        CALLERS.map((c) => row.cell(c.principal)).join(" | ")
      } |`
    ),
  ];
  return lines.join("\n");
}

/**
 * Who may make each move of the status machine, by the policy: the
 * callers (other than the owner, who is named "owner") it allows.
 */
export function whoMayMove(from: OrderStatus, to: OrderStatus): string[] {
  const who = CALLERS.filter(({ principal }) =>
    decideOrderAction(principal, orderIn(from), { kind: "set_status", to })
      .allowed
  ).map((c) => c.heading);
  return who;
}

/** The status machine as a Mermaid state diagram, with who makes each move. */
export function lifecycleDiagram(): string {
  const lines = ["stateDiagram-v2", "    [*] --> pending: POST /v1/orders"];
  for (const from of ORDER_STATUSES) {
    for (const to of ORDER_TRANSITIONS[from]) {
      lines.push(
        `    ${from} --> ${to}: ${whoMayMove(from, to).join(" / ")}${
          to === "cancelled" ? " (cancel)" : ""
        }`,
      );
    }
  }
  for (const status of ORDER_STATUSES) {
    if (ORDER_TRANSITIONS[status].length === 0) {
      lines.push(`    ${status} --> [*]`);
    }
  }
  return lines.join("\n");
}
