/**
 * `deno task audit:verify`: checks every audit chain in DATABASE_URL
 * (embedded or remote) and exits non-zero at the first broken entry. A line
 * on stderr every 10,000 entries (`--progress-every N`) shows how far it got.
 */
import { verifyAuditLog } from "../db/audit_verifier.ts";
import { progressEveryOrExit, runTask } from "./task_environment.ts";

const CANNOT = "Cannot verify the audit log";
const progressEvery = progressEveryOrExit(CANNOT);

await runTask(CANNOT, async (database) => {
  const { chains, entries, broken } = await verifyAuditLog(database.db, {
    progressEvery,
    onProgress: (progress) =>
      console.error(
        `audit:verify: ${progress.entries} of ${progress.total} entries verified, in ${progress.chains} chains…`,
      ),
  });
  if (broken) {
    console.error(
      `Audit log broken at chain ${broken.chainId}, seq ${broken.chainSeq}: ${broken.reason}`,
    );
    console.error(
      `(${entries} entries in ${chains} chains verified before it)`,
    );
    Deno.exitCode = 1;
  } else {
    console.log(`Audit log verified: ${entries} entries in ${chains} chains`);
  }
});
