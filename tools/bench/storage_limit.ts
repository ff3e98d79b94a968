/**
 * The storage limit: one order per transaction (the order row, two item rows
 * and one audit row), written in a loop with the native `libsql` package's
 * prepared statements, on the real schema, in WAL mode with
 * `synchronous=NORMAL` as the service runs it. No HTTP, no hashing, no
 * validation: what the service's creation path could reach at best without
 * sharing transactions between orders.
 *
 * `deno run … storage_limit.ts <database path> <seconds>` prints one JSON line.
 */
import Database from "libsql";
import { openDatabase } from "../../db/client.ts";
import { applyMigrations } from "../../db/migrate.ts";

/** What one run of the loop measured. */
export interface StorageLimitResult {
  transactions: number;
  seconds: number;
  transactionsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** Transactions run before the clock starts, to warm caches and the JIT. */
const WARMUP_TRANSACTIONS = 200;

/** Creates the schema with the service's own migrations, then closes it. */
async function createSchema(path: string): Promise<void> {
  const database = await openDatabase(`file:${path}`);
  try {
    await applyMigrations(database.db);
  } finally {
    database.close();
  }
}

/** The changes JSON of a realistic `order.created` audit row. */
const CHANGES = JSON.stringify({
  user_id: { from: null, to: 42 },
  status: { from: null, to: "pending" },
  items: {
    from: null,
    to: [
      { product_id: "sku-1", product_name: "Mug", quantity: 2, price: "12.50" },
      {
        product_id: 42,
        product_name: "Tea, 100 g",
        quantity: 1,
        price: "4.75",
      },
    ],
  },
  total: { from: null, to: "29.75" },
  currency: { from: null, to: "EUR" },
  shipping_address: { from: null, to: "1 Main St, Springfield" },
});

/**
 * Opens `path` as the service does (WAL, `synchronous=NORMAL`, foreign keys)
 * and prepares the statements once; the returned function writes order `n`
 * in its own transaction.
 */
function openOrderWriter(
  path: string,
): { writeOne: (n: number) => void; close: () => void } {
  const db = new Database(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA foreign_keys = ON");
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const insertOrder = db.prepare(
    "INSERT INTO orders (id, user_id, status, currency, total_cents, shipping_address, version, created_at, updated_at) VALUES (?, ?, 'pending', 'EUR', ?, ?, 1, ?, ?)",
  );
  const insertItem = db.prepare(
    "INSERT INTO order_items (order_id, position, product_id, product_id_is_number, product_name, quantity, unit_price) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const insertAudit = db.prepare(
    // Keyed entries only (db/migrations/0007_audit_seal.sql); the hash below
    // is a stand-in, so the key id is too.
    "INSERT INTO audit_log (chain_id, chain_seq, order_id, action, actor_user_id, actor_roles, request_id, at, changes, prev_hash, hash, seal, key_id) VALUES (?, 1, ?, 'order.created', ?, '[\"user\"]', ?, ?, ?, ?, ?, 'hmac-sha256', 'bench')",
  );
  const genesis = "0".repeat(64);
  const hash = "f".repeat(64);
  const writeOne = (n: number) => {
    const id = crypto.randomUUID();
    const now = Date.now();
    const userId = (n % 1000) + 1;
    begin.run();
    try {
      insertOrder.run(id, userId, 2975, "1 Main St, Springfield", now, now);
      insertItem.run(id, 0, "sku-1", 0, "Mug", 2, 125_000);
      insertItem.run(id, 1, "42", 1, "Tea, 100 g", 1, 47_500);
      insertAudit.run(
        `order:${id}`,
        id,
        userId,
        `req-${n}`,
        now,
        CHANGES,
        genesis,
        hash,
      );
      commit.run();
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  };
  return { writeOne, close: () => db.close() };
}

/** Runs the loop for `seconds` against a new database at `path`. */
export async function measureStorageLimit(
  path: string,
  seconds: number,
): Promise<StorageLimitResult> {
  await createSchema(path);
  const writer = openOrderWriter(path);
  try {
    for (let n = 0; n < WARMUP_TRANSACTIONS; n++) writer.writeOne(n);
    const latencies: number[] = [];
    const start = performance.now();
    const end = start + seconds * 1000;
    let n = WARMUP_TRANSACTIONS;
    for (let now = start; now < end;) {
      writer.writeOne(n++);
      const after = performance.now();
      latencies.push(after - now);
      now = after;
    }
    const elapsed = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      latencies[
        Math.min(latencies.length - 1, Math.floor(q * latencies.length))
      ] ?? 0;
    return {
      transactions: latencies.length,
      seconds: elapsed,
      transactionsPerSecond: latencies.length / elapsed,
      latencyMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
    };
  } finally {
    writer.close();
  }
}

if (import.meta.main) {
  const [path, seconds] = Deno.args;
  if (path === undefined || seconds === undefined) {
    console.error("Usage: storage_limit.ts <database path> <seconds>");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await measureStorageLimit(path, Number(seconds))));
}
