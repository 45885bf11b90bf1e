import assert from "node:assert/strict";
import { accountChallengeName, accountLabel, base32Lower } from "../../src/acme/account_label.ts";

Deno.test("base32 follows RFC 4648's test vectors, in lower case without padding", () => {
  const enc = (text: string) => base32Lower(new TextEncoder().encode(text));
  assert.deepEqual(
    ["", "f", "fo", "foo", "foob", "fooba", "foobar"].map(enc),
    ["", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"],
  );
});

Deno.test("the account label is 16 base32 characters of SHA-256 of the account URL", () => {
  // sha256("https://localhost:14000/my-account/1")[0..9], base32, lower case.
  assert.equal(accountLabel("https://localhost:14000/my-account/1"), "bpjsk7g2c3iuj47a");
  assert.match(accountLabel("https://127.0.0.1:1/my-account/2"), /^[a-z2-7]{16}$/);
  assert.notEqual(accountLabel("https://ca/acct/1"), accountLabel("https://ca/acct/2"));
});

Deno.test("each account answers at _<label>._acme-challenge of the base name", () => {
  const name = accountChallengeName("https://localhost:14000/my-account/1");
  assert.equal(name("*.Example.com."), "_bpjsk7g2c3iuj47a._acme-challenge.example.com");
  assert.equal(name("www.example.com"), "_bpjsk7g2c3iuj47a._acme-challenge.www.example.com");
});
