/**
 * The app's dependencies and the typed context variables handlers share.
 */
import type { AuditReceipts } from "../audit/receipts.ts";
import type { TokenVerifier } from "../auth/token_verifier.ts";
import type { Principal } from "../domain/principal.ts";
import type {
  AccountStore,
  Clock,
  DeliveryQueue,
  EventStore,
  OrderStore,
  PersonalDataEraser,
  WebhookEndpointStore,
} from "../domain/ports.ts";
import type { ReviewPolicy } from "../domain/review.ts";
import type { WakeDispatcher } from "../domain/manage_webhooks.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../monitoring/metrics.ts";
import type { Context } from "hono";
import type { RateLimiters, RateLimitResult } from "../limits/rate_limiter.ts";
import type {
  SecurityEventFields,
  SecurityEventName,
} from "../monitoring/security_event_names.ts";

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
  /**
   * The clock the per-instance caches expire by (the account state's);
   * `clock` unless a harness moves it to make "idle past the cache"
   * instant (docs/performance.md, issue 24). It only ever runs ahead, so
   * an entry never lives longer than its bound.
   */
  readonly cacheClock?: Clock;
  /** The feed of order events (db/event_store.ts). */
  readonly events: EventStore;
  /** Account state (disabled, revoked tokens), set by admins. */
  readonly accounts: AccountStore;
  /** When new orders are held for review. */
  readonly reviewPolicy: ReviewPolicy;
  /** The secret the key of `ip_hash` in security events is derived from. */
  readonly ipHashSecret: string;
  /**
   * The secret the key of paging cursors is derived from (`JWT_SECRET`):
   * see ./http/cursor.ts.
   */
  readonly cursorSecret: string;
  /**
   * The receipts of audit entries the order store committed, by request
   * id (`audit/receipts.ts`), for the `Audit-Entry` header; none without.
   */
  readonly auditReceipts?: AuditReceipts | undefined;
  /**
   * The counters of this instance, shared with what runs beside the app
   * (the webhook dispatcher); the app makes its own when not given.
   */
  readonly metrics?: Metrics | undefined;
  /** Webhook endpoints, and the outbox's backlog for the metrics. */
  readonly webhooks: WebhookEndpointStore & Pick<DeliveryQueue, "backlog">;
  /** How endpoints are registered (`WEBHOOK_ALLOW_HOSTS`, `WEBHOOK_MAX_ENDPOINTS`). */
  readonly webhookSettings: {
    readonly allowHosts: ReadonlySet<string>;
    readonly maxEndpoints: number;
  };
  /** Starts the dispatcher on what a write may have queued. */
  readonly wakeDispatcher?: WakeDispatcher | undefined;
}

/** How the app applies its rate limits. */
export interface RateLimitPolicy {
  readonly limiters: RateLimiters;
  /**
   * When the store is slow or down: `false` serves the request anyway
   * (fail-open), `true` answers 503 (fail-closed).
   */
  readonly failClosed: boolean;
  /**
   * How many reverse proxies in front of the service append the client
   * address to `X-Forwarded-For`; 0 ignores the header.
   */
  readonly trustedProxies: number;
}

/** Emits security events for a request (monitoring/security_events.ts). */
export interface SecurityEvents {
  emit(
    c: Context<AppEnv>,
    event: SecurityEventName,
    fields?: SecurityEventFields,
  ): void;
}

/**
 * A request's deadline (./middleware/hygiene.ts `requestTimeout`), as the handlers below it see it: `signal`
 * aborts when the request is cut off (a body still arriving stops being
 * read), and `beginWrite` is called right before each write.
 */
export interface RequestDeadline {
  readonly signal: AbortSignal;
  /**
   * Throws the 503 when the request was already cut off, so work that ran
   * past its answer never writes. Once a write has begun, the request is no
   * longer cut off: it is answered with what the write did, so a 503 always
   * means that nothing was written, then or later.
   */
  beginWrite(): void;
}

/** The Hono environment of every route. */
export interface AppEnv {
  Variables: {
    /** The id the response echoes (the client's, when it sent one). */
    requestId: string;
    /** The service's own unique id of the request, as audit entries record it. */
    serverRequestId: string;
    principal: Principal;
    /** Set for a request for one order: its 403 and 404 are look-up misses. */
    orderLookup?: boolean;
    /**
     * Set for a request whose handler may read while the rate limits are
     * judged and decides nothing before their verdict (`readsAhead`);
     * `verdict` is that wait when the handler runs while the store judges.
     */
    admission?: {
      readonly deferred: true;
      /** Runs ahead only when the last verdict left room (`readsAheadWithRoom`). */
      readonly onlyWithRoom?: true;
      verdict?: Promise<void>;
    };
    /**
     * Set for an order creation: `ahead` is the creation limit's count when
     * it was asked along with the request limit, `counted` the count the
     * handler's step used, `kept` whether an order was created (else the
     * count is given back).
     */
    orderCreation?: {
      ahead?: Promise<RateLimitResult | undefined>;
      counted?: Promise<RateLimitResult | undefined>;
      kept: boolean;
    };
    /**
     * Set when the account state is still being read (a cache miss):
     * settles once the account lets the request go on, rejects with its
     * 401/403 (or the 503 when it cannot be read). Judged before the rate
     * limits' verdict and with it (`userRateLimits`, `admitted(c)`), which
     * sets `judged`; else the account-state middleware judges it last.
     */
    accountVerdict?: { readonly verdict: Promise<void>; judged: boolean };
    /** Time this request's rate-limit checks have taken so far. */
    rateLimitSpentMs?: number;
    /** The request timeout's deadline; set for every request it covers. */
    deadline?: RequestDeadline;
    /** The `iat` of the request's token (epoch seconds), if it has one. */
    tokenIssuedAt?: number;
    /** Emits this app's security events. */
    securityEvents: SecurityEvents;
    /** The keyed hash of the client address, once computed. */
    ipHash?: string;
  };
}
