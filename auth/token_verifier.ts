/**
 * Bearer token verification with jose: an algorithm allow-list, required
 * `exp` and `sub`, a clock tolerance, a maximum lifetime, and no `iat` from
 * the future. Every failure is an `InvalidTokenError` with a reason for logs.
 */
import {
  type CryptoKey,
  importSPKI,
  type JWTHeaderParameters,
  jwtVerify,
  type JWTVerifyOptions,
} from "jose";
import { type Principal, principalFromClaims } from "../domain/principal.ts";

/** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Why a token was refused; `reason` is safe to log, never the token. */
export class InvalidTokenError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`Invalid token: ${reason}`);
    this.name = "InvalidTokenError";
    this.reason = reason;
  }
}

/** A verified token: the caller it names and when it was issued. */
export interface VerifiedToken {
  readonly principal: Principal;
  /** The token's `iat` (epoch seconds); undefined when it has none. */
  readonly issuedAt: number | undefined;
}

/** Verifies a bearer token and returns the caller it names. */
export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

/** An optional asymmetric key, for tokens issued by an external identity provider. */
export interface PublicKeyOptions {
  algorithm: "ES256" | "RS256";
  /** SPKI PEM. */
  pem: string;
}

/** Settings of a token verifier. */
export interface TokenVerifierOptions {
  /** The HS256 secret: its UTF-8 bytes are the key. */
  secret: string;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** How far ahead `exp` may lie, in seconds. */
  maxTtlSeconds: number;
  publicKey?: PublicKeyOptions | undefined;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** How many verified tokens to remember (0 disables the cache). */
  cacheSize?: number;
}

/** Imports the HS256 secret once as a WebCrypto key. */
export function importHmacKey(
  secret: string,
  usages: ("sign" | "verify")[],
): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    usages,
  );
}

/** Creates a verifier; keys are imported here, once. */
export async function createTokenVerifier(
  options: TokenVerifierOptions,
): Promise<TokenVerifier> {
  const hmacKey = await importHmacKey(options.secret, ["verify"]);
  const publicKey = options.publicKey
    ? await importSPKI(options.publicKey.pem, options.publicKey.algorithm)
    : undefined;
  const algorithms = ["HS256"];
  if (options.publicKey) algorithms.push(options.publicKey.algorithm);

  // Each algorithm gets only its own key, so an HS256 token can never be
  // checked against the public key (HS/RS confusion).
  function keyFor(header: JWTHeaderParameters): CryptoKey {
    if (header.alg === "HS256") return hmacKey;
    if (publicKey && header.alg === options.publicKey?.algorithm) {
      return publicKey;
    }
    throw new InvalidTokenError("algorithm not allowed");
  }

  const baseOptions: JWTVerifyOptions = {
    algorithms,
    requiredClaims: ["exp", "sub"],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(options.issuer !== undefined && { issuer: options.issuer }),
    ...(options.audience !== undefined && { audience: options.audience }),
  };

  // Tokens already verified, keyed by the whole token string. A hit skips
  // only the signature check: the time checks below run on every request.
  const verified = new Map<string, VerifiedClaims>();
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;

  return {
    async verify(token) {
      const nowMs = options.now();
      let claims = verified.get(token);
      if (!claims) {
        let payload;
        try {
          ({ payload } = await jwtVerify(token, keyFor, {
            ...baseOptions,
            currentDate: new Date(nowMs),
          }));
        } catch (error) {
          throw error instanceof InvalidTokenError
            ? error
            : new InvalidTokenError(joseReason(error));
        }
        const principal = principalFromClaims(payload);
        if (!principal) throw new InvalidTokenError("sub is not a user id");
        claims = {
          principal,
          exp: payload.exp as number,
          nbf: payload.nbf,
          iat: payload.iat,
        };
        if (cacheSize > 0) {
          if (verified.size >= cacheSize) {
            verified.delete(verified.keys().next().value as string);
          }
          verified.set(token, claims);
        }
      }
      checkTimes(claims, Math.floor(nowMs / 1000), options.maxTtlSeconds);
      return { principal: claims.principal, issuedAt: claims.iat };
    },
  };
}

/** How many verified tokens are remembered by default. */
const DEFAULT_CACHE_SIZE = 10_000;

/** What a verified token says, as far as later requests need it. */
interface VerifiedClaims {
  readonly principal: Principal;
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly iat: number | undefined;
}

/** The time rules, checked against the clock on every request. */
function checkTimes(claims: VerifiedClaims, now: number, maxTtl: number): void {
  if (claims.exp <= now - CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError("expired");
  }
  if (claims.nbf !== undefined && claims.nbf > now + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError("nbf claim check_failed");
  }
  if (claims.exp > now + maxTtl + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError("exp too far in the future");
  }
  if (claims.iat !== undefined && claims.iat > now + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError("iat in the future");
  }
}

/** A short reason from a jose error's code; anything else is just "malformed". */
function joseReason(error: unknown): string {
  const code = typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : "";
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "bad signature";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "algorithm not allowed";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const { claim, reason } = error as { claim?: unknown; reason?: unknown };
      return `${String(claim)} claim ${String(reason)}`;
    }
    default:
      return "malformed";
  }
}
