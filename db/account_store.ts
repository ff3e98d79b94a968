/**
 * The libSQL implementation of `AccountStore`: account state and its audit
 * chain (`user:<id>`), written together in one batch.
 */
import { eq } from "drizzle-orm";
import type { InValue } from "@libsql/client/web";
import type { AccountState } from "../domain/account.ts";
import { type AuditSealer, userChainId } from "../domain/audit.ts";
import type { AccountStore } from "../domain/ports.ts";
import { appendAuditEntry, writeAppendingBatch } from "./audit_append.ts";
import { chainHeadQuery, listChain } from "./audit_rows.ts";
import type { Db } from "./database.ts";
import { type AccountRow, accounts } from "./schema.ts";

/**
 * Creates the account store over an open database; `auditSealer` seals its
 * audit entries under the audit key.
 */
export function createAccountStore(
  db: Db,
  options: { auditSealer: AuditSealer },
): AccountStore {
  return {
    async findAccount(userId) {
      const rows = await db.select().from(accounts).where(
        eq(accounts.userId, userId),
      );
      const row = rows[0];
      return row ? accountFields(row) : undefined;
    },

    async findAccountForChange(userId) {
      const [rows, heads] = await db.batch([
        db.select().from(accounts).where(eq(accounts.userId, userId)),
        chainHeadQuery(db, userChainId(userId)),
      ]);
      const row = rows[0];
      const head = heads[0];
      return {
        account: row ? accountFields(row) : undefined,
        lastAuditSeq: head?.seq ?? 0,
        lastAuditHash: head?.hash ?? "",
      };
    },

    async writeAccount(account, entry) {
      if (entry.chainId !== userChainId(account.userId)) {
        throw new Error(
          `Audit entry ${entry.chainId}#${entry.chainSeq} is not in the chain of user ${account.userId}`,
        );
      }
      const row = accountFields(account);
      const upsert = db.insert(accounts).values(row).onConflictDoUpdate({
        target: accounts.userId,
        set: {
          disabledAt: row.disabledAt,
          tokensRevokedBefore: row.tokensRevokedBefore,
          updatedAt: row.updatedAt,
        },
      }).toSQL();
      // One transaction: if the chain position is taken, the state written
      // before it is rolled back too, and the caller plans again.
      const written = await writeAppendingBatch(db.$client, [
        { sql: upsert.sql, args: upsert.params as InValue[] },
        appendAuditEntry(entry, { sealer: options.auditSealer }),
      ]);
      return written !== undefined;
    },

    listUserEvents(userId) {
      return listChain(db, userChainId(userId));
    },
  };
}

/**
 * An account's fields, copied one by one: a row and an account state have
 * the same four, so one copy serves reading a row and writing one, and
 * nothing else on either side passes.
 */
function accountFields(account: AccountState): AccountRow {
  return {
    userId: account.userId,
    disabledAt: account.disabledAt,
    tokensRevokedBefore: account.tokensRevokedBefore,
    updatedAt: account.updatedAt,
  };
}
