/**
 * Which text is refused: bidirectional formatting characters ("Trojan
 * Source") like control characters, as sent and as HTML character
 * references the cleaner decodes.
 */
import assert from "node:assert/strict";
import {
  BIDI_FORMATTING_MESSAGE,
  cleanTextSchema,
  DECODED_BIDI_MESSAGE,
  plainStringSchema,
  textDefect,
} from "../../domain/text.ts";

/** The contract's bidirectional formatting characters, written out. */
const BIDI_CODES = [
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
];

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, "0");
}

/** The messages of a failed parse, or the parsed value. */
function verdict(schema: ReturnType<typeof cleanTextSchema>, text: string) {
  const parsed = schema.safeParse(text);
  return parsed.success
    ? { value: parsed.data }
    : { messages: parsed.error.issues.map((issue) => issue.message) };
}

Deno.test("the bidirectional formatting message names the contract's ranges", () => {
  assert.equal(
    BIDI_FORMATTING_MESSAGE,
    "Must not contain bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069)",
  );
  assert.equal(
    DECODED_BIDI_MESSAGE,
    `${BIDI_FORMATTING_MESSAGE}, also not as HTML character references such as &#x202A;`,
  );
});

Deno.test("each bidirectional formatting character is refused, as sent or as a character reference", async (t) => {
  const field = cleanTextSchema(500);
  const id = plainStringSchema("Must be a string");
  for (const code of BIDI_CODES) {
    const char = String.fromCodePoint(code);
    await t.step(`U+${hex(code)}`, () => {
      assert.equal(textDefect(`1 Main${char} St`), BIDI_FORMATTING_MESSAGE);
      assert.deepEqual(verdict(field, `${char}1 Main St`), {
        messages: [BIDI_FORMATTING_MESSAGE],
      });
      assert.deepEqual(
        id.safeParse(`sku${char}`).error?.issues.map((i) => i.message),
        [BIDI_FORMATTING_MESSAGE],
      );
      for (
        const reference of [
          `&#x${hex(code)};`,
          `&#x${code.toString(16)};`,
          `&#${code};`,
          `&amp;#${code};`,
        ]
      ) {
        assert.deepEqual(
          verdict(field, `Mug ${reference} large`),
          { messages: [DECODED_BIDI_MESSAGE] },
          reference,
        );
      }
    });
  }
});

Deno.test("characters beside the refused ranges are kept", () => {
  const field = cleanTextSchema(500);
  // Marks and separators the contract does not list: left-to-right and
  // right-to-left marks, zero-width joiners, the code points on either side
  // of each range.
  for (const code of [0x200e, 0x200f, 0x200d, 0x2029, 0x202f, 0x2065, 0x206a]) {
    const text = `a${String.fromCodePoint(code)}b`;
    assert.equal(textDefect(text), undefined, `U+${hex(code)}`);
    assert.deepEqual(verdict(field, text), { value: text }, `U+${hex(code)}`);
  }
  assert.deepEqual(verdict(field, "a&rlm;b"), { value: "a\u200fb" });
});
