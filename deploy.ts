/**
 * The entry point on Deno Deploy (`deploy.entrypoint` in deno.json): the
 * service on a remote libSQL server (Turso) only. Nothing it imports refers
 * to the native libSQL driver, so Deploy neither loads nor resolves it; an
 * embedded `DATABASE_URL` (or none) is refused with a `Cannot start:` line.
 *
 * Webhooks: an isolate delivers what its own writes queue while it lives,
 * and `Deno.cron` (registered here, at the top level, as Deploy requires)
 * sweeps the outbox every minute for retries and for deliveries an isolate
 * left behind. Runs never overlap; each stops leasing new work after
 * `SWEEP_MS`, within its minute.
 */
import { openRemoteDatabase } from "./db/database.ts";
import { type RunningService, runService } from "./service.ts";

/** How long one sweep leases new deliveries, in ms. */
const SWEEP_MS = 50_000;

/** `Deno.cron`, where the runtime has it (Deploy; locally with --unstable-cron). */
const cron = (Deno as unknown as {
  cron?: (name: string, schedule: string, run: () => Promise<void>) => unknown;
}).cron;

const service: Promise<RunningService> = runService(
  Deno.env.toObject(),
  [],
  openRemoteDatabase,
);
cron?.(
  "webhook deliveries",
  "* * * * *",
  async () => await (await service).drainWebhooks(Date.now() + SWEEP_MS),
);
await service;
