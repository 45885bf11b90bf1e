import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseTsigKey } from "../../src/dns/tsig_key.ts";
import { NotariatError } from "../../src/errors.ts";

// Verbatim output of `keymgr -t k1 hmac-sha512` (Knot 3.2); its secret contains "//".
const KEYMGR_OUTPUT =
  `# hmac-sha512:k1:vivxCgZtftVGNjSg2yYpDAuehcd7Co//laQy3bhAsXzII5cvqTG6N86kiDZXKDEPiFIZbA9R/rWY+G9zFczAOQ==
key:
  - id: k1
    algorithm: hmac-sha512
    secret: vivxCgZtftVGNjSg2yYpDAuehcd7Co//laQy3bhAsXzII5cvqTG6N86kiDZXKDEPiFIZbA9R/rWY+G9zFczAOQ==
`;
const K1_SECRET = "vivxCgZtftVGNjSg2yYpDAuehcd7Co//laQy3bhAsXzII5cvqTG6N86kiDZXKDEPiFIZbA9R/rWY+G9zFczAOQ==";

// Verbatim output of `tsig-keygen -a hmac-sha384 k2` (BIND 9.18).
const TSIG_KEYGEN_OUTPUT = `key "k2" {
\talgorithm hmac-sha384;
\tsecret "ltEQibYlRlsy6qbmQx/ITuhzkVm9EwVCAhd03LnLOUXKt0ML9JFREJW8/L2RBGPb";
};
`;
const K2_SECRET = "ltEQibYlRlsy6qbmQx/ITuhzkVm9EwVCAhd03LnLOUXKt0ML9JFREJW8/L2RBGPb";

// A secret no message may ever contain: base64 of "sekret-that-must-never-leak".
const DISTINCTIVE = "c2VrcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr";
const SOURCE = 'secret dns/tsig key "key"';

function bytes(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

function tsigError(text: string, reason: string): void {
  assert.throws(() => parseTsigKey(text, SOURCE), (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "tsig-key");
    assert.equal(err.message, `invalid TSIG key in ${SOURCE}: ${reason}`);
    return true;
  }, JSON.stringify(text));
}

Deno.test("reads the whole output of keymgr -t through its first line", () => {
  assert.deepEqual(parseTsigKey(KEYMGR_OUTPUT, SOURCE), {
    algorithm: "hmac-sha512",
    name: "k1",
    secret: bytes(K1_SECRET),
  });
});

Deno.test("reads the first line of keymgr -t, with or without '# ' and a newline", () => {
  const expected = { algorithm: "hmac-sha512", name: "k1", secret: bytes(K1_SECRET) };
  assert.deepEqual(parseTsigKey(KEYMGR_OUTPUT.split("\n")[0], SOURCE), expected);
  assert.deepEqual(parseTsigKey(`hmac-sha512:k1:${K1_SECRET}\n`, SOURCE), expected);
  assert.deepEqual(parseTsigKey(`  \n  hmac-sha512:k1:${K1_SECRET}  \r\n\n`, SOURCE), expected);
});

Deno.test("reads Knot's key configuration without the comment line", () => {
  const yamlOnly = KEYMGR_OUTPUT.split("\n").slice(1).join("\n");
  assert.deepEqual(parseTsigKey(yamlOnly, SOURCE), {
    algorithm: "hmac-sha512",
    name: "k1",
    secret: bytes(K1_SECRET),
  });
});

Deno.test("reads the key block of tsig-keygen", () => {
  assert.deepEqual(parseTsigKey(TSIG_KEYGEN_OUTPUT, SOURCE), {
    algorithm: "hmac-sha384",
    name: "k2",
    secret: bytes(K2_SECRET),
  });
});

Deno.test("a BIND block keeps '//' inside the secret and skips comment lines", () => {
  const text =
    `# generated for notariat\n// the update key\nkey "Update-Key." {\n  algorithm HMAC-SHA512;\n` +
    `  secret "${K1_SECRET}";\n};\n`;
  assert.deepEqual(parseTsigKey(text, SOURCE), {
    algorithm: "hmac-sha512",
    name: "update-key",
    secret: bytes(K1_SECRET),
  });
});

Deno.test("a BIND block on one line, without algorithm, is hmac-sha256", () => {
  assert.deepEqual(parseTsigKey(`key k3 { secret "${K2_SECRET}"; };`, SOURCE), {
    algorithm: "hmac-sha256",
    name: "k3",
    secret: bytes(K2_SECRET),
  });
});

Deno.test("name:secret means hmac-sha256; names are lower-cased without trailing dot", () => {
  assert.deepEqual(parseTsigKey(`Update.Example.:${K2_SECRET}`, SOURCE), {
    algorithm: "hmac-sha256",
    name: "update.example",
    secret: bytes(K2_SECRET),
  });
  assert.equal(parseTsigKey(`my_key:${K2_SECRET}`, SOURCE).name, "my_key");
});

Deno.test("all six algorithms are accepted, case-insensitively, with a trailing dot or the md5 long name", () => {
  for (
    const algorithm of ["hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"]
  ) {
    assert.equal(parseTsigKey(`${algorithm}:k:${K2_SECRET}`, SOURCE).algorithm, algorithm);
    assert.equal(parseTsigKey(`${algorithm.toUpperCase()}.:k:${K2_SECRET}`, SOURCE).algorithm, algorithm);
  }
  assert.equal(parseTsigKey(`HMAC-MD5.SIG-ALG.REG.INT:k:${K2_SECRET}`, SOURCE).algorithm, "hmac-md5");
});

Deno.test("the secret may be unpadded base64", () => {
  assert.deepEqual(parseTsigKey("k:YWJj", SOURCE).secret, new TextEncoder().encode("abc"));
  assert.deepEqual(parseTsigKey("k:YWI", SOURCE).secret, new TextEncoder().encode("ab"));
});

Deno.test("bad keys are refused with a reason naming the source", () => {
  const algorithms = "use one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512";
  const shapes = "expected [algorithm:]name:secret, the output of keymgr -t, or a tsig-keygen key block";
  tsigError("", `it is empty; ${shapes}`);
  tsigError(" \n\n", `it is empty; ${shapes}`);
  tsigError(`hmac-sha3:k:${DISTINCTIVE}`, `unknown algorithm "hmac-sha3": ${algorithms}`);
  tsigError(`:k:${DISTINCTIVE}`, `the algorithm is empty: ${algorithms}`);
  tsigError(`hmac-sha256::${DISTINCTIVE}`, "the key name is empty");
  tsigError(`:${DISTINCTIVE}`, "the key name is empty");
  tsigError("hmac-sha256:k1:", "the secret is empty");
  tsigError("k1:", "the secret is empty");
  tsigError("k1:!!not-base64!!", "the secret is not valid base64");
  tsigError("k1:YQ=x", "the secret is not valid base64");
  tsigError("k1:Y", "the secret is not valid base64");
  tsigError(`a:b:c:${DISTINCTIVE}`, shapes);
  tsigError(DISTINCTIVE, shapes);
  tsigError(`bad..name:${DISTINCTIVE}`, "the key name is not a valid DNS name: it has an empty label");
  tsigError(`key "k2" {\n  algorithm hmac-sha256;\n};`, 'the key block has no secret "..."; statement');
  tsigError(`${TSIG_KEYGEN_OUTPUT}${TSIG_KEYGEN_OUTPUT}`, "it holds 2 key blocks; give exactly one");
  tsigError(
    `# hmac-sha1:a:${DISTINCTIVE}\n# hmac-sha1:b:${DISTINCTIVE}\n`,
    "it holds 2 keys; give exactly one",
  );
  tsigError("line one\nline two\n", shapes);
});

Deno.test("no error message ever contains the secret, even when fields are misplaced", () => {
  const bad = "c2VrcmV0!!bXVzdC1uZXZlci1sZWFr";
  const inputs = [
    `hmac-sha3:k:${DISTINCTIVE}`,
    `k1:${bad}`,
    `${DISTINCTIVE}:!k1`,
    `${DISTINCTIVE}:k1:hmac-sha256`,
    `${DISTINCTIVE}+/=:k1`,
    `hmac-sha256:${DISTINCTIVE}==:${DISTINCTIVE}`,
    `key "k" { algorithm hmac-sha999; secret "${DISTINCTIVE}"; };`,
    `key "k" { algorithm ${DISTINCTIVE}; secret "${DISTINCTIVE}"; };`,
    `key "k" { secret "${bad}"; };`,
    `key "k" { secret "${DISTINCTIVE}"; };\nkey "l" { secret "${DISTINCTIVE}"; };`,
    `# hmac-sha1:a:${DISTINCTIVE}\n# hmac-sha1:b:${DISTINCTIVE}\n`,
    `${DISTINCTIVE}\n${DISTINCTIVE}`,
    `a:b:c:${DISTINCTIVE}`,
  ];
  for (const input of inputs) {
    let message = "";
    try {
      parseTsigKey(input, SOURCE);
    } catch (err) {
      assert.ok(err instanceof NotariatError);
      message = err.message;
    }
    assert.notEqual(message, "", `expected ${JSON.stringify(input)} to be refused`);
    for (const secret of [DISTINCTIVE, bad]) {
      for (let i = 0; i + 8 <= secret.length; i++) {
        assert.ok(
          !message.includes(secret.slice(i, i + 8)),
          `${JSON.stringify(input)} leaked into: ${message}`,
        );
      }
    }
  }
});
