/**
 * Free text from clients: HTML tags stripped, then trimmed.
 */
import { stripHtml } from "string-strip-html";

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
