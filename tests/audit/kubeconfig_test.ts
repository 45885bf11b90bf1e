/**
 * A kubeconfig with a YAML mistake next to its credentials: the error (logged as "cannot start") names the
 * position and the reason, and quotes none of the lines around it, which hold tokens, passwords or key data.
 */
import assert from "node:assert/strict";
import { createKube } from "../../src/kube/client.ts";
import { NotariatError } from "../../src/errors.ts";

const TOKEN = "n0tariat-static-token-7f3a9c";
const PASSWORD = "hunter2";
const KEY_DATA = "S2V5RGF0YVNlY3JldEJ5dGVz";

const CASES: { name: string; text: string; problem: string }[] = [
  {
    name: "a token line followed by a badly indented one",
    text: [
      "apiVersion: v1",
      "kind: Config",
      "users:",
      "- name: u",
      "  user:",
      `    token: ${TOKEN}`,
      "   extra: indentation",
    ].join("\n"),
    problem: "YAML syntax error at line 7, column 4: bad indentation of a mapping entry",
  },
  {
    name: "a password in an unterminated string",
    text: [
      "apiVersion: v1",
      "users:",
      "- name: u",
      "  user:",
      "    username: admin",
      `    password: "${PASSWORD}`,
      "contexts: []",
    ].join("\n"),
    problem: "YAML syntax error at line 7, column 1: deficient indentation",
  },
  {
    name: "client key data before a stray tab",
    text: ["users:", "- name: u", "  user:", `    client-key-data: ${KEY_DATA}`, "\tcontexts: []"].join("\n"),
    problem: "YAML syntax error at line 5, column 1: tab characters must not be used in indentation",
  },
];

Deno.test("a kubeconfig YAML error names line and reason, and repeats no credential", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "notariat-audit-kubeconfig-" });
  try {
    for (const { name, text, problem } of CASES) {
      const path = `${dir}/config`;
      Deno.writeTextFileSync(path, text + "\n");
      const err = await createKube({ kubeconfig: path }).then(() => undefined, (e) => e);
      assert.ok(err instanceof NotariatError, name);
      assert.equal(err.kind, "usage");
      assert.equal(err.message, `cannot load the Kubernetes configuration: ${problem}`);
      for (const secret of [TOKEN, TOKEN.slice(0, 12), PASSWORD, KEY_DATA.slice(0, 12)]) {
        assert.ok(!err.message.includes(secret), `${name}: ${err.message}`);
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
