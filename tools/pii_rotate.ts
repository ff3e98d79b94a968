/**
 * `deno task pii:rotate`: re-wraps every live data key in DATABASE_URL
 * under PII_ENCRYPTION_KEY, unwrapping each with that key or with
 * PII_ENCRYPTION_KEY_PREVIOUS. Data keys and encrypted fields do not change.
 * Safe while the service runs, and safe to run again. `--dev` accepts the
 * dev key as the current one (for a `deno task dev` database).
 */
import { openExistingDatabase, piiKeysOrExit } from "./task_environment.ts";
import { createPersonalDataStore } from "../db/personal_data_store.ts";
import { importMasterKeys } from "../pii/cipher.ts";
import { rewrapDataKeys } from "../pii/rotation.ts";

const keys = piiKeysOrExit("Cannot rotate");
const masters = await importMasterKeys(keys);
const current = masters[0]!;

const database = await openExistingDatabase("Cannot rotate");
try {
  const store = createPersonalDataStore(database.db, {
    embedded: database.embedded,
  });
  const report = await rewrapDataKeys(store, masters);
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
} finally {
  database.close();
}
