/**
 * The one audit write path (`db/audit_append.ts`): an entry it appends has
 * the hash `auditHashInput` + SHA-256 gives over the stored row, passes the
 * audit verifier, goes in only when its guard holds, and a taken chain
 * position is a lost race with nothing written.
 */
import assert from "node:assert/strict";
import type { Client, Row } from "@libsql/client/web";
import {
  appendAuditEntry,
  PREVIOUS_CHANGED_ONE_ROW,
  writeAppendingBatch,
} from "../../db/audit_append.ts";
import { verifyAuditLog } from "../../db/audit_verifier.ts";
import {
  accountChangedEntry,
  auditHashInput,
  GENESIS_HASH,
  nextChainPosition,
  parseAuditAction,
  type PlacedAuditDraft,
  sha256Hex,
  userChainId,
} from "../../domain/audit.ts";
import { ADMIN } from "../fixtures/domain.ts";
import { withMigratedDatabase } from "../fixtures/mod.ts";

const CHAIN = userChainId(42);

/** User 42's account disabled at `at`, placed after `head`. */
function disabledEntry(
  at: number,
  head: { seq: number; hash: string } | undefined,
): PlacedAuditDraft {
  const enabled = { disabledAt: null, tokensRevokedBefore: null };
  return {
    ...accountChangedEntry(enabled, { ...enabled, disabledAt: at }, {
      action: "account.disabled",
      actor: ADMIN,
      requestId: `request-${at}`,
      at,
    }),
    ...nextChainPosition(CHAIN, head),
  };
}

async function chainRows(client: Client): Promise<Row[]> {
  const { rows } = await client.execute({
    sql: "SELECT * FROM audit_log WHERE chain_id = ? ORDER BY chain_seq",
    args: [CHAIN],
  });
  return rows;
}

/** The hash of a stored row, recomputed with `auditHashInput` and WebCrypto. */
async function expectedHash(row: Row): Promise<string> {
  return await sha256Hex(auditHashInput({
    chainId: String(row.chain_id),
    chainSeq: Number(row.chain_seq),
    prevHash: String(row.prev_hash),
    orderId: row.order_id === null ? null : String(row.order_id),
    action: parseAuditAction(String(row.action)),
    actorUserId: Number(row.actor_user_id),
    actorRoles: JSON.parse(String(row.actor_roles)),
    requestId: String(row.request_id),
    at: Number(row.at),
    changesJson: String(row.changes),
  }));
}

Deno.test("appendAuditEntry seals an entry as auditHashInput + SHA-256 over the stored row, and the verifier accepts it", () =>
  withMigratedDatabase(async ({ client, db }) => {
    const first = disabledEntry(1_000, undefined);
    assert.ok(
      await writeAppendingBatch(client, [await appendAuditEntry(first)]),
    );
    const [stored] = await chainRows(client);
    assert.ok(stored);
    assert.equal(stored.prev_hash, GENESIS_HASH);
    assert.match(String(stored.hash), /^[0-9a-f]{64}$/);
    assert.equal(stored.hash, await expectedHash(stored));

    const second = disabledEntry(2_000, {
      seq: 1,
      hash: String(stored.hash),
    });
    assert.ok(
      await writeAppendingBatch(client, [await appendAuditEntry(second)]),
    );
    const rows = await chainRows(client);
    assert.deepEqual(rows.map((row) => row.chain_seq), [1, 2]);
    assert.equal(rows[1]!.prev_hash, stored.hash);
    assert.equal(rows[1]!.hash, await expectedHash(rows[1]!));
    assert.equal(rows[1]!.changes, JSON.stringify(second.changes));
    assert.deepEqual(await verifyAuditLog(db), {
      chains: 1,
      entries: 2,
      broken: undefined,
    });
  }));

Deno.test("appendAuditEntry appends only when its guard holds, in the caller's batch", () =>
  withMigratedDatabase(async ({ client }) => {
    const entry = disabledEntry(1_000, undefined);
    const changesNothing = {
      sql: "UPDATE accounts SET updated_at = 0 WHERE user_id = -1",
      args: [],
    };
    const written = await writeAppendingBatch(client, [
      changesNothing,
      await appendAuditEntry(entry, { onlyIf: PREVIOUS_CHANGED_ONE_ROW }),
    ]);
    assert.equal(written?.[1]?.rowsAffected, 0);
    assert.deepEqual(await chainRows(client), []);
  }));

Deno.test("writeAppendingBatch answers a taken chain position with undefined and writes nothing of the batch", () =>
  withMigratedDatabase(async ({ client }) => {
    await writeAppendingBatch(client, [
      await appendAuditEntry(disabledEntry(1_000, undefined)),
    ]);
    const late = disabledEntry(2_000, undefined);
    const written = await writeAppendingBatch(client, [
      {
        sql: "INSERT INTO accounts (user_id, updated_at) VALUES (42, 2000)",
        args: [],
      },
      await appendAuditEntry(late),
    ]);
    assert.equal(written, undefined);
    const accounts = await client.execute("SELECT count(*) AS n FROM accounts");
    assert.equal(accounts.rows[0]?.n, 0, "the batch was rolled back");
    assert.deepEqual((await chainRows(client)).map((row) => row.at), [1_000]);
  }));
