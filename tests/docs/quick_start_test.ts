/**
 * Every command of the README's quick start is run somewhere: `kubectl` and `notariat` by the demo (which
 * reads them from the README, scripts/demo.ts), `keymgr` and `tsig-keygen` by tests/docs/dns_snippets_test.ts
 * (which also reads them from the README). The image build is the one command nothing here can run: it
 * needs Docker and Deno's download server.
 */
import assert from "node:assert/strict";
import { quickStartSteps } from "../../scripts/quick_start.ts";

const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));

/** Who runs a command of the quick start, by its first word. */
function runner(command: string): string {
  if (/^[A-Z_]+=/.test(command) || command.startsWith("notariat() ")) return "setting";
  if (/^(kubectl|notariat) /.test(command)) return "demo";
  if (/^(keymgr|tsig-keygen) /.test(command)) return "dns_snippets_test";
  if (/^docker build /.test(command)) return "not run";
  return "nobody";
}

Deno.test("every quick-start command is one the demo or a test runs, but the image build", () => {
  const steps = quickStartSteps(readme);
  assert.deepEqual(steps.map((s) => s.number), [0, 1, 2, 3, 4, 5, 6, 7], "settings, then steps 1 to 7");
  const byRunner = new Map<string, string[]>();
  for (const command of steps.flatMap((s) => s.commands)) {
    byRunner.set(runner(command), [...(byRunner.get(runner(command)) ?? []), command]);
  }
  assert.deepEqual(byRunner.get("nobody"), undefined, "a command nothing runs");
  assert.deepEqual(byRunner.get("not run"), ["docker build -t $IMAGE . && docker push $IMAGE"]);
  assert.deepEqual(byRunner.get("dns_snippets_test"), [
    "keymgr -t notariat > notariat.key",
    "tsig-keygen notariat > notariat.key",
  ]);
  assert.ok((byRunner.get("demo") ?? []).length >= 10, "the demo runs the kubectl and notariat commands");
  assert.deepEqual(byRunner.get("setting"), [
    "NAMESERVER=192.0.2.53:53",
    "DOMAIN=www.example.com",
    "IMAGE=registry.example.com/notariat:0.1.0",
    'notariat() { deno run --unstable-net --allow-net --allow-read --allow-env --allow-sys main.ts "$@"; }',
  ]);
});

Deno.test("a quick-start command keeps a # inside quotes and loses its trailing comment", () => {
  const text = [
    "## Quick start on a real cluster",
    "",
    "**1. One.** text",
    "",
    "```sh",
    'kubectl patch x -p=\'{"a":"#b"}\'   # a comment',
    "# only a comment",
    "",
    "echo hi#there",
    "```",
    "",
    "## Next",
    "",
    "```sh",
    "not part of it",
    "```",
  ].join("\n");
  assert.deepEqual(quickStartSteps(`intro\n${text}\n`), [
    { number: 1, title: "One", commands: ['kubectl patch x -p=\'{"a":"#b"}\'', "echo hi#there"] },
  ]);
});
