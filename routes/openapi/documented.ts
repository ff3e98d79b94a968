/**
 * A route is its own documentation: `documented(app, route, handler)`
 * registers the route's declaration (method, path, parameters, request
 * body, every response with its schema and examples) in the app's OpenAPI
 * registry, which the document is generated from, and serves the route
 * with `handler`. The compiler holds the handler to the declaration: it
 * may answer only a declared status, with a body of that status's schema.
 *
 * Not `app.openapi(route, handler)` of `@hono/zod-openapi`: that one also
 * validates every declared request part before the handler runs (and
 * answers a wrong media type with its own 415, past the error mapper).
 * The contract orders the checks of a request (authentication, the
 * `Idempotency-Key`, reading the body, the key's claim, the creation limit,
 * then validation, with its own 400/422 split), so the handlers keep
 * validating with the domain's parsers, in that order, and the request
 * schemas declared here only document (and are the same zod schemas).
 */
import type { OpenAPIHono, RouteConfig, z } from "@hono/zod-openapi";
import type { Context, Handler, TypedResponse } from "hono";
import type { ContentfulStatusCode, StatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "../env.ts";
import { PARAMETERS } from "./components.ts";

/** `/{id}/cancel` → `/:id/cancel`: an OpenAPI path as Hono routes it. */
type HonoPath<P extends string> = P extends
  `${infer Head}{${infer Name}}${infer Tail}`
  ? `${Head}:${Name}${HonoPath<Tail>}`
  : P;

/** The response a handler may give for one declared response. */
type ResponseFor<Declared, S extends StatusCode> = Declared extends
  { content: infer Content } ? BodyFor<Content, S>
  // Shared responses (`$ref`) are answered by middleware or the error
  // mapper, never by a handler.
  : Declared extends { $ref: string } ? never
  : TypedResponse<null, S, "body">;

// JSON (and problem+json) bodies are held to their schema, text to a
// string; any other media type (the HTML page) is a plain `Response`.
type BodyFor<Content, S extends StatusCode> = Content extends
  { "application/json": { schema: infer Schema extends z.ZodType } }
  ? TypedResponse<JSONParsed<z.output<Schema>>, S, "json">
  : Content extends
    { "application/problem+json": { schema: infer Schema extends z.ZodType } }
    ? TypedResponse<JSONParsed<z.output<Schema>>, S, "json">
  : keyof Content extends `text/plain${string}`
    ? TypedResponse<string, S, "text">
  : Response;

/** What a route's handler may answer: one of the route's declared responses. */
export type DeclaredResponse<R extends Pick<RouteConfig, "responses">> = {
  [S in keyof R["responses"]]: S extends StatusCode
    ? ResponseFor<R["responses"][S], S>
    : never;
}[keyof R["responses"]];

/**
 * Declares a route in the app's OpenAPI registry and serves it with
 * `handler`, whose responses must be declared ones. Every operation also
 * takes the optional `X-Request-Id` header.
 */
export function documented<
  // `P` keeps the path a literal type, so the handler's params are typed.
  P extends string,
  R extends Omit<RouteConfig, "path"> & { path: P },
>(
  app: OpenAPIHono<AppEnv>,
  route: R,
  handler: Handler<
    AppEnv,
    HonoPath<R["path"]>,
    // No validated input: the handler validates with the domain's parsers.
    // deno-lint-ignore ban-types -- Hono's own type for "no input"
    {},
    DeclaredResponse<R> | Promise<DeclaredResponse<R>>
  >,
): void {
  app.openAPIRegistry.registerPath({
    ...route,
    parameters: [...route.parameters ?? [], PARAMETERS.XRequestId],
  });
  app.on(
    route.method.toUpperCase(),
    route.path.replaceAll(/\{([^}]+)\}/g, ":$1"),
    handler as Handler<AppEnv>,
  );
}

/**
 * Answers with JSON text written before (a stored replay, a cached
 * document), typed as the JSON of the `T` it was written from: the
 * compiler cannot see through the text. The caller sets `Content-Type`.
 */
export function jsonText<T, S extends ContentfulStatusCode>(
  c: Context<AppEnv>,
  text: string,
  status: S,
): Response & TypedResponse<JSONParsed<T>, S, "json"> {
  return c.body(text, status) as unknown as
    & Response
    & TypedResponse<JSONParsed<T>, S, "json">;
}

/**
 * `schema` as a named component of the document (`#/components/schemas/`),
 * for a schema built outside `routes/` (the domain's request schemas).
 * A clone: zod copies methods onto a schema when it is built, so one built
 * before `@hono/zod-openapi` added `.openapi()` to zod lacks it; the clone,
 * built now, has it, and keeps the schema's definition and metadata.
 */
export function named<S extends z.ZodType>(schema: S, name: string): S {
  return schema.clone().openapi(name);
}
