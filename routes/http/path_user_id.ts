/**
 * The `{user_id}` path segment of the users' and admins' routes.
 */
import { DomainError } from "../../domain/errors.ts";
import { parseUserIdText } from "../../domain/principal.ts";

/** Why a `user_id` that is not a positive integer is refused (404). */
export const NO_SUCH_USER = "No such user";

/**
 * The user a `{user_id}` path segment names: a positive integer written
 * with ASCII digits only. Anything else names no user (404), for every
 * caller, as an order id that is not a UUID.
 */
export function pathUserId(text: string): number {
  const userId = parseUserIdText(text);
  if (userId === undefined) throw new DomainError("not_found", NO_SUCH_USER);
  return userId;
}
