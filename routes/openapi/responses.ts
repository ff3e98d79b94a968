/**
 * A route's responses, as its declaration states them: `json`, `problems`,
 * `text`, `html` and `noContent` for its own, and `authenticated` for what
 * every `/v1` route shares (401, 429, 500, 503, the `account-disabled`
 * case of 403, `RateLimit-*` headers; 413 and 415 with a body). Every
 * response carries `X-Request-Id`.
 */
import type { z } from "@hono/zod-openapi";
import { problemSchema } from "./response_schemas.ts";
import { ACCOUNT_DISABLED } from "../middleware/account_state.ts";
import {
  type HeaderName,
  headerRefs,
  namedExamples,
  RATE_LIMIT_HEADERS,
  type Ref,
  sharedResponse,
} from "./components.ts";
import { type Example, problemExample } from "./examples.ts";

/** A response with a JSON body of `schema`. */
export function json<S extends z.ZodType>(
  description: string,
  schema: S,
  options: {
    examples?: Record<string, Example>;
    headers?: readonly HeaderName[];
  } = {},
) {
  return {
    description,
    headers: headerRefs([...options.headers ?? [], "XRequestId"]),
    content: {
      "application/json": {
        schema,
        ...(options.examples && { examples: options.examples }),
      },
    },
  };
}

/** A problem+json response, with one example per case it covers. */
export function problems(description: string, examples: readonly Example[]) {
  return {
    description,
    headers: headerRefs(["XRequestId"]),
    content: {
      "application/problem+json": {
        schema: problemSchema,
        examples: namedExamples(examples),
      },
    },
  };
}

/** A text response of another media type (such as Prometheus text). */
export function text<M extends `text/plain${string}`>(
  description: string,
  mediaType: M,
  example: string,
) {
  return {
    description,
    headers: headerRefs(["XRequestId"]),
    content: { [mediaType]: { schema: { type: "string" }, example } } as {
      [K in M]: { schema: { type: "string" }; example: string };
    },
  };
}

/** An HTML page. */
export function html(description: string) {
  return {
    description,
    headers: headerRefs(["XRequestId"]),
    content: { "text/html": { schema: { type: "string" as const } } },
  };
}

/** A static file of the given media type. */
export function staticFile(description: string, mediaType: string) {
  return {
    description,
    headers: headerRefs(["XRequestId"]),
    content: { [mediaType]: { schema: { type: "string" as const } } },
  };
}

/** A response without a body (204). */
export function noContent(description: string) {
  return { description, headers: headerRefs(["XRequestId"]) };
}

const accountDisabled = problemExample(
  "account_disabled",
  "The caller's account is disabled",
  ACCOUNT_DISABLED,
);

// Type aliases, not interfaces: a route's `responses` needs an index
// signature, which only type literals get implicitly.

/** The responses every authenticated route adds to its own. */
type AuthenticatedResponses = {
  401: Ref;
  403: ReturnType<typeof problems>;
  429: Ref;
  500: Ref;
  503: Ref;
};

/** The responses a route with a request body adds. */
type BodyResponses = {
  413: Ref;
  415: Ref;
};

type ProblemsResponse = ReturnType<typeof problems>;

/**
 * The responses of an authenticated (`/v1`) route: its own, with the
 * `RateLimit-*` headers of the request limit on each (they are absent when
 * the store could not answer), plus 401, 429, 500 and 503, and the
 * `account-disabled` case of 403 (added to the route's own 403); with
 * `body`, also 413 and 415.
 */
export function authenticated<
  Own extends Record<number, { description: string; headers: object }>,
  WithBody extends boolean = false,
>(
  own: Own,
  options: { body?: WithBody } = {},
):
  & Omit<Own, 403>
  & AuthenticatedResponses
  & (WithBody extends true ? BodyResponses : unknown) {
  const forbidden = own[403] as ProblemsResponse | undefined;
  const ownWithForbidden = {
    ...own,
    403: problems(
      forbidden
        ? `${forbidden.description} Or the caller's account is disabled (\`account-disabled\`).`
        : "The caller's account is disabled (`account-disabled`).",
      [
        ...Object.values(
          forbidden?.content["application/problem+json"].examples ?? {},
        ),
        accountDisabled,
      ],
    ),
  };
  const responses: Record<number, unknown> = {};
  for (const [status, response] of Object.entries(ownWithForbidden)) {
    responses[Number(status)] = Number(status) >= 500 ? response : {
      ...response,
      headers: { ...response.headers, ...headerRefs(RATE_LIMIT_HEADERS) },
    };
  }
  responses[401] = sharedResponse("Unauthenticated");
  responses[429] = sharedResponse("RateLimited");
  responses[500] = sharedResponse("InternalError");
  responses[503] ??= sharedResponse("Unavailable");
  if (options.body) {
    responses[413] = sharedResponse("PayloadTooLarge");
    responses[415] = sharedResponse("UnsupportedMediaType");
  }
  // Built from `own` key by key: the type above says what was added.
  return responses as
    & Omit<Own, 403>
    & AuthenticatedResponses
    & (WithBody extends true ? BodyResponses : unknown);
}
