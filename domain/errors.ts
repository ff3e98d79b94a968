import type { z } from "zod";

/** The closed set of reasons a domain rule can refuse a request. */
export type DomainErrorCode =
  | "bad_request"
  | "validation_failed"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "cursor_expired"
  | "version_mismatch";

/** One invalid field of a request: where it is and what is wrong with it. */
export interface FieldError {
  path: string;
  message: string;
}

/** A refusal by a domain rule; the HTTP shell maps `code` to a status. */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly errors: readonly FieldError[] | undefined;

  constructor(
    code: DomainErrorCode,
    message: string,
    errors?: readonly FieldError[],
  ) {
    super(message);
    this.name = "DomainError";
    this.code = code;
    this.errors = errors;
  }
}

/**
 * `input` as `schema` reads it, or a `validation_failed` DomainError (422)
 * with `refusal` as its message and one entry per defect.
 */
export function validated<S extends z.ZodType>(
  schema: S,
  input: unknown,
  refusal: string,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new DomainError(
      "validation_failed",
      refusal,
      fieldErrors(parsed.error),
    );
  }
  return parsed.data;
}

/** Turns zod issues into the `errors` list of a problem response. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
  }));
}

/** A path such as `items[0].price`, each key as `pathKey` shows it. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number"
      ? `[${part}]`
      : `${text ? "." : ""}${pathKey(String(part))}`;
  }
  return text;
}

/**
 * How many characters (Unicode code points) of an object key a path shows:
 * keys are the client's, and a path is echoed in the response and logged.
 */
export const MAX_PATH_KEY_LENGTH = 64;

/**
 * An object key as a path shows it: a key longer than `MAX_PATH_KEY_LENGTH`
 * characters is cut to that many and ends in `…`.
 */
export function pathKey(key: string): string {
  if (key.length <= MAX_PATH_KEY_LENGTH) return key;
  const characters = Array.from(key);
  return characters.length <= MAX_PATH_KEY_LENGTH
    ? key
    : `${characters.slice(0, MAX_PATH_KEY_LENGTH).join("")}…`;
}
