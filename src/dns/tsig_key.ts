/**
 * Reads a TSIG key in the shapes operators already have: `[algorithm:]name:secret` (lego, nsupdate -y), the
 * output of Knot's `keymgr -t` (whole or its first line) and BIND's `tsig-keygen` block. Messages name the
 * source and never carry the secret, since they end up in logs and Kubernetes events.
 */
import { NotariatError } from "../errors.ts";
import { DEFAULT_TSIG_ALGORITHM, TSIG_ALGORITHMS, type TsigAlgorithm, type TsigKey } from "./types.ts";

/** The parts of a key as written, before validation. */
interface KeyFields {
  algorithm?: string;
  name: string;
  secret: string;
}

const SHAPES = "expected [algorithm:]name:secret, the output of keymgr -t, or a tsig-keygen key block";

/**
 * Parses a TSIG key. `source` says where the text came from, for messages (e.g. `secret dns/tsig key "key"`).
 * The algorithm defaults to hmac-sha256 and is case-insensitive; the key name is lower-cased without its
 * trailing dot.
 *
 * @example parseTsigKey("hmac-sha512:k1:c2VjcmV0", "file key.txt") // { algorithm: "hmac-sha512", name: "k1", ... }
 * @throws NotariatError kind "tsig-key", whose message names `source` and never contains the secret
 */
export function parseTsigKey(text: string, source: string): TsigKey {
  const fields = /(^|[\s;}])key\s+("[^"]*"|[^\s{]+)\s*\{/.test(text)
    ? bindFields(text, source)
    : lineFields(text, source);
  return validate(fields, source);
}

/** BIND: `key "name" { algorithm hmac-sha256; secret "base64"; };`, with comment lines allowed around it. */
function bindFields(text: string, source: string): KeyFields {
  // Only whole-line comments are dropped: `//` may occur inside a base64 secret.
  const body = text.split("\n").filter((line) => !/^\s*(#|\/\/)/.test(line)).join("\n");
  const blocks = [...body.matchAll(/(?:^|[\s;}])key\s+("([^"]*)"|([^\s{]+))\s*\{([^}]*)\}/g)];
  if (blocks.length !== 1) {
    throw failure(
      source,
      blocks.length === 0 ? SHAPES : `it holds ${blocks.length} key blocks; give exactly one`,
    );
  }
  const [, , quotedName, bareName, statements] = blocks[0];
  const algorithm = /(?:^|[\s;{])algorithm\s+"?([^\s";]+)"?\s*;/.exec(statements)?.[1];
  const secret = /(?:^|[\s;{])secret\s+"([^"]*)"\s*;/.exec(statements)?.[1];
  if (secret === undefined) throw failure(source, 'the key block has no secret "..."; statement');
  return { algorithm, name: quotedName ?? bareName, secret };
}

/** `[algorithm:]name:secret` on one line, possibly `# `-prefixed; or Knot's `keymgr -t` output. */
function lineFields(text: string, source: string): KeyFields {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  if (lines.length === 0) throw failure(source, `it is empty; ${SHAPES}`);
  let line = lines[0];
  if (lines.length > 1) {
    const comment = lines.filter((l) => /^#\s*[^\s:]+:[^\s:]+/.test(l));
    if (comment.length === 1) line = comment[0];
    else if (comment.length > 1) throw failure(source, `it holds ${comment.length} keys; give exactly one`);
    else return knotYamlFields(lines, source);
  }
  const parts = line.replace(/^#\s*/, "").split(":").map((part) => part.trim());
  if (parts.length === 2) return { name: parts[0], secret: parts[1] };
  if (parts.length === 3) return { algorithm: parts[0], name: parts[1], secret: parts[2] };
  throw failure(source, SHAPES);
}

/** Knot's configuration form: `key:` / `- id: name` / `algorithm: ...` / `secret: ...`. */
function knotYamlFields(lines: string[], source: string): KeyFields {
  const value = (key: string) =>
    lines.map((line) => new RegExp(`^(?:-\\s*)?${key}:\\s*(\\S*)$`).exec(line)?.[1]).filter((v) =>
      v !== undefined
    );
  const ids = value("id");
  const secrets = value("secret");
  if (ids.length === 0 || secrets.length === 0) throw failure(source, SHAPES);
  if (ids.length > 1 || secrets.length > 1) {
    throw failure(source, `it holds ${ids.length} keys; give exactly one`);
  }
  return { algorithm: value("algorithm")[0], name: ids[0], secret: secrets[0] };
}

function validate(fields: KeyFields, source: string): TsigKey {
  const algorithm = parseAlgorithm(fields.algorithm, source);
  const name = fields.name.replace(/^"(.*)"$/, "$1").toLowerCase().replace(/\.$/, "");
  if (name === "") throw failure(source, "the key name is empty");
  const nameProblem = keyNameProblem(name);
  // The name is left out: a misplaced secret (e.g. `secret:name`) would otherwise be echoed.
  if (nameProblem !== undefined) {
    throw failure(source, `the key name is not a valid DNS name: ${nameProblem}`);
  }
  const secret = decodeSecret(fields.secret.replace(/^"(.*)"$/, "$1"), source);
  return { algorithm, name, secret };
}

function parseAlgorithm(text: string | undefined, source: string): TsigAlgorithm {
  if (text === undefined) return DEFAULT_TSIG_ALGORITHM;
  const normalized = text.toLowerCase().replace(/\.$/, "").replace(
    /^hmac-md5\.sig-alg\.reg\.int$/,
    "hmac-md5",
  );
  const known = TSIG_ALGORITHMS.find((algorithm) => algorithm === normalized);
  if (known !== undefined) return known;
  const choices = `use one of ${TSIG_ALGORITHMS.join(", ")}`;
  // Echo only what looks like an algorithm name: base64 has no '-', so a secret never passes.
  if (/^hmac-[a-z0-9.-]{0,40}$/.test(normalized)) {
    throw failure(source, `unknown algorithm "${text}": ${choices}`);
  }
  if (normalized === "") throw failure(source, `the algorithm is empty: ${choices}`);
  throw failure(source, `the first field is not a known algorithm: ${SHAPES}; ${choices}`);
}

/** The key name stays out of these messages too: with the fields swapped, the "name" is the secret. */
function decodeSecret(text: string, source: string): Uint8Array {
  const base64 = text.replace(/\s+/g, "");
  if (base64 === "") throw failure(source, "the secret is empty");
  let binary: string | undefined;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    try {
      binary = atob(base64);
    } catch {
      binary = undefined;
    }
  }
  if (binary === undefined || binary.length === 0) {
    throw failure(source, "the secret is not valid base64");
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Why `name` (lower-case, no trailing dot) cannot be a key name; underscores are allowed, as both servers do. */
function keyNameProblem(name: string): string | undefined {
  if (name.length > 253) return "longer than 253 characters";
  for (const label of name.split(".")) {
    if (label === "") return "it has an empty label";
    if (label.length > 63) return "a label is longer than 63 characters";
    if (!/^[a-z0-9_-]+$/.test(label)) return "labels may hold only letters, digits, '-' and '_'";
  }
  return undefined;
}

function failure(source: string, reason: string): NotariatError {
  return new NotariatError("tsig-key", `invalid TSIG key in ${source}: ${reason}`);
}
