/**
 * Liveness and readiness; neither reveals anything internal. Why the service
 * is not ready goes to the log (`readiness.failed`), never to the client.
 */
import { Hono } from "hono";
import { errorFields, errorSummary } from "../error_fields.ts";
import type { LogFields } from "../logger.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { problemResponse } from "./problem.ts";

/** How long readiness waits for the database. */
const READY_TIMEOUT_MS = 2000;

const TIMED_OUT = Symbol("timed out");

/** The health sub-app: `/healthz` and `/readyz`. */
export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const notReady = await readinessProblem(deps);
      if (notReady === undefined) return c.json({ status: "ready" });
      deps.logger.log("warn", "readiness.failed", {
        request_id: c.get("requestId"),
        ...notReady,
      });
      return problemResponse(c, "unavailable", "The service is not ready");
    });
}

/**
 * The log fields saying why the service is not ready (`reason`, and the
 * error's fields when the database failed), or undefined when it is ready.
 */
async function readinessProblem(
  deps: AppDeps,
): Promise<LogFields | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), READY_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([deps.store.ping(), timedOut]);
    if (outcome === TIMED_OUT) {
      return {
        reason: `database did not answer within ${READY_TIMEOUT_MS} ms`,
      };
    }
    return outcome === undefined ? undefined : { reason: outcome };
  } catch (error) {
    return {
      reason: `database check failed: ${errorSummary(error)}`,
      ...errorFields(error),
    };
  } finally {
    clearTimeout(timer);
  }
}
