/**
 * Liveness and readiness; neither reveals anything internal. Why the service
 * is not ready goes to the log (`readiness.failed`), never to the client.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { errorFields, errorSummary } from "../error_fields.ts";
import type { LogFields } from "../logger.ts";
import type { AppDeps, AppEnv } from "./env.ts";
import { documented } from "./openapi/documented.ts";
import { problemExample } from "./openapi/examples.ts";
import { json, problems } from "./openapi/responses.ts";
import { problemResponse } from "./http/problem.ts";
import { healthSchema, readinessSchema } from "./openapi/response_schemas.ts";
import { logRequestIds } from "./middleware/request_id.ts";

/** Why the service says it is not ready (503); the reason goes to the log. */
export const NOT_READY = "The service is not ready";

/** How long readiness waits for the database. */
const READY_TIMEOUT_MS = 2000;

const TIMED_OUT = Symbol("timed out");

/** The health sub-app: `/healthz` and `/readyz`. */
export function healthRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  documented(app, {
    method: "get",
    path: "/healthz",
    operationId: "getHealth",
    tags: ["Health"],
    summary: "Liveness",
    description: "200 while the process serves requests. Reveals nothing.",
    security: [],
    responses: {
      200: json("The process is up.", healthSchema, {
        examples: { ok: { summary: "Up", value: { status: "ok" } } },
      }),
    },
  }, (c) => c.json({ status: "ok" as const }, 200));

  documented(app, {
    method: "get",
    path: "/readyz",
    operationId: "getReadiness",
    tags: ["Health"],
    summary: "Readiness",
    description:
      "200 when the database answers within 2 s and its schema is at the last migration this release ships (or newer), else 503 without saying why (the service logs `readiness.failed` with the reason).",
    security: [],
    responses: {
      200: json("Ready to serve.", readinessSchema, {
        examples: { ready: { summary: "Ready", value: { status: "ready" } } },
      }),
      503: problems(
        "The database did not answer, or its schema lags the release.",
        [problemExample("unavailable", "Not ready", NOT_READY)],
      ),
    },
  }, async (c) => {
    const notReady = await readinessProblem(deps);
    if (notReady === undefined) {
      return c.json({ status: "ready" as const }, 200);
    }
    deps.logger.log("warn", "readiness.failed", {
      ...logRequestIds(c),
      ...notReady,
    });
    return problemResponse(c, "unavailable", NOT_READY);
  });

  return app;
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
