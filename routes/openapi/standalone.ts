/**
 * The OpenAPI document without a server (`deno task openapi`, the linter,
 * the tests): the app is built as `createApp` always builds it, with
 * dependencies that are never called, and asked for its document. No
 * database, secret or network is touched.
 */
import type { AppDeps } from "../env.ts";
import { createApp } from "../app.ts";
import { DEFAULT_REVIEW_POLICY } from "../../domain/review.ts";
import { DEFAULT_WEBHOOK_MAX_ENDPOINTS } from "../../domain/webhooks.ts";
import { type OpenApiDocument, openApiDocument } from "./generate.ts";

/**
 * A stand-in for a dependency: building the app only keeps it, and any use
 * is a mistake that says so.
 */
function unused<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get(_, member) {
      return () => {
        throw new Error(
          `${name}.${
            String(member)
          } is not available: this app only describes itself`,
        );
      };
    },
  });
}

/** Dependencies for an app that is only asked for its document. */
function describingDeps(): AppDeps {
  return {
    store: unused("store"),
    personalData: unused("personalData"),
    verifier: unused("verifier"),
    clock: unused("clock"),
    logger: unused("logger"),
    rateLimits: {
      limiters: unused("limiters"),
      failClosed: false,
      trustedProxies: 0,
    },
    newId: () => {
      throw new Error("newId is not available: this app only describes itself");
    },
    accounts: unused("accounts"),
    events: unused("events"),
    reviewPolicy: DEFAULT_REVIEW_POLICY,
    ipHashSecret: "describing only",
    cursorSecret: "describing only",
    webhooks: unused("webhooks"),
    webhookSettings: {
      allowHosts: new Set(),
      maxEndpoints: DEFAULT_WEBHOOK_MAX_ENDPOINTS,
    },
  };
}

/** The document `GET /openapi.json` serves, generated without a server. */
export function buildOpenApiDocument(): OpenApiDocument {
  return openApiDocument(createApp(describingDeps()));
}
