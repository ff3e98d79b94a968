/**
 * `deno task audit:verify`: checks every audit chain in DATABASE_URL
 * (embedded or remote) and exits non-zero at the first broken entry.
 */
import { verifyAuditLog } from "../db/audit_verifier.ts";
import { openDatabase } from "../db/client.ts";

const url = Deno.env.get("DATABASE_URL") ?? "file:./data/orders.db";
if (url.startsWith("file:") && !(await exists(url.slice("file:".length)))) {
  console.error(`Cannot verify the audit log: no database at ${url}`);
  Deno.exit(2);
}
const database = await openDatabase(url, {
  authToken: Deno.env.get("DATABASE_AUTH_TOKEN"),
});
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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
