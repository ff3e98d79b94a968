/**
 * Test-only: a libSQL server speaking Hrana over HTTP (version 2, JSON), the
 * protocol `@libsql/client/web` uses for `http:`, `https:` and `libsql:`
 * URLs, on top of the native driver and a database file. Enough of it for
 * the service and its tools: `POST /v2/pipeline` with `execute`, `batch`
 * (with step conditions), `sequence`, `describe`, `get_autocommit`,
 * `store_sql`/`close_sql` and `close`; streams kept open between requests
 * by batons, each on its own connection (so a stream's transaction is its
 * own, as on a real server). It counts pipeline requests, can require a
 * bearer token, and can hold every answer back by a delay, to stand for a
 * database in a far region.
 *
 * The client first looks for `/v3-protobuf` and `/v3`; this server answers
 * 404 there, and the client falls back to `/v2`.
 */
import Database from "libsql";

/** A running server. */
export interface LibsqlHttpServer {
  /** `http://127.0.0.1:<port>`, for `DATABASE_URL`. */
  readonly url: string;
  /** `POST /v2/pipeline` requests answered so far. */
  pipelineRequests(): number;
  /** Sets the delay added before every answer, in milliseconds. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** Options of `startLibsqlHttpServer`. */
export interface LibsqlHttpServerOptions {
  /** The token clients must send (`Authorization: Bearer …`); none by default. */
  readonly authToken?: string;
  /** Milliseconds added before every answer. */
  readonly delayMs?: number;
}

type HranaValue =
  | { type: "null" }
  | { type: "integer"; value: string }
  | { type: "float"; value: number }
  | { type: "text"; value: string }
  | { type: "blob"; base64: string };

interface HranaStmt {
  sql?: string;
  sql_id?: number;
  args?: HranaValue[];
  named_args?: { name: string; value: HranaValue }[];
  want_rows?: boolean;
}

type HranaCond =
  | { type: "ok" | "error"; step: number }
  | { type: "not"; cond: HranaCond }
  | { type: "and" | "or"; conds: HranaCond[] }
  | { type: "is_autocommit" };

type HranaRequest =
  | { type: "close" }
  | { type: "execute"; stmt: HranaStmt }
  | {
    type: "batch";
    batch: { steps: { condition?: HranaCond; stmt: HranaStmt }[] };
  }
  | { type: "sequence"; sql?: string; sql_id?: number }
  | { type: "describe"; sql?: string; sql_id?: number }
  | { type: "store_sql"; sql_id: number; sql: string }
  | { type: "close_sql"; sql_id: number }
  | { type: "get_autocommit" };

interface Stream {
  readonly db: Database.Database;
  readonly sqls: Map<number, string>;
  timer?: ReturnType<typeof setTimeout>;
}

/** How long an open stream waits for its next request. */
const STREAM_IDLE_MS = 10_000;

/** Starts the server on a free loopback port over the database file `path`. */
export function startLibsqlHttpServer(
  path: string,
  options: LibsqlHttpServerOptions = {},
): LibsqlHttpServer {
  const streams = new Map<string, Stream>();
  let requests = 0;
  let delayMs = options.delayMs ?? 0;

  function openStream(): Stream {
    const db = new Database(path);
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA foreign_keys = ON");
    return { db, sqls: new Map() };
  }

  function closeStream(stream: Stream): void {
    clearTimeout(stream.timer);
    if (stream.db.inTransaction) stream.db.exec("ROLLBACK");
    stream.db.close();
  }

  async function pipeline(request: Request): Promise<Response> {
    requests++;
    const body = await request.json() as {
      baton?: string | null;
      requests: HranaRequest[];
    };
    let stream: Stream;
    if (body.baton) {
      const found = streams.get(body.baton);
      if (!found) {
        return Response.json({ message: "Unknown baton" }, { status: 400 });
      }
      streams.delete(body.baton);
      clearTimeout(found.timer);
      stream = found;
    } else {
      stream = openStream();
    }
    let open = true;
    const results = body.requests.map((req) => {
      if (!open) {
        return { type: "error", error: { message: "The stream is closed" } };
      }
      if (req.type === "close") {
        open = false;
        return { type: "ok", response: { type: "close" } };
      }
      try {
        return { type: "ok", response: handle(stream, req) };
      } catch (error) {
        return { type: "error", error: hranaError(error) };
      }
    });
    let baton: string | null = null;
    if (open) {
      baton = crypto.randomUUID();
      streams.set(baton, stream);
      stream.timer = setTimeout(() => {
        streams.delete(baton!);
        closeStream(stream);
      }, STREAM_IDLE_MS);
    } else {
      closeStream(stream);
    }
    return Response.json({ baton, base_url: null, results });
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const url = new URL(request.url);
    if (
      options.authToken !== undefined &&
      request.headers.get("authorization") !== `Bearer ${options.authToken}`
    ) {
      return new Response("Unauthorized", { status: 401 });
    }
    if (request.method === "GET" && url.pathname === "/v2") {
      return new Response(null, { status: 200 });
    }
    if (request.method === "POST" && url.pathname === "/v2/pipeline") {
      return await pipeline(request);
    }
    return new Response("Not found", { status: 404 });
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    pipelineRequests: () => requests,
    setDelay: (ms) => {
      delayMs = ms;
    },
    async close() {
      await server.shutdown();
      for (const stream of streams.values()) closeStream(stream);
      streams.clear();
    },
  };
}

function handle(stream: Stream, req: HranaRequest): Record<string, unknown> {
  switch (req.type) {
    case "execute":
      return { type: "execute", result: execute(stream, req.stmt) };
    case "batch":
      return { type: "batch", result: batch(stream, req.batch.steps) };
    case "sequence":
      stream.db.exec(sqlOf(stream, req));
      return { type: "sequence" };
    case "describe": {
      const statement = stream.db.prepare(sqlOf(stream, req));
      const reader = statement.reader;
      return {
        type: "describe",
        result: {
          params: [],
          cols: reader
            ? statement.columns().map((c) => ({
              name: c.name,
              decltype: c.type,
            }))
            : [],
          is_explain: false,
          is_readonly: reader,
        },
      };
    }
    case "store_sql":
      stream.sqls.set(req.sql_id, req.sql);
      return { type: "store_sql" };
    case "close_sql":
      stream.sqls.delete(req.sql_id);
      return { type: "close_sql" };
    case "get_autocommit":
      return {
        type: "get_autocommit",
        is_autocommit: !stream.db.inTransaction,
      };
    default:
      throw new Error(`Unsupported request ${(req as { type: string }).type}`);
  }
}

function sqlOf(stream: Stream, req: { sql?: string; sql_id?: number }): string {
  if (req.sql !== undefined) return req.sql;
  const stored = req.sql_id === undefined
    ? undefined
    : stream.sqls.get(req.sql_id);
  if (stored === undefined) throw new Error("Unknown sql_id");
  return stored;
}

function execute(stream: Stream, stmt: HranaStmt) {
  const statement = stream.db.prepare(sqlOf(stream, stmt));
  statement.safeIntegers(true);
  const named: Record<string, unknown> = {};
  for (const { name, value } of stmt.named_args ?? []) {
    named[name.replace(/^[:@$]/, "")] = decode(value);
  }
  const positional = (stmt.args ?? []).map(decode);
  const args = stmt.named_args?.length ? [named] : positional;
  if (statement.reader) {
    statement.raw(true);
    const cols = statement.columns().map((c) => ({
      name: c.name,
      decltype: c.type,
    }));
    const rows = (statement.all(...args) as unknown[][]).map((row) =>
      row.map(encode)
    );
    return {
      cols,
      rows: stmt.want_rows === false ? [] : rows,
      affected_row_count: 0,
      last_insert_rowid: null,
    };
  }
  const info = statement.run(...args);
  return {
    cols: [],
    rows: [],
    affected_row_count: Number(info.changes),
    last_insert_rowid: String(info.lastInsertRowid),
  };
}

function batch(
  stream: Stream,
  steps: { condition?: HranaCond; stmt: HranaStmt }[],
) {
  const results: (ReturnType<typeof execute> | null)[] = [];
  const errors: ({ message: string; code?: string } | null)[] = [];
  const holds = (cond: HranaCond): boolean => {
    switch (cond.type) {
      case "ok":
        return results[cond.step] != null;
      case "error":
        return errors[cond.step] != null;
      case "not":
        return !holds(cond.cond);
      case "and":
        return cond.conds.every(holds);
      case "or":
        return cond.conds.some(holds);
      case "is_autocommit":
        return !stream.db.inTransaction;
    }
  };
  for (const step of steps) {
    if (step.condition && !holds(step.condition)) {
      results.push(null);
      errors.push(null);
      continue;
    }
    try {
      results.push(execute(stream, step.stmt));
      errors.push(null);
    } catch (error) {
      results.push(null);
      errors.push(hranaError(error));
    }
  }
  return { step_results: results, step_errors: errors };
}

function decode(value: HranaValue): unknown {
  switch (value.type) {
    case "null":
      return null;
    case "integer":
      return BigInt(value.value);
    case "float":
      return value.value;
    case "text":
      return value.value;
    case "blob":
      return Uint8Array.from(atob(value.base64), (c) => c.charCodeAt(0));
  }
}

function encode(value: unknown): HranaValue {
  if (value === null || value === undefined) return { type: "null" };
  if (typeof value === "bigint") {
    return { type: "integer", value: String(value) };
  }
  if (typeof value === "number") return { type: "float", value };
  if (typeof value === "string") return { type: "text", value };
  if (value instanceof Uint8Array) {
    return { type: "blob", base64: btoa(String.fromCharCode(...value)) };
  }
  throw new Error(`Cannot encode a ${typeof value}`);
}

/** An error as a server sends it: the code apart, not repeated in the message. */
function hranaError(error: unknown): { message: string; code?: string } {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return { message };
  const prefix = `${code}: `;
  return {
    message: message.startsWith(prefix)
      ? message.slice(prefix.length)
      : message,
    code,
  };
}
