/**
 * Managing webhook endpoints, admins only (`assertAdmin` in ./policy.ts):
 * registering, changing, deleting, rotating a secret, sending a test event,
 * reading the attempts log, and resending an order event. One function per
 * use case, over the `WebhookEndpointStore` port. Every check is made in
 * the order `routes/http/checks.ts` lists (`WEBHOOK_ENDPOINT_CHECKS`): the
 * admin role first (the whole resource is admins', so no one else learns
 * anything about a body or an id), then the body or query, then existence,
 * then the business rules. A change is decided on the version read and
 * written only while it is still that version; a lost race reads again.
 */
import {
  type AuditAction,
  type AuditDraft,
  webhookEndpointEntry,
} from "./audit.ts";
import { DomainError } from "./errors.ts";
import { normaliseOrderId } from "./order.ts";
import { EVENT_ID_PREFIX, orderEventBody } from "./order_events.ts";
import type {
  Clock,
  EventStore,
  QueuedDelivery,
  WebhookAttemptPage,
  WebhookEndpointStore,
} from "./ports.ts";
import { assertAdmin } from "./policy.ts";
import type { Principal } from "./principal.ts";
import { readEvent } from "./read_events.ts";
import {
  type ListWebhookAttemptsQuery,
  parseListWebhookAttemptsQuery,
  parseNewWebhookEndpoint,
  parseResendEvent,
  parseWebhookEndpointPatch,
  type WebhookEndpointPatch,
} from "./webhook_input.ts";
import {
  PREVIOUS_SECRET_VALID_MS,
  WEBHOOK_TEST_EVENT_TYPE,
  type WebhookEndpoint,
  type WebhookEventType,
} from "./webhooks.ts";

/** How many times a change is decided again after losing a race. */
export const MAX_WEBHOOK_CHANGE_ATTEMPTS = 5;

/** Why an unknown endpoint (or an id that is not a UUID) is refused (404). */
export const NO_SUCH_WEBHOOK_ENDPOINT = "No such webhook endpoint";

/** The `disabled_reason` of an endpoint an admin disabled. */
export const DISABLED_BY_ADMIN = "Disabled by an admin";

/** Why a registration beyond the limit is refused (409). */
export function tooManyEndpointsMessage(maxEndpoints: number): string {
  return `Cannot register another webhook endpoint: at most ${maxEndpoints} may be registered (WEBHOOK_MAX_ENDPOINTS); delete one first`;
}

/** Why a change that lost every race is refused (409). */
export function endpointKeptChangingMessage(id: string): string {
  return `Cannot change webhook endpoint "${id}": it kept changing while this request ran; retry it`;
}

/** Why a test or a resend to a disabled endpoint is refused (409). */
export function endpointDisabledMessage(id: string): string {
  return `Webhook endpoint "${id}" is disabled: enable it first (PATCH with "enabled": true)`;
}

/** Why a resend to an endpoint not subscribed to the event's type is refused (409). */
export function notSubscribedMessage(id: string, type: string): string {
  return `Webhook endpoint "${id}" is not subscribed to ${type}: add the type to its event_types first`;
}

/** Why a resend naming an unknown endpoint is refused (422). */
export const NO_SUCH_RESEND_ENDPOINT =
  "The resend request names no existing webhook endpoint";

/** What the use cases work with. */
export interface WebhookDeps {
  readonly webhooks: WebhookEndpointStore;
  readonly clock: Clock;
  /** A new random UUID (endpoint ids, test event ids). */
  readonly newId: () => string;
  /** A new signing secret (`whsec_…`). */
  readonly newSecret: () => string;
  /** Hosts exempt from the public-address rule (`WEBHOOK_ALLOW_HOSTS`). */
  readonly allowHosts: ReadonlySet<string>;
  /** How many endpoints may be registered (`WEBHOOK_MAX_ENDPOINTS`). */
  readonly maxEndpoints: number;
  /** Tells the dispatcher, if one listens. */
  readonly wakeDispatcher?: WakeDispatcher | undefined;
}

/**
 * Tells the dispatcher that deliveries may have been queued; with
 * `endpointsChanged` (an endpoint was registered, enabled or changed here),
 * also that it must look at the endpoints again rather than trust its last
 * look (which may have found none enabled).
 */
export type WakeDispatcher = (
  options?: { readonly endpointsChanged?: boolean },
) => void;

/** Who asks, in which request. */
export interface WebhookRequest {
  readonly principal: Principal;
  /** The service's id of the request, as the audit entry records it. */
  readonly requestId: string;
  /** Called right before each write; throws when it may no longer write. */
  readonly beginWrite?: (() => void) | undefined;
}

/** An endpoint with its new secret: what a registration or rotation answers. */
export interface EndpointWithSecret {
  readonly endpoint: WebhookEndpoint;
  /** Shown once, in the response; the store keeps it encrypted. */
  readonly secret: string;
}

/** What was queued: the event, and the endpoints it goes to. */
export interface QueuedEvent {
  readonly eventId: string;
  readonly endpointIds: readonly string[];
}

/** Every endpoint, oldest first. */
export function listWebhookEndpoints(
  deps: Pick<WebhookDeps, "webhooks">,
  principal: Principal,
): Promise<WebhookEndpoint[]> {
  assertAdmin(principal, "manage_webhooks");
  return deps.webhooks.listEndpoints();
}

/** One endpoint; an unknown id (or one that is not a UUID) is a 404. */
export async function readWebhookEndpoint(
  deps: Pick<WebhookDeps, "webhooks">,
  request: { principal: Principal; id: string },
): Promise<WebhookEndpoint> {
  assertAdmin(request.principal, "manage_webhooks");
  return await findOrRefuse(deps.webhooks, request.id);
}

/**
 * Registers an endpoint, enabled, with a new secret, audited as
 * `webhook_endpoint.created`; beyond `maxEndpoints` a 409.
 */
export async function createWebhookEndpoint(
  deps: WebhookDeps,
  request: WebhookRequest & { readBody: () => Promise<unknown> },
): Promise<EndpointWithSecret> {
  assertAdmin(request.principal, "manage_webhooks");
  const input = parseNewWebhookEndpoint(
    await request.readBody(),
    deps.allowHosts,
  );
  const now = deps.clock.now();
  const endpoint: WebhookEndpoint = {
    id: deps.newId(),
    url: input.url,
    eventTypes: input.eventTypes,
    description: input.description,
    enabled: true,
    disabledReason: null,
    failedDeliveries: 0,
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  const secret = deps.newSecret();
  const entry = entryFor(undefined, endpoint, "webhook_endpoint.created", {
    request,
    at: now,
  });
  request.beginWrite?.();
  const created = await deps.webhooks.createEndpoint(
    endpoint,
    secret,
    entry,
    deps.maxEndpoints,
  );
  if (!created) {
    throw new DomainError(
      "conflict",
      tooManyEndpointsMessage(deps.maxEndpoints),
    );
  }
  // Else this process's dispatcher may not look at the endpoints until its
  // next poll, and the first events for this one would wait for it.
  deps.wakeDispatcher?.({ endpointsChanged: true });
  return { endpoint, secret };
}

/**
 * Applies a change (`url`, `event_types`, `description`, `enabled`),
 * audited as `webhook_endpoint.updated`. A change that changes nothing
 * writes nothing and answers the endpoint as it is. Enabling a disabled
 * endpoint resets its failure count and clears its `disabledReason`;
 * disabling one records `DISABLED_BY_ADMIN`.
 */
export async function updateWebhookEndpoint(
  deps: WebhookDeps,
  request: WebhookRequest & { id: string; readBody: () => Promise<unknown> },
): Promise<WebhookEndpoint> {
  assertAdmin(request.principal, "manage_webhooks");
  const patch = parseWebhookEndpointPatch(
    await request.readBody(),
    deps.allowHosts,
  );
  return await withRetries(deps, request.id, async (current) => {
    const now = deps.clock.now();
    const after = patchedEndpoint(current, patch, now);
    if (after === undefined) return current;
    request.beginWrite?.();
    const written = await deps.webhooks.updateEndpoint(
      current,
      after,
      entryFor(current, after, "webhook_endpoint.updated", {
        request,
        at: now,
      }),
    );
    if (written) deps.wakeDispatcher?.({ endpointsChanged: true });
    return written ? after : undefined;
  });
}

/**
 * Deletes an endpoint and its pending deliveries, audited as
 * `webhook_endpoint.deleted`.
 */
export async function deleteWebhookEndpoint(
  deps: WebhookDeps,
  request: WebhookRequest & { id: string },
): Promise<void> {
  assertAdmin(request.principal, "manage_webhooks");
  await withRetries(deps, request.id, async (current) => {
    const now = deps.clock.now();
    request.beginWrite?.();
    const deleted = await deps.webhooks.deleteEndpoint(
      current,
      entryFor(current, undefined, "webhook_endpoint.deleted", {
        request,
        at: now,
      }),
    );
    return deleted ? current : undefined;
  });
}

/**
 * Gives an endpoint a new secret; the previous one keeps signing for
 * `PREVIOUS_SECRET_VALID_MS`. Audited as `webhook_endpoint.secret_rotated`,
 * without either secret.
 */
export async function rotateWebhookSecret(
  deps: WebhookDeps,
  request: WebhookRequest & { id: string },
): Promise<EndpointWithSecret> {
  assertAdmin(request.principal, "manage_webhooks");
  const secret = deps.newSecret();
  const endpoint = await withRetries(deps, request.id, async (current) => {
    const now = deps.clock.now();
    const after = { ...current, updatedAt: now, version: current.version + 1 };
    request.beginWrite?.();
    const rotated = await deps.webhooks.rotateSecret(
      current,
      secret,
      now + PREVIOUS_SECRET_VALID_MS,
      entryFor(current, after, "webhook_endpoint.secret_rotated", {
        request,
        at: now,
      }),
    );
    return rotated ? after : undefined;
  });
  return { endpoint, secret };
}

/**
 * Queues a `webhook.test` event (`data: { endpoint_id }`) for an enabled
 * endpoint, delivered like any other; a disabled endpoint is a 409.
 */
export async function sendWebhookTestEvent(
  deps: WebhookDeps,
  request: WebhookRequest & { id: string },
): Promise<QueuedEvent> {
  assertAdmin(request.principal, "manage_webhooks");
  const endpoint = await findOrRefuse(deps.webhooks, request.id);
  if (!endpoint.enabled) {
    throw new DomainError("conflict", endpointDisabledMessage(endpoint.id));
  }
  const now = deps.clock.now();
  const eventId = `${EVENT_ID_PREFIX}${deps.newId()}`;
  await enqueue(deps, [{
    endpointId: endpoint.id,
    orderId: null,
    payload: {
      id: eventId,
      type: WEBHOOK_TEST_EVENT_TYPE,
      timestamp: new Date(now).toISOString(),
      data: { endpoint_id: endpoint.id },
    },
  }], { request, at: now });
  return { eventId, endpointIds: [endpoint.id] };
}

/**
 * Queues an order event again, exactly as `GET /v1/events/{id}` shows it
 * (so with the same `webhook-id`), for the endpoint the body names (which
 * must exist, 422, be enabled and subscribed to the event's type, 409), or
 * else for every enabled endpoint subscribed to its type (possibly none).
 * An unknown event is a 404.
 */
export async function resendEvent(
  deps: WebhookDeps & { events: EventStore },
  request: WebhookRequest & {
    eventId: string;
    readBody: () => Promise<unknown>;
  },
): Promise<QueuedEvent> {
  assertAdmin(request.principal, "resend_event");
  const named = parseResendEvent(await request.readBody());
  const event = await readEvent(
    deps.events,
    request.principal,
    request.eventId,
  );
  let endpoints: WebhookEndpoint[];
  if (named === undefined) {
    endpoints = (await deps.webhooks.listEndpoints()).filter((endpoint) =>
      endpoint.enabled && isSubscribed(endpoint, event.type)
    );
  } else {
    const id = normaliseOrderId(named);
    const endpoint = id === undefined
      ? undefined
      : await deps.webhooks.findEndpoint(id);
    if (endpoint === undefined) {
      throw new DomainError("validation_failed", NO_SUCH_RESEND_ENDPOINT, [
        { path: "endpoint_id", message: NO_SUCH_WEBHOOK_ENDPOINT },
      ]);
    }
    if (!endpoint.enabled) {
      throw new DomainError("conflict", endpointDisabledMessage(endpoint.id));
    }
    if (!isSubscribed(endpoint, event.type)) {
      throw new DomainError(
        "conflict",
        notSubscribedMessage(endpoint.id, event.type),
      );
    }
    endpoints = [endpoint];
  }
  const payload = orderEventBody(event);
  await enqueue(
    deps,
    endpoints.map((endpoint) => ({
      endpointId: endpoint.id,
      orderId: event.data.order_id,
      payload,
    })),
    { request, at: deps.clock.now() },
  );
  return {
    eventId: event.id,
    endpointIds: endpoints.map((endpoint) => endpoint.id),
  };
}

/** A page of the attempts log, as the route asks for it. */
export interface AttemptsRequest {
  readonly principal: Principal;
  readonly id: string;
  readonly query: Record<string, string>;
  /**
   * The position a cursor holds for this caller and endpoint (the `seq`
   * the page ends before); throws the 400 for any other cursor.
   */
  readonly decodeCursor: (cursor: string, endpointId: string) => number;
}

/** One page of an endpoint's attempts log, newest first. */
export interface AttemptsPage extends WebhookAttemptPage {
  /** The endpoint the page is of (its id as stored). */
  readonly endpointId: string;
  readonly query: ListWebhookAttemptsQuery;
}

/**
 * A page of an endpoint's attempts, newest first: the query (422), then
 * the cursor (400), then the endpoint (404).
 */
export async function listWebhookAttempts(
  deps: Pick<WebhookDeps, "webhooks">,
  request: AttemptsRequest,
): Promise<AttemptsPage> {
  assertAdmin(request.principal, "manage_webhooks");
  const query = parseListWebhookAttemptsQuery(request.query);
  const id = normaliseOrderId(request.id);
  const beforeSeq = query.cursor === undefined
    ? undefined
    : request.decodeCursor(query.cursor, id ?? request.id);
  const endpoint = await findOrRefuse(deps.webhooks, request.id);
  const page = await deps.webhooks.listAttempts(endpoint.id, {
    beforeSeq,
    limit: query.limit,
  });
  return { ...page, endpointId: endpoint.id, query };
}

/** Whether `endpoint` receives events of `type`. */
export function isSubscribed(
  endpoint: Pick<WebhookEndpoint, "eventTypes">,
  type: WebhookEventType,
): boolean {
  return endpoint.eventTypes.length === 0 ||
    (endpoint.eventTypes as readonly string[]).includes(type);
}

/**
 * The endpoint after `patch`, at the next version; undefined when the
 * patch changes nothing.
 */
export function patchedEndpoint(
  current: WebhookEndpoint,
  patch: WebhookEndpointPatch,
  now: number,
): WebhookEndpoint | undefined {
  const eventTypes = patch.eventTypes ?? current.eventTypes;
  let after: WebhookEndpoint = {
    ...current,
    url: patch.url ?? current.url,
    eventTypes: sameTypes(eventTypes, current.eventTypes)
      ? current.eventTypes
      : eventTypes,
    description: patch.description === undefined
      ? current.description
      : patch.description,
  };
  if (patch.enabled === true && !current.enabled) {
    after = {
      ...after,
      enabled: true,
      disabledReason: null,
      failedDeliveries: 0,
    };
  } else if (patch.enabled === false && current.enabled) {
    after = { ...after, enabled: false, disabledReason: DISABLED_BY_ADMIN };
  }
  const changed = after.url !== current.url ||
    after.eventTypes !== current.eventTypes ||
    after.description !== current.description ||
    after.enabled !== current.enabled;
  return changed
    ? { ...after, updatedAt: now, version: current.version + 1 }
    : undefined;
}

function sameTypes(
  a: readonly string[],
  b: readonly string[],
): boolean {
  return a.length === b.length && a.every((type) => b.includes(type));
}

/** The endpoint `id` names; a 404 when none does. */
async function findOrRefuse(
  store: WebhookEndpointStore,
  id: string,
): Promise<WebhookEndpoint> {
  const normalised = normaliseOrderId(id);
  const endpoint = normalised === undefined
    ? undefined
    : await store.findEndpoint(normalised);
  if (endpoint === undefined) {
    throw new DomainError("not_found", NO_SUCH_WEBHOOK_ENDPOINT);
  }
  return endpoint;
}

/**
 * Reads the endpoint and runs `attempt` on it until it writes (resolving
 * to what it answers), re-reading after each lost race: a 404 once the
 * endpoint is gone, a 409 after `MAX_WEBHOOK_CHANGE_ATTEMPTS` lost races.
 */
async function withRetries(
  deps: Pick<WebhookDeps, "webhooks">,
  id: string,
  attempt: (current: WebhookEndpoint) => Promise<WebhookEndpoint | undefined>,
): Promise<WebhookEndpoint> {
  for (let tries = 1; tries <= MAX_WEBHOOK_CHANGE_ATTEMPTS; tries++) {
    const current = await findOrRefuse(deps.webhooks, id);
    const done = await attempt(current);
    if (done !== undefined) return done;
  }
  throw new DomainError("conflict", endpointKeptChangingMessage(id));
}

function entryFor(
  before: WebhookEndpoint | undefined,
  after: WebhookEndpoint | undefined,
  action: AuditAction,
  options: { request: WebhookRequest; at: number },
): AuditDraft {
  return webhookEndpointEntry(before, after, {
    action,
    actor: options.request.principal,
    requestId: options.request.requestId,
    at: options.at,
  });
}

/** Queues `deliveries` (if any) due now, then wakes the dispatcher. */
async function enqueue(
  deps: WebhookDeps,
  deliveries: readonly QueuedDelivery[],
  options: { request: WebhookRequest; at: number },
): Promise<void> {
  if (deliveries.length === 0) return;
  options.request.beginWrite?.();
  await deps.webhooks.enqueueDeliveries(deliveries, options.at);
  deps.wakeDispatcher?.();
}
