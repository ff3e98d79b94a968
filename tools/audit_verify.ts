/**
 * `deno task audit:verify`: checks every audit chain in DATABASE_URL
 * (embedded or remote) and exits non-zero at the first broken entry.
 */
import { verifyAuditLog } from "../db/audit_verifier.ts";
import { openExistingDatabase } from "./task_environment.ts";

const database = await openExistingDatabase("Cannot verify the audit log");
try {
  const { chains, entries, broken } = await verifyAuditLog(database.db);
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
} finally {
  database.close();
}
