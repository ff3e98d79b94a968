/**
 * Liveness and readiness; neither reveals anything internal.
 */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "./env.ts";
import { problemResponse } from "./problem.ts";

/** How long readiness waits for the database. */
const READY_TIMEOUT_MS = 2000;

/** The health sub-app: `/healthz` and `/readyz`. */
export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("timed out")),
          READY_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([deps.store.ping(), timedOut]);
        return c.json({ status: "ready" });
      } catch {
        return problemResponse(c, "unavailable", "The service is not ready");
      } finally {
        clearTimeout(timer);
      }
    });
}
