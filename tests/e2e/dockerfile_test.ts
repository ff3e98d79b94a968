/**
 * The self-hosting image. CI has no Docker daemon (and no registry to pull
 * the base image from), so the Dockerfile is parsed and held to what the
 * image must be; where a daemon answers, the image is also built and must
 * serve `/readyz`.
 */
import assert from "node:assert/strict";
import { commandSucceeds } from "../fixtures/mod.ts";

const ROOT = new URL("../../", import.meta.url);

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
async function instructions(): Promise<{ op: string; args: string }[]> {
  const text = await Deno.readTextFile(new URL("Dockerfile", ROOT));
  return text.replace(/\\\n/g, " ").split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

Deno.test("the Dockerfile builds a small non-root image that runs deno task start on a /data volume with a readiness health check", async () => {
  const all = await instructions();
  const ops = (op: string) => all.filter((i) => i.op === op).map((i) => i.args);
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  const pinned = /DENO_VERSION=([0-9.]+)/.exec(ci)?.[1];
  assert.ok(pinned, ".ci/run pins Deno");
  assert.deepEqual(ops("ARG"), [`DENO_VERSION=${pinned}`]);

  const stages = ops("FROM");
  assert.equal(stages.length, 2, "a build stage and a runtime stage");
  assert.equal(stages[0], "denoland/deno:debian-${DENO_VERSION} AS build");
  assert.equal(stages[1], "denoland/deno:distroless-${DENO_VERSION}");
  assert.ok(
    ops("RUN").some((r) => r.includes("deno install --frozen")),
    "dependencies installed exactly as locked",
  );

  const runtime = all.slice(all.findLastIndex((i) => i.op === "FROM"));
  const user = runtime.filter((i) => i.op === "USER").map((i) => i.args);
  assert.equal(user.length, 1);
  assert.doesNotMatch(user[0]!, /^(root|0)(:|$)/, "not root");
  assert.deepEqual(ops("VOLUME"), ['["/data"]']);
  const env = ops("ENV").join(" ");
  assert.match(env, /DATABASE_URL=file:\/data\/orders\.db/);
  assert.match(env, /PORT=8000/);
  assert.match(env, /HOST=0\.0\.0\.0/);
  assert.deepEqual(ops("EXPOSE"), ["8000"]);
  const health = ops("HEALTHCHECK");
  assert.equal(health.length, 1);
  assert.match(health[0]!, /CMD .*http:\/\/127\.0\.0\.1:8000\/readyz/);
  assert.deepEqual(ops("CMD"), ['["task", "start"]']);
  const tasks = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ).tasks;
  assert.ok(tasks.start, "deno.json has the start task");

  const ignored = (await Deno.readTextFile(new URL(".dockerignore", ROOT)))
    .split("\n");
  for (const path of [".git", "node_modules", "data", "*.db"]) {
    assert.ok(ignored.includes(path), `.dockerignore leaves out ${path}`);
  }
});

const dockerAnswers = await commandSucceeds("docker", { args: ["info"] });

Deno.test({
  name: "the image builds and its health check passes (needs a Docker daemon)",
  ignore: !dockerAnswers,
  async fn() {
    const tag = `orders-api-test:${crypto.randomUUID().slice(0, 8)}`;
    const docker = async (...args: string[]) => {
      const out = await new Deno.Command("docker", { args, stderr: "piped" })
        .output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout).trim();
    };
    await docker("build", "-t", tag, new URL(".", ROOT).pathname);
    const container = await docker(
      "run",
      "-d",
      "-e",
      "JWT_SECRET=docker-test-secret-0123456789-abcdefghijklmnop",
      "-e",
      `PII_ENCRYPTION_KEY=${btoa("docker-test-pii-key-32-bytes-000")}`,
      "-e",
      `AUDIT_KEY=${btoa("docker-test-audit-key-32-bytes-0")}`,
      "-e",
      `AUDIT_SIGNING_KEY=${btoa("docker-test-signing-key-32-bytes")}`,
      tag,
    );
    try {
      let status = "starting";
      for (let i = 0; i < 60 && status === "starting"; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        status = await docker(
          "inspect",
          "--format",
          "{{.State.Health.Status}}",
          container,
        );
      }
      assert.equal(status, "healthy");
    } finally {
      await docker("rm", "-f", container);
      await docker("rmi", tag);
    }
  },
});
