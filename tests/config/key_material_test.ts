import assert from "node:assert/strict";
import { formatProblem, parseCertificatesConfig } from "../../src/config/parse.ts";
import { parseCommandLine } from "../../src/cli/options.ts";
import { looksLikeKeyMaterial, quoteValue } from "../../src/quote.ts";

const SECRET = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
const KEYGEN_SECRET = "s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3t0=";

/** Key shapes a user may paste, each with the fragments that must never be repeated. */
const PASTED: { shape: string; text: string; fragments: string[] }[] = [
  { shape: "a TSIG key line", text: `hmac-sha256:k:${SECRET}`, fragments: ["QUJD", "hmac-sha256:k"] },
  {
    shape: "a TSIG key line with one slash",
    text: "hmac-sha256:k:QUJDREVG/R0hJSktMTU5PUFFS=",
    fragments: ["QUJD", "hmac"],
  },
  { shape: "a bare base64 secret", text: SECRET, fragments: ["QUJD", "WVo"] },
  {
    shape: "an unpadded 48-byte secret",
    text: "B7bkVl87fPzYUhflKtusoknlP/k+SCWAqr/KwMucwx2JR3BAxixMZQlD9lvykMtO",
    fragments: ["B7bkVl87"],
  },
  {
    shape: "an unpadded 24-byte secret line",
    text: "hmac-sha384:k2:oE3orpIKFIJ49pBGOjnMo+Z0KVKhh72B",
    fragments: ["oE3orpIK"],
  },
  { shape: "keymgr -t output", text: `# hmac-sha256:notariat:${SECRET}`, fragments: ["QUJD", "notariat:"] },
  {
    shape: "a tsig-keygen block",
    text: `key "zonekey" {\n\talgorithm hmac-sha256;\n\tsecret "${KEYGEN_SECRET}";\n};`,
    fragments: ["s3cr3t", "zonekey"],
  },
  {
    shape: "a PEM block",
    text:
      "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----",
    fragments: ["MIGHAgEA", "BEGIN"],
  },
];

const BASE = {
  secret: "web/tls",
  domains: ["example.com"],
  email: "admin@example.com",
  tsigSecretName: "dns/tsig",
};

/** The problem lines of one entry: BASE with `patch` applied (JSON is YAML). */
function problems(patch: Record<string, unknown>): string[] {
  const entry = { ...BASE, ...patch };
  return parseCertificatesConfig({ certificates: JSON.stringify([entry]) }, "notariat").problems.map(
    formatProblem,
  );
}

for (const { shape, text, fragments } of PASTED) {
  const cases: [string, Record<string, unknown>, string][] = [
    ["secret", { secret: text }, "certificates[0]: secret: "],
    ["domains[i]", { domains: ["example.com", text] }, "certificates[0] (secret web/tls): domains[1]: "],
    ["domains as a string", { domains: text }, "certificates[0] (secret web/tls): domains: "],
    ["email", { email: text }, "certificates[0] (secret web/tls): email: "],
    ["tsigSecretName", { tsigSecretName: text }, "certificates[0] (secret web/tls): tsigSecretName: "],
    ["nameserver", { nameserver: text }, "certificates[0] (secret web/tls): nameserver: "],
    ["keyType", { keyType: text }, "certificates[0] (secret web/tls): keyType: "],
    ["an unknown field's name", { [text]: "x" }, "certificates[0] (secret web/tls): "],
  ];
  for (const [field, patch, prefix] of cases) {
    Deno.test(`${shape} in ${field} is reported without repeating it`, () => {
      const lines = problems(patch);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.ok(lines[0].startsWith(prefix), lines[0]);
      for (const fragment of fragments) {
        assert.ok(!lines[0].includes(fragment), `${fragment} in: ${lines[0]}`);
      }
    });
  }
}

Deno.test("a bad value that is no key is still quoted, so the mistake is visible", () => {
  assert.deepEqual(problems({ email: "admin.example.com" }), [
    'certificates[0] (secret web/tls): email: "admin.example.com" is not a valid e-mail address: expected local@domain',
  ]);
  assert.deepEqual(problems({ nameserver: "ns1..example" }), [
    'certificates[0] (secret web/tls): nameserver: "ns1..example" is not a valid server address: "ns1..example" ' +
    "is not a valid host name: it has an empty label (two dots in a row, or a leading dot)",
  ]);
});

Deno.test("a million-character value is shown as a short prefix and its length", () => {
  const huge = "a".repeat(1_000_000);
  for (
    const patch of [{ secret: huge }, { domains: [huge] }, { email: huge }, { keyType: huge }, { [huge]: 1 }]
  ) {
    const lines = problems(patch);
    assert.equal(lines.length, 1);
    assert.ok(lines[0].length < 400, `${lines[0].length} characters: ${lines[0].slice(0, 200)}`);
    assert.ok(lines[0].includes("(1000000 characters)"), lines[0]);
  }
});

Deno.test("a key given to a flag is not repeated in the usage error", () => {
  for (const { text, fragments } of PASTED) {
    const cases = [
      ["-config", "c", "-dns-resolver", text],
      ["-config", text],
      ["-config", "c", text],
      [`-${text}`],
      ["dns-check", "-tsig-key", "k", "-domain", text],
      ["dns-check", "-tsig-key", "k", "-domain", "a.example", "-nameserver", text],
    ];
    for (const args of cases) {
      assert.throws(() => parseCommandLine(args), (err: Error) => {
        for (const fragment of fragments) assert.ok(!err.message.includes(fragment), err.message);
        return true;
      });
    }
  }
});

Deno.test("what counts as key material, and what does not", () => {
  for (const { text } of PASTED) assert.equal(looksLikeKeyMaterial(text), true, text);
  const names = [
    "example.com",
    "ns1.example.com:5353",
    "[2001:db8::1]:53",
    "admin@example.com",
    "web/tls",
    "web/MyCertificateSecret2024",
    "notariat/dns-tsig",
    "my-ns/my-tls-secret-a1-b2-c3",
    "a1-b2-c3-d4-e5-f6-g7-h8.example.com",
    "averyveryverylonghostnamelabel.example.com",
  ];
  for (const text of names) {
    assert.equal(looksLikeKeyMaterial(text), false, text);
  }
  assert.equal(quoteValue("a..b"), '"a..b"');
  assert.equal(
    quoteValue(SECRET),
    "a value of 36 characters that looks like key material (not repeated here)",
  );
});

Deno.test("valid values with separators, digits and mixed case are accepted, never taken for keys", () => {
  const patches = [
    { tsigSecretName: "notariat/dns-tsig" },
    { tsigSecretName: "my-ns/my-tsig-secret-a1-b2-c3" },
    { secret: "web/my-tls-secret-2024-a1-b2" },
    { domains: ["MyServer2024Production.Example.com", "a1-b2-c3-d4-e5-f6-g7-h8.example.com"] },
    { email: "First.Last2024@Example.com" },
    { nameserver: "NS1.Example.com:5353" },
  ];
  for (const patch of patches) {
    const entry = { ...BASE, ...patch };
    const parsed = parseCertificatesConfig({ certificates: JSON.stringify([entry]) }, "notariat");
    assert.deepEqual(parsed.problems, [], JSON.stringify(patch));
    assert.equal(parsed.specs.length, 1);
  }
});
