/**
 * What the maintenance tasks on personal data (`pii:rotate`,
 * `pii:encrypt-existing`) share: the master keys and `--progress-every`,
 * read before anything else, and the personal data store of the database
 * they run on.
 */
import type { Database } from "../db/client.ts";
import {
  createPersonalDataStore,
  type PersonalDataStore,
} from "../db/personal_data_store.ts";
import { importMasterKeys, type MasterKey } from "../pii/cipher.ts";
import {
  piiKeysOrExit,
  progressEveryOrExit,
  runTask,
} from "./task_environment.ts";

/** What a task on personal data works with. */
export interface PiiTask {
  readonly database: Database;
  /** The personal data of `database`. */
  readonly store: PersonalDataStore;
  /** The master keys: the current one first, then the previous one, if set. */
  readonly masters: MasterKey[];
  /** `--progress-every N`; undefined without the flag. */
  readonly progressEvery: number | undefined;
}

/**
 * `runTask` for a task on personal data: exits as `piiKeysOrExit` and
 * `progressEveryOrExit` do when the keys or the flag are wrong, then runs
 * `task` with the keys, the flag and the store.
 */
export async function runPiiTask(
  cannot: string,
  task: (work: PiiTask) => Promise<void>,
): Promise<void> {
  const keys = piiKeysOrExit(cannot);
  const progressEvery = progressEveryOrExit(cannot);
  const masters = await importMasterKeys(keys);
  await runTask(cannot, (database) =>
    task({
      database,
      store: createPersonalDataStore(database.db, {
        embedded: database.embedded,
      }),
      masters,
      progressEvery,
    }));
}
