/**
 * Reads a JSON request body after authentication: checks the media type,
 * enforces the size limit while reading, and parses.
 */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { MAX_BODY_BYTES } from "./hygiene.ts";
import { HttpProblem } from "./problem.ts";

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * The parsed JSON body. With `optional`, a request without a body (or with
 * an empty one, whatever its media type) yields undefined instead of a
 * 400 or 415.
 */
export async function readJsonBody(
  c: Context<AppEnv>,
  options: { optional?: boolean } = {},
): Promise<unknown> {
  const body = c.req.raw.body;
  if (body === null) {
    if (options.optional) return undefined;
    throw new HttpProblem("malformed_json", "A JSON request body is required");
  }
  const contentType = c.req.header("content-type");
  const isJson = contentType !== undefined && JSON_MEDIA_TYPE.test(contentType);
  if (!isJson && !options.optional) throw notJson();
  const bytes = await readLimited(body);
  if (!isJson) {
    // A client sending no body may still send `Content-Length: 0` (fetch
    // does for a bodiless POST): that is no body, not a non-JSON one.
    if (bytes.byteLength === 0) return undefined;
    throw notJson();
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpProblem("malformed_json", "The request body is not UTF-8");
  }
  if (options.optional && text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpProblem(
      "malformed_json",
      "The request body is not valid JSON",
    );
  }
}

function notJson(): HttpProblem {
  return new HttpProblem(
    "unsupported_media_type",
    "The request body must be application/json",
  );
}

async function readLimited(
  body: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new HttpProblem(
        "payload_too_large",
        `The request body is larger than ${MAX_BODY_BYTES} bytes`,
      );
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
