/**
 * The clock a process tree runs on. CI runs the tests under libfaketime
 * (`faketime`), which reaches a process through `LD_PRELOAD` and the
 * `FAKETIME…` variables: a child started with a cleared environment must be
 * given them to stay on its parent's clock, and a third-party server that
 * cannot run under libfaketime (`redis-server` aborts) must be started without
 * them. Neither kind of server reads the project's times.
 */

function isClockVariable(name: string): boolean {
  return name === "LD_PRELOAD" || name.startsWith("FAKETIME") ||
    name === "DONT_FAKE_MONOTONIC" || name === "NO_FAKE_STAT";
}

/** The variables that put a child on this process's clock (none on a real clock). */
export function clockEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      isClockVariable(name)
    ),
  );
}

/** This process's environment without a shifted clock, for a third-party server. */
export function realClockEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      !isClockVariable(name)
    ),
  );
}
