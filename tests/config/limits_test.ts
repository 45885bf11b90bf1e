import assert from "node:assert/strict";
import { DEFAULT_MAX_NAMES, formatProblem, parseCertificatesConfig } from "../../src/config/parse.ts";

function parse(entry: Record<string, unknown>) {
  const document = [{ secret: "web/tls", email: "a@example.com", tsigSecretName: "tsig", ...entry }];
  const parsed = parseCertificatesConfig({ certificates: JSON.stringify(document) }, "notariat");
  return { specs: parsed.specs, lines: parsed.problems.map(formatProblem) };
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}.example.com`);

Deno.test("an entry with more names than a CA takes is a config error, before any DNS or ACME work", () => {
  assert.equal(DEFAULT_MAX_NAMES, 100);
  assert.equal(parse({ domains: names(100) }).specs.length, 1);
  const { specs, lines } = parse({ domains: names(101) });
  assert.deepEqual(specs, []);
  assert.deepEqual(lines, [
    "certificates[0] (secret web/tls): domains: lists 101 distinct names, more than the 100 a CA takes in one " +
    "certificate (Let's Encrypt's limit; 25 with its short-lived profile): split the entry, or set maxNames if " +
    "your CA takes more",
  ]);
});

Deno.test("names are counted after normalization: duplicates in another spelling count once", () => {
  const domains = [...names(100), "N0.Example.com.", "n1.example.com"];
  assert.equal(parse({ domains }).specs.length, 1);
});

Deno.test("maxNames raises or lowers the limit per entry, and must be a sensible number", () => {
  assert.equal(parse({ domains: names(150), maxNames: 200 }).specs.length, 1);
  assert.deepEqual(parse({ domains: names(26), maxNames: 25 }).lines, [
    "certificates[0] (secret web/tls): domains: lists 26 distinct names, more than maxNames (25): split the " +
    "entry, or raise maxNames if your CA takes more",
  ]);
  for (const bad of [0, -1, 2.5, "100", 1_000_000]) {
    const { specs, lines } = parse({ domains: names(1), maxNames: bad });
    assert.deepEqual(specs, []);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^certificates\[0\] \(secret web\/tls\): maxNames: must be a whole number from 1 to 1000/,
    );
  }
});

Deno.test("an IP address is not a DNS name a CA issues for", () => {
  assert.deepEqual(parse({ domains: ["192.0.2.1"] }).lines, [
    'certificates[0] (secret web/tls): domains[0]: "192.0.2.1" is not a valid domain name: it ends in an ' +
    "all-numeric label (an IP address?), and a CA issues certificates for DNS names only over DNS-01",
  ]);
  assert.equal(parse({ domains: ["a.b2c.example", "x.1a"] }).specs.length, 1);
});
