/**
 * Free text from clients: which text is refused, then HTML tags stripped and
 * the rest trimmed.
 */
import { stripHtml } from "string-strip-html";
import { z } from "zod";

/**
 * Control characters (Unicode category Cc) other than tab, line feed and
 * carriage return. Storage drivers treat some of them (NUL) specially, so
 * they are refused rather than stored as something other than what was
 * acknowledged.
 */
const FORBIDDEN_CONTROL =
  // deno-lint-ignore no-control-regex -- matching them is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/**
 * Bidirectional formatting characters, as ranges of code points: the
 * embeddings and overrides, then the isolates. They reorder how the text
 * around them is displayed ("Trojan Source"), so a screen showing the text
 * would show something other than what is stored. The check and every
 * message naming them are built from this list.
 */
const BIDI_FORMATTING_RANGES = [[0x202a, 0x202e], [0x2066, 0x2069]] as const;

const BIDI_FORMATTING = new RegExp(
  `[${
    BIDI_FORMATTING_RANGES.map(([first, last]) =>
      `\\u{${first.toString(16)}}-\\u{${last.toString(16)}}`
    ).join("")
  }]`,
  "u",
);

/** `U+202A` for 0x202A. */
function codePointName(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The bidirectional formatting characters as prose names them (`U+…–U+…, …`). */
const BIDI_FORMATTING_NAMES = BIDI_FORMATTING_RANGES.map((
  [first, last],
) => `${codePointName(first)}–${codePointName(last)}`).join(", ");

/** The message for text that is not well-formed Unicode. */
export const NOT_UNICODE_MESSAGE =
  "Must be well-formed Unicode (no lone surrogates)";

/** The message for text holding a refused control character. */
export const CONTROL_CHARACTER_MESSAGE =
  "Must not contain control characters other than tab, line feed and carriage return";

/** The message for a control character written as an HTML character reference. */
export const DECODED_CONTROL_MESSAGE = decodedMessage(
  CONTROL_CHARACTER_MESSAGE,
  "&#1;",
);

/** The message for text holding a bidirectional formatting character. */
export const BIDI_FORMATTING_MESSAGE =
  `Must not contain bidirectional formatting characters (${BIDI_FORMATTING_NAMES})`;

/**
 * The message for a bidirectional formatting character written as an HTML
 * character reference.
 */
export const DECODED_BIDI_MESSAGE = decodedMessage(
  BIDI_FORMATTING_MESSAGE,
  `&#x${BIDI_FORMATTING_RANGES[0][0].toString(16).toUpperCase()};`,
);

/** `message`, extended to what the cleaner decodes from a reference such as `example`. */
function decodedMessage(message: string, example: string): string {
  return `${message}, also not as HTML character references such as ${example}`;
}

/** The characters text must not hold, with the messages refusing them. */
const REFUSED_CHARACTERS = [
  {
    pattern: FORBIDDEN_CONTROL,
    message: CONTROL_CHARACTER_MESSAGE,
    decoded: DECODED_CONTROL_MESSAGE,
  },
  {
    pattern: BIDI_FORMATTING,
    message: BIDI_FORMATTING_MESSAGE,
    decoded: DECODED_BIDI_MESSAGE,
  },
] as const;

/**
 * Why `text` cannot be stored as sent (a lone surrogate, a control character
 * other than tab, line feed or carriage return, a bidirectional formatting
 * character), or undefined when it can.
 */
export function textDefect(text: string): string | undefined {
  if (!text.isWellFormed()) return NOT_UNICODE_MESSAGE;
  return refusedCharacter(text)?.message;
}

/** The first kind of refused character `text` holds, if any. */
function refusedCharacter(text: string) {
  return REFUSED_CHARACTERS.find(({ pattern }) => pattern.test(text));
}

/** Strips HTML tags (and the contents of script/style) and trims the rest. */
export function cleanText(text: string): string {
  return stripHtml(text).result.trim();
}

/** Length in Unicode code points, as a person counts characters. */
export function charLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/** How a schema is documented in the OpenAPI document. */
export interface SchemaDocs {
  description?: string;
  examples?: unknown[];
}

/**
 * A string a client sends as it is meant to be stored (an id, a code):
 * refused when it is not well-formed Unicode or holds a control character
 * or a bidirectional formatting character.
 */
export function plainStringSchema(error: string) {
  return z.string({ error }).superRefine((text, ctx) => {
    const defect = textDefect(text);
    if (defect) ctx.addIssue({ code: "custom", message: defect, abort: true });
  });
}

/**
 * A free-text field: refused when it is not well-formed Unicode or holds a
 * control character other than tab, line feed or carriage return, or a
 * bidirectional formatting character (also once the cleaner has decoded
 * HTML character references); then tags stripped, trimmed, and at most
 * `max` characters. It must not end up empty unless `optional`, where an
 * empty result counts as none.
 *
 * The documentation sits on the input string, before the transform: in an
 * input JSON Schema, zod drops `examples` from a transforming schema. No
 * `maxLength` is declared, because the raw text may be longer than `max`
 * (tags and surrounding blanks do not count): every constraint the
 * document states holds for the raw value, the rest is in the description.
 */
export function cleanTextSchema(
  max: number,
  docs: SchemaDocs = {},
  options: { optional?: boolean } = {},
) {
  const rule = options.optional
    ? `the result may have at most ${max} characters (Unicode code points), and an empty one counts as none.`
    : `the result must be 1–${max} characters (Unicode code points), and it is what is stored and returned.`;
  return z.string({ error: "Must be a string" }).meta({
    ...(!options.optional && { minLength: 1 }),
    ...docs,
    description: [
      docs.description,
      `Control characters other than tab, line feed and carriage return, bidirectional formatting characters (${BIDI_FORMATTING_NAMES}), and text that is not well-formed Unicode, are refused (422), also when written as HTML character references. HTML tags are stripped and surrounding whitespace trimmed; ${rule}`,
    ].filter(Boolean).join(" "),
  }).transform((raw, ctx) => {
    const defect = textDefect(raw);
    if (defect) {
      ctx.addIssue({ code: "custom", message: defect });
      return z.NEVER;
    }
    const text = cleanText(raw);
    // The cleaner decodes HTML character references (`&#1;`, `&#x202E;`):
    // what it decoded is held to the same rule as what was sent.
    const decoded = textDefect(text);
    if (decoded) {
      ctx.addIssue({
        code: "custom",
        message: refusedCharacter(text)?.decoded ?? decoded,
      });
      return z.NEVER;
    }
    const length = charLength(text);
    if (length < 1 && !options.optional) {
      ctx.addIssue({ code: "custom", message: "Must not be empty" });
      return z.NEVER;
    }
    if (length > max) {
      ctx.addIssue({
        code: "custom",
        message: `Must be at most ${max} characters`,
      });
      return z.NEVER;
    }
    return text;
  });
}
