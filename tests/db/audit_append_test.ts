/**
 * The one audit write path (`db/audit_append.ts`): an entry it appends is
 * sealed with HMAC-SHA256 under the audit key over `auditHashInput` of the
 * stored row (checked here with WebCrypto, an implementation of its own),
 * records its scheme and key id, passes the audit verifier, goes in only
 * when its guard holds, and a taken chain position is a lost race with
 * nothing written. The database refuses an unkeyed entry.
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
  type PlacedAuditDraft,
  userChainId,
} from "../../domain/audit.ts";
import { ADMIN } from "../fixtures/domain.ts";
import {
  auditRowFields,
  TEST_AUDIT_KEY,
  TEST_AUDIT_SEALER,
  withMigratedDatabase,
} from "../fixtures/mod.ts";

const sealer = TEST_AUDIT_SEALER;
const keys = new Map([[sealer.keyId, sealer]]);

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

/**
 * The seal of a stored row, recomputed with `auditHashInput` and WebCrypto's
 * HMAC-SHA256 under `TEST_AUDIT_KEY`.
 */
async function expectedHash(row: Row): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(TEST_AUDIT_KEY), (c) => c.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const text = auditHashInput({
    seal: "hmac-sha256",
    keyId: String(row.key_id),
    ...auditRowFields(row),
  });
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(mac),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

Deno.test("appendAuditEntry seals an entry as auditHashInput + HMAC-SHA256 under the audit key over the stored row, and the verifier accepts it", () =>
  withMigratedDatabase(async ({ client, db }) => {
    const first = disabledEntry(1_000, undefined);
    assert.ok(
      await writeAppendingBatch(client, [appendAuditEntry(first, { sealer })]),
    );
    const [stored] = await chainRows(client);
    assert.ok(stored);
    assert.equal(stored.prev_hash, GENESIS_HASH);
    assert.equal(stored.seal, "hmac-sha256");
    assert.equal(stored.key_id, sealer.keyId);
    assert.match(sealer.keyId, /^[0-9a-f]{16}$/);
    assert.match(String(stored.hash), /^[0-9a-f]{64}$/);
    assert.equal(stored.hash, await expectedHash(stored));

    const second = disabledEntry(2_000, {
      seq: 1,
      hash: String(stored.hash),
    });
    assert.ok(
      await writeAppendingBatch(client, [appendAuditEntry(second, { sealer })]),
    );
    const rows = await chainRows(client);
    assert.deepEqual(rows.map((row) => row.chain_seq), [1, 2]);
    assert.equal(rows[1]!.prev_hash, stored.hash);
    assert.equal(rows[1]!.hash, await expectedHash(rows[1]!));
    assert.equal(rows[1]!.changes, JSON.stringify(second.changes));
    assert.deepEqual(await verifyAuditLog(db, { keys }), {
      chains: 1,
      entries: 2,
      broken: undefined,
      unkeyed: 0,
      sealsUnchecked: 0,
      checkpointMismatch: undefined,
    });
  }));

Deno.test("the database refuses an unkeyed entry", () =>
  withMigratedDatabase(async ({ client }) => {
    const { sql, args } = appendAuditEntry(disabledEntry(1_000, undefined), {
      sealer,
    }) as { sql: string; args: (string | number | null)[] };
    // The same row, claiming the unkeyed scheme of the entries written before.
    await assert.rejects(
      client.execute({
        sql,
        args: args.map((a) => a === "hmac-sha256" ? "sha256" : a),
      }),
      /sealed under the audit key/,
    );
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
      appendAuditEntry(entry, { sealer, onlyIf: PREVIOUS_CHANGED_ONE_ROW }),
    ]);
    assert.equal(written?.[1]?.rowsAffected, 0);
    assert.deepEqual(await chainRows(client), []);
  }));

Deno.test("writeAppendingBatch answers a taken chain position with undefined and writes nothing of the batch", () =>
  withMigratedDatabase(async ({ client }) => {
    await writeAppendingBatch(client, [
      appendAuditEntry(disabledEntry(1_000, undefined), { sealer }),
    ]);
    const late = disabledEntry(2_000, undefined);
    const written = await writeAppendingBatch(client, [
      {
        sql: "INSERT INTO accounts (user_id, updated_at) VALUES (42, 2000)",
        args: [],
      },
      appendAuditEntry(late, { sealer }),
    ]);
    assert.equal(written, undefined);
    const accounts = await client.execute("SELECT count(*) AS n FROM accounts");
    assert.equal(accounts.rows[0]?.n, 0, "the batch was rolled back");
    assert.deepEqual((await chainRows(client)).map((row) => row.at), [1_000]);
  }));
