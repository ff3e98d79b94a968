/**
 * Structured logs: one JSON line per event, with an `event` name. Callers
 * never pass bearer tokens or shipping addresses.
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Fields of a log line besides `event`, `level` and `at`. */
export type LogFields = Record<string, unknown>;

/** Writes structured log lines. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

/** A logger that writes JSON lines at or above `level` through `write`. */
export function createJsonLogger(
  level: LogLevel,
  write: (line: string) => void,
  now: () => number = Date.now,
): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  return {
    log(lineLevel, event, fields = {}) {
      if (LOG_LEVELS.indexOf(lineLevel) < threshold) return;
      write(JSON.stringify({
        event,
        level: lineLevel,
        at: new Date(now()).toISOString(),
        ...fields,
      }));
    },
  };
}
