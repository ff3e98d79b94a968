/**
 * When a webhook delivery is tried again, and what one attempt's result
 * means. The first attempt is immediate; attempt n + 1 follows the end of
 * attempt n by `schedule[n - 1]` seconds with ±10 % jitter, or later when
 * the receiver asked for it with `Retry-After`. After the last attempt the
 * delivery has failed for good. Pure: time and randomness are arguments.
 */

/** Seconds between attempts after the first (`WEBHOOK_RETRY_SCHEDULE`). */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE: readonly number[] = Object.freeze(
  [5, 300, 1800, 7200, 18000, 36000, 36000],
);

/** How far a delay may move either way, as a fraction of it. */
export const RETRY_JITTER = 0.1;

/** The longest `Retry-After` honoured, in seconds (24 hours). */
export const MAX_RETRY_AFTER_SECONDS = 86_400;

/** The longest delay `WEBHOOK_RETRY_SCHEDULE` may hold, in seconds (7 days). */
export const MAX_RETRY_DELAY_SECONDS = 604_800;

/** The most delays `WEBHOOK_RETRY_SCHEDULE` may hold. */
export const MAX_RETRY_SCHEDULE_LENGTH = 50;

/** Failed deliveries in a row that disable an endpoint (`WEBHOOK_DISABLE_AFTER`). */
export const DEFAULT_WEBHOOK_DISABLE_AFTER = 10;

/** How an attempt ended, as the attempts log names it. */
export const WEBHOOK_ATTEMPT_OUTCOMES = [
  "succeeded",
  "failed",
  "timeout",
  "blocked_destination",
  "connection_error",
] as const;

/** How an attempt ended. */
export type WebhookAttemptOutcome = typeof WEBHOOK_ATTEMPT_OUTCOMES[number];

/** What the dispatcher saw of one attempt. */
export interface AttemptResult {
  /** The response's status, when one came. */
  readonly status?: number | undefined;
  /** No answer within `WEBHOOK_TIMEOUT_MS`. */
  readonly timedOut?: boolean | undefined;
  /** The connection could not be made or broke (DNS, TCP, TLS). */
  readonly connectionError?: boolean | undefined;
  /** The resolved address is not public: nothing was sent. */
  readonly blocked?: boolean | undefined;
}

/** What an attempt means for the delivery and the endpoint. */
export interface AttemptVerdict {
  readonly outcome: WebhookAttemptOutcome;
  /** 410 Gone: the receiver asks never to be called again. */
  readonly disableEndpoint: boolean;
  /** 429 or 503: a `Retry-After` header sets the least delay. */
  readonly retryAfterApplies: boolean;
}

/** When the next attempt is due. */
export interface NextAttemptInput {
  /** The number of the attempt that just ended, from 1. */
  readonly attempt: number;
  /** When it ended (ms since the epoch). */
  readonly endedAt: number;
  /** Seconds between attempts after the first. */
  readonly schedule: readonly number[];
  /** Uniform in [0, 1), as `Math.random`. */
  readonly random: () => number;
  /** Seconds the receiver asked to wait (`parseRetryAfter`), on 429/503. */
  readonly retryAfterSeconds?: number | undefined;
}

/**
 * Reads `WEBHOOK_RETRY_SCHEDULE`: comma-separated whole seconds, each from 1
 * to `MAX_RETRY_DELAY_SECONDS`, at most `MAX_RETRY_SCHEDULE_LENGTH` of them;
 * spaces around a number are ignored. Throws a `RangeError` naming the
 * variable otherwise.
 */
export function parseRetrySchedule(text: string): readonly number[] {
  const rule =
    `WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds from 1 to ${MAX_RETRY_DELAY_SECONDS}, such as 5,300,1800`;
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length > MAX_RETRY_SCHEDULE_LENGTH) {
    throw new RangeError(
      `${rule}: it holds ${parts.length} delays, more than ${MAX_RETRY_SCHEDULE_LENGTH}`,
    );
  }
  const schedule: number[] = [];
  for (const part of parts) {
    const seconds = /^[0-9]{1,7}$/.test(part) ? Number(part) : NaN;
    if (!(seconds >= 1 && seconds <= MAX_RETRY_DELAY_SECONDS)) {
      throw new RangeError(
        `${rule}: ${JSON.stringify(part.slice(0, 20))} is not`,
      );
    }
    schedule.push(seconds);
  }
  return Object.freeze(schedule);
}

/** How many attempts a delivery gets: the first and one per delay. */
export function maxAttempts(schedule: readonly number[]): number {
  return schedule.length + 1;
}

/**
 * When the attempt after `attempt` is due (ms), or undefined when that was
 * the last. The delay is the schedule's, moved by up to ±10 % (uniform in
 * [-10 %, +10 %) from `random`, in whole ms); a `Retry-After` is a floor
 * (capped at 24 hours), not jittered, and never shortens the schedule.
 */
export function nextAttemptAt(input: NextAttemptInput): number | undefined {
  const { attempt, endedAt, schedule, random, retryAfterSeconds } = input;
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`Invalid attempt number: ${attempt}`);
  }
  if (!Number.isFinite(endedAt)) {
    throw new RangeError(`Invalid attempt end: ${endedAt}`);
  }
  // A delivery begun under a longer schedule ends with the one in force now.
  const seconds = schedule[attempt - 1];
  if (seconds === undefined) return undefined;
  const baseMs = seconds * 1000;
  const draw = random();
  if (!(draw >= 0 && draw < 1)) {
    throw new RangeError(`random() must return a number in [0, 1): ${draw}`);
  }
  // baseMs is a whole number of seconds in ms, so a tenth of it is whole and
  // flooring keeps the result inside [0.9, 1.1) × baseMs exactly.
  const spreadMs = baseMs * RETRY_JITTER;
  let delayMs = baseMs + Math.floor((2 * draw - 1) * spreadMs);
  if (retryAfterSeconds !== undefined) {
    if (Number.isNaN(retryAfterSeconds)) {
      throw new RangeError("Invalid Retry-After: NaN");
    }
    const floorMs = Math.ceil(
      Math.min(Math.max(retryAfterSeconds, 0), MAX_RETRY_AFTER_SECONDS) * 1000,
    );
    delayMs = Math.max(delayMs, floorMs);
  }
  return endedAt + delayMs;
}

/**
 * The three forms of an HTTP-date that recipients must read (RFC 9110
 * §5.6.7): IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete
 * RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
 * `Sun Nov  6 08:49:37 1994`. The day of the week is not checked.
 */
const HTTP_DATES = [
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\d{2}) (?<month>[A-Z][a-z]{2}) (?<year>\d{4}) (?<time>\d{2}:\d{2}:\d{2}) GMT$/,
  /^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (?<day>\d{2})-(?<month>[A-Z][a-z]{2})-(?<year>\d{2}) (?<time>\d{2}:\d{2}:\d{2}) GMT$/,
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?<month>[A-Z][a-z]{2}) (?<day>[ \d]\d) (?<time>\d{2}:\d{2}:\d{2}) (?<year>\d{4})$/,
];

const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/**
 * An HTTP-date as ms since the epoch, or undefined. Parsed by hand:
 * `Date.parse` accepts far more than HTTP-dates.
 */
function parseHttpDate(text: string, now: number): number | undefined {
  const groups = HTTP_DATES.map((form) => form.exec(text)?.groups)
    .find((found) => found !== undefined);
  if (!groups) return undefined;
  const month = MONTHS.indexOf(groups.month ?? "");
  const day = Number(groups.day);
  const [hour = 0, minute = 0, second = 0] = (groups.time ?? "").split(":")
    .map(Number);
  let year = Number(groups.year);
  if (groups.year?.length === 2) {
    // RFC 9110: a two-digit year that would lie more than 50 years ahead
    // is the latest year in the past with those digits.
    const thisYear = new Date(now).getUTCFullYear();
    year += Math.floor(thisYear / 100) * 100;
    if (year > thisYear + 50) year -= 100;
  }
  // 60 is a leap second, read as the last second of its minute.
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  const at = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // Date.UTC rolls 31 Feb over into March: such a day is not a date.
  if (new Date(at).getUTCDate() !== day) return undefined;
  return at;
}

/**
 * Reads a `Retry-After` header into whole seconds from `now` (ms): the
 * delay-seconds form, or an HTTP-date (rounded up to the second). A
 * negative delay or a date in the past is 0; anything over 24 hours is 24
 * hours; a missing or unreadable header is undefined.
 */
export function parseRetryAfter(
  header: string | null,
  now: number,
): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  let seconds: number;
  if (/^-?[0-9]+$/.test(text)) {
    seconds = Number(text);
  } else {
    const at = parseHttpDate(text, now);
    if (at === undefined) return undefined;
    seconds = Math.ceil((at - now) / 1000);
  }
  return Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_SECONDS);
}

/**
 * What an attempt means: a 2xx succeeds; any other status (3xx is never
 * followed) fails; 410 also disables the endpoint; 429 and 503 let
 * `Retry-After` set the next delay. A refused address, a timeout and a
 * connection error are their own outcomes and outrank any status, in that
 * order (a refused address sent nothing at all).
 */
export function classifyAttempt(result: AttemptResult): AttemptVerdict {
  const noEffect = { disableEndpoint: false, retryAfterApplies: false };
  if (result.blocked) return { outcome: "blocked_destination", ...noEffect };
  if (result.timedOut) return { outcome: "timeout", ...noEffect };
  if (result.connectionError) {
    return { outcome: "connection_error", ...noEffect };
  }
  const { status } = result;
  if (status === undefined) {
    throw new RangeError(
      "Cannot classify a webhook attempt: it has neither a status nor a failure",
    );
  }
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`Invalid HTTP status: ${status}`);
  }
  return {
    outcome: status >= 200 && status <= 299 ? "succeeded" : "failed",
    disableEndpoint: status === 410,
    retryAfterApplies: status === 429 || status === 503,
  };
}

/**
 * Whether an endpoint is disabled once its last `consecutiveFailedDeliveries`
 * deliveries all failed for good (`WEBHOOK_DISABLE_AFTER`, default 10); a
 * success resets the count to 0.
 */
export function endpointDisabledAfter(
  consecutiveFailedDeliveries: number,
  limit: number = DEFAULT_WEBHOOK_DISABLE_AFTER,
): boolean {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`Invalid failed-delivery limit: ${limit}`);
  }
  if (
    !Number.isSafeInteger(consecutiveFailedDeliveries) ||
    consecutiveFailedDeliveries < 0
  ) {
    throw new RangeError(
      `Invalid failed-delivery count: ${consecutiveFailedDeliveries}`,
    );
  }
  return consecutiveFailedDeliveries >= limit;
}
