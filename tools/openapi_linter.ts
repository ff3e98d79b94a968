/**
 * Lints the OpenAPI document with Redocly CLI, run by Deno from npm at the
 * version deno.json pins. Telemetry and the update check are off, so the
 * only network access is npm fetching the package on a first run.
 */
import { buildOpenApiDocument } from "../routes/openapi/standalone.ts";

const ROOT = new URL("../", import.meta.url);

/** What the linter printed and its exit status. */
export interface LintResult {
  code: number;
  output: string;
}

/** The npm specifier of Redocly CLI pinned in deno.json's imports. */
export async function redoclySpecifier(): Promise<string> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ) as { imports: Record<string, string> };
  const specifier = config.imports["@redocly/cli"];
  if (!specifier?.startsWith("npm:@redocly/cli@")) {
    throw new Error("deno.json must pin @redocly/cli in its imports");
  }
  return specifier;
}

/** Writes the document to a temporary file and runs `redocly lint` on it. */
export async function lintOpenApiDocument(): Promise<LintResult> {
  const dir = await Deno.makeTempDir({ prefix: "openapi-lint-" });
  try {
    const file = `${dir}/openapi.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify(buildOpenApiDocument(), null, 2),
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        await redoclySpecifier(),
        "lint",
        "--config",
        new URL("redocly.yaml", ROOT).pathname,
        "--format",
        "stylish",
        file,
      ],
      cwd: ROOT.pathname,
      env: {
        REDOCLY_TELEMETRY: "off",
        REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code,
      output: decoder.decode(stdout) + decoder.decode(stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
