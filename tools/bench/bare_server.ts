/**
 * The HTTP limit: a bare `Deno.serve` that answers every request with a
 * constant order-shaped JSON body, no framework, no auth, no database.
 * `deno run --allow-net bare_server.ts <port>`; it listens on 127.0.0.1 only.
 */

const ORDER = {
  id: "5b0c3f0e-1d2a-4c3b-9e8f-0a1b2c3d4e5f",
  user_id: 42,
  status: "pending",
  items: [
    {
      product_id: "sku-1",
      product_name: "Mug",
      quantity: 2,
      price: "12.50",
      line_total: "25.00",
    },
    {
      product_id: 42,
      product_name: "Tea, 100 g",
      quantity: 1,
      price: "4.75",
      line_total: "4.75",
    },
  ],
  total: "29.75",
  currency: "EUR",
  shipping_address: "1 Main St, Springfield",
  version: 1,
  created_at: "2026-11-28T14:00:00.000Z",
  updated_at: "2026-11-28T14:00:00.000Z",
};

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "0");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => Response.json(ORDER),
  );
  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    Deno.exit(0);
  });
}
