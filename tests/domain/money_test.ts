import assert from "node:assert/strict";
import fc from "fast-check";
import {
  computeTotalCents,
  formatCents,
  formatPrice,
  MAX_PRICE_UNITS,
  parsePrice,
  roundToCents,
} from "../../domain/money.ts";

function units(value: unknown): bigint {
  const result = parsePrice(value);
  if (!result.ok) throw new Error(`Unexpected rejection: ${result.message}`);
  return result.units;
}

function total(...lines: [number, unknown][]): string {
  return formatCents(
    computeTotalCents(
      lines.map(([quantity, price]) => ({ quantity, unitPrice: units(price) })),
    ),
  );
}

Deno.test("total rounds 1.005 half-up to 1.01", () => {
  assert.equal(total([1, 1.005]), "1.01");
  assert.equal(total([1, "1.005"]), "1.01");
});

Deno.test("total of 0.1 and 0.2 is exactly 0.30", () => {
  assert.equal(total([1, 0.1], [1, 0.2]), "0.30");
});

Deno.test("total is rounded once, not per line", () => {
  // Three lines of 0.005 are 0.015 → 0.02; rounding each line first would give 0.03.
  assert.equal(total([1, "0.005"], [1, "0.005"], [1, "0.005"]), "0.02");
  assert.equal(total([3, "0.3333"]), "1.00");
  assert.equal(total([2, "12.50"]), "25.00");
});

Deno.test("parsePrice accepts numbers and decimal strings up to 4 fractional digits", () => {
  assert.equal(units(0), 0n);
  assert.equal(units("0"), 0n);
  assert.equal(units(12.5), 125000n);
  assert.equal(units("12.50"), 125000n);
  assert.equal(units("0.3333"), 3333n);
  assert.equal(units(1000000), MAX_PRICE_UNITS);
  assert.equal(units("1000000.0000"), MAX_PRICE_UNITS);
});

Deno.test("parsePrice rejects negative, too large, too precise and non-numeric prices", async (t) => {
  const cases: [string, unknown][] = [
    ["negative number", -1],
    ["negative string", "-0.01"],
    ["too large", 1000000.0001],
    ["too large string", "1000001"],
    ["huge number", 1e300],
    ["too precise", 0.00001],
    ["too precise string", "1.00001"],
    ["tiny number printed with an exponent", 1e-7],
    ["exponent in a string", "1e3"],
    ["infinity", Infinity],
    ["NaN", NaN],
    ["empty string", ""],
    ["spaces", " 1.00"],
    ["leading plus", "+1"],
    ["bare fraction", ".5"],
    ["trailing dot", "5."],
    ["boolean", true],
    ["null", null],
    ["object", { amount: 1 }],
  ];
  for (const [name, value] of cases) {
    await t.step(name, () => assert.equal(parsePrice(value).ok, false));
  }
});

Deno.test("formatPrice shows 2 to 4 fractional digits", () => {
  assert.equal(formatPrice(125000n), "12.50");
  assert.equal(formatPrice(3333n), "0.3333");
  assert.equal(formatPrice(12300n), "1.23");
  assert.equal(formatPrice(12340n), "1.234");
  assert.equal(formatPrice(0n), "0.00");
});

Deno.test("roundToCents rounds exactly half up", () => {
  assert.equal(roundToCents(49n), 0n);
  assert.equal(roundToCents(50n), 1n);
  assert.equal(roundToCents(149n), 1n);
  assert.equal(roundToCents(150n), 2n);
});

/** A reference that works on the decimal digits as text, independent of parsePrice. */
function referenceTotal(
  lines: { quantity: number; whole: bigint; fraction: number }[],
): string {
  let tenThousandths = 0n;
  for (const line of lines) {
    tenThousandths += BigInt(line.quantity) *
      (line.whole * 10000n + BigInt(line.fraction));
  }
  const cents = tenThousandths / 100n +
    (tenThousandths % 100n >= 50n ? 1n : 0n);
  return `${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
}

Deno.test("computeTotalCents matches a BigInt reference for any prices and quantities", () => {
  const line = fc.record({
    quantity: fc.integer({ min: 1, max: 10000 }),
    whole: fc.bigInt({ min: 0n, max: 999999n }),
    fraction: fc.integer({ min: 0, max: 9999 }),
    asNumber: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 100 }), (lines) => {
      const priced = lines.map((l) => {
        const text = `${l.whole}.${String(l.fraction).padStart(4, "0")}`;
        // A JSON number written with these digits parses back to the same decimal.
        const price = l.asNumber ? Number(text) : text;
        return { quantity: l.quantity, unitPrice: units(price) };
      });
      assert.equal(
        formatCents(computeTotalCents(priced)),
        referenceTotal(lines),
      );
    }),
    { numRuns: 500 },
  );
});
