/**
 * `deno task ip:hash 203.0.113.5 [...]`: prints the `ip_hash` security
 * events carry for each address, with the key of the running service
 * (IP_HASH_KEY, else JWT_SECRET, else the dev-only secret), so an operator
 * can find an address's events without the logs ever holding it. Anything
 * that is not an IPv4 or IPv6 address is refused.
 */
import { DEV_JWT_SECRET } from "../config.ts";
import { addressBucket } from "../routes/middleware/client_address.ts";
import { createAddressHasher } from "../monitoring/security_events.ts";

const USAGE = "Usage: deno task ip:hash <address> [<address> …]";
if (Deno.args.length === 0) {
  console.error(USAGE);
  Deno.exit(2);
}
// Addresses are hashed as the service buckets them: an IPv6 address by its /64.
const buckets = Deno.args.map((arg) => addressBucket(arg.trim()));
const invalid = Deno.args.filter((_, i) => buckets[i] === undefined);
if (invalid.length > 0) {
  console.error(
    `Cannot hash: not an IP address: ${
      invalid.map((a) => JSON.stringify(a)).join(", ")
    }\n${USAGE}`,
  );
  Deno.exit(2);
}
const secret = Deno.env.get("IP_HASH_KEY") || Deno.env.get("JWT_SECRET") ||
  DEV_JWT_SECRET;
const hash = createAddressHasher(secret);
buckets.forEach((bucket, i) =>
  console.log(`${hash(bucket!)}  ${Deno.args[i]}`)
);
