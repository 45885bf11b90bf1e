import assert from "node:assert/strict";
import { type ConfigProblem, formatProblem, parseCertificatesConfig } from "../../src/config/parse.ts";

/** The problems of a document, as the lines a user reads. */
function problemLines(yaml: string): string[] {
  return parseCertificatesConfig({ certificates: yaml }, "notariat").problems.map(formatProblem);
}

const VALID_ENTRY = "  domains: [example.com]\n  email: admin@example.com\n  tsigSecretName: dns/tsig\n";

Deno.test("valid entries become specs with defaults applied", () => {
  const yaml = `
- secret: example-tls
  domains:
    - Example.com
    - "*.example.com"
    - example.com.
    - www.Bücher.example
  email: admin@example.com
  tsigSecretName: tsig
- secret: web/other-tls
  domains: [other.example]
  email: ops@other.example
  tsigSecretName: dns/tsig-other
  nameserver: "[2001:db8::53]:5353"
  keyType: rsa3072
`;
  assert.deepEqual(parseCertificatesConfig({ certificates: yaml, unrelated: "x" }, "notariat"), {
    specs: [
      {
        index: 0,
        secret: { namespace: "notariat", name: "example-tls" },
        domains: ["example.com", "*.example.com", "www.xn--bcher-kva.example"],
        email: "admin@example.com",
        tsigSecret: { namespace: "notariat", name: "tsig" },
        keyType: "ecdsa-p256",
        challenge: "dns-01",
      },
      {
        index: 1,
        secret: { namespace: "web", name: "other-tls" },
        domains: ["other.example"],
        email: "ops@other.example",
        tsigSecret: { namespace: "dns", name: "tsig-other" },
        nameserver: { host: "2001:db8::53", port: 5353 },
        keyType: "rsa3072",
        challenge: "dns-01",
      },
    ],
    problems: [],
  });
});

Deno.test("an empty list is a valid configuration with nothing to do", () => {
  assert.deepEqual(parseCertificatesConfig({ certificates: "[]" }, "n"), { specs: [], problems: [] });
});

Deno.test("every problem of an entry is reported, and a bad entry never stops the valid ones", () => {
  const yaml = `
- secret: first-tls
${VALID_ENTRY}- secret: web/broken-tls
  domains: [good.example, "a..b.example", 42]
  email: not-an-address
  tsigSecretName: Dns/tsig
  nameserver: "10.0.0.1:99999"
  keyType: rsa1024
  domain: extra.example
- secret: last-tls
${VALID_ENTRY}`;
  const { specs, problems } = parseCertificatesConfig({ certificates: yaml }, "notariat");
  assert.deepEqual(specs.map((s) => [s.index, s.secret.name]), [[0, "first-tls"], [2, "last-tls"]]);
  assert.deepEqual(problems.map(formatProblem), [
    'certificates[1] (secret web/broken-tls): domain: unknown field (did you mean "domains"?)',
    'certificates[1] (secret web/broken-tls): domains[1]: "a..b.example" is not a valid domain name: ' +
    "it has an empty label (two dots in a row, or a leading dot)",
    "certificates[1] (secret web/broken-tls): domains[2]: must be a string, got the number 42",
    'certificates[1] (secret web/broken-tls): email: "not-an-address" is not a valid e-mail address: ' +
    "expected local@domain",
    'certificates[1] (secret web/broken-tls): tsigSecretName: "Dns" is not a valid namespace: must be a ' +
    "lowercase RFC 1123 label: letters a-z, digits and '-', starting and ending with a letter or digit " +
    "(e.g. 'my-namespace')",
    'certificates[1] (secret web/broken-tls): nameserver: "10.0.0.1:99999" is not a valid server address: ' +
    'port "99999" is not a number from 1 to 65535',
    'certificates[1] (secret web/broken-tls): keyType: "rsa1024" is not a supported key type: use one of ' +
    "ecdsa-p256, ecdsa-p384, rsa2048, rsa3072, rsa4096",
  ]);
});

Deno.test("problems carry index, secret and field as separate data", () => {
  const problems =
    parseCertificatesConfig({ certificates: `- secret: a-tls\n${VALID_ENTRY}  keyType: dsa\n` }, "ns")
      .problems;
  assert.deepEqual(problems, [{
    index: 0,
    secret: "ns/a-tls",
    field: "keyType",
    message:
      '"dsa" is not a supported key type: use one of ecdsa-p256, ecdsa-p384, rsa2048, rsa3072, rsa4096',
  }]);
});

Deno.test("missing required fields are each named, without a secret when it is the one missing", () => {
  assert.deepEqual(problemLines("- {}"), [
    "certificates[0]: secret: is required: the [namespace/]name of the kubernetes.io/tls Secret to keep",
    "certificates[0]: domains: is required: the list of DNS names the certificate is for",
    "certificates[0]: email: is required: the contact address of the ACME account",
    'certificates[0]: tsigSecretName: is required: the [namespace/]name of the Secret whose key "key" holds the TSIG key',
  ]);
  assert.deepEqual(
    problemLines(`- secret: ""\n  email:\n${VALID_ENTRY.replace("  email: admin@example.com\n", "")}`),
    [
      "certificates[0]: secret: is required: the [namespace/]name of the kubernetes.io/tls Secret to keep",
      "certificates[0]: email: is required: the contact address of the ACME account",
    ],
  );
});

Deno.test("fields of the wrong YAML type say what they got", () => {
  assert.deepEqual(problemLines(`- secret: 123\n${VALID_ENTRY}`), [
    'certificates[0]: secret: must be a string, got the number 123 (quote it: "123")',
  ]);
  assert.deepEqual(
    problemLines(`- secret: s\n  domains: example.com\n  email: a@b.example\n  tsigSecretName: t`),
    [
      "certificates[0] (secret notariat/s): domains: must be a list of domain names, got a string " +
      "(write domains: [example.com])",
    ],
  );
  assert.deepEqual(problemLines(`- secret: s\n  domains: []\n  email: a@b.example\n  tsigSecretName: t`), [
    "certificates[0] (secret notariat/s): domains: must list at least one domain name",
  ]);
  assert.deepEqual(problemLines(`- secret: s\n${VALID_ENTRY}  keyType: [rsa2048]`), [
    "certificates[0] (secret notariat/s): keyType: must be a string, got a list",
  ]);
  assert.deepEqual(problemLines(`- secret: s\n${VALID_ENTRY}  nameserver: {host: x}`), [
    "certificates[0] (secret notariat/s): nameserver: must be a string, got a mapping",
  ]);
});

Deno.test("optional fields left empty take their defaults", () => {
  const { specs, problems } = parseCertificatesConfig(
    { certificates: `- secret: s\n${VALID_ENTRY}  nameserver:\n  keyType: ~\n` },
    "n",
  );
  assert.deepEqual(problems, []);
  assert.equal(specs[0].keyType, "ecdsa-p256");
  assert.equal("nameserver" in specs[0], false);
});

Deno.test("unknown fields are rejected by name, with a suggestion for near misses only", () => {
  assert.deepEqual(
    problemLines(
      `- secret: s\n${VALID_ENTRY}  tsigSecret: t\n  keytype: rsa2048\n  mail: m\n  color: blue\n`,
    ),
    [
      'certificates[0] (secret notariat/s): tsigSecret: unknown field (did you mean "tsigSecretName"?)',
      'certificates[0] (secret notariat/s): keytype: unknown field (did you mean "keyType"?)',
      'certificates[0] (secret notariat/s): mail: unknown field (did you mean "email"?)',
      "certificates[0] (secret notariat/s): color: unknown field",
    ],
  );
});

Deno.test("two entries for the same Secret are both rejected", () => {
  const yaml = `- secret: notariat/shared-tls\n${VALID_ENTRY}- secret: alone-tls\n${VALID_ENTRY}` +
    "- secret: shared-tls\n  domains: [www.example.com]\n  email: web@example.com\n  tsigSecretName: tsig\n";
  const { specs, problems } = parseCertificatesConfig({ certificates: yaml }, "notariat");
  assert.deepEqual(specs.map((s) => s.secret.name), ["alone-tls"]);
  assert.deepEqual(problems.map(formatProblem), [
    "certificates[0] (secret notariat/shared-tls): secret: the same Secret is also listed in certificates[2]; " +
    "list each Secret once (merge the domains into one entry)",
    "certificates[2] (secret notariat/shared-tls): secret: the same Secret is also listed in certificates[0]; " +
    "list each Secret once (merge the domains into one entry)",
  ]);
});

Deno.test("a duplicate Secret is rejected even when its other entry is invalid", () => {
  const yaml =
    `- secret: s\n${VALID_ENTRY}- secret: s\n  domains: [bad_name.example]\n  email: a@b.example\n  tsigSecretName: t\n`;
  const { specs, problems } = parseCertificatesConfig({ certificates: yaml }, "n");
  assert.deepEqual(specs, []);
  assert.deepEqual(problems.map(formatProblem), [
    "certificates[0] (secret n/s): secret: the same Secret is also listed in certificates[1]; " +
    "list each Secret once (merge the domains into one entry)",
    'certificates[1] (secret n/s): domains[0]: "bad_name.example" is not a valid domain name: ' +
    'label "bad_name" may hold only letters, digits and hyphens',
    "certificates[1] (secret n/s): secret: the same Secret is also listed in certificates[0]; " +
    "list each Secret once (merge the domains into one entry)",
  ]);
});

Deno.test("an entry that is not a mapping is one problem and does not stop the others", () => {
  const { specs, problems } = parseCertificatesConfig(
    { certificates: `- example.com\n- [a, b]\n-\n- secret: s\n${VALID_ENTRY}` },
    "n",
  );
  assert.deepEqual(specs.map((s) => s.index), [3]);
  assert.deepEqual(problems.map(formatProblem), [
    "certificates[0]: must be a mapping with secret, domains, email and tsigSecretName, got a string",
    "certificates[1]: must be a mapping with secret, domains, email and tsigSecretName, got a list",
    "certificates[2]: must be a mapping with secret, domains, email and tsigSecretName, got nothing",
  ]);
});

Deno.test("whole-document problems are one clear message", () => {
  const expected = "a YAML list of entries, each with secret, domains, email and tsigSecretName";
  const cases: [Record<string, string> | undefined, string][] = [
    [undefined, `certificates: the ConfigMap has no key "certificates": it should hold ${expected}`],
    [{ other: "x" }, `certificates: the ConfigMap has no key "certificates": it should hold ${expected}`],
    [{ certificates: "" }, `certificates: is empty: it should hold ${expected}`],
    [{ certificates: " \n\t\n" }, `certificates: is empty: it should hold ${expected}`],
    [
      { certificates: "# nothing yet\n" },
      `certificates: holds no YAML value (only comments, or null): it should hold ${expected}`,
    ],
    [
      { certificates: "~" },
      `certificates: holds no YAML value (only comments, or null): it should hold ${expected}`,
    ],
    [{ certificates: "example.com" }, "certificates: must be a YAML list of entries, got a string"],
    [
      { certificates: "secret: s\ndomains: [a.example]" },
      "certificates: must be a YAML list of entries, got a mapping",
    ],
    [
      { certificates: "certificates:\n  - secret: s" },
      'certificates: must be a YAML list of entries, got a mapping (the ConfigMap key "certificates" already ' +
      'names the list: start its value with "- secret: ...")',
    ],
  ];
  for (const [data, line] of cases) {
    const { specs, problems } = parseCertificatesConfig(data, "n");
    assert.deepEqual(specs, []);
    assert.deepEqual(problems.map(formatProblem), [line], JSON.stringify(data));
  }
});

Deno.test("YAML syntax errors give line and column", () => {
  assert.deepEqual(problemLines("- secret: a\n  domains: [a.example\n- secret: b\n"), [
    "certificates: YAML syntax error at line 3, column 1: deficient indentation",
  ]);
  assert.deepEqual(problemLines("- secret: a\n  secret: b\n"), [
    "certificates: YAML syntax error at line 2, column 3: duplicated mapping key",
  ]);
});

Deno.test("formatProblem leaves out the parts that are unknown", () => {
  const cases: [ConfigProblem, string][] = [
    [
      { index: 2, secret: "web/tls", field: "email", message: "bad" },
      "certificates[2] (secret web/tls): email: bad",
    ],
    [{ index: 2, secret: "web/tls", message: "bad" }, "certificates[2] (secret web/tls): bad"],
    [{ index: 0, field: "secret", message: "bad" }, "certificates[0]: secret: bad"],
    [{ index: 0, message: "bad" }, "certificates[0]: bad"],
    [{ message: "bad" }, "certificates: bad"],
  ];
  for (const [problem, line] of cases) assert.equal(formatProblem(problem), line);
});

Deno.test("an entry may name a certificate profile; a malformed name is that entry's problem", () => {
  const yaml = `
- secret: short-tls
${VALID_ENTRY}  profile: shortlived
- secret: odd-tls
${VALID_ENTRY}  profile: "short lived"
- secret: plain-tls
${VALID_ENTRY}`;
  const { specs, problems } = parseCertificatesConfig({ certificates: yaml }, "ns");
  assert.deepEqual(specs.map((s) => [s.secret.name, s.profile]), [["short-tls", "shortlived"], [
    "plain-tls",
    undefined,
  ]]);
  assert.deepEqual(problems.map(formatProblem), [
    'certificates[1] (secret ns/odd-tls): profile: "short lived" is not a profile name: letters, digits, ' +
    '".", "_" and "-", at most 64',
  ]);
});

Deno.test("challenge: names one of the three DNS challenge types; persistUntil goes with dns-persist-01", () => {
  const yaml = `
- secret: persist-tls
  domains: ["*.example.com"]
  email: admin@example.com
  challenge: dns-persist-01
  persistUntil: 2027-01-31T00:00:00Z
- secret: account-tls
  challenge: dns-account-01
${VALID_ENTRY}`;
  const { specs, problems } = parseCertificatesConfig({ certificates: yaml }, "notariat");
  assert.deepEqual(problems, []);
  assert.equal(specs[0].challenge, "dns-persist-01");
  assert.equal(specs[0].tsigSecret, undefined, "a standing record kept by hand needs no TSIG key");
  assert.equal(specs[0].persistUntil?.toISOString(), "2027-01-31T00:00:00.000Z");
  assert.equal(specs[1].challenge, "dns-account-01");
  assert.deepEqual(specs[1].tsigSecret, { namespace: "dns", name: "tsig" });
});

Deno.test("a bad challenge or persistUntil, or a missing TSIG Secret for per-attempt values, names entry and field", () => {
  assert.deepEqual(problemLines(`- secret: a\n  challenge: http-01\n${VALID_ENTRY}`), [
    'certificates[0] (secret notariat/a): challenge: "http-01" is not a supported challenge type: use one of ' +
    "dns-01, dns-persist-01, dns-account-01",
  ]);
  assert.deepEqual(problemLines(`- secret: b\n  persistUntil: "2027-01-31T00:00:00Z"\n${VALID_ENTRY}`), [
    "certificates[0] (secret notariat/b): persistUntil: only applies to challenge: dns-persist-01 (this entry uses dns-01)",
  ]);
  assert.deepEqual(
    problemLines(`- secret: c\n  challenge: dns-persist-01\n  persistUntil: next year\n${VALID_ENTRY}`),
    ['certificates[0] (secret notariat/c): persistUntil: must be a time with its zone, like 2027-01-31T00:00:00Z, got "next year"'],
  );
  assert.deepEqual(
    problemLines("- secret: d\n  domains: [d.example]\n  email: a@d.example\n  challenge: dns-account-01\n"),
    [
      'certificates[0] (secret notariat/d): tsigSecretName: is required: the [namespace/]name of the Secret whose key "key" ' +
      "holds the TSIG key (optional only with challenge: dns-persist-01)",
    ],
  );
});
