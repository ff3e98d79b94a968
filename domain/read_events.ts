/**
 * Reading the events feed: a page after a position, and one event by id,
 * each as the caller may see it (`eventScope` in ./policy.ts).
 */
import { DomainError } from "./errors.ts";
import {
  ORDER_EVENT_TYPES,
  type OrderEvent,
  type OrderEventType,
  typeSeenWithoutReviews,
} from "./order_events.ts";
import type { EventStore, StoredOrderEvent } from "./ports.ts";
import { eventScope } from "./policy.ts";
import type { Principal } from "./principal.ts";

/** Why an event that does not exist, or is not the caller's, is refused (404). */
export const NO_SUCH_EVENT = "No such event";

/** Why a position the retention purge has passed is refused (410). */
export const CURSOR_EXPIRED =
  "Events after this cursor's position have been purged: resynchronise (read the orders) and start the feed again without a cursor";

/** One page of the feed, as the caller sees it. */
export interface EventFeedPage {
  readonly events: readonly OrderEvent[];
  /** Whether more events are available now. */
  readonly hasMore: boolean;
  /**
   * Where the next page starts: past every event this page considered,
   * the caller's or not, so a caller's position keeps up with the feed.
   */
  readonly position: number;
}

/** What a page of the feed is asked for. */
export interface EventFeedRequest {
  /** The position of the caller's cursor; undefined for the feed's start. */
  readonly after: number | undefined;
  readonly limit: number;
  readonly type: OrderEventType | undefined;
  readonly orderId: string | undefined;
}

/**
 * A page of the feed: events committed after `request.after`, oldest
 * first. A position the retention purge has passed is a 410
 * (`cursor_expired`): the caller missed events and must resynchronise.
 */
export async function readEventFeed(
  store: EventStore,
  principal: Principal,
  request: EventFeedRequest,
): Promise<EventFeedPage> {
  const scope = eventScope(principal);
  const page = await store.listEvents({
    afterSeq: request.after ?? 0,
    limit: request.limit,
    types: scope.seesReviews
      ? request.type && [request.type]
      : storedTypesSeenAs(request.type),
    orderId: request.orderId,
    userId: scope.userId,
  });
  if (request.after !== undefined && request.after < page.horizon) {
    throw new DomainError("cursor_expired", CURSOR_EXPIRED);
  }
  const last = page.events.at(-1)?.seq ?? 0;
  return {
    events: page.events.map((event) =>
      scope.seesReviews ? withoutSeq(event) : seenWithoutReviews(event)
    ),
    hasMore: page.hasMore,
    // A full page ends at its last event; otherwise everything up to the
    // head was considered.
    position: page.hasMore
      ? last
      : Math.max(last, page.head, page.horizon, request.after ?? 0),
  };
}

/** One event, as the caller sees it; another user's event is a 404. */
export async function readEvent(
  store: EventStore,
  principal: Principal,
  id: string,
): Promise<OrderEvent> {
  const event = await store.findEvent(id);
  const scope = eventScope(principal);
  if (event && scope.seesReviews) return withoutSeq(event);
  const seen = event?.data.user_id === principal.userId &&
    typeSeenWithoutReviews(event.type);
  if (!event || !seen) throw new DomainError("not_found", NO_SUCH_EVENT);
  return seenWithoutReviews(event);
}

/**
 * The stored types a caller who may not see reviews asks for with `type`:
 * every type they see that reads as it.
 */
function storedTypesSeenAs(
  type: OrderEventType | undefined,
): OrderEventType[] {
  return ORDER_EVENT_TYPES.filter((stored) => {
    const seen = typeSeenWithoutReviews(stored);
    return seen !== undefined && (type === undefined || seen === type);
  });
}

function seenWithoutReviews(event: StoredOrderEvent): OrderEvent {
  return {
    ...withoutSeq(event),
    type: typeSeenWithoutReviews(event.type) ?? event.type,
  };
}

function withoutSeq(event: StoredOrderEvent): OrderEvent {
  const { seq: _seq, ...rest } = event;
  return rest;
}
