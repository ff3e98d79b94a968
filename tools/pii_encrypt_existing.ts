/**
 * `deno task pii:encrypt-existing`: encrypts the shipping addresses that
 * were stored in plain text before encryption was enabled, in `orders` and
 * in stored idempotent responses, under each owner's data key. Audit
 * entries are append-only and hash-chained: plain text in them stays as
 * written and is only counted. On an embedded database the file is then
 * checkpointed and vacuumed so the old plain text does not linger in free
 * pages. Safe while the service runs, and safe to run again. `--dev`
 * accepts the dev key (for a `deno task dev` database). A line on stderr
 * every 1,000 plain-text rows (`--progress-every N`) shows how far it got.
 */
import { sql } from "drizzle-orm";
import { createKeyring } from "../pii/keyring.ts";
import { encryptPlainPersonalData } from "../pii/plain_text.ts";
import { runPiiTask } from "./pii_task.ts";

await runPiiTask(
  "Cannot encrypt",
  async ({ database, store, masters, progressEvery }) => {
    const keyring = createKeyring(store, {
      masters,
      clock: { now: () => Date.now() },
    });
    const { orders, responses } = await encryptPlainPersonalData(
      store,
      keyring,
      {
        progressEvery,
        onProgress: (progress) =>
          console.error(
            `pii:encrypt-existing: ${progress.rows} plain-text rows handled, ${progress.orders} order addresses and ${progress.responses} stored responses encrypted…`,
          ),
      },
    );
    const plainAudit = await store.countPlainAuditEntries();
    if (database.embedded) {
      await database.db.run(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
      await database.db.run(sql`VACUUM`);
    }
    console.log(
      `Encrypted ${orders} order addresses and ${responses} stored responses`,
    );
    if (plainAudit > 0) {
      console.log(
        `${plainAudit} audit entries hold addresses in plain text, written before encryption was enabled: the audit log is append-only, so they stay as written (see docs/personal-data.md, "Upgrading a database written before encryption")`,
      );
    }
  },
);
