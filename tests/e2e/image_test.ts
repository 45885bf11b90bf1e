/**
 * The container image, checked where no image can be built: the Dockerfile is read as data (stages, user,
 * entrypoint, no shell in the final stage, the compile permissions), and the program is bundled with
 * `deno bundle` and run with exactly those permissions and a Deno cache directory that cannot be created,
 * against the real stack, so the flags are shown to be enough and nothing is written.
 */
import assert from "node:assert/strict";
import { verifyChain } from "../../src/pki/certificate.ts";
import { loadManifests, RBAC_MANIFESTS, tsigSecret, unb64 } from "../harness/cluster_objects.ts";
import { localStackFlags, PERMISSIONS } from "../harness/program.ts";
import { startStack } from "../harness/stack.ts";

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Stage[] {
  const joined = text.split("\n").filter((line) => !line.trimStart().startsWith("#")).join("\n")
    .replaceAll(/\\\n/g, " ");
  const stages: Stage[] = [];
  for (const line of joined.split("\n").map((l) => l.trim()).filter((l) => l !== "")) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (keyword.toUpperCase() === "FROM") {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const stages = parseDockerfile(Deno.readTextFileSync(`${ROOT}Dockerfile`));
const compile = stages[0]?.instructions.find((i) => i.keyword === "RUN" && i.args.startsWith("deno compile"));
const isRunFlag = (word: string) => word.startsWith("--allow-") || word.startsWith("--unstable-");
const compileFlags = compile?.args.split(/\s+/).filter(isRunFlag) ?? [];

Deno.test("the Dockerfile: a build stage and a shell-less non-root final stage running the binary", () => {
  assert.equal(stages.length, 2);
  assert.equal(
    stages[0].from,
    "denoland/deno:2.9.6",
    "the build uses the Deno version the project is tested on",
  );
  assert.equal(stages[0].name, "build");
  assert.ok(compile, "the build stage runs deno compile");
  assert.ok(compile.args.includes("--frozen"), "the lockfile is enforced");
  assert.ok(compile.args.includes("--no-code-cache"), "the binary does not write a code cache");

  const final = stages[1];
  assert.match(
    final.from,
    /^gcr\.io\/distroless\/cc-debian12:nonroot$/,
    "distroless: no shell, no package manager",
  );
  assert.deepEqual(final.instructions.map((i) => i.keyword), ["COPY", "USER", "ENTRYPOINT"]);
  assert.equal(
    final.instructions.some((i) => i.keyword === "RUN"),
    false,
    "nothing runs a shell in the final stage",
  );
  assert.equal(final.instructions[0].args, "--from=build /out/notariat /notariat");
  assert.equal(final.instructions[1].args, "65532:65532");
  assert.deepEqual(JSON.parse(final.instructions[2].args), ["/notariat"], "exec form, no shell");

  const deployment = loadManifests(["deployment"])[0];
  assert.equal(
    deployment.spec.template.spec.securityContext.runAsUser,
    65532,
    "the Deployment runs as that user",
  );
});

Deno.test("the image's permissions are the ones the program is tested with, and no more", () => {
  assert.deepEqual(compileFlags, [...PERMISSIONS]);
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  assert.deepEqual(tasks.compile.split(" ").filter(isRunFlag), [...PERMISSIONS], "compile");
  // Against a kubeconfig, `deno task dev` may have to run its exec plugin (cloud login helpers); the image
  // runs in the cluster and never does.
  assert.deepEqual(tasks.dev.split(" ").filter(isRunFlag), [...PERMISSIONS, "--allow-run"], "dev");
  assert.ok(!compileFlags.some((flag) => flag.startsWith("--allow-write") || flag === "--allow-all"));
});

Deno.test("the bundle runs with the image's permissions, no writable Deno directory, and issues", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "notariat-bundle-" });
  const stack = await startStack();
  try {
    const bundle = `${dir}/notariat.js`;
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform=deno", "-o", bundle, `${ROOT}main.ts`],
      stdout: "null",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    // /proc refuses new directories even to root: any attempt to cache or write there would fail.
    const runBundle = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...compileFlags, bundle, ...args],
        stdout: "piped",
        stderr: "piped",
        env: { DENO_NO_UPDATE_CHECK: "1", DENO_DIR: "/proc/notariat-deno-dir" },
      }).output();
    const version = await runBundle(["-version"]);
    assert.equal(version.code, 0, new TextDecoder().decode(version.stderr));
    assert.match(new TextDecoder().decode(version.stdout), /^notariat \d+\.\d+\.\d+ \(deno /);

    const { cluster, knot, pebble } = stack;
    const dns = `127.0.0.1:${knot.address.port}`;
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      tsigSecret(knot.keys["hmac-sha256"].text, dns),
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { namespace: "notariat", name: "notariat" },
        data: {
          certificates: JSON.stringify([{
            secret: "bundle-tls",
            domains: ["bundle.alpha.test"],
            email: "ops@alpha.test",
            tsigSecretName: "tsig",
          }]),
        },
      },
    ]);
    const token = await cluster.mintToken("notariat", "notariat");
    const run = await runBundle([
      "-once",
      "-config",
      "notariat",
      ...localStackFlags({ kubeconfig: cluster.kubeconfigFor(token, "notariat"), pebble, dns }),
    ]);
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const { body } = await cluster.request("GET", "/api/v1/namespaces/notariat/secrets/bundle-tls");
    assert.equal(await verifyChain(unb64(body.data["tls.crt"]), await pebble.issuingRoot()), true);
  } finally {
    await stack.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
