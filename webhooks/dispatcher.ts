/**
 * The webhook dispatcher: leases due deliveries from the outbox, attempts
 * each (signed, through the SSRF-safe sender) and records the outcome with
 * what it means for the delivery (done, retried later, failed for good) and
 * its endpoint (a 410 or too many failed deliveries disable it).
 *
 * One dispatcher serves both ways the service runs. Self-hosted, `start`
 * polls every second and `wake` (called after each committed write) starts
 * a round at once; attempts run in the background, and each one that ends
 * starts another round, so an order's next event follows its previous one
 * without waiting for the poll. On Deno Deploy, `Deno.cron` calls `drain`
 * every minute (deploy.ts). Several processes share the outbox through
 * leases (db/webhook_store.ts): a delivery is attempted by the process that
 * leased it, and a process killed mid-attempt only delays it until its
 * lease runs out. The request path never waits for a receiver.
 */
import type {
  AttemptRecord,
  ClaimedDelivery,
  ClaimedWork,
  Clock,
  DeliveryFate,
  DeliveryQueue,
  DeliveryTarget,
  DueClaim,
  RecordedAttempt,
} from "../domain/ports.ts";
import {
  classifyAttempt,
  nextAttemptAt,
  parseRetryAfter,
  type WebhookAttemptOutcome,
} from "../domain/webhook_schedule.ts";
import { errorFields } from "../error_fields.ts";
import type { Logger } from "../logger.ts";
import { DEFAULT_WEBHOOK_POLL_MS } from "../domain/webhooks.ts";
import type { WakeDispatcher } from "../domain/manage_webhooks.ts";
import {
  createConnectionPool,
  type SendOptions,
  sendWebhook,
} from "./sender.ts";
import { webhookHeaders } from "./signature.ts";

/** How the dispatcher delivers (from the `WEBHOOK_*` configuration). */
export interface DispatcherSettings {
  /** How long an attempt may take, in ms (`WEBHOOK_TIMEOUT_MS`). */
  readonly timeoutMs: number;
  /** Attempts in flight per endpoint (`WEBHOOK_CONCURRENCY`). */
  readonly concurrency: number;
  /** Seconds between attempts after the first (`WEBHOOK_RETRY_SCHEDULE`). */
  readonly retrySchedule: readonly number[];
  /** Failed deliveries in a row that disable an endpoint. */
  readonly disableAfter: number;
  /** Hosts exempt from the public-address rule (`WEBHOOK_ALLOW_HOSTS`). */
  readonly allowHosts: ReadonlySet<string>;
}

/** What the dispatcher works with. */
export interface DispatcherDeps {
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: DispatcherSettings;
  /** Counts each attempt by its outcome. */
  readonly countAttempt?: (outcome: WebhookAttemptOutcome) => void;
  /** The sender's resolver and trusted roots (tests give their own). */
  readonly sendOptions?: Pick<SendOptions, "resolve" | "caCerts" | "connect">;
  /** Uniform in [0, 1), for the jitter of retries. */
  readonly random?: () => number;
}

/** A running dispatcher. */
export interface Dispatcher {
  /**
   * Starts a round now: something may have been queued. With
   * `endpointsChanged`, the last look at the endpoints is forgotten first,
   * so the round looks again.
   */
  wake: WakeDispatcher;
  /**
   * Polls every `pollMs` (self-hosted) until `stop`, looking at once;
   * settles when that first look is done (never rejects), so a service
   * can finish it before it accepts requests.
   */
  start(pollMs?: number): Promise<void>;
  /**
   * Attempts everything due, waits for every attempt and its record, and
   * goes on while more is due and the clock is before `deadline` (a
   * `Deno.cron` run; tests).
   */
  drain(deadline?: number): Promise<void>;
  /** Stops polling and waits for the attempts in flight. */
  stop(): Promise<void>;
}

/** Attempts one process runs at once, across every endpoint. */
export const MAX_ATTEMPTS_IN_FLIGHT = 64;

/** Attempts recorded in one write at most. */
const MAX_RECORDS_PER_WRITE = 64;

/**
 * How long an ended attempt's record waits for the attempts this process
 * still has in flight, at most. Attempts leased together end about
 * together, so under load one write records (and refills) a whole group
 * instead of one attempt each; an attempt that ends alone is recorded at
 * once.
 */
const RECORD_WAIT_MS = 5;

/**
 * How long a lease holds a delivery: the attempt's timeout plus time to
 * record it (as much again, at most 10 s). A process killed mid-attempt
 * delays the delivery by at most this much.
 */
export function leaseMs(timeoutMs: number): number {
  return timeoutMs + Math.min(timeoutMs, 10_000);
}

/** Creates a dispatcher; nothing runs until `wake`, `start` or `drain`. */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { queue, clock, logger, settings } = deps;
  const random = deps.random ?? Math.random;
  // Connections kept between attempts to the same receiver (keep-alive):
  // at most one per attempt slot of an endpoint.
  const pool = createConnectionPool({ perKey: settings.concurrency });
  const running = new Set<Promise<void>>();
  /** Attempts this process has in flight, per endpoint. */
  const inFlight = new Map<string, number>();
  let round: Promise<number> | undefined;
  let again = false;
  let stopped = false;
  let poll: ReturnType<typeof setInterval> | undefined;
  let pollMs = DEFAULT_WEBHOOK_POLL_MS;
  /**
   * The enabled endpoints the last look found, and when. Until the next
   * poll a wake reads nothing while every one of them has all its slots
   * filled by this process (the records of those attempts lease what
   * follows), or while there is none (a write's wake then costs no
   * database request).
   */
  let lastLook: { enabled: readonly string[]; at: number } | undefined;

  /** Claims what is due, as often as asked meanwhile; how many it leased. */
  function pump(): Promise<number> {
    if (round) {
      again = true;
      return round;
    }
    round = (async () => {
      let leased = 0;
      try {
        do {
          again = false;
          const free = MAX_ATTEMPTS_IN_FLIGHT - running.size;
          if (stopped || free <= 0) break;
          const now = clock.now();
          // A read first: no write transaction when nothing is due.
          const endpoints = await queue.dueEndpoints(now);
          lastLook = { enabled: endpoints.enabled, at: performance.now() };
          // An endpoint whose slots this process fills has nothing to
          // claim: no write until one of its attempts ends.
          const endpointIds = endpoints.due.filter((id) =>
            (inFlight.get(id) ?? 0) < settings.concurrency
          );
          if (endpointIds.length === 0) break;
          leased += launchAll(
            await queue.claimDue(claimOf(endpointIds, now, free)),
          );
        } while (again);
      } catch (error) {
        logger.log("warn", "webhook.dispatch_failed", errorFields(error));
      } finally {
        round = undefined;
      }
      return leased;
    })();
    return round;
  }

  function claimOf(
    endpointIds: readonly string[],
    now: number,
    limit: number,
  ): DueClaim {
    return {
      endpointIds,
      now,
      leaseUntil: now + leaseMs(settings.timeoutMs),
      concurrency: settings.concurrency,
      limit,
    };
  }

  /** Starts the attempts of what was leased; how many. */
  function launchAll(work: ClaimedWork): number {
    for (const delivery of work.deliveries) {
      launch(delivery, work.targets.get(delivery.endpointId));
    }
    return work.deliveries.length;
  }

  function launch(delivery: ClaimedDelivery, target?: DeliveryTarget) {
    // Leased with its endpoint in one transaction, so the target is there;
    // were it not, the lease runs out and the delivery is claimed again.
    if (!target) return;
    const { endpointId } = delivery;
    inFlight.set(endpointId, (inFlight.get(endpointId) ?? 0) + 1);
    const attempt = attemptDelivery(delivery, target)
      .catch((error) =>
        logger.log("warn", "webhook.attempt_failed", errorFields(error))
      )
      .finally(() => {
        running.delete(attempt);
        const left = (inFlight.get(endpointId) ?? 1) - 1;
        if (left === 0) inFlight.delete(endpointId);
        else inFlight.set(endpointId, left);
      });
    running.add(attempt);
  }

  async function attemptDelivery(
    delivery: ClaimedDelivery,
    target: DeliveryTarget,
  ): Promise<void> {
    const at = clock.now();
    const started = performance.now();
    const message = {
      id: delivery.eventId,
      timestamp: Math.floor(at / 1000),
      body: delivery.payload,
    };
    const result = await sendWebhook({
      url: target.url,
      headers: { ...webhookHeaders(message, target.secrets) },
      body: delivery.payload,
    }, {
      ...deps.sendOptions,
      timeoutMs: settings.timeoutMs,
      allowHosts: settings.allowHosts,
      pool,
    });
    const durationMs = Math.round(performance.now() - started);
    const verdict = classifyAttempt(result);
    deps.countAttempt?.(verdict.outcome);
    const endedAt = clock.now();
    let fate: DeliveryFate;
    if (verdict.outcome === "succeeded") {
      fate = { kind: "succeeded" };
    } else {
      const next = nextAttemptAt({
        attempt: delivery.attempts + 1,
        endedAt,
        schedule: settings.retrySchedule,
        random,
        retryAfterSeconds: verdict.retryAfterApplies
          ? parseRetryAfter(result.retryAfter, endedAt)
          : undefined,
      });
      fate = next === undefined
        ? { kind: "failed" }
        : { kind: "retry", at: next };
    }
    const recorded = await record({
      delivery,
      at,
      durationMs,
      outcome: verdict.outcome,
      responseStatus: result.status ?? null,
      fate,
      gone: verdict.disableEndpoint,
      disableAfter: settings.disableAfter,
      now: endedAt,
    });
    if (!recorded.recorded) {
      logger.log("warn", "webhook.lease_lost", {
        endpoint_id: delivery.endpointId,
        event_id: delivery.eventId,
      });
    }
    if (recorded.disabledReason !== undefined) {
      logger.log("warn", "webhook.endpoint_disabled", {
        endpoint_id: delivery.endpointId,
        reason: recorded.disabledReason,
      });
    }
  }

  // Outcomes are written together: an attempt that ends while others are
  // being recorded joins the next write (group commit), and that write also
  // leases what the ended attempts made room for (the orders' next events,
  // the endpoints' free slots), so a busy dispatcher adds about one write
  // transaction per group of attempts to the requests' own.
  const waiting: {
    record: AttemptRecord;
    settle: (result: Promise<RecordedAttempt>) => void;
  }[] = [];
  let flushing = false;
  /** Records in the write under way. */
  let writing = 0;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;

  function record(attempt: AttemptRecord): Promise<RecordedAttempt> {
    const recorded = new Promise<RecordedAttempt>((resolve) =>
      waiting.push({ record: attempt, settle: resolve })
    );
    // Every attempt in `running` is sending, waiting here or being written.
    const sending = running.size - waiting.length - writing;
    if (sending <= 0 || waiting.length >= MAX_RECORDS_PER_WRITE) flush();
    else flushTimer ??= setTimeout(flush, RECORD_WAIT_MS);
    return recorded;
  }

  async function flush(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (flushing) return;
    flushing = true;
    try {
      while (waiting.length > 0) {
        const batch = waiting.splice(0, MAX_RECORDS_PER_WRITE);
        writing = batch.length;
        const endpointIds = [
          ...new Set(batch.map((w) => w.record.delivery.endpointId)),
        ];
        // The attempts recorded here are about to leave `running`.
        const free = MAX_ATTEMPTS_IN_FLIGHT - running.size + batch.length;
        const written = queue.recordAttempts(
          batch.map((w) => w.record),
          stopped ? undefined : claimOf(endpointIds, clock.now(), free),
        );
        batch.forEach((w, i) =>
          w.settle(written.then(({ recorded }) => recorded[i]!))
        );
        try {
          const { claimed } = await written;
          if (claimed) launchAll(claimed);
        } catch {
          // The leases run out and the deliveries are attempted again (at
          // least once); each waiter sees the error. Look again now.
          if (!stopped) pump();
        } finally {
          writing = 0;
        }
      }
    } finally {
      flushing = false;
    }
  }

  return {
    wake(options) {
      if (options?.endpointsChanged) lastLook = undefined;
      const busy = lastLook !== undefined &&
        performance.now() - lastLook.at < pollMs &&
        lastLook.enabled.every((id) =>
          (inFlight.get(id) ?? 0) >= settings.concurrency
        );
      if (!stopped && !busy) pump();
    },

    start(every = DEFAULT_WEBHOOK_POLL_MS) {
      if (poll !== undefined) return Promise.resolve();
      pollMs = every;
      const timer = setInterval(() => pump(), every);
      Deno.unrefTimer(timer);
      poll = timer;
      return pump().then(() => {}, () => {});
    },

    async drain(deadline = Infinity) {
      for (;;) {
        const leased = await pump();
        if (running.size > 0) {
          await Promise.allSettled([...running]);
          continue;
        }
        // Nothing in flight: done unless this round leased work that has
        // since ended and more may be due. A sweep keeps no connection
        // open until the next.
        if (leased === 0 || stopped || clock.now() >= deadline) {
          pool.closeIdle();
          return;
        }
      }
    },

    async stop() {
      stopped = true;
      if (poll !== undefined) clearInterval(poll);
      await round;
      await Promise.allSettled([...running]);
      pool.closeIdle();
    },
  };
}
