import { createHash } from "node:crypto";
import { errorMessage, NotariatError } from "../errors.ts";
import { generatePrivateKey } from "../pki/keys.ts";
import type { AccountKeyStore } from "./account_key_store.ts";
import type { AcmeSession } from "./client.ts";
import type { EabCredentials } from "./eab.ts";
import { responseError } from "./problem.ts";

const PREFIX = "notariat-acme-";
// Keeps the whole name within 63 characters, so it is also a valid DNS label wherever one is needed.
const MAX_READABLE = 38;

/**
 * The Secret name holding the account key for (CA, email): "notariat-acme-<email, sanitized>-<hash>".
 * The email part makes it readable; the hash of CA URL and exact email keeps distinct accounts apart even
 * when their sanitized emails coincide. Always a valid DNS-1123 subdomain.
 *
 * @example accountSecretName("https://acme-v02.api.letsencrypt.org/directory", "Ops@Example.com")
 *   // "notariat-acme-ops-example-com-3f9a1c2b7d"
 */
export function accountSecretName(directoryUrl: string, email: string): string {
  const readable = email.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, MAX_READABLE).replace(
    /^-+|-+$/g,
    "",
  );
  const hash = createHash("sha256").update(`${directoryUrl}\n${email}`).digest("hex").slice(0, 10);
  return readable === "" ? `${PREFIX}${hash}` : `${PREFIX}${readable}-${hash}`;
}

/** A registered account, ready for orders. */
export interface AcmeAccount {
  email: string;
  secretName: string;
  session: AcmeSession;
}

/** What the account cache needs from the outside. */
export interface AccountDeps {
  directoryUrl: string;
  store: AccountKeyStore;
  /** Opens a signed session for an account key (openAcmeSession in production); imports the key once. */
  openSession(accountKeyPem: string): Promise<AcmeSession>;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** External account binding credentials, when the CA requires them (read at each registration). */
  externalAccountBinding?: () => Promise<EabCredentials>;
}

/** Hands out one registered account per email, shared by all concurrent issuances. */
export interface AccountCache {
  get(email: string): Promise<AcmeAccount>;
}

/**
 * One account per (CA, email): the key is read from the store, or generated and stored when there is none;
 * the account is registered once, and concurrent callers wait for that same registration. A failure is not
 * cached, so the next issuance tries again (re-reading the store, never overwriting it).
 */
export function createAccountCache(deps: AccountDeps): AccountCache {
  const accounts = new Map<string, Promise<AcmeAccount>>();
  return {
    get(email) {
      let account = accounts.get(email);
      if (!account) {
        account = open(deps, email);
        accounts.set(email, account);
        account.catch(() => accounts.delete(email));
      }
      return account;
    },
  };
}

async function open(deps: AccountDeps, email: string): Promise<AcmeAccount> {
  const secretName = accountSecretName(deps.directoryUrl, email);
  const keyPem = await loadOrCreateKey(deps, email, secretName);
  let session: AcmeSession;
  let response;
  try {
    session = await deps.openSession(keyPem);
    const eab = await deps.externalAccountBinding?.();
    response = await session.register(email, eab);
  } catch (err) {
    const kind = err instanceof NotariatError ? err.kind : "acme";
    throw new NotariatError(kind, `registering the ACME account for ${email}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (response.status !== 200 && response.status !== 201) {
    throw responseError(`registering the ACME account for ${email}`, response, new Date());
  }
  if (!session.accountUrl) {
    throw new NotariatError("acme", `registering the ACME account for ${email}: the CA sent no account URL`);
  }
  deps.log?.("ACME account ready", {
    email,
    secret: secretName,
    account: session.accountUrl,
    created: response.status === 201,
  });
  return { email, secretName, session };
}

async function loadOrCreateKey(deps: AccountDeps, email: string, secretName: string): Promise<string> {
  const existing = await deps.store.read(secretName);
  if (existing !== undefined) return existing;
  const keyPem = await generatePrivateKey("ecdsa-p256");
  const info = { email, directoryUrl: deps.directoryUrl };
  if (await deps.store.create(secretName, keyPem, info)) {
    deps.log?.("ACME account key stored", { email, secret: secretName });
    return keyPem;
  }
  // Another worker stored a key first: use theirs, so both talk as the same account.
  const winner = await deps.store.read(secretName);
  if (winner === undefined) {
    throw new NotariatError(
      "acme",
      `account key Secret ${secretName} for ${email} was reported to exist but cannot be found`,
    );
  }
  return winner;
}
