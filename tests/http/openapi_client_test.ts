import assert from "node:assert/strict";
import openapiTS, { astToString, type OpenAPI3 } from "openapi-typescript";
import { buildOpenApiDocument } from "../../routes/openapi/standalone.ts";

/**
 * A small client as a storefront would write it, with openapi-fetch over
 * the generated `paths`. The `@ts-expect-error` lines make the check fail
 * if the types ever became too loose (for example `any`).
 */
const CLIENT = `
import createClient from "openapi-fetch";
import type { components, paths } from "./orders_api.ts";

type Order = components["schemas"]["Order"];
type Problem = components["schemas"]["Problem"];

const client = createClient<paths>({
  baseUrl: "http://localhost:8000",
  headers: { Authorization: "Bearer <token>" },
});

export async function orderAndCancel(): Promise<Order | Problem> {
  const created = await client.POST("/v1/orders", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: {
      items: [
        { product_id: "sku-1", product_name: "Mug", quantity: 2, price: "12.50" },
        { product_id: 1042, product_name: "Coaster", quantity: 3, price: 0.3333 },
      ],
      shipping_address: "1 Main St, Springfield",
    },
  });
  if (created.error) return created.error;
  const order: Order = created.data;
  const total: string = order.total;
  const version: number = order.version;
  console.log(total, version, created.response.headers.get("ETag"));

  const page = await client.GET("/v1/orders", {
    params: { query: { limit: 10, offset: 0, status: "pending" } },
  });
  const count: number | undefined = page.data?.count;
  console.log(count);

  const changed = await client.PATCH("/v1/orders/{id}", {
    params: { path: { id: order.id }, header: { "If-Match": \`"\${version}"\` } },
    body: { shipping_address: "2 Side St, Springfield" },
  });
  if (changed.error) {
    const status: number = changed.error.status;
    const type: string = changed.error.type;
    console.log(status, type, changed.error.errors?.[0]?.path);
  }

  const history = await client.GET("/v1/orders/{id}/history", {
    params: { path: { id: order.id } },
  });
  const firstAction: string | undefined = history.data?.events[0]?.action;
  console.log(firstAction);

  const cancelled = await client.POST("/v1/orders/{id}/cancel", {
    params: { path: { id: order.id } },
    body: { reason: "Ordered the wrong size" },
  });
  return cancelled.data ?? cancelled.error!;
}

export async function adminAndPrivacy(orderId: string): Promise<void> {
  const decided = await client.POST("/v1/orders/{id}/review", {
    params: { path: { id: orderId } },
    body: { decision: "approve", note: "Confirmed by phone" },
  });
  const state: "pending" | "approved" | "rejected" | undefined =
    decided.data?.review?.state;
  const exported = await client.GET("/v1/users/{user_id}/export", {
    params: { path: { user_id: 42 } },
  });
  const address: string | null | undefined =
    exported.data?.orders[0]?.shipping_address;
  const firstEvent: string | undefined =
    exported.data?.orders[0]?.history[0]?.action;
  const erased = await client.DELETE("/v1/users/{user_id}/personal-data", {
    params: { path: { user_id: 42 } },
  });
  await client.POST("/v1/admin/users/{user_id}/disable", {
    params: { path: { user_id: 42 } },
  });
  const metrics = await client.GET("/v1/admin/metrics", { parseAs: "text" });
  console.log(state, address, firstEvent, erased.response.status, metrics.data);
}

export async function mistakesTheTypesCatch(order: Order): Promise<void> {
  // @ts-expect-error: an erased order's address is null
  const address: string = order.shipping_address;
  // @ts-expect-error: a decision is approve or reject
  await client.POST("/v1/orders/{id}/review", { params: { path: { id: order.id } }, body: { decision: "maybe" } });
  // @ts-expect-error: a user id is a number
  await client.GET("/v1/users/{user_id}/export", { params: { path: { user_id: "me" } } });
  // @ts-expect-error: totals are decimal strings, never numbers
  const total: number = order.total;
  // @ts-expect-error: a status is one of the five
  order.status = "lost";
  // @ts-expect-error: the path needs its id
  await client.GET("/v1/orders/{id}", {});
  // @ts-expect-error: a quantity is a number
  await client.POST("/v1/orders", { body: { items: [{ product_id: "a", product_name: "b", quantity: "2", price: 1 }], shipping_address: "c" } });
  // @ts-expect-error: there is no such route
  await client.GET("/v1/customers");
  console.log(total, address);
}
`;

Deno.test("a client generated with openapi-typescript from the document type-checks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orders-api-client-" });
  try {
    const document = JSON.parse(JSON.stringify(buildOpenApiDocument()));
    const types = astToString(await openapiTS(document as OpenAPI3));
    assert.match(types, /export interface paths/);
    assert.match(types, /"\/v1\/orders\/\{id\}\/cancel"/);
    assert.match(types, /"\/v1\/users\/\{user_id\}\/export"/);
    await Deno.writeTextFile(`${dir}/orders_api.ts`, types);
    await Deno.writeTextFile(`${dir}/client.ts`, CLIENT);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "check",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        `${dir}/client.ts`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    assert.equal(
      code,
      0,
      decoder.decode(stdout) + decoder.decode(stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
