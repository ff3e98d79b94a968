/**
 * Exact money. Unit prices are integers of ten-thousandths (`PRICE_SCALE`),
 * totals are integers of cents, and all arithmetic is on `bigint`, so no
 * binary floating point ever touches an amount.
 */

/** Price units per currency unit: prices carry up to 4 fractional digits. */
export const PRICE_SCALE = 10_000n;
/** The largest unit price accepted, in currency units. */
export const MAX_PRICE = 1_000_000;
/** The largest unit price accepted, in price units. */
export const MAX_PRICE_UNITS = BigInt(MAX_PRICE) * PRICE_SCALE;
/** Why a price over `MAX_PRICE` is refused. */
const PRICE_TOO_LARGE = `Must be at most ${MAX_PRICE}`;
/** The largest order total accepted, in cents (1000000000.00). */
export const MAX_TOTAL_CENTS = 100_000_000_000n;

/** The outcome of reading a price from a request. */
export type PriceResult =
  | { ok: true; units: bigint }
  | { ok: false; message: string };

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Reads a price sent as a JSON number or a decimal string into exact price
 * units. A JSON number is read through its shortest round-trip decimal form,
 * which is the literal the client wrote for every price we accept.
 */
export function parsePrice(value: unknown): PriceResult {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      return { ok: false, message: "Must be a finite number" };
    }
    if (value < 0) return { ok: false, message: "Must not be negative" };
    text = String(value);
    if (text.includes("e")) {
      // Only values below 1e-6 or from 1e21 up print with an exponent.
      return value < 1
        ? { ok: false, message: "Must have at most 4 fractional digits" }
        : { ok: false, message: PRICE_TOO_LARGE };
    }
  } else if (typeof value === "string") {
    text = value;
    if (text.startsWith("-")) {
      return { ok: false, message: "Must not be negative" };
    }
    if (/[eE]/.test(text)) {
      return {
        ok: false,
        message: "Must be a plain decimal string without an exponent",
      };
    }
  } else {
    return { ok: false, message: "Must be a number or a decimal string" };
  }
  const match = DECIMAL.exec(text);
  if (!match) {
    return { ok: false, message: "Must be a number or a decimal string" };
  }
  const whole = match[1] ?? "0";
  const fraction = match[2] ?? "";
  if (fraction.length > 4) {
    return { ok: false, message: "Must have at most 4 fractional digits" };
  }
  const units = BigInt(whole) * PRICE_SCALE + BigInt(fraction.padEnd(4, "0"));
  if (units > MAX_PRICE_UNITS) {
    return { ok: false, message: PRICE_TOO_LARGE };
  }
  return { ok: true, units };
}

/** `quantity × price` in exact price units. */
export function lineAmount(quantity: number, unitPrice: bigint): bigint {
  return BigInt(quantity) * unitPrice;
}

/** Rounds an amount in price units half-up to whole cents. */
export function roundToCents(units: bigint): bigint {
  if (units < 0n) throw new RangeError("Amounts are never negative");
  return (units + 50n) / 100n;
}

/** The exact sum of the lines, rounded half-up to cents once. */
export function computeTotalCents(
  lines: readonly { quantity: number; unitPrice: bigint }[],
): bigint {
  let sum = 0n;
  for (const line of lines) sum += lineAmount(line.quantity, line.unitPrice);
  return roundToCents(sum);
}

/** Formats cents as a decimal string with 2 fractional digits (`"25.00"`). */
export function formatCents(cents: bigint): string {
  const whole = cents / 100n;
  const fraction = (cents % 100n).toString().padStart(2, "0");
  return `${whole}.${fraction}`;
}

/** Formats price units with 2 to 4 fractional digits (`"12.50"`, `"0.3333"`). */
export function formatPrice(units: bigint): string {
  const whole = units / PRICE_SCALE;
  let fraction = (units % PRICE_SCALE).toString().padStart(4, "0");
  while (fraction.length > 2 && fraction.endsWith("0")) {
    fraction = fraction.slice(0, -1);
  }
  return `${whole}.${fraction}`;
}

const AMOUNT = /^(\d{1,13})(?:\.(\d{1,2}))?$/;

/**
 * Reads an amount written as a plain decimal with at most 2 fractional
 * digits (`"10000"`, `"10000.00"`) into exact cents, or undefined.
 */
export function parseAmountCents(text: string): bigint | undefined {
  const match = AMOUNT.exec(text);
  if (!match) return undefined;
  return BigInt(match[1] ?? "0") * 100n +
    BigInt((match[2] ?? "").padEnd(2, "0"));
}
