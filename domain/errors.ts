/** The closed set of reasons a domain rule can refuse a request. */
export type DomainErrorCode =
  | "bad_request"
  | "validation_failed"
  | "forbidden"
  | "not_found"
  | "conflict"
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
