/**
 * Errors become RFC 9457 problem details here and nowhere else: one table
 * maps every error code to its status, title and problem type.
 */
import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DomainErrorCode, FieldError } from "../../domain/errors.ts";
import { DomainError } from "../../domain/errors.ts";
import type { AppEnv } from "../env.ts";
import type { Logger } from "../../logger.ts";
import { errorFields } from "../../error_fields.ts";
import type { ProblemJson } from "../openapi/response_schemas.ts";
import { logRequestIds } from "../middleware/request_id.ts";

/** Refusals that only the HTTP shell can decide. */
export type HttpProblemCode =
  | "unauthenticated"
  | "account_disabled"
  | "method_not_allowed"
  | "payload_too_large"
  | "unsupported_media_type"
  | "malformed_json"
  | "rate_limited"
  | "unavailable"
  | "timeout"
  | "internal";

/** Every problem the API can answer with. */
export type ProblemCode = DomainErrorCode | HttpProblemCode;

/** The `detail` of every 500: it reveals nothing. */
export const INTERNAL_ERROR = "The server could not complete the request";

/** Why a request is refused when a store it needs cannot answer (503). */
export const TEMPORARILY_UNAVAILABLE =
  "The service is temporarily unavailable: retry shortly";

/** The prefix of every problem `type` URI. */
export const PROBLEM_TYPE_BASE = "urn:orders-api:problem:";

const PROBLEMS = {
  bad_request: { status: 400, title: "Bad request", slug: "bad-request" },
  malformed_json: {
    status: 400,
    title: "Malformed JSON",
    slug: "malformed-json",
  },
  unauthenticated: {
    status: 401,
    title: "Unauthenticated",
    slug: "unauthenticated",
  },
  forbidden: { status: 403, title: "Forbidden", slug: "forbidden" },
  account_disabled: {
    status: 403,
    title: "Account disabled",
    slug: "account-disabled",
  },
  not_found: { status: 404, title: "Not found", slug: "not-found" },
  method_not_allowed: {
    status: 405,
    title: "Method not allowed",
    slug: "method-not-allowed",
  },
  conflict: { status: 409, title: "Conflict", slug: "conflict" },
  cursor_expired: {
    status: 410,
    title: "Cursor expired",
    slug: "cursor-expired",
  },
  version_mismatch: {
    status: 412,
    title: "Precondition failed",
    slug: "version-mismatch",
  },
  payload_too_large: {
    status: 413,
    title: "Payload too large",
    slug: "payload-too-large",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    slug: "unsupported-media-type",
  },
  validation_failed: {
    status: 422,
    title: "Validation failed",
    slug: "validation-failed",
  },
  rate_limited: {
    status: 429,
    title: "Too many requests",
    slug: "rate-limited",
  },
  internal: {
    status: 500,
    title: "Internal server error",
    slug: "internal",
  },
  unavailable: {
    status: 503,
    title: "Service unavailable",
    slug: "unavailable",
  },
  timeout: { status: 503, title: "Request timed out", slug: "timeout" },
} as const satisfies Record<
  ProblemCode,
  { status: ContentfulStatusCode; title: string; slug: string }
>;

/** The HTTP status of a problem code, as a type. */
export type ProblemStatus<C extends ProblemCode> = (typeof PROBLEMS)[C][
  "status"
];

/** A refusal the error mapper answered, as `onProblem` sees it. */
export interface AnsweredProblem {
  readonly code: ProblemCode;
  /** The last part of the problem `type`. */
  readonly slug: string;
  readonly detail: string;
  /** The paths of the invalid fields, if any. */
  readonly paths: readonly string[];
}

/** The HTTP status a problem code answers with. */
export function problemStatus(code: ProblemCode): number {
  return PROBLEMS[code].status;
}

/** A problem type as responses carry it and the OpenAPI document lists it. */
export interface ProblemType {
  readonly code: ProblemCode;
  /** `urn:orders-api:problem:<slug>` */
  readonly type: string;
  readonly status: number;
  readonly title: string;
}

/** The problem type of a code. */
export function problemType(code: ProblemCode): ProblemType {
  const { status, title, slug } = PROBLEMS[code];
  return { code, type: PROBLEM_TYPE_BASE + slug, status, title };
}

/** Every problem type the API can answer with, by status. */
export function problemTypes(): ProblemType[] {
  return (Object.keys(PROBLEMS) as ProblemCode[]).map(problemType)
    .sort((a, b) => a.status - b.status);
}

/** A refusal decided by the HTTP shell, with any headers it must carry. */
export class HttpProblem extends Error {
  readonly code: HttpProblemCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: HttpProblemCode,
    detail: string,
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = "HttpProblem";
    this.code = code;
    this.headers = headers;
  }
}

/**
 * Writes a problem+json response. Typed as the JSON of a `Problem` with
 * the code's status, so a route that answers it must declare that status.
 */
export function problemResponse<C extends ProblemCode>(
  c: Context<AppEnv>,
  code: C,
  detail: string,
  options: {
    errors?: readonly FieldError[] | undefined;
    headers?: Readonly<Record<string, string>>;
  } = {},
): Response & TypedResponse<ProblemJson, ProblemStatus<C>, "json"> {
  const problem = PROBLEMS[code];
  const body: ProblemJson = {
    type: PROBLEM_TYPE_BASE + problem.slug,
    title: problem.title,
    status: problem.status,
    detail,
    request_id: c.get("requestId"),
    ...(options.errors && options.errors.length > 0 &&
      { errors: options.errors }),
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    c.header(name, value);
  }
  c.header("Content-Type", "application/problem+json");
  // `c.json` would write `application/json`; the text is `body`'s JSON.
  return c.body(JSON.stringify(body), problem.status) as unknown as
    & Response
    & TypedResponse<ProblemJson, ProblemStatus<C>, "json">;
}

/**
 * The app's error handler: domain and HTTP refusals become their problem
 * (and are shown to `onProblem`, the hook security events hang on);
 * anything else is logged with the request id and answered with a bare 500.
 */
export function errorHandler(
  logger: Logger,
  options: {
    onProblem?: (c: Context<AppEnv>, problem: AnsweredProblem) => void;
  } = {},
) {
  function answered(
    c: Context<AppEnv>,
    code: ProblemCode,
    detail: string,
    errors: readonly FieldError[] | undefined,
  ): void {
    options.onProblem?.(c, {
      code,
      slug: PROBLEMS[code].slug,
      detail,
      paths: (errors ?? []).map((e) => e.path),
    });
  }
  return function onError(error: Error, c: Context<AppEnv>): Response {
    if (error instanceof DomainError) {
      answered(c, error.code, error.message, error.errors);
      return problemResponse(c, error.code, error.message, {
        errors: error.errors,
      });
    }
    if (error instanceof HttpProblem) {
      answered(c, error.code, error.message, undefined);
      return problemResponse(c, error.code, error.message, {
        headers: error.headers,
      });
    }
    // Never the request's body or headers: only what the error says,
    // scrubbed of credentials and tokens.
    logger.log("error", "http.unhandled_error", {
      ...logRequestIds(c),
      ...errorFields(error),
    });
    return problemResponse(c, "internal", INTERNAL_ERROR);
  };
}
