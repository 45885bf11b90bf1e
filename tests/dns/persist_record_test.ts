import assert from "node:assert/strict";
import {
  formatPersistValue,
  formatPersistZoneLine,
  parsePersistValue,
  persistAccountUri,
  persistRecordName,
  persistValueMatches,
} from "../../src/dns/persist_record.ts";

const ACCOUNT = "https://ca.example/acct/123";

Deno.test("the standing record lives at _validation-persist of the base name, wildcard or not", () => {
  assert.equal(persistRecordName("www.example.com"), "_validation-persist.www.example.com");
  assert.equal(persistRecordName("*.Example.com."), "_validation-persist.example.com");
});

Deno.test("the value names issuer and account, then policy and persistUntil when asked for", () => {
  assert.equal(
    formatPersistValue({ issuerDomainName: "pebble.letsencrypt.org", accountUri: ACCOUNT, wildcard: false }),
    "pebble.letsencrypt.org; accounturi=https://ca.example/acct/123",
  );
  assert.equal(
    formatPersistValue({
      issuerDomainName: "letsencrypt.org",
      accountUri: ACCOUNT,
      wildcard: true,
      persistUntil: new Date("2027-01-31T00:00:00.900Z"),
    }),
    "letsencrypt.org; accounturi=https://ca.example/acct/123; policy=wildcard; persistUntil=1801353600",
  );
});

Deno.test("a value is read as a CA reads it: tags in any case, spaces around separators ignored", () => {
  assert.deepEqual(
    parsePersistValue("  CA.example ;AccountURI = https://ca.example/acct/123 ; POLICY=Wildcard"),
    {
      issuerDomainName: "ca.example",
      accountUri: ACCOUNT,
      wildcard: true,
    },
  );
  assert.equal(parsePersistValue("ca.example; policy=other; accounturi=x")?.wildcard, false);
  assert.equal(parsePersistValue("ca.example; policy=wildcard"), undefined, "no accounturi");
  assert.equal(parsePersistValue("ca.example; accounturi=a; accounturi=b"), undefined, "repeated tag");
  assert.equal(parsePersistValue("ca.example; accounturi=a;"), undefined, "trailing semicolon");
  assert.equal(parsePersistValue("; accounturi=a"), undefined, "no issuer");
  assert.equal(parsePersistValue("ca.example; accounturi=a; persistUntil=soon"), undefined);
});

Deno.test("a served value matches when issuer, account, policy and persistUntil all agree", () => {
  const wanted = { accountUri: ACCOUNT, wildcard: false };
  const names = ["ca.example", "other.example"];
  assert.equal(
    persistValueMatches("other.example; accounturi=https://ca.example/acct/123", wanted, names),
    true,
  );
  assert.equal(
    persistValueMatches("third.example; accounturi=https://ca.example/acct/123", wanted, names),
    false,
  );
  assert.equal(persistValueMatches("ca.example; accounturi=https://ca.example/acct/9", wanted, names), false);
  assert.equal(
    persistValueMatches("ca.example; accounturi=https://ca.example/acct/123; policy=wildcard", wanted, names),
    false,
    "a changed policy is a different record",
  );
  const until = { ...wanted, persistUntil: new Date(1801353600_000) };
  assert.equal(
    persistValueMatches(
      "ca.example; accounturi=https://ca.example/acct/123; persistUntil=1801353600",
      until,
      names,
    ),
    true,
  );
  assert.equal(
    persistValueMatches("ca.example; accounturi=https://ca.example/acct/123", until, names),
    false,
  );
});

Deno.test("the account URI: draft -02's hash when the CA announces a prefix, else the URL the CA names", () => {
  // The example of draft-ietf-acme-dns-persist-02 section 10.2.
  assert.equal(
    persistAccountUri({
      accountUrl: ACCOUNT,
      domain: "example.com",
      thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
      accountHashPrefix: "https://ca.example/account-hash/",
    }),
    "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw",
  );
  const plain = { accountUrl: ACCOUNT, domain: "example.com", thumbprint: "t" };
  assert.equal(persistAccountUri(plain), ACCOUNT);
  assert.equal(
    persistAccountUri({ ...plain, challengeAccountUri: "https://ca.example/acct/123?x" }),
    `${ACCOUNT}?x`,
  );
});

Deno.test("the zone-file line quotes the value, in 255-byte strings", () => {
  assert.equal(
    formatPersistZoneLine("*.example.com", 'ca.example; accounturi=a"b'),
    '_validation-persist.example.com. IN TXT "ca.example; accounturi=a\\"b"',
  );
  const long = "x".repeat(300);
  assert.equal(
    formatPersistZoneLine("e.test", long),
    `_validation-persist.e.test. IN TXT "${"x".repeat(255)}" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"`,
  );
});
