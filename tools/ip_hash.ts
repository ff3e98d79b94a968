/**
 * `deno task ip:hash 203.0.113.5 [...]`: prints the `ip_hash` security
 * events carry for each address, with the key of the running service
 * (IP_HASH_KEY, else JWT_SECRET, else the dev-only secret), so an operator
 * can find an address's events without the logs ever holding it.
 */
import { DEV_JWT_SECRET } from "../config.ts";
import { createAddressHasher } from "../routes/security_events.ts";

if (Deno.args.length === 0) {
  console.error("Usage: deno task ip:hash <address> [<address> …]");
  Deno.exit(2);
}
const secret = Deno.env.get("IP_HASH_KEY") || Deno.env.get("JWT_SECRET") ||
  DEV_JWT_SECRET;
const hash = createAddressHasher(secret);
for (const address of Deno.args) {
  // Addresses are compared as the service sees them: IPv6 in lower case.
  console.log(`${hash(address.trim().toLowerCase())}  ${address}`);
}
