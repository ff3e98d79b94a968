/**
 * IP addresses as text, read strictly: dotted IPv4 without leading zeros,
 * and IPv6 in RFC 4291 form. Used for client addresses (rate limits) and
 * webhook destinations alike, so both read an address the same way.
 */

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

/** Dotted-decimal IPv4, each octet without leading zeros. */
export const DOTTED_IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

const HEXTET = /^[0-9A-Fa-f]{1,4}$/;

/** The 32-bit value of a dotted IPv4 address, or undefined. */
export function ipv4Value(text: string): number | undefined {
  if (!DOTTED_IPV4.test(text)) return undefined;
  return text.split(".").reduce((n, octet) => n * 256 + +octet, 0);
}

/**
 * The eight 16-bit groups of an IPv6 address: `::` once for one or more
 * zero groups, and optionally a dotted IPv4 address as the last two groups.
 * Undefined for anything else (zone ids and brackets included).
 */
export function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const sides: number[][] = [];
  for (const [h, half] of halves.entries()) {
    const fields = half === "" ? [] : half.split(":");
    const groups: number[] = [];
    for (const [f, field] of fields.entries()) {
      // Only the very last field may be a dotted IPv4 address (two groups).
      const last = h === halves.length - 1 && f === fields.length - 1;
      const ipv4 = last ? ipv4Value(field) : undefined;
      if (HEXTET.test(field)) {
        groups.push(parseInt(field, 16));
      } else if (ipv4 !== undefined) {
        groups.push(Math.floor(ipv4 / 0x10000), ipv4 % 0x10000);
      } else {
        return undefined; // an empty field (`:1`, `1:`, `1:::2`) or garbage
      }
    }
    sides.push(groups);
  }
  const [head = [], tail] = sides;
  if (tail === undefined) return head.length === 8 ? head : undefined;
  // `::` stands for at least one group of zeros.
  const zeros = 8 - head.length - tail.length;
  return zeros >= 1 ? [...head, ...Array(zeros).fill(0), ...tail] : undefined;
}
