/**
 * The HTTP app: middleware in the order of the request lifecycle, one
 * sub-app per resource, and one error mapper.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { createAccountStateCache } from "../auth/account_state_cache.ts";
import { createMetrics } from "../monitoring/metrics.ts";
import { accountState } from "./middleware/account_state.ts";
import { adminRoutes } from "./admin.ts";
import { apiDocsRoutes } from "./api_docs.ts";
import { authenticate } from "./middleware/authenticate.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { healthRoutes } from "./health.ts";
import {
  declaredBodyLimit,
  DEFAULT_REQUEST_TIMEOUT_MS,
  noStore,
  requestTimeout,
} from "./middleware/hygiene.ts";
import {
  DOCS_CONTENT_SECURITY_POLICY,
  DOCS_PATH,
} from "./openapi/docs_page.ts";
import { openApiDocument } from "./openapi/generate.ts";
import { ordersRoutes } from "./orders.ts";
import { errorHandler, problemResponse } from "./http/problem.ts";
import {
  authFailureLimit,
  orderCreation,
  orderLookup,
  readsAhead,
  readsAheadWithRoom,
  userRateLimits,
} from "./middleware/rate_limit.ts";
import {
  requestId,
  SERVER_REQUEST_ID_HEADER,
} from "./middleware/request_id.ts";
import { usersRoutes } from "./users.ts";
import { eventsRoutes } from "./events.ts";
import { eventResendRoutes, webhookEndpointsRoutes } from "./webhooks.ts";
import { declareWebhookDeliveries } from "./openapi/webhook_schemas.ts";
import { SECURITY_EVENTS } from "../monitoring/security_event_names.ts";
import {
  createSecurityEvents,
  problemSecurityEvent,
} from "../monitoring/security_events.ts";

/** The `GET` paths `readsAheadWithRoom` marks: lists, history, export, feed. */
const READS_AHEAD_WITH_ROOM: readonly RegExp[] = [
  /^\/v1\/orders$/,
  /^\/v1\/orders\/[^/]+\/history$/,
  /^\/v1\/users\/[^/]+\/export$/,
  /^\/v1\/events$/,
];

/**
 * Builds the app from its dependencies. Its routes declare themselves in
 * its OpenAPI registry, which `/openapi.json` is generated from.
 */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  // Per instance, as the contract says: nothing here is shared.
  const metrics = deps.metrics ??
    createMetrics({ securityEvents: SECURITY_EVENTS });
  const securityEvents = createSecurityEvents({
    logger: deps.logger,
    metrics,
    ipHashSecret: deps.ipHashSecret,
    trustedProxies: deps.rateLimits.trustedProxies,
  });
  // Entries live at most 5 s: the contract's bound on every instance.
  const accountCache = createAccountStateCache({
    load: (userId) => deps.accounts.findAccount(userId),
    now: () => (deps.cacheClock ?? deps.clock).now(),
  });

  app.use(requestId());
  app.use(async function monitoring(c, next) {
    c.set("securityEvents", securityEvents);
    await next();
    metrics.countResponse(c.res.status);
    // A write that succeeded may have queued webhook deliveries: the
    // dispatcher starts on them now rather than at its next poll.
    if (c.req.method !== "GET" && c.res.ok) deps.wakeDispatcher?.();
  });
  app.use(securityHeaders());
  app.use(noStore());
  if (deps.corsOrigins && deps.corsOrigins.length > 0) {
    const allowed = new Set(deps.corsOrigins);
    app.use(cors({
      origin: (origin) => allowed.has(origin) ? origin : null,
      allowMethods: ["GET", "POST", "PATCH", "DELETE"],
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "Idempotency-Key",
        "If-Match",
        "X-Request-Id",
      ],
      exposeHeaders: [
        "ETag",
        "Link",
        "Location",
        "X-Request-Id",
        SERVER_REQUEST_ID_HEADER,
        "Retry-After",
        "Idempotent-Replayed",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
      ],
      maxAge: 600,
    }));
  }
  app.use(declaredBodyLimit());
  app.use(requestTimeout(deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));

  app.route("/", healthRoutes(deps));
  app.route("/", apiDocsRoutes(() => openApiDocument(app)));
  app.use(
    "/v1/*",
    authenticate(deps.verifier, { onFailure: authFailureLimit(deps) }),
  );
  app.use("/v1/*", accountState(accountCache, deps.logger));
  // Matches /v1/orders/{id} itself and every route below it.
  app.use("/v1/orders/:id/*", orderLookup());
  // These read one order and decide after the limits' verdict
  // (`readOrder` in domain/read_orders.ts, `applyOrderChange` in
  // domain/apply_order_change.ts).
  app.on(["GET", "PATCH"], "/v1/orders/:id", readsAhead());
  app.on(
    "POST",
    ["/v1/orders/:id/cancel", "/v1/orders/:id/review"],
    readsAhead(),
  );
  // A list, a history, an export or the feed is read ahead only when this
  // instance's last verdict for the user left room for it (issue 24).
  // Matched here rather than by routes of their own: more route patterns
  // cost every request in the router (GET by id lost 15 % of its
  // throughput).
  app.use("/v1/*", readsAheadWithRoom(READS_AHEAD_WITH_ROOM));
  app.use("/v1/orders", orderCreation());
  app.use("/v1/*", userRateLimits(deps));
  app.route("/v1/orders", ordersRoutes(deps, { metrics }));
  app.route("/v1/users", usersRoutes(deps));
  app.route("/v1/events", eventsRoutes(deps));
  app.route("/v1/events", eventResendRoutes(deps));
  app.route("/v1/webhook-endpoints", webhookEndpointsRoutes(deps));
  app.route("/v1/admin", adminRoutes(deps, { accountCache, metrics }));
  declareWebhookDeliveries(app);

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0) {
      return problemResponse(
        c,
        "method_not_allowed",
        `${c.req.method} is not allowed here`,
        { headers: { Allow: allowed.join(", ") } },
      );
    }
    return problemResponse(c, "not_found", "No such resource");
  });
  app.onError(errorHandler(deps.logger, { onProblem: problemSecurityEvent }));
  return app;
}

/**
 * The security headers of every response. The API's policy is
 * `default-src 'none'`; the documentation page alone gets its own, which
 * lets it load its pinned viewer.
 */
function securityHeaders(): MiddlewareHandler<AppEnv> {
  const common = {
    strictTransportSecurity: "max-age=63072000; includeSubDomains",
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    // Headers for browsers and plug-ins of another age (IE 8's downloads,
    // Flash's cross-domain policies, the retired XSS auditor) and for HTML
    // pages' DNS prefetching and agent clusters say nothing to a JSON API;
    // every header costs on every response.
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
    xDnsPrefetchControl: false,
    originAgentCluster: false,
  };
  const api = secureHeaders({
    ...common,
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      frameAncestors: ["'none'"],
    },
  });
  const docs = secureHeaders({
    ...common,
    contentSecurityPolicy: DOCS_CONTENT_SECURITY_POLICY,
  });
  return function securityHeaders(c, next) {
    return c.req.path === DOCS_PATH ? docs(c, next) : api(c, next);
  };
}

/** The methods the app serves for a path, for a 405's `Allow` header. */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    if (routePattern(route.path).test(path)) {
      methods.add(route.method);
      if (route.method === "GET") methods.add("HEAD");
    }
  }
  return [...methods].sort();
}

const patterns = new Map<string, RegExp>();

function routePattern(path: string): RegExp {
  let pattern = patterns.get(path);
  if (!pattern) {
    const source = path.replace(/\/$/, "").split("/").map((part) =>
      part.startsWith(":")
        ? "[^/]+"
        : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    ).join("/");
    pattern = new RegExp(`^${source || "/"}$`);
    patterns.set(path, pattern);
  }
  return pattern;
}
