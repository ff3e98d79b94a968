/**
 * The app's dependencies and the typed context variables handlers share.
 */
import type { TokenVerifier } from "../auth/token_verifier.ts";
import type { Principal } from "../domain/principal.ts";
import type { Clock, OrderStore, PersonalDataEraser } from "../domain/ports.ts";
import type { Logger } from "../logger.ts";
import type { RateLimitPolicy } from "./rate_limit.ts";

/** Everything the HTTP app needs; `main.ts` builds the real ones, tests their own. */
export interface AppDeps {
  /** Orders, with personal data encrypted at rest (pii/encrypted_order_store.ts). */
  readonly store: OrderStore;
  /** Erasure of a user's personal data (pii/erasure.ts). */
  readonly personalData: PersonalDataEraser;
  readonly verifier: TokenVerifier;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The rate limiters and what to do when their store is down. */
  readonly rateLimits: RateLimitPolicy;
  /** A new random order id. */
  readonly newId: () => string;
  /** Origins allowed to call the API from a browser. */
  readonly corsOrigins?: readonly string[];
  /** Requests running longer are answered with 503. */
  readonly requestTimeoutMs?: number;
}

/** The Hono environment of every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
    principal: Principal;
    /** Time this request's rate-limit checks have taken so far. */
    rateLimitSpentMs?: number;
  };
}
