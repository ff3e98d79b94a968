/**
 * Test data for the benchmark: tokens for many distinct users, and orders
 * created through the running service's own API, so that they are stored
 * exactly as the service stores them (whatever encryption, review or
 * idempotency rules it applies) and no schema detail is copied here.
 */
import { signToken } from "../../auth/sign_token.ts";

/** Bearer tokens, each reused across many requests as a real client would. */
export interface BenchTokens {
  /** `users[i]` is the token of user id `i + 1`. */
  users: string[];
  /** Tokens with the `fulfillment` role, for status changes. */
  fulfillment: string[];
}

/** First user id of the fulfillment staff, far from the customers'. */
const FULFILLMENT_FIRST_ID = 1_000_001;

/** Signs `userCount` customer tokens and `staffCount` fulfillment tokens. */
export async function mintTokens(
  secret: string,
  options: { userCount: number; staffCount: number; ttlSeconds: number },
): Promise<BenchTokens> {
  const users: Promise<string>[] = [];
  for (let sub = 1; sub <= options.userCount; sub++) {
    users.push(signToken(secret, { sub, ttlSeconds: options.ttlSeconds }));
  }
  const fulfillment: Promise<string>[] = [];
  for (let n = 0; n < options.staffCount; n++) {
    fulfillment.push(signToken(secret, {
      sub: FULFILLMENT_FIRST_ID + n,
      roles: ["fulfillment"],
      ttlSeconds: options.ttlSeconds,
    }));
  }
  return {
    users: await Promise.all(users),
    fulfillment: await Promise.all(fulfillment),
  };
}

/** A seeded order and the index of its owner's token. */
export interface SeededOrder {
  id: string;
  owner: number;
}

/** The body of every benchmark order: two lines. */
export const ORDER_BODY = JSON.stringify({
  items: [
    { product_id: "sku-1", product_name: "Mug", quantity: 2, price: "12.50" },
    { product_id: 42, product_name: "Tea, 100 g", quantity: 1, price: 4.75 },
  ],
  shipping_address: "1 Main St, Springfield",
});

/**
 * Creates `count` orders spread round-robin over the users, `concurrency` at
 * a time, through `POST /v1/orders`. Any answer other than 201 stops the run.
 */
export async function seedOrders(
  baseUrl: string,
  tokens: readonly string[],
  options: { count: number; concurrency: number },
): Promise<SeededOrder[]> {
  const orders: SeededOrder[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < options.count) {
      const owner = next++ % tokens.length;
      const response = await fetch(`${baseUrl}/v1/orders`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${tokens[owner]}`,
          "Content-Type": "application/json",
        },
        body: ORDER_BODY,
      });
      const text = await response.text();
      if (response.status !== 201) {
        throw new Error(
          `Cannot seed orders: POST /v1/orders answered ${response.status}: ${
            text.slice(0, 300)
          }`,
        );
      }
      orders.push({ id: (JSON.parse(text) as { id: string }).id, owner });
    }
  }
  await Promise.all(
    Array.from({ length: options.concurrency }, () => worker()),
  );
  return orders;
}

/** Fisher–Yates with a seeded generator, so runs are repeatable. */
export function shuffled<T>(items: readonly T[], seed = 1): T[] {
  const copy = [...items];
  let state = seed >>> 0 || 1;
  for (let i = copy.length - 1; i > 0; i--) {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Writes a fixture for `load.lua`: one line per request, tab-separated. */
export async function writeFixture(
  path: string,
  rows: readonly (readonly string[])[],
): Promise<void> {
  await Deno.writeTextFile(
    path,
    rows.map((r) => r.join("\t")).join("\n") + "\n",
  );
}

/** `bytes` random bytes as base64: bench-only secrets and keys. */
export function randomSecret(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw));
}
