import assert from "node:assert/strict";
import { parseCertificatesConfig } from "../../src/config/parse.ts";
import { orphanedRecords } from "../../src/controller/standing_sweep.ts";
import type { StandingRecord } from "../../src/dns/standing_record_store.ts";

function record(entry: string, domain: string): StandingRecord {
  return {
    entry,
    domain,
    owner: `_validation-persist.${domain}`,
    zone: "example.com",
    server: "192.0.2.53:53",
    value: `ca.example; accounturi=https://ca.example/acct/1`,
    tsigSecret: "notariat/tsig",
  };
}

const RECORDS = [
  record("notariat/kept-tls", "example.com"),
  record("notariat/kept-tls", "old.example.com"),
  record("notariat/gone-tls", "gone.example.com"),
  record("notariat/switched-tls", "switched.example.com"),
  record("notariat/broken-tls", "broken.example.com"),
];

const parse = (yaml: string) => parseCertificatesConfig({ certificates: yaml }, "notariat");
const PERSIST = "  email: a@example.com\n  tsigSecretName: tsig\n";

Deno.test("records of removed entries, dropped domains and entries that changed challenge type are orphaned", () => {
  const config = parse(`
- secret: kept-tls
  domains: ["*.example.com", example.com]
  challenge: dns-persist-01
${PERSIST}- secret: switched-tls
  domains: [switched.example.com]
${PERSIST}- secret: broken-tls
  domains: [broken.example.com]
  challenge: dns-persist-01
  keyType: rsa9
${PERSIST}`);
  assert.equal(config.problems.length, 1, "broken-tls is invalid but present");
  assert.deepEqual(orphanedRecords(RECORDS, config).map((r) => `${r.entry} ${r.domain}`), [
    "notariat/kept-tls old.example.com",
    "notariat/gone-tls gone.example.com",
    "notariat/switched-tls switched.example.com",
  ]);
});

Deno.test("nothing is orphaned when the configuration cannot be read as a whole", () => {
  assert.deepEqual(orphanedRecords(RECORDS, undefined), [], "no ConfigMap");
  assert.deepEqual(orphanedRecords(RECORDS, parse("- secret: [unclosed")), [], "YAML syntax error");
  assert.deepEqual(
    orphanedRecords(RECORDS, parse(`- domains: [x.example]\n${PERSIST}`)),
    [],
    "an entry without secret",
  );
});
