/**
 * The entry point on Deno Deploy (`deploy.entrypoint` in deno.json): the
 * service on a remote libSQL server (Turso) only. Nothing it imports refers
 * to the native libSQL driver, so Deploy neither loads nor resolves it; an
 * embedded `DATABASE_URL` (or none) is refused with a `Cannot start:` line.
 */
import { openRemoteDatabase } from "./db/database.ts";
import { runService } from "./service.ts";

await runService(Deno.env.toObject(), [], openRemoteDatabase);
