/**
 * A TSIG key pasted into the ConfigMap in place of the TSIG Secret's name: the entry is refused naming the
 * entry and the field, and the key is not repeated in the problem (which becomes a log line and an Event).
 */
import assert from "node:assert/strict";
import { formatProblem, parseCertificatesConfig } from "../../src/config/parse.ts";

const SHA256_SECRET = "c2VjcmV0LXRzaWctYXVkaXQtdmFsdWUtMTIzNDU2Nzg=";
// 48 bytes (hmac-sha384): base64 without padding.
const SHA384_SECRET = "q3Jd9Kx0m2Vb7LpQ1sT4uW6yZ8aC0eG2iK4mO6qS8uW0yA2cE4gI6kM8oQ0sU2wY";

function problemsOf(tsigSecretName: string): string[] {
  const entry = [
    "- secret: web/site-tls",
    "  domains: [site.alpha.test]",
    "  email: ops@alpha.test",
    `  tsigSecretName: ${JSON.stringify(tsigSecretName)}`,
    "",
  ].join("\n");
  return parseCertificatesConfig({ certificates: entry }, "notariat").problems.map(formatProblem);
}

const NOT_REPEATED =
  "certificates[0] (secret web/site-tls): tsigSecretName: must be the [namespace/]name of the " +
  'Secret whose key "key" holds the TSIG key, not the key itself; it holds characters no Secret name has (the ' +
  "value is not repeated here, in case it is the key)";

Deno.test("a TSIG key in tsigSecretName is refused without repeating it, in every shape a key comes in", () => {
  const keys: [string, string][] = [
    [`hmac-sha256:notariat:${SHA256_SECRET}`, SHA256_SECRET],
    [`notariat:${SHA256_SECRET}`, SHA256_SECRET],
    [`key "notariat" {\n\talgorithm hmac-sha256;\n\tsecret "${SHA256_SECRET}";\n};`, SHA256_SECRET],
    [`# hmac-sha256:notariat:${SHA256_SECRET}`, SHA256_SECRET],
    [SHA256_SECRET, SHA256_SECRET],
    [SHA384_SECRET, SHA384_SECRET],
  ];
  for (const [value, secret] of keys) {
    const problems = problemsOf(value);
    assert.deepEqual(problems, [NOT_REPEATED], value);
    assert.ok(!problems.join("\n").includes(secret.slice(0, 16)));
  }
});

Deno.test("an ordinary mistake in tsigSecretName is still quoted, so the user sees what is wrong", () => {
  const [problem] = problemsOf("dns/tsig_key");
  assert.ok(problem.startsWith('certificates[0] (secret web/site-tls): tsigSecretName: "tsig_key"'), problem);
  assert.deepEqual(problemsOf("dns/tsig-key"), []);
});
