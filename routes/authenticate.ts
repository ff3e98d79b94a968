/**
 * Bearer authentication for `/v1/*`: runs before any body is read or any
 * database is touched. Every failure is a 401 with `WWW-Authenticate`.
 */
import type { MiddlewareHandler } from "hono";
import type { TokenVerifier } from "../auth/token_verifier.ts";
import { InvalidTokenError } from "../auth/token_verifier.ts";
import type { Logger } from "../logger.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;

/** The authentication middleware. */
export function authenticate(
  verifier: TokenVerifier,
  logger: Logger,
): MiddlewareHandler<AppEnv> {
  function refuse(
    reason: string,
    tokenPresented: boolean,
    requestId: string,
  ): never {
    logger.log("warn", "auth.failed", { request_id: requestId, reason });
    throw new HttpProblem(
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

  return async function authenticate(c, next) {
    const requestId = c.get("requestId");
    const header = c.req.header("authorization");
    if (header === undefined) refuse("missing token", false, requestId);
    const match = BEARER.exec(header);
    if (!match?.[1]) {
      const bearerScheme = /^bearer(?: |$)/i.test(header);
      refuse(
        bearerScheme ? "malformed" : "wrong scheme",
        bearerScheme,
        requestId,
      );
    }
    try {
      c.set("principal", await verifier.verify(match[1]));
    } catch (error) {
      refuse(
        error instanceof InvalidTokenError ? error.reason : "malformed",
        true,
        requestId,
      );
    }
    await next();
  };
}
