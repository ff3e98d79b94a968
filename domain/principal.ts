/**
 * Who is calling: the verified user id and the roles their token grants.
 */
import { z } from "zod";

/** A role a caller can hold; every authenticated caller is a `user`. */
export type Role = typeof ROLES[number];

/** An authenticated caller. */
export interface Principal {
  readonly userId: number;
  /** Always contains `"user"`; sorted, without duplicates. */
  readonly roles: readonly Role[];
}

/** A user id: a positive integer that every client can hold exactly. */
export const userIdSchema = z.number().int().min(1).max(
  Number.MAX_SAFE_INTEGER,
);

const DECIMAL_USER_ID = /^[1-9][0-9]{0,15}$/;

/**
 * Reads a user id written with ASCII digits only (a path or query value, or a
 * `sub` claim sent as a string). Returns undefined for anything else.
 */
export function parseUserIdText(text: string): number | undefined {
  if (!DECIMAL_USER_ID.test(text)) return undefined;
  const id = Number(text);
  return id <= Number.MAX_SAFE_INTEGER ? id : undefined;
}

const subSchema = z.union([
  userIdSchema,
  z.string().transform((text, ctx) => {
    const id = parseUserIdText(text);
    if (id === undefined) {
      ctx.addIssue({ code: "custom", message: "Not a positive integer" });
      return z.NEVER;
    }
    return id;
  }),
]);

/** The roles a token can grant; every caller is also a `user`. */
export const GRANTABLE_ROLES = ["admin", "fulfillment"] as const;

/** Every role, the ones a token grants and `user`, which every caller has. */
export const ROLES = [...GRANTABLE_ROLES, "user"] as const;

const GRANTABLE: ReadonlySet<string> = new Set(GRANTABLE_ROLES);

/** The verified claims the service relies on. */
const claimsSchema = z.object({
  sub: subSchema,
  // A `roles` claim that is not an array of strings grants nothing.
  roles: z.unknown().optional(),
});

/**
 * Turns verified token claims into a principal, or undefined when `sub` is
 * not a positive integer. Only the exact strings "admin" and "fulfillment"
 * grant roles; anything else in `roles` is ignored.
 */
export function principalFromClaims(claims: unknown): Principal | undefined {
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) return undefined;
  const roles = new Set<Role>(["user"]);
  const claimed = parsed.data.roles;
  if (Array.isArray(claimed)) {
    for (const role of claimed) {
      if (typeof role === "string" && GRANTABLE.has(role)) {
        roles.add(role as Role);
      }
    }
  }
  return { userId: parsed.data.sub, roles: [...roles].sort() };
}

/** Whether the principal holds a role. */
export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.includes(role);
}
