/**
 * `deno task pii:rotate`: re-wraps every live data key in DATABASE_URL
 * under PII_ENCRYPTION_KEY, unwrapping each with that key or with
 * PII_ENCRYPTION_KEY_PREVIOUS, and seals the webhook endpoints' secrets
 * under it again. Data keys and encrypted fields do not change.
 * Safe while the service runs, and safe to run again. `--dev` accepts the
 * dev key as the current one (for a `deno task dev` database). A line on
 * stderr every 1,000 keys (`--progress-every N`) shows how far it got.
 */
import { resealWebhookSecrets } from "../db/webhook_store.ts";
import { rewrapDataKeys } from "../pii/rotation.ts";
import { runPiiTask } from "./pii_task.ts";

await runPiiTask("Cannot rotate", async (
  { database, store, masters, progressEvery },
) => {
  const current = masters[0]!;
  const report = await rewrapDataKeys(store, masters, {
    progressEvery,
    onProgress: (progress) =>
      console.error(
        `pii:rotate: ${progress.done} of ${progress.total} data keys handled, ${progress.rewrapped} re-wrapped…`,
      ),
  });
  const remaining = await store.countKeysNotWrappedBy([current.id]);
  console.log(
    `Re-wrapped ${report.rewrapped} data keys under master key ${current.id}; ${remaining} live data keys are still wrapped by another master key`,
  );
  // Webhook secrets are sealed by the master key directly.
  const secrets = await resealWebhookSecrets(database.db, masters);
  if (secrets.resealed > 0) {
    console.log(
      `Sealed ${secrets.resealed} webhook secrets again under master key ${current.id}`,
    );
  }
  if (secrets.unreadable > 0) {
    console.error(
      `${secrets.unreadable} webhook secrets could not be opened with the configured master keys: set PII_ENCRYPTION_KEY_PREVIOUS to the key that sealed them and run again, or rotate those endpoints' secrets`,
    );
    Deno.exitCode = 1;
  }
  if (report.unreadable > 0) {
    console.error(
      `${report.unreadable} data keys could not be unwrapped with the configured master keys: set PII_ENCRYPTION_KEY_PREVIOUS to the key that wrapped them and run again`,
    );
    Deno.exitCode = 1;
  }
});
