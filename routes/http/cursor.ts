/**
 * Opaque, tamper-evident cursors for paging (`GET /v1/orders`,
 * `GET /v1/events`). A cursor is the base64url of a small JSON position and
 * an HMAC-SHA256 over it, under a key derived from `JWT_SECRET` with a
 * label of its own (the secret itself is never used for this). It is bound
 * to the caller it was issued to and to the filters it was made with: an
 * altered cursor, one issued to another caller or one used with other
 * filters is a 400, never a silent jump. Cursors do not expire on their own
 * (a position in a feed may fall behind its retention: the feed says so).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { DomainError } from "../../domain/errors.ts";

/** The longest cursor accepted; a longer one is refused before any work. */
export const MAX_CURSOR_LENGTH = 512;

/** Why a cursor is refused (400). */
export const INVALID_CURSOR =
  "The cursor is not one this service issued for this caller and these filters: start again without it";

/** The query parameter a refusal names. */
const CURSOR_PATH = "cursor";

/** What a cursor is bound to besides its position. */
export interface CursorBinding {
  /** The paged resource (`orders`, `events`). */
  readonly kind: string;
  /** The caller's user id. */
  readonly userId: number;
  /** What else decides what the caller sees (a role's view, the filters). */
  readonly scope: Readonly<Record<string, string | number | boolean | null>>;
}

/** Makes and reads cursors under one key. */
export interface CursorCodec {
  /** A cursor for `position`, bound to `binding`. */
  encode(
    binding: CursorBinding,
    position: readonly (string | number)[],
  ): string;
  /**
   * The position of `cursor`, which must have been made for exactly
   * `binding`; throws a 400 `bad_request` otherwise.
   */
  decode(binding: CursorBinding, cursor: string): (string | number)[];
}

/** A codec whose key is derived from `secret`. */
export function createCursorCodec(secret: string): CursorCodec {
  const key = createHmac("sha256", secret).update("orders-api cursor v1")
    .digest();
  const mac = (binding: CursorBinding, body: string) =>
    createHmac("sha256", key).update(bindingText(binding)).update("\n")
      .update(body).digest();
  return {
    encode(binding, position) {
      const body = Buffer.from(JSON.stringify(position)).toString("base64url");
      return `${body}.${mac(binding, body).toString("base64url")}`;
    },
    decode(binding, cursor) {
      if (cursor.length > MAX_CURSOR_LENGTH) throw invalidCursor();
      const [body, tag, extra] = cursor.split(".");
      if (body === undefined || tag === undefined || extra !== undefined) {
        throw invalidCursor();
      }
      const expected = mac(binding, body);
      const given = Buffer.from(tag, "base64url");
      if (
        given.length !== expected.length || !timingSafeEqual(given, expected)
      ) {
        throw invalidCursor();
      }
      // Only a body this key signed gets here; still, a body that is not
      // JSON is a refusal, never a 500.
      let position: unknown;
      try {
        position = JSON.parse(Buffer.from(body, "base64url").toString());
      } catch {
        throw invalidCursor();
      }
      if (
        !Array.isArray(position) ||
        !position.every((part) =>
          typeof part === "string" || typeof part === "number"
        )
      ) {
        throw invalidCursor();
      }
      return position;
    },
  };
}

/** The binding as one canonical text: sorted keys, so equal means equal. */
function bindingText(binding: CursorBinding): string {
  const scope = Object.keys(binding.scope).sort().map((name) => [
    name,
    binding.scope[name],
  ]);
  return JSON.stringify([binding.kind, binding.userId, scope]);
}

/** The 400 for a cursor that is not valid here. */
export function invalidCursor(): DomainError {
  return new DomainError("bad_request", INVALID_CURSOR, [
    { path: CURSOR_PATH, message: "Not a cursor issued for this request" },
  ]);
}
