/**
 * A real webhook receiver for tests: an HTTP server on a free port of
 * 127.0.0.1 that records every delivery and answers as the test scripts
 * it, and verifies each signature with the `standardwebhooks` package, an
 * implementation independent of ours.
 */
import { Webhook } from "standardwebhooks";

/** One delivery as the receiver got it. */
export interface Delivery {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
  /** The status the receiver answered. */
  status: number;
}

/** How the receiver answers a delivery (the nth it got, from 0). */
export type Script = (
  delivery: Delivery,
  n: number,
) => Response | Promise<Response>;

/** A running receiver. */
export interface Receiver {
  /** Its URL (`http://127.0.0.1:<port>/hooks`). */
  readonly url: string;
  readonly deliveries: Delivery[];
  /** Answers the next deliveries this way (200 by default). */
  script(answer: Script): void;
  /** Resolves once `count` deliveries arrived. */
  waitFor(count: number): Promise<void>;
  /** Whether the delivery's signature verifies with `secret`. */
  verifies(delivery: Delivery, secret: string): boolean;
  close(): Promise<void>;
}

/** Starts a receiver answering 200 until scripted otherwise. */
export function startReceiver(): Receiver {
  const deliveries: Delivery[] = [];
  let answer: Script = () => new Response(null, { status: 200 });
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    const body = await request.text();
    const delivery: Delivery = {
      id: request.headers.get("webhook-id") ?? "",
      timestamp: request.headers.get("webhook-timestamp") ?? "",
      signature: request.headers.get("webhook-signature") ?? "",
      body,
      json: JSON.parse(body),
      status: 0,
    };
    const n = deliveries.length;
    deliveries.push(delivery);
    const response = await answer(delivery, n);
    delivery.status = response.status;
    for (const waiter of waiters.filter((w) => deliveries.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    return response;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks`,
    deliveries,
    script(next) {
      answer = next;
    },
    waitFor(count) {
      if (deliveries.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    verifies(delivery, secret) {
      try {
        new Webhook(secret).verify(delivery.body, {
          "webhook-id": delivery.id,
          "webhook-timestamp": delivery.timestamp,
          "webhook-signature": delivery.signature,
        });
        return true;
      } catch {
        return false;
      }
    },
    close: () => server.shutdown(),
  };
}
