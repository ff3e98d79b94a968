/**
 * Writes the parts of `docs/` that restate the code: each block between
 * `<!-- generated: NAME -->` and `<!-- end generated -->` (itself inside
 * `deno fmt`'s ignore markers, so it stays as written) is the output of the
 * function of that name below, so a table in the docs can never
 * disagree with the rules it shows. `deno task docs:generate` rewrites the
 * blocks; `tests/tools/docs_generate_test.ts` fails when one is out of date.
 */
import {
  ALL_CHECKS,
  describeChecks,
  ORDER_CHANGE_CHECKS,
} from "../routes/http/checks.ts";
import {
  lifecycleDiagram,
  rolesTable,
} from "../routes/openapi/policy_table.ts";
import {
  addressRangesTable,
  webhookRetryTable,
  webhookSettingsTable,
} from "./webhook_docs.ts";
import { auditSettingsTable } from "./audit_docs.ts";

/** Every generated block, by name. */
export const GENERATED_BLOCKS: Readonly<Record<string, () => string>> = {
  "lifecycle-diagram": () => "```mermaid\n" + lifecycleDiagram() + "\n```",
  "roles-table": rolesTable,
  "order-of-checks": () => `Order of checks: ${describeChecks(ALL_CHECKS)}.`,
  "order-change-checks": () =>
    `Without \`If-Match\`: ${
      describeChecks(ORDER_CHANGE_CHECKS.withoutIfMatch)
    }. With \`If-Match\`: ${describeChecks(ORDER_CHANGE_CHECKS.withIfMatch)}.`,
  "webhook-settings": webhookSettingsTable,
  "webhook-retries": webhookRetryTable,
  "webhook-address-ranges": addressRangesTable,
  "audit-settings": auditSettingsTable,
};

const BLOCK =
  /(<!-- generated: ([\w-]+) -->\n)([\s\S]*?)(\n<!-- end generated -->)/g;

/** The names of the generated blocks a text holds, in order. */
export function blockNames(text: string): string[] {
  return [...text.matchAll(BLOCK)].map((match) => match[2]!);
}

/** `text` with every generated block written anew. */
export function regenerate(text: string): string {
  return text.replace(BLOCK, (_all, open, name, _old, close) => {
    const generate = GENERATED_BLOCKS[name];
    if (!generate) throw new Error(`No generated block is called "${name}"`);
    return `${open}${generate()}${close}`;
  });
}

/** The documents that hold generated blocks. */
export const DOCUMENTS = [
  "docs/orders.md",
  "docs/rate-limits.md",
  "docs/webhooks.md",
  "docs/audit.md",
];

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  for (const path of DOCUMENTS) {
    const url = new URL(path, root);
    const text = await Deno.readTextFile(url);
    const written = regenerate(text);
    if (written !== text) {
      await Deno.writeTextFile(url, written);
      console.error(`docs:generate: rewrote ${path}`);
    }
  }
}
