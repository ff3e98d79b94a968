/**
 * The entry point of `deno task dev` and `deno task start`, and of the
 * Docker image: the service on an embedded database file (created with its
 * folder) or a remote libSQL server. The only module besides `deploy.ts`
 * that reads the environment.
 */
import { ensureDatabaseDirectory, openDatabase } from "./db/client.ts";
import { runService } from "./service.ts";

if (import.meta.main) {
  await runService(Deno.env.toObject(), Deno.args, async (url, options) => {
    await ensureDatabaseDirectory(url);
    return await openDatabase(url, options);
  });
}
