/**
 * The documentation points at what exists. In README.md and docs/*.md,
 * every relative link names a file of the repository (and, with
 * `#anchor`, a heading of that file, by GitHub's slugs), and every
 * repository path written in backticks exists. Fenced code blocks are
 * examples, not references, and are skipped. The other way round, every
 * Markdown file a module names, and every section it cites by title
 * (`docs/orders.md, "Money"`), exists too.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Top-level folders that are not the repository's sources. */
const SKIPPED_FOLDERS = new Set([".git", "node_modules", "data"]);

/**
 * Paths the documents may name although the repository does not hold
 * them, and why. A path is exempt when it is one of these or lies below a
 * folder listed with a trailing `/`.
 */
const NOT_IN_REPOSITORY: Readonly<Record<string, string>> = {
  "data/": "written by the service at run time (its embedded databases)",
  "openapi.json":
    "git-ignored: the document a reader downloads or `deno task openapi` writes",
  "orders_api.ts": "git-ignored: the typed client a reader generates",
};

/** Endings that make a backticked name a file name (not `order.created`). */
const FILE_EXTENSION = /\.(ts|md|json|ya?ml|lua|sql|lock|js|css|sh)$/;

/** Characters a repository path is written with (no spaces, `<…>` or `:`). */
const PATH_LIKE = /^[\w.\-/]+$/;

interface Document {
  /** Relative to the repository, e.g. `docs/orders.md`. */
  readonly path: string;
  /** Its text outside fenced code blocks, line by line (empty lines kept). */
  readonly lines: readonly string[];
}

async function readDocument(path: string): Promise<Document> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  let fence: string | undefined;
  const lines = text.split("\n").map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined) {
      if (fence === undefined) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      return "";
    }
    return fence === undefined ? line : "";
  });
  return { path, lines };
}

/** README.md and every docs/*.md, sorted. */
async function documents(): Promise<Document[]> {
  const paths = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      paths.push(`docs/${entry.name}`);
    }
  }
  paths.sort();
  return await Promise.all(paths.map(readDocument));
}

/** Every file and folder of the repository (folders end in `/`). */
async function repositoryPaths(): Promise<Set<string>> {
  const found = new Set<string>();
  async function walk(dir: URL, prefix: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory) {
        if (prefix === "" && SKIPPED_FOLDERS.has(entry.name)) continue;
        found.add(`${path}/`);
        await walk(new URL(`${entry.name}/`, dir), `${path}/`);
      } else {
        found.add(path);
      }
    }
  }
  await walk(ROOT, "");
  return found;
}

/**
 * A heading's anchor as GitHub makes it: the text as rendered (no code
 * marks, links as their text), lower case, every character but letters,
 * digits, marks, `_`, `-` and spaces removed, each space a `-`.
 */
function githubSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replaceAll("`", "")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replaceAll(" ", "-");
}

/** The anchors of a document's headings; a repeated one gets `-1`, `-2`, … */
function anchors(document: Document): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const line of document.lines) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    found.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return found;
}

/** A line without its inline code spans (links inside them are not links). */
function withoutCode(line: string): string {
  return line.replace(/`[^`]*`/g, "");
}

/** The relative link targets of a document, with the line each is on. */
function relativeLinks(
  document: Document,
): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  document.lines.forEach((text, index) => {
    const prose = withoutCode(text);
    const targets = [
      ...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g),
      ...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/g),
    ].map((match) => match[1] ?? "");
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:
      links.push({ target, line: index + 1 });
    }
  });
  return links;
}

/** The backticked spans of a document that name a repository path. */
function mentionedPaths(
  document: Document,
  topLevel: ReadonlySet<string>,
): { path: string; line: number }[] {
  const mentioned: { path: string; line: number }[] = [];
  document.lines.forEach((text, index) => {
    for (const match of text.matchAll(/`([^`]+)`/g)) {
      const path = (match[1] ?? "").replace(/^\.\//, "");
      if (!PATH_LIKE.test(path) || path.startsWith("/")) continue;
      const first = path.split("/")[0] ?? "";
      const inFolder = path.includes("/") && topLevel.has(`${first}/`);
      if (inFolder || FILE_EXTENSION.test(path)) {
        mentioned.push({ path, line: index + 1 });
      }
    }
  });
  return mentioned;
}

function isExempt(path: string): boolean {
  return Object.keys(NOT_IN_REPOSITORY).some((exempt) =>
    exempt.endsWith("/") ? path.startsWith(exempt) : path === exempt
  );
}

/**
 * Whether `path` names a file or folder: from the repository's root, or,
 * for a path given relative to a folder named nearby (`fixtures/mod.ts`,
 * `profile_summary.ts`), as the end of one.
 */
function exists(path: string, known: ReadonlySet<string>): boolean {
  if (known.has(path) || known.has(`${path}/`)) return true;
  const first = path.split("/")[0] ?? "";
  if (known.has(`${first}/`) || known.has(first)) return false;
  const tail = `/${path.replace(/\/$/, "")}`;
  return [...known].some((p) => p.replace(/\/$/, "").endsWith(tail));
}

/** Resolves a link target of `from` to a repository path and an anchor. */
function resolveLink(
  from: string,
  target: string,
): { path: string; anchor: string | undefined } {
  const [file = "", anchor] = target.split("#", 2);
  if (file === "") return { path: from, anchor };
  const url = new URL(decodeURIComponent(file), new URL(from, ROOT));
  return { path: url.pathname.slice(ROOT.pathname.length), anchor };
}

Deno.test("githubSlug makes GitHub's anchors: lower case, punctuation but - and _ dropped, spaces as -", () => {
  const cases: [string, string][] = [
    ["Tests", "tests"],
    [
      "Audit chain and `deno task audit:verify`",
      "audit-chain-and-deno-task-auditverify",
    ],
    [
      "DB-1: `/readyz` answers 503, or requests answer 500",
      "db-1-readyz-answers-503-or-requests-answer-500",
    ],
    [
      "Safe retries: `Idempotency-Key` and timeouts",
      "safe-retries-idempotency-key-and-timeouts",
    ],
    ["Where issue 14 stands (2026-12-03)", "where-issue-14-stands-2026-12-03"],
    ["snake_case & more", "snake_case--more"],
    ["A [link](#elsewhere) inside", "a-link-inside"],
  ];
  for (const [heading, slug] of cases) assert.equal(githubSlug(heading), slug);
});

Deno.test("every relative link in README.md and docs/ names an existing file, and an existing heading", async () => {
  const docs = await documents();
  const known = await repositoryPaths();
  const anchorsOf = new Map<string, Set<string>>();
  const broken: string[] = [];
  let checked = 0;
  for (const document of docs) {
    for (const { target, line } of relativeLinks(document)) {
      checked++;
      const where = `${document.path}:${line}: (${target})`;
      const { path, anchor } = resolveLink(document.path, target);
      if (!known.has(path) && !known.has(`${path}/`)) {
        broken.push(`${where} names ${path}, which does not exist`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!path.endsWith(".md")) {
        broken.push(`${where} has an anchor into a file without headings`);
        continue;
      }
      let headings = anchorsOf.get(path);
      if (headings === undefined) {
        headings = anchors(await readDocument(path));
        anchorsOf.set(path, headings);
      }
      if (!headings.has(anchor)) {
        broken.push(`${where}: ${path} has no heading #${anchor}`);
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} links found: is the parser right?`);
  assert.deepEqual(broken, []);
});

Deno.test("every repository path in backticks in README.md and docs/ exists", async () => {
  const docs = await documents();
  const known = await repositoryPaths();
  const topLevel = new Set(
    [...known].filter((path) => /^[^/]+\/$/.test(path)),
  );
  const missing: string[] = [];
  let checked = 0;
  for (const document of docs) {
    for (const { path, line } of mentionedPaths(document, topLevel)) {
      checked++;
      if (isExempt(path) || exists(path, known)) continue;
      missing.push(`${document.path}:${line}: \`${path}\``);
    }
  }
  assert.ok(checked > 50, `only ${checked} paths found: is the parser right?`);
  assert.deepEqual(missing, []);
});

Deno.test("every exemption from the path check is git-ignored", async () => {
  const ignored = (await Deno.readTextFile(new URL(".gitignore", ROOT)))
    .split("\n");
  for (const path of Object.keys(NOT_IN_REPOSITORY)) {
    assert.ok(ignored.includes(path), `${path} is not in .gitignore`);
  }
});

/** Every TypeScript file of the repository, with its text. */
async function sourceFiles(
  known: ReadonlySet<string>,
): Promise<{ path: string; text: string }[]> {
  const paths = [...known].filter((path) => path.endsWith(".ts")).sort();
  return await Promise.all(paths.map(async (path) => ({
    path,
    text: await Deno.readTextFile(new URL(path, ROOT)),
  })));
}

Deno.test("every Markdown file a module, tool or test names is in the repository", async () => {
  const known = await repositoryPaths();
  const missing: string[] = [];
  let checked = 0;
  for (const { path, text } of await sourceFiles(known)) {
    const named = text.matchAll(/(?:\.{1,2}\/)*[\w-]+(?:\/[\w-]+)*\.md\b/g);
    for (const [mention] of named) {
      checked++;
      const found = mention.startsWith(".")
        ? known.has(
          new URL(mention, new URL(path, ROOT)).pathname.slice(
            ROOT.pathname.length,
          ),
        )
        : exists(mention, known);
      if (!found) missing.push(`${path}: ${mention}`);
    }
  }
  assert.ok(checked > 0, "no Markdown file named: is the pattern right?");
  assert.deepEqual(missing, []);
});

Deno.test("every documentation section a module, tool or test cites by title exists", async () => {
  const known = await repositoryPaths();
  const headings = new Map<string, Set<string>>();
  const missing: string[] = [];
  let checked = 0;
  for (const { path, text } of await sourceFiles(known)) {
    const cited = text.matchAll(
      /\b(README(?:\.md)?|docs\/[\w-]+\.md), "([^"]+)"/g,
    );
    for (const [citation, document = "", title = ""] of cited) {
      checked++;
      const file = document === "README" ? "README.md" : document;
      if (!known.has(file)) {
        missing.push(`${path}: ${citation} (no such file)`);
        continue;
      }
      let anchorsOfFile = headings.get(file);
      if (anchorsOfFile === undefined) {
        anchorsOfFile = anchors(await readDocument(file));
        headings.set(file, anchorsOfFile);
      }
      if (!anchorsOfFile.has(githubSlug(title))) {
        missing.push(`${path}: ${citation} (no such heading)`);
      }
    }
  }
  assert.ok(checked > 0, "no section cited: is the pattern right?");
  assert.deepEqual(missing, []);
});
