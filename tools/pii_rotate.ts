/**
 * `deno task pii:rotate`: re-wraps every live data key in DATABASE_URL
 * under PII_ENCRYPTION_KEY, unwrapping each with that key or with
 * PII_ENCRYPTION_KEY_PREVIOUS. Data keys and encrypted fields do not change.
 * Safe while the service runs, and safe to run again. `--dev` accepts the
 * dev key as the current one (for a `deno task dev` database). A line on
 * stderr every 1,000 keys (`--progress-every N`) shows how far it got.
 */
import { rewrapDataKeys } from "../pii/rotation.ts";
import { runPiiTask } from "./pii_task.ts";

await runPiiTask("Cannot rotate", async ({ store, masters, progressEvery }) => {
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
  if (report.unreadable > 0) {
    console.error(
      `${report.unreadable} data keys could not be unwrapped with the configured master keys: set PII_ENCRYPTION_KEY_PREVIOUS to the key that wrapped them and run again`,
    );
    Deno.exitCode = 1;
  }
});
