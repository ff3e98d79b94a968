/**
 * The blocks of docs/webhooks.md that restate the code, written by
 * `deno task docs:generate` (tools/docs_generate.ts): the `WEBHOOK_*`
 * settings with their defaults, the default retry schedule, and the
 * address blocks a delivery never goes to. Each is a function of the
 * constants it shows, so the docs cannot disagree with them.
 */
import { SPECIAL_ADDRESS_RANGES } from "../domain/webhook_destination.ts";
import {
  DEFAULT_WEBHOOK_CONCURRENCY,
  DEFAULT_WEBHOOK_MAX_ENDPOINTS,
  DEFAULT_WEBHOOK_POLL_MS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
} from "../domain/webhooks.ts";
import {
  DEFAULT_WEBHOOK_DISABLE_AFTER,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE,
  MAX_RETRY_DELAY_SECONDS,
  MAX_RETRY_SCHEDULE_LENGTH,
  RETRY_JITTER,
} from "../domain/webhook_schedule.ts";

/** The `WEBHOOK_*` variables, what each means and its default. */
export function webhookSettingsTable(): string {
  const rows: [string, string, string][] = [
    [
      "WEBHOOK_MAX_ENDPOINTS",
      "endpoints that may be registered; one more is 409",
      `\`${DEFAULT_WEBHOOK_MAX_ENDPOINTS}\``,
    ],
    [
      "WEBHOOK_TIMEOUT_MS",
      "how long an attempt may take before it fails as `timeout`, in milliseconds",
      `\`${DEFAULT_WEBHOOK_TIMEOUT_MS}\``,
    ],
    [
      "WEBHOOK_CONCURRENCY",
      "attempts in flight per endpoint",
      `\`${DEFAULT_WEBHOOK_CONCURRENCY}\``,
    ],
    [
      "WEBHOOK_RETRY_SCHEDULE",
      `seconds between attempts after the first, comma-separated (each 1 to ${MAX_RETRY_DELAY_SECONDS}, at most ${MAX_RETRY_SCHEDULE_LENGTH} of them), each moved by up to ±${
        RETRY_JITTER * 100
      } %`,
      `\`${DEFAULT_WEBHOOK_RETRY_SCHEDULE.join(",")}\``,
    ],
    [
      "WEBHOOK_DISABLE_AFTER",
      "deliveries in a row that failed for good before the endpoint is disabled",
      `\`${DEFAULT_WEBHOOK_DISABLE_AFTER}\``,
    ],
    [
      "WEBHOOK_POLL_MS",
      "how often each instance looks for due deliveries (retries, and what other instances queued), in milliseconds; its own writes wake it at once",
      `\`${DEFAULT_WEBHOOK_POLL_MS}\``,
    ],
    [
      "WEBHOOK_ALLOW_HOSTS",
      "comma-separated host names or IP literals exempt from the public-address rule, which may also use `http://`",
      "empty",
    ],
  ];
  return [
    "| variable | meaning | default |",
    "|---|---|---|",
    ...rows.map(([name, meaning, value]) =>
      `| \`${name}\` | ${meaning} | ${value} |`
    ),
  ].join("\n");
}

/** When each attempt of a delivery is made under the default schedule. */
export function webhookRetryTable(): string {
  const jitter = `± ${RETRY_JITTER * 100} %`;
  const rows = [
    "| attempt | after the previous one ends | since the first, about |",
  ];
  rows.push("|---|---|---|", "| 1 | at once | 0 |");
  let total = 0;
  DEFAULT_WEBHOOK_RETRY_SCHEDULE.forEach((seconds, index) => {
    total += seconds;
    rows.push(
      `| ${index + 2} | ${duration(seconds)} ${jitter} | ${duration(total)} |`,
    );
  });
  return rows.join("\n");
}

/** The address blocks a delivery never connects to (unless allowed). */
export function addressRangesTable(): string {
  return [
    "| block | what it is | reserved by |",
    "|---|---|---|",
    ...SPECIAL_ADDRESS_RANGES.map((range) =>
      `| ${range.cidr} | ${range.name} | ${range.reference} |`
    ),
  ].join("\n");
}

/** Seconds as `2 h 35 min 5 s`, leaving out the parts that are zero. */
function duration(seconds: number): string {
  const parts = [
    [Math.floor(seconds / 3600), "h"],
    [Math.floor(seconds % 3600 / 60), "min"],
    [seconds % 60, "s"],
  ] as const;
  return parts.filter(([value]) => value > 0)
    .map(([value, unit]) => `${value} ${unit}`).join(" ") || "0 s";
}
