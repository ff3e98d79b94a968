/**
 * Reads a JSON request body after authentication: checks the media type,
 * enforces the size limit while reading, bounds the nesting, parses, and
 * refuses strings that are not well-formed Unicode. Nothing here recurses,
 * so no body can exhaust the stack.
 */
import type { Context } from "hono";
import { DomainError, type FieldError, pathKey } from "../../domain/errors.ts";
import { NOT_UNICODE_MESSAGE } from "../../domain/text.ts";
import type { AppEnv } from "../env.ts";
import { BODY_TOO_LARGE, MAX_BODY_BYTES } from "../middleware/hygiene.ts";
import { HttpProblem } from "./problem.ts";

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** How deeply arrays and objects may nest in a request body. */
export const MAX_JSON_DEPTH = 32;

/** Why a body that does not parse is refused (400). */
export const NOT_VALID_JSON = "The request body is not valid JSON";

/** Why a body of another media type is refused (415). */
export const NOT_JSON_MEDIA_TYPE = "The request body must be application/json";

/**
 * The parsed JSON body. With `optional`, a request without a body (or with
 * an empty one, whatever its media type) yields undefined instead of a
 * 400 or 415. Nesting deeper than `MAX_JSON_DEPTH` is a 400, checked before
 * parsing; a string or key that is not well-formed Unicode is a 422 naming
 * its path, checked before anything hashes, validates or stores the body.
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
  const bytes = await readLimited(body, c.get("deadline")?.signal);
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
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new HttpProblem(
      "malformed_json",
      `The request body is nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpProblem("malformed_json", NOT_VALID_JSON);
  }
  const errors = malformedStrings(parsed);
  if (errors.length > 0) {
    throw new DomainError(
      "validation_failed",
      "The request body holds text that is not well-formed Unicode",
      errors,
    );
  }
  return parsed;
}

/**
 * The deepest nesting of arrays and objects in a JSON text, brackets inside
 * strings aside. One pass, no recursion; the text need not be valid JSON.
 */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (char === 0x5d || char === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/**
 * Every string value or key in a parsed body that is not well-formed Unicode
 * (a lone surrogate, which JSON's `\u` escapes can express), by path; a bad
 * key is reported at the object holding it, a long one shown cut
 * (`pathKey`). Walks with a stack, not recursion.
 */
function malformedStrings(body: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const stack: [unknown, string][] = [[body, ""]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === "string") {
      if (!value.isWellFormed()) {
        errors.push({ path: path || "body", message: NOT_UNICODE_MESSAGE });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, `${path}[${index}]`]));
    } else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (!key.isWellFormed()) {
          errors.push({
            path: path || "body",
            message: "Keys must be well-formed Unicode (no lone surrogates)",
          });
          continue;
        }
        const shown = pathKey(key);
        stack.push([item, path ? `${path}.${shown}` : shown]);
      }
    }
  }
  return errors.reverse();
}

function notJson(): HttpProblem {
  return new HttpProblem("unsupported_media_type", NOT_JSON_MEDIA_TYPE);
}

/**
 * The body's bytes, up to `MAX_BODY_BYTES`. A body still arriving when the
 * request is cut off (`signal`) stops being read, and the read throws the
 * signal's reason.
 */
async function readLimited(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw new HttpProblem("payload_too_large", BODY_TOO_LARGE);
      }
      chunks.push(value);
    }
  } finally {
    signal?.removeEventListener("abort", stop);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
