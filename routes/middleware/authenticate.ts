/**
 * Bearer authentication for `/v1/*`: runs before any body is read or any
 * database is touched. Every failure is a 401 with `WWW-Authenticate`, or
 * the 429 of the per-address limit on failed authentication.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { TokenVerifier } from "../../auth/token_verifier.ts";
import { InvalidTokenError } from "../../auth/token_verifier.ts";
import type { AppEnv } from "../env.ts";
import { HttpProblem } from "../http/problem.ts";
import { securityEvent } from "../../monitoring/security_events.ts";

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;

/** Settings of the authentication middleware. */
export interface AuthenticateOptions {
  /**
   * Called on every failed authentication (the per-address limit); a
   * problem it returns is answered instead of the 401.
   */
  onFailure?: (c: Context<AppEnv>) => Promise<HttpProblem | undefined>;
}

/** The authentication middleware. */
export function authenticate(
  verifier: TokenVerifier,
  options: AuthenticateOptions = {},
): MiddlewareHandler<AppEnv> {
  async function refusal(
    c: Context<AppEnv>,
    reason: string,
    tokenPresented: boolean,
  ): Promise<HttpProblem> {
    securityEvent(c, "auth.failed", { reason });
    const limited = await options.onFailure?.(c);
    if (limited) return limited;
    return unauthenticated(tokenPresented);
  }

  return async function authenticate(c, next) {
    const header = c.req.header("authorization");
    if (header === undefined) throw await refusal(c, "missing token", false);
    const match = BEARER.exec(header);
    if (!match?.[1]) {
      const bearerScheme = /^bearer(?: |$)/i.test(header);
      throw await refusal(
        c,
        bearerScheme ? "malformed" : "wrong scheme",
        bearerScheme,
      );
    }
    try {
      const verified = await verifier.verify(match[1]);
      c.set("principal", verified.principal);
      if (verified.issuedAt !== undefined) {
        c.set("tokenIssuedAt", verified.issuedAt);
      }
    } catch (error) {
      throw await refusal(
        c,
        error instanceof InvalidTokenError ? error.reason : "malformed",
        true,
      );
    }
    await next();
  };
}

/**
 * The 401 for a refused token (`error="invalid_token"`) or a request
 * without one.
 */
export function unauthenticated(tokenPresented: boolean): HttpProblem {
  return new HttpProblem(
    "unauthenticated",
    tokenPresented
      ? "The bearer token is invalid or expired"
      : "A bearer token is required",
    {
      "WWW-Authenticate": tokenPresented
        ? 'Bearer realm="orders", error="invalid_token"'
        : 'Bearer realm="orders"',
    },
  );
}
