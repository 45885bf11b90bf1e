/**
 * The config folder owns the configuration's model and its reading: the ConfigMap's YAML (the one module of
 * src/ importing js-yaml) into CertificateSpecs (types.ts), and the rules for the names given (names.ts).
 * Reading the ConfigMap from the API server is the controller's; DNS names and server addresses are dns's.
 *
 * Reads the ConfigMap's `certificates` list into validated CertificateSpecs. A bad entry is reported and
 * skipped, never stopping the good ones: one typo must not stop the renewal of every other certificate.
 */
import { load } from "js-yaml";
import { errorMessage, NotariatError } from "../errors.ts";
import {
  type CertificateSpec,
  CHALLENGE_TYPES,
  type ChallengeType,
  DEFAULT_CHALLENGE,
  DEFAULT_KEY_TYPE,
  formatRef,
  KEY_TYPES,
  type KeyType,
  type SecretRef,
} from "./types.ts";
import { parseSecretRef, validateEmail } from "./names.ts";
import { parseServerAddress } from "../dns/address.ts";
import { normalizeDomain } from "../dns/names.ts";
import { describeYamlError } from "./yaml_error.ts";
import { looksLikeKeyMaterial, quoteValue } from "../quote.ts";

/** The ConfigMap key that holds the list. */
export const CERTIFICATES_KEY = "certificates";

/** Something wrong in the configuration, located as precisely as known. */
export interface ConfigProblem {
  /** Position of the entry in the list; absent for a problem with the whole document. */
  index?: number;
  /** `namespace/name` of the entry's Secret, when it could be read. */
  secret?: string;
  /** The field at fault, e.g. `email` or `domains[2]`. */
  field?: string;
  message: string;
}

/** The entries that are valid, and every problem found. */
export interface ParsedConfig {
  specs: CertificateSpec[];
  problems: ConfigProblem[];
}

/**
 * One line per problem, in the form used by logs and events:
 * `certificates[1] (secret web/example-tls): domains[0]: "a..b" is not a valid domain name: ...`; the parts
 * that are not known are left out, as in `certificates: YAML syntax error at line 3, column 5: ...`.
 */
export function formatProblem(problem: ConfigProblem): string {
  let where = problem.index === undefined ? CERTIFICATES_KEY : `${CERTIFICATES_KEY}[${problem.index}]`;
  if (problem.secret !== undefined) where += ` (secret ${problem.secret})`;
  if (problem.field !== undefined) where += `: ${problem.field}`;
  return `${where}: ${problem.message}`;
}

const FIELDS = [
  "secret",
  "domains",
  "email",
  "tsigSecretName",
  "nameserver",
  "keyType",
  "challenge",
  "persistUntil",
  "profile",
  "maxNames",
] as const;

/**
 * How many names one certificate may hold unless the entry's `maxNames` says otherwise: Let's Encrypt's limit
 * (its short-lived profile allows 25). More is refused when the entry is read, before any DNS or ACME work,
 * instead of by the CA after the DNS of every name was looked up.
 */
export const DEFAULT_MAX_NAMES = 100;
/** The most `maxNames` may allow; no public CA comes near it. */
const MAX_NAMES_CEILING = 1000;
const EXPECTED = "a YAML list of entries, each with secret, domains, email and tsigSecretName";

/**
 * Whether a tsigSecretName value may be the TSIG key pasted in place of the Secret's name: any key shape
 * (`alg:name:secret`, a tsig-keygen block, a bare base64 secret) has characters a Secret reference never has.
 */
function mayBeTsigKey(text: string): boolean {
  return /[:;{}"'=+\s]/.test(text) ||
    (/[A-Z]/.test(text) && /[a-z]/.test(text) && /[0-9]/.test(text));
}

/**
 * The message for a bad value that looks like key material: what the field wants, without the value or any
 * part of it, so a misplaced key does not spread to logs and Events.
 */
function keyMaterialMessage(meaning: string): string {
  return `must be ${meaning}; the value looks like key material (a TSIG key, a base64 secret or a PEM ` +
    "block), so it is not repeated here";
}

/**
 * Validates the ConfigMap's data. `namespace` is where `secret` and `tsigSecretName` without a namespace live
 * (notariat's own). Never throws: every problem is returned, and entries with a problem are left out of `specs`,
 * as are all entries naming the same Secret (which one was meant is unknown).
 */
export function parseCertificatesConfig(
  data: Record<string, string> | undefined,
  namespace: string,
): ParsedConfig {
  const text = data?.[CERTIFICATES_KEY];
  if (text === undefined) {
    return documentProblem(`the ConfigMap has no key "${CERTIFICATES_KEY}": it should hold ${EXPECTED}`);
  }
  if (text.trim() === "") return documentProblem(`is empty: it should hold ${EXPECTED}`);
  let document: unknown;
  try {
    document = load(text);
  } catch (err) {
    // js-yaml refuses a document of comments alone; it is the same mistake as an empty value.
    if ((err as { mark?: unknown }).mark === undefined && /input is empty/.test(String(err))) document = null;
    else return documentProblem(describeYamlError(err) ?? `YAML syntax error: ${errorMessage(err)}`);
  }
  if (document === undefined || document === null) {
    return documentProblem(`holds no YAML value (only comments, or null): it should hold ${EXPECTED}`);
  }
  if (!Array.isArray(document)) {
    const hint = isMapping(document) && CERTIFICATES_KEY in document
      ? ` (the ConfigMap key "${CERTIFICATES_KEY}" already names the list: start its value with "- secret: ...")`
      : "";
    return documentProblem(`must be a YAML list of entries, got ${describe(document)}${hint}`);
  }

  const problems: ConfigProblem[] = [];
  const candidates: (CertificateSpec | undefined)[] = document.map((entry, index) =>
    parseEntry(entry, index, namespace, problems)
  );
  rejectDuplicateSecrets(document, namespace, candidates, problems);
  problems.sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  return { specs: candidates.filter((spec) => spec !== undefined), problems };
}

/** Parses one entry, adding its problems; returns the spec only when the entry has none. */
function parseEntry(
  entry: unknown,
  index: number,
  namespace: string,
  problems: ConfigProblem[],
): CertificateSpec | undefined {
  if (!isMapping(entry)) {
    problems.push({
      index,
      message: `must be a mapping with secret, domains, email and tsigSecretName, got ${describe(entry)}`,
    });
    return undefined;
  }
  const found: ConfigProblem[] = [];
  const problem = (field: string, message: string) => found.push({ index, field, message });
  // A parser's message quotes the value or parts of it; for a value shaped like a key, only the meaning is told.
  const attempt = <T>(field: string, text: string, meaning: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (err) {
      problem(field, looksLikeKeyMaterial(text) ? keyMaterialMessage(meaning) : errorMessage(err));
      return undefined;
    }
  };

  for (const key of Object.keys(entry)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      const near = nearestField(key);
      const name = /^[A-Za-z0-9_.-]{1,64}$/.test(key) && !looksLikeKeyMaterial(key) ? key : quoteValue(key);
      problem(name, `unknown field${near === undefined ? "" : ` (did you mean "${near}"?)`}`);
    }
  }

  const secretMeaning = "the [namespace/]name of the kubernetes.io/tls Secret to keep";
  const secretText = requiredString(entry, "secret", secretMeaning, problem);
  const secret = secretText === undefined
    ? undefined
    : attempt("secret", secretText, secretMeaning, () => parseSecretRef(secretText, namespace));

  const parsedDomains = parseDomains(entry.domains, problem);
  const maxNames = parseMaxNames(entry.maxNames, problem);
  let domains = parsedDomains;
  if (parsedDomains !== undefined && maxNames !== undefined && parsedDomains.length > maxNames) {
    const limit = entry.maxNames === undefined
      ? `more than the ${DEFAULT_MAX_NAMES} a CA takes in one certificate (Let's Encrypt's limit; 25 with its ` +
        "short-lived profile): split the entry, or set maxNames if your CA takes more"
      : `more than maxNames (${maxNames}): split the entry, or raise maxNames if your CA takes more`;
    problem("domains", `lists ${parsedDomains.length} distinct names, ${limit}`);
    domains = undefined;
  }

  const emailMeaning = "the contact address of the ACME account";
  const emailText = requiredString(entry, "email", emailMeaning, problem);
  const email = emailText === undefined
    ? undefined
    : attempt("email", emailText, emailMeaning, () => validateEmail(emailText));

  const challengeText = optionalString(entry, "challenge", problem);
  const challenge = challengeText === undefined
    ? DEFAULT_CHALLENGE
    : attempt("challenge", challengeText, `one of ${CHALLENGE_TYPES.join(", ")}`, () =>
      parseChallenge(challengeText));

  // A standing dns-persist-01 record can be kept by hand (or GitOps): then no key is needed in the cluster.
  const tsigMeaning = 'the [namespace/]name of the Secret whose key "key" holds the TSIG key';
  const tsigText = challenge === "dns-persist-01"
    ? optionalString(entry, "tsigSecretName", problem)
    : requiredString(
      entry,
      "tsigSecretName",
      challengeText === undefined
        ? tsigMeaning
        : `${tsigMeaning} (optional only with challenge: dns-persist-01)`,
      problem,
    );
  let tsigSecret: SecretRef | undefined;
  if (tsigText !== undefined && mayBeTsigKey(tsigText)) {
    problem(
      "tsigSecretName",
      `must be ${tsigMeaning}, not the key itself; ` +
        "it holds characters no Secret name has (the value is not repeated here, in case it is the key)",
    );
  } else if (tsigText !== undefined) {
    tsigSecret = attempt("tsigSecretName", tsigText, tsigMeaning, () => parseSecretRef(tsigText, namespace));
  }
  const tsigMissing = tsigSecret === undefined && (challenge !== "dns-persist-01" || tsigText !== undefined);

  const persistUntil = parsePersistUntil(entry.persistUntil, challenge, problem);

  const nameserverMeaning = "the host[:port] of the server that receives the updates";
  const nameserverText = optionalString(entry, "nameserver", problem);
  const nameserver = nameserverText === undefined
    ? undefined
    : attempt("nameserver", nameserverText, nameserverMeaning, () => parseServerAddress(nameserverText));

  const keyTypeText = optionalString(entry, "keyType", problem);
  const keyType = keyTypeText === undefined
    ? DEFAULT_KEY_TYPE
    : attempt("keyType", keyTypeText, `one of ${KEY_TYPES.join(", ")}`, () => parseKeyType(keyTypeText));

  const profileText = optionalString(entry, "profile", problem);
  const profile = profileText === undefined
    ? undefined
    : attempt("profile", profileText, "a profile name the CA announces", () =>
      validateProfileName(profileText));

  const secretName = secret === undefined ? undefined : formatRef(secret);
  problems.push(...found.map((p) => secretName === undefined ? p : { ...p, secret: secretName }));
  if (
    found.length > 0 || secret === undefined || domains === undefined || email === undefined ||
    maxNames === undefined ||
    tsigMissing || keyType === undefined || challenge === undefined
  ) {
    return undefined;
  }
  const spec: CertificateSpec = { index, secret, domains, email, keyType, challenge };
  if (tsigSecret !== undefined) spec.tsigSecret = tsigSecret;
  if (nameserver !== undefined) spec.nameserver = nameserver;
  if (profile !== undefined) spec.profile = profile;
  if (persistUntil !== undefined) spec.persistUntil = persistUntil;
  return spec;
}

/**
 * A certificate profile name as CAs announce them in `meta.profiles` ("tlsserver", "shortlived"); whether the
 * CA offers it is checked against its directory when the entry is reconciled.
 */
export function validateProfileName(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text)) {
    throw new NotariatError(
      "config",
      `${quoteValue(text)} is not a profile name: letters, digits, ".", "_" and "-", at most 64`,
    );
  }
  return text;
}

/** `maxNames`: how many names the entry's certificate may hold; absent means DEFAULT_MAX_NAMES. */
function parseMaxNames(
  value: unknown,
  problem: (field: string, message: string) => void,
): number | undefined {
  if (value === undefined || value === null) return DEFAULT_MAX_NAMES;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_NAMES_CEILING) {
    problem(
      "maxNames",
      `must be a whole number from 1 to ${MAX_NAMES_CEILING}, got ${describe(value)}: ` +
        "how many names your CA accepts in one certificate",
    );
    return undefined;
  }
  return value;
}

function parseKeyType(text: string): KeyType {
  const keyType = KEY_TYPES.find((known) => known === text);
  if (keyType === undefined) {
    throw new NotariatError(
      "config",
      `${quoteValue(text)} is not a supported key type: use one of ${KEY_TYPES.join(", ")}`,
    );
  }
  return keyType;
}

function parseChallenge(text: string): ChallengeType {
  const challenge = CHALLENGE_TYPES.find((known) => known === text);
  if (challenge === undefined) {
    throw new NotariatError(
      "config",
      `${quoteValue(text)} is not a supported challenge type: use one of ${CHALLENGE_TYPES.join(", ")}`,
    );
  }
  return challenge;
}

/**
 * `persistUntil`: an RFC 3339 time with a zone (YAML may already have made it a timestamp), only for
 * dns-persist-01, where it becomes the standing record's `persistUntil` (whole seconds since the epoch).
 */
function parsePersistUntil(
  value: unknown,
  challenge: ChallengeType | undefined,
  problem: (field: string, message: string) => void,
): Date | undefined {
  if (value === undefined || value === null) return undefined;
  if (challenge !== undefined && challenge !== "dns-persist-01") {
    problem("persistUntil", `only applies to challenge: dns-persist-01 (this entry uses ${challenge})`);
    return undefined;
  }
  let date: Date | undefined;
  if (value instanceof Date) date = value;
  else if (
    typeof value === "string" &&
    /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/.test(value.trim())
  ) {
    date = new Date(value.trim().replace(" ", "T"));
  }
  if (date === undefined || Number.isNaN(date.getTime())) {
    problem(
      "persistUntil",
      `must be a time with its zone, like 2027-01-31T00:00:00Z, got ${
        typeof value === "string" ? quoteValue(value) : describe(value)
      }`,
    );
    return undefined;
  }
  return date;
}

/** `domains`: a non-empty list of names, normalized, duplicates dropped in configured order. */
function parseDomains(
  value: unknown,
  problem: (field: string, message: string) => void,
): string[] | undefined {
  if (value === undefined || value === null) {
    problem("domains", "is required: the list of DNS names the certificate is for");
    return undefined;
  }
  if (!Array.isArray(value)) {
    const hint = typeof value === "string" && quoteValue(value) === JSON.stringify(value)
      ? ` (write domains: [${value}])`
      : "";
    problem("domains", `must be a list of domain names, got ${describe(value)}${hint}`);
    return undefined;
  }
  if (value.length === 0) {
    problem("domains", "must list at least one domain name");
    return undefined;
  }
  const names: string[] = [];
  let bad = false;
  value.forEach((item, i) => {
    if (typeof item !== "string") {
      problem(`domains[${i}]`, `must be a string, got ${describe(item)}`);
      bad = true;
      return;
    }
    try {
      const name = normalizeDomain(item);
      if (!names.includes(name)) names.push(name);
    } catch (err) {
      problem(
        `domains[${i}]`,
        looksLikeKeyMaterial(item) ? keyMaterialMessage("a DNS name") : errorMessage(err),
      );
      bad = true;
    }
  });
  return bad ? undefined : names;
}

/** Marks every entry that shares its Secret with another entry, and drops them all. */
function rejectDuplicateSecrets(
  entries: unknown[],
  namespace: string,
  candidates: (CertificateSpec | undefined)[],
  problems: ConfigProblem[],
): void {
  const indexesBySecret = new Map<string, number[]>();
  entries.forEach((entry, index) => {
    if (!isMapping(entry) || typeof entry.secret !== "string") return;
    let ref: string;
    try {
      ref = formatRef(parseSecretRef(entry.secret, namespace));
    } catch {
      return;
    }
    indexesBySecret.set(ref, [...indexesBySecret.get(ref) ?? [], index]);
  });
  for (const [secret, indexes] of indexesBySecret) {
    if (indexes.length < 2) continue;
    for (const index of indexes) {
      const others = indexes.filter((i) => i !== index).map((i) => `${CERTIFICATES_KEY}[${i}]`).join(", ");
      problems.push({
        index,
        secret,
        field: "secret",
        message:
          `the same Secret is also listed in ${others}; list each Secret once (merge the domains into one entry)`,
      });
      candidates[index] = undefined;
    }
  }
}

function requiredString(
  entry: Record<string, unknown>,
  field: string,
  meaning: string,
  problem: (field: string, message: string) => void,
): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null || value === "") {
    problem(field, `is required: ${meaning}`);
    return undefined;
  }
  return stringValue(value, field, problem);
}

function optionalString(
  entry: Record<string, unknown>,
  field: string,
  problem: (field: string, message: string) => void,
): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  return stringValue(value, field, problem);
}

function stringValue(
  value: unknown,
  field: string,
  problem: (field: string, message: string) => void,
): string | undefined {
  if (typeof value === "string") return value;
  const hint = typeof value === "number" || typeof value === "boolean" ? ` (quote it: "${value}")` : "";
  problem(field, `must be a string, got ${describe(value)}${hint}`);
  return undefined;
}

/** The known field a misspelt one most likely meant: a close spelling, or a field it abbreviates. */
function nearestField(key: string): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const field of FIELDS) {
    const distance = lower.length >= 3 && field.toLowerCase().startsWith(lower)
      ? 0
      : editDistance(lower, field.toLowerCase());
    if (distance < bestDistance) {
      best = field;
      bestDistance = distance;
    }
  }
  return bestDistance <= 2 ? best : undefined;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

function documentProblem(message: string): ParsedConfig {
  return { specs: [], problems: [{ message }] };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (value instanceof Date) return "a timestamp";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  return typeof value;
}
