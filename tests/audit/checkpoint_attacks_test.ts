/**
 * The attacks on the audit log, each against a real database file, and what
 * finds them: the audit key's seals (an edit, a tail recomputed with
 * unkeyed SHA-256, a reordering), and only the signed checkpoints (a tail
 * recomputed with the audit key itself, a truncated tail, a removed chain),
 * while the checkpoints themselves cannot be replayed or forged. An
 * untouched database, and one where personal data was erased since,
 * verifies clean against every checkpoint.
 */
import assert from "node:assert/strict";
import { createCheckpointer } from "../../audit/checkpointer.ts";
import { checkEvidence, checkpointsInText } from "../../audit/evidence.ts";
import {
  base64Key,
  createAuditSealer,
  createCheckpointSigner,
  createCheckpointVerifier,
} from "../../audit/keys.ts";
import {
  type AuditVerification,
  verifyAuditLog,
} from "../../db/audit_verifier.ts";
import { openDatabase } from "../../db/client.ts";
import {
  auditHashInput,
  type AuditSealer,
  sha256Hex,
} from "../../domain/audit.ts";
import {
  CHECKPOINT_EVENT,
  checkpointJson,
  type SignedCheckpoint,
} from "../../domain/audit_checkpoint.ts";
import { createJsonLogger } from "../../logger.ts";
import {
  auditRowFields,
  createTestContext,
  orderBody,
  runTool,
  TEST_AUDIT_KEY,
  TEST_AUDIT_SEALER,
  TEST_AUDIT_SIGNING_KEY,
  type TestContext,
  withTempDir,
} from "../fixtures/mod.ts";

const keys = new Map([[TEST_AUDIT_SEALER.keyId, TEST_AUDIT_SEALER]]);
const signer = createCheckpointSigner(base64Key(TEST_AUDIT_SIGNING_KEY)!);
const verifier = createCheckpointVerifier([signer.publicKey]);

/** A database file with two orders, user 42's account chain, and checkpoints. */
interface Scenario {
  ctx: TestContext;
  url: string;
  /** The two order chains (3 and 2 entries) and the user chain (2 entries). */
  chains: { a: string; b: string; user: string };
  /** The checkpoints published so far, as the service's log lines. */
  checkpoints: SignedCheckpoint[];
  /** Makes the next checkpoint (undefined when nothing changed). */
  checkpoint(): Promise<SignedCheckpoint | undefined>;
}

async function scenario(dir: string, name: string): Promise<Scenario> {
  const url = `file:${dir}/${name}.db`;
  const ctx = await createTestContext({ url });
  const checkpoints: SignedCheckpoint[] = [];
  const checkpointer = createCheckpointer({
    db: ctx.database.db,
    signer,
    clock: ctx.clock,
    instance: "test-instance",
    publish: (signed) => {
      checkpoints.push(signed);
      return Promise.resolve();
    },
  });
  const owner = await ctx.token(42);
  const admin = await ctx.token(9, ["admin"]);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const created = await ctx.call("POST", "/v1/orders", owner, orderBody());
    assert.equal(created.status, 201);
    ids.push(created.body.id);
  }
  const first = await checkpointer.checkpoint();
  assert.ok(first, "the first checkpoint of a log with entries");
  for (
    const [index, token, body] of [
      [0, admin, { status: "processing" }],
      [1, owner, { shipping_address: "2 Side St" }],
      [0, owner, { shipping_address: "3 Other St" }],
    ] as const
  ) {
    ctx.clock.advance(1000);
    const changed = await ctx.call(
      "PATCH",
      `/v1/orders/${ids[index]}`,
      token,
      body,
    );
    assert.equal(changed.status, 200);
  }
  for (const action of ["disable", "enable"]) {
    ctx.clock.advance(1000);
    const response = await ctx.request(
      "POST",
      `/v1/admin/users/42/${action}`,
      { token: admin },
    );
    assert.equal(response.status, 204);
  }
  ctx.clock.advance(1000);
  assert.ok(await checkpointer.checkpoint());
  return {
    ctx,
    url,
    chains: { a: `order:${ids[0]}`, b: `order:${ids[1]}`, user: "user:42" },
    checkpoints,
    checkpoint: () => checkpointer.checkpoint(),
  };
}

async function withScenario(
  dir: string,
  name: string,
  fn: (s: Scenario) => Promise<void> | void,
): Promise<void> {
  const built = await scenario(dir, name);
  try {
    await fn(built);
  } finally {
    built.ctx.close();
  }
}

/** Verifies with the audit key and the checkpoints (their evidence checked first). */
async function verify(
  s: Scenario,
  checkpoints: SignedCheckpoint[] = s.checkpoints,
): Promise<AuditVerification> {
  const evidence = checkEvidence(
    checkpoints.map((signed, i) => ({ signed, where: `item ${i + 1}` })),
    verifier,
  );
  assert.equal(evidence.refused, undefined);
  return await verifyAuditLog(s.ctx.database.db, {
    keys,
    checkpoints: evidence.accepted,
  });
}

/** Runs SQL over a connection of its own with the audit log's triggers dropped. */
async function tamper(url: string, ...statements: string[]): Promise<void> {
  const database = await openDatabase(url);
  try {
    for (
      const trigger of [
        "audit_log_no_update",
        "audit_log_no_delete",
        "audit_log_keyed_only",
      ]
    ) {
      await database.client.execute(`DROP TRIGGER IF EXISTS ${trigger}`);
    }
    for (const statement of statements) {
      await database.client.execute(statement);
    }
  } finally {
    database.close();
  }
}

/**
 * Rewrites `chainId` from entry `from` on, as an attacker who can write the
 * database would: `edit` changes the first rewritten entry's `changes`, and
 * every entry from there is relinked and resealed, with unkeyed SHA-256
 * (`sealer` undefined) or HMAC under `sealer`.
 */
async function rewriteTail(
  url: string,
  chainId: string,
  options: {
    from: number;
    edit: (changes: string) => string;
    sealer: AuditSealer | undefined;
  },
): Promise<void> {
  const database = await openDatabase(url);
  const statements: string[] = [];
  try {
    const { rows } = await database.client.execute({
      sql: "SELECT * FROM audit_log WHERE chain_id = ? ORDER BY chain_seq",
      args: [chainId],
    });
    let prevHash = String(rows[options.from - 2]?.hash ?? "0".repeat(64));
    for (const row of rows.slice(options.from - 1)) {
      const changes = row.chain_seq === options.from
        ? options.edit(String(row.changes))
        : String(row.changes);
      const input = {
        ...auditRowFields(row),
        prevHash,
        changesJson: changes,
      };
      const hash = options.sealer
        ? options.sealer.mac(
          auditHashInput({
            ...input,
            seal: "hmac-sha256",
            keyId: options.sealer.keyId,
          }),
        )
        : await sha256Hex(auditHashInput(input));
      statements.push(
        `UPDATE audit_log SET changes = '${changes.replaceAll("'", "''")}',
          prev_hash = '${prevHash}', hash = '${hash}',
          seal = '${options.sealer ? "hmac-sha256" : "sha256"}',
          key_id = ${options.sealer ? `'${options.sealer.keyId}'` : "NULL"}
          WHERE chain_id = '${chainId}' AND chain_seq = ${row.chain_seq}`,
      );
      prevHash = hash;
    }
  } finally {
    database.close();
  }
  await tamper(url, ...statements);
}

function assertBrokenAt(
  result: AuditVerification,
  expected: { chainId: string; seq: number; reason: RegExp },
): void {
  assert.equal(
    result.broken?.chainId,
    expected.chainId,
    result.broken?.reason ?? "nothing found",
  );
  assert.equal(result.broken?.chainSeq, expected.seq);
  assert.match(result.broken?.reason ?? "", expected.reason);
}

Deno.test("audit attacks on a database file: each is found and named, an untouched log verifies clean", (t) =>
  withTempDir("audit-attacks-", async (dir) => {
    await t.step(
      "an untouched log extends every checkpoint",
      () =>
        withScenario(dir, "clean", async (s) => {
          assert.equal(s.checkpoints.length, 2);
          assert.equal(await s.checkpoint(), undefined, "nothing changed");
          const result = await verify(s);
          assert.equal(result.broken, undefined);
          assert.equal(result.checkpointMismatch, undefined);
          assert.deepEqual([result.chains, result.entries], [3, 7]);
          const latest = s.checkpoints[1]!.checkpoint;
          assert.deepEqual([latest.chains, latest.entries], [3, 7]);
        }),
    );

    await t.step(
      "an edited entry is found at its seal",
      () =>
        withScenario(dir, "edited", async (s) => {
          await tamper(
            s.url,
            `UPDATE audit_log SET changes = replace(changes, 'processing', 'shipped') WHERE chain_id = '${s.chains.a}' AND chain_seq = 2`,
          );
          assertBrokenAt(await verify(s, []), {
            chainId: s.chains.a,
            seq: 2,
            reason: /hash does not match the entry's content under audit key/,
          });
        }),
    );

    await t.step(
      "a tail recomputed with unkeyed SHA-256 (the rewrite the unkeyed chain let through) is found without checkpoints",
      () =>
        withScenario(dir, "unkeyed-tail", async (s) => {
          await rewriteTail(s.url, s.chains.a, {
            from: 2,
            edit: (c) => c.replace("processing", "shipped"),
            sealer: undefined,
          });
          assertBrokenAt(await verify(s, []), {
            chainId: s.chains.a,
            seq: 2,
            reason: /an unkeyed \(sha256\) entry after a keyed one/,
          });
          // A whole chain rewritten unkeyed has no keyed entry before it:
          // the checkpoints name it.
          await rewriteTail(s.url, s.chains.b, {
            from: 1,
            edit: (c) => c.replace("Mug", "Jug"),
            sealer: undefined,
          });
          const result = await verify(s);
          assertBrokenAt(result, {
            chainId: [s.chains.a, s.chains.b].sort()[0]!,
            seq: s.chains.a < s.chains.b ? 2 : 1,
            reason: /unkeyed|recorded for this entry/,
          });
        }),
    );

    await t.step(
      "a tail recomputed with the audit key verifies without checkpoints, and is named by them",
      () =>
        withScenario(dir, "keyed-tail", async (s) => {
          await rewriteTail(s.url, s.chains.a, {
            from: 2,
            edit: (c) => c.replace("processing", "shipped"),
            sealer: TEST_AUDIT_SEALER,
          });
          assert.equal((await verify(s, [])).broken, undefined);
          assertBrokenAt(await verify(s), {
            chainId: s.chains.a,
            seq: 3,
            reason:
              /hash is not the one checkpoint 2 of instance test-instance \(.*\) recorded for this entry/,
          });
        }),
    );

    await t.step(
      "a truncated tail is named by the checkpoints",
      () =>
        withScenario(dir, "truncated", async (s) => {
          await tamper(
            s.url,
            `DELETE FROM audit_log WHERE chain_id = '${s.chains.user}' AND chain_seq = 2`,
          );
          // A user chain has no length of record: only a checkpoint knows.
          assert.equal((await verify(s, [])).broken, undefined);
          assertBrokenAt(await verify(s), {
            chainId: s.chains.user,
            seq: 2,
            reason: /entry 2 is missing: checkpoint 2 .* up to entry 2/,
          });
        }),
    );

    await t.step(
      "a deleted chain (with its order) is named by the checkpoints",
      () =>
        withScenario(dir, "deleted", async (s) => {
          const id = s.chains.b.slice("order:".length);
          await tamper(
            s.url,
            "PRAGMA foreign_keys = OFF",
            `DELETE FROM audit_log WHERE chain_id = '${s.chains.b}'`,
            `DELETE FROM order_events WHERE order_id = '${id}'`,
            `DELETE FROM order_items WHERE order_id = '${id}'`,
            `DELETE FROM orders WHERE id = '${id}'`,
          );
          assert.equal((await verify(s, [])).broken, undefined);
          assertBrokenAt(await verify(s), {
            chainId: s.chains.b,
            seq: 1,
            reason: /the chain is missing: checkpoint \d .* up to entry 2/,
          });
        }),
    );

    await t.step(
      "two reordered entries break the chain",
      () =>
        withScenario(dir, "reordered", async (s) => {
          await tamper(
            s.url,
            `UPDATE audit_log SET chain_seq = -1 WHERE chain_id = '${s.chains.a}' AND chain_seq = 2`,
            `UPDATE audit_log SET chain_seq = 2 WHERE chain_id = '${s.chains.a}' AND chain_seq = 3`,
            `UPDATE audit_log SET chain_seq = 3 WHERE chain_id = '${s.chains.a}' AND chain_seq = -1`,
          );
          assertBrokenAt(await verify(s, []), {
            chainId: s.chains.a,
            seq: 2,
            reason: /prev_hash is not the hash of the entry before it/,
          });
        }),
    );

    await t.step(
      "a replayed old checkpoint is refused",
      () =>
        withScenario(dir, "replayed", (s) => {
          const evidence = checkEvidence(
            [...s.checkpoints, s.checkpoints[0]!].map((signed, i) => ({
              signed,
              where: `line ${i + 1}`,
            })),
            verifier,
          );
          assert.match(
            evidence.refused ?? "",
            /checkpoint 1 of instance test-instance \(line 3\) comes after checkpoint 2 of the same instance: an old checkpoint was replayed/,
          );
        }),
    );

    await t.step(
      "a checkpoint forged with another key is refused",
      () =>
        withScenario(dir, "forged", (s) => {
          const other = createCheckpointSigner(
            crypto.getRandomValues(new Uint8Array(32)),
          );
          const { signer: _, ...content } = s.checkpoints[1]!.checkpoint;
          const forged = other.sign({ ...content, n: 3, entries: 99 });
          const refused = (signed: SignedCheckpoint) =>
            checkEvidence([
              ...s.checkpoints.map((c, i) => ({
                signed: c,
                where: `line ${i + 1}`,
              })),
              { signed, where: "line 3" },
            ], verifier).refused ?? "";
          assert.match(
            refused(forged),
            /checkpoint 3 .* is signed by key [0-9a-f]{16}, which is not a trusted audit signing key/,
          );
          // Claiming the trusted key's id does not help: the signature fails.
          assert.match(
            refused({
              ...forged,
              checkpoint: { ...forged.checkpoint, signer: signer.keyId },
            }),
            /its signature does not verify/,
          );
        }),
    );

    await t.step(
      "entries sealed under AUDIT_KEY_PREVIOUS verify after a rotation, and not without it",
      () =>
        withScenario(dir, "rotated", async (s) => {
          const next = createAuditSealer(
            crypto.getRandomValues(new Uint8Array(32)),
          );
          const rotated = new Map([[next.keyId, next]]);
          const without = await verifyAuditLog(s.ctx.database.db, {
            keys: rotated,
          });
          assert.match(
            without.broken?.reason ?? "",
            /sealed under audit key [0-9a-f]{16}, which is neither AUDIT_KEY nor AUDIT_KEY_PREVIOUS/,
          );
          rotated.set(TEST_AUDIT_SEALER.keyId, TEST_AUDIT_SEALER);
          const withPrevious = await verifyAuditLog(s.ctx.database.db, {
            keys: rotated,
          });
          assert.equal(withPrevious.broken, undefined);
        }),
    );

    await t.step(
      "erasing a user's personal data keeps every chain and checkpoint verifiable",
      () =>
        withScenario(dir, "erased", async (s) => {
          const owner = await s.ctx.token(42);
          const admin = await s.ctx.token(9, ["admin"]);
          for (const chain of [s.chains.a, s.chains.b]) {
            s.ctx.clock.advance(1000);
            const cancelled = await s.ctx.call(
              "POST",
              `/v1/orders/${chain.slice("order:".length)}/cancel`,
              admin,
              {},
            );
            assert.equal(cancelled.status, 200);
          }
          const erased = await s.ctx.request(
            "DELETE",
            "/v1/users/42/personal-data",
            { token: owner },
          );
          assert.equal(erased.status, 204);
          assert.ok(await s.checkpoint());
          const result = await verify(s);
          assert.equal(result.broken, undefined);
          assert.equal(result.checkpointMismatch, undefined);
          assert.equal(s.checkpoints.length, 3);
        }),
    );

    await t.step(
      "deno task audit:verify --checkpoints FILE: clean, a departure named with exit 1, a forged line refused",
      () =>
        withScenario(dir, "tool", async (s) => {
          const lines: string[] = ['{"event":"server.listening"}'];
          const logger = createJsonLogger("info", (line) => lines.push(line));
          for (const signed of s.checkpoints) {
            logger.log("info", CHECKPOINT_EVENT, checkpointJson(signed));
            lines.push("an unrelated line");
          }
          const file = `${dir}/service.log`;
          await Deno.writeTextFile(file, lines.join("\n"));
          assert.equal(
            checkpointsInText(lines.join("\n")).checkpoints.length,
            2,
          );
          const run = (env: Record<string, string> = {}) =>
            runTool("audit_verify.ts", {
              args: ["--checkpoints", file],
              env: {
                DATABASE_URL: s.url,
                AUDIT_KEY: TEST_AUDIT_KEY,
                AUDIT_PUBLIC_KEY: signer.publicKey,
                ...env,
              },
            });
          const clean = await run();
          assert.equal(clean.code, 0, clean.stderr);
          const latest = new Date(s.checkpoints[1]!.checkpoint.at)
            .toISOString();
          assert.equal(
            clean.stdout.trim(),
            `Audit log verified: 7 entries in 3 chains; consistent with 2 checkpoints, the latest at ${latest}`,
          );
          // The public key can come from the signing key too.
          const derived = await run({
            AUDIT_PUBLIC_KEY: "",
            AUDIT_SIGNING_KEY: TEST_AUDIT_SIGNING_KEY,
          });
          assert.equal(derived.code, 0, derived.stderr);

          await rewriteTail(s.url, s.chains.user, {
            from: 2,
            edit: (c) =>
              c.replace('"to":null', '"to":"2000-01-01T00:00:00.000Z"'),
            sealer: TEST_AUDIT_SEALER,
          });
          const departed = await run();
          assert.equal(departed.code, 1);
          assert.match(
            departed.stderr,
            /Audit log broken at chain user:42, seq 2: hash is not the one checkpoint 2 of instance test-instance/,
          );

          const other = createCheckpointSigner(
            crypto.getRandomValues(new Uint8Array(32)),
          );
          const wrongKey = await run({ AUDIT_PUBLIC_KEY: other.publicKey });
          assert.equal(wrongKey.code, 1);
          assert.match(
            wrongKey.stderr,
            /Audit checkpoints refused: checkpoint 1 of instance test-instance \(line 2\) is signed by key/,
          );
        }),
    );
  }));

Deno.test("deno task audit:public-key prints the public key of AUDIT_SIGNING_KEY", async () => {
  const printed = await runTool("audit_public_key.ts", {
    env: { AUDIT_SIGNING_KEY: TEST_AUDIT_SIGNING_KEY },
  });
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout.trim(), signer.publicKey);
  assert.equal(printed.stderr, "");
  const malformed = await runTool("audit_public_key.ts", {
    env: { AUDIT_SIGNING_KEY: "c2hvcnQ=" },
  });
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /must be 32 bytes/);
});
