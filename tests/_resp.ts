/**
 * Test-only: a small RESP2 client, enough to talk to a real `redis-server`
 * over TCP. Commands on one connection run one batch at a time.
 */

/** An error reply from Redis (`-ERR …`). */
export class RedisErrorReply {
  constructor(readonly message: string) {}
}

/**
 * A RESP2 reply: a simple string as `string`, a bulk string as its bytes,
 * an integer as `number`, nil as `null`, an array, or an error.
 */
export type RespReply =
  | string
  | Uint8Array
  | number
  | null
  | RedisErrorReply
  | RespReply[];

const CRLF = "\r\n";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}${CRLF}`)];
  for (const arg of args) {
    const bytes = encoder.encode(arg);
    parts.push(encoder.encode(`$${bytes.byteLength}${CRLF}`));
    parts.push(bytes);
    parts.push(encoder.encode(CRLF));
  }
  return concat(parts);
}

/**
 * Parses one reply from the start of `bytes`. Returns the reply and how many
 * bytes it took, or undefined when `bytes` holds only part of a reply.
 */
export function parseReply(
  bytes: Uint8Array,
  offset = 0,
): { reply: RespReply; end: number } | undefined {
  const lineEnd = indexOfCrlf(bytes, offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(bytes[offset] ?? 0);
  const line = decoder.decode(bytes.subarray(offset + 1, lineEnd));
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { reply: line, end: next };
    case "-":
      return { reply: new RedisErrorReply(line), end: next };
    case ":":
      return { reply: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (bytes.byteLength < next + length + 2) return undefined;
      return {
        reply: bytes.slice(next, next + length),
        end: next + length + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: RespReply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(bytes, end);
        if (item === undefined) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new Error(`Unexpected RESP type: ${JSON.stringify(type)}`);
  }
}

/** A connection to `redis-server`. */
export interface RespConnection {
  /**
   * Sends the commands in one write and reads one reply per command. After
   * a network error the connection is closed for good.
   */
  send(commands: readonly (readonly string[])[]): Promise<RespReply[]>;
  readonly closed: boolean;
  close(): void;
}

/** Opens a RESP connection to 127.0.0.1:`port`. */
export async function connectResp(port: number): Promise<RespConnection> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let buffer: Uint8Array = new Uint8Array(0);
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function readReply(): Promise<RespReply> {
    for (;;) {
      const parsed = buffer.byteLength > 0 ? parseReply(buffer) : undefined;
      if (parsed !== undefined) {
        buffer = buffer.slice(parsed.end);
        return parsed.reply;
      }
      const chunk = new Uint8Array(64 * 1024);
      const read = await conn.read(chunk);
      if (read === null) throw new Error("Redis closed the connection");
      buffer = concat([buffer, chunk.subarray(0, read)]);
    }
  }

  async function exchange(
    commands: readonly (readonly string[])[],
  ): Promise<RespReply[]> {
    if (closed) throw new Error("Connection closed");
    const payload = concat(commands.map(encodeCommand));
    let written = 0;
    while (written < payload.byteLength) {
      written += await conn.write(payload.subarray(written));
    }
    const replies: RespReply[] = [];
    for (let i = 0; i < commands.length; i++) replies.push(await readReply());
    return replies;
  }

  function close(): void {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed by the peer
    }
  }

  return {
    send(commands) {
      const result = queue.then(() => exchange(commands)).catch((error) => {
        close();
        throw error;
      });
      queue = result.catch(() => {});
      return result;
    },
    get closed() {
      return closed;
    },
    close,
  };
}

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.byteLength; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const size = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
