/**
 * Mints HS256 tokens, for dev tools and tests. The service itself never
 * issues tokens.
 */
import { SignJWT } from "jose";
import { importHmacKey } from "./token_verifier.ts";

/** What a minted token says. */
export interface TokenClaims {
  sub: number | string;
  roles?: readonly string[];
  /** Lifetime in seconds. */
  ttlSeconds?: number;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Milliseconds since the epoch. */
  now?: number;
}

/** Signs an HS256 token with `secret`. */
export async function signToken(
  secret: string,
  claims: TokenClaims,
): Promise<string> {
  const now = Math.floor((claims.now ?? Date.now()) / 1000);
  const jwt = new SignJWT({
    sub: String(claims.sub),
    ...(claims.roles && { roles: [...claims.roles] }),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.ttlSeconds ?? 3600));
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return await jwt.sign(await importHmacKey(secret, ["sign"]));
}
