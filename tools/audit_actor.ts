/**
 * `deno task audit:actor --user 42 [--since 2026-11-28T00:00:00Z]`: every
 * audit entry a user made (in any chain) and every admin action on their
 * account, oldest first, as JSON lines: what a compromised account changed,
 * for incident response. Reads DATABASE_URL like `audit:verify`.
 */
import { parseArgs } from "node:util";
import { and, asc, eq, gte, or } from "drizzle-orm";
import { rowToAuditEntry } from "../db/audit_rows.ts";
import { auditLog } from "../db/schema.ts";
import { userChainId } from "../domain/audit.ts";
import { parseUserIdText } from "../domain/principal.ts";
import { openExistingDatabase } from "./task_environment.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { user: { type: "string" }, since: { type: "string" } },
});
const userId = parseUserIdText(values.user ?? "");
const since = values.since === undefined ? 0 : Date.parse(values.since);
if (userId === undefined || Number.isNaN(since)) {
  console.error(
    "Usage: deno task audit:actor --user <user id> [--since <ISO time>]",
  );
  Deno.exit(2);
}
const database = await openExistingDatabase("Cannot list the entries");
try {
  const rows = await database.db.select().from(auditLog).where(and(
    or(
      eq(auditLog.actorUserId, userId),
      eq(auditLog.chainId, userChainId(userId)),
    ),
    gte(auditLog.at, since),
  )).orderBy(asc(auditLog.at), asc(auditLog.seq));
  for (const entry of rows.map(rowToAuditEntry)) {
    console.log(JSON.stringify({
      at: new Date(entry.at).toISOString(),
      chain: entry.chainId,
      seq: entry.chainSeq,
      action: entry.action,
      actor: { user_id: entry.actorUserId, roles: entry.actorRoles },
      request_id: entry.requestId,
      changes: entry.changes,
    }));
  }
  console.error(`${rows.length} entries`);
} finally {
  database.close();
}
