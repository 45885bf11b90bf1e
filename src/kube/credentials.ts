/**
 * The credential each request to the API server carries: a static token, a token file (re-read as it rotates),
 * an exec plugin's ExecCredential (cached until it expires or the server refuses it), and the client
 * certificate (from the kubeconfig, or from the plugin). Errors name the file or the command, never the
 * credential.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { encodeBase64 } from "./base64.ts";
import type { ClusterAccess, ExecPlugin, PemSource } from "./kubeconfig.ts";

/** A client certificate chain and its key, PEM. */
export interface ClientCert {
  cert: string;
  key: string;
}

/** What one request authenticates with. */
export interface Credential {
  /** The Authorization header ("Bearer ..."), if any. */
  authorization?: string;
  clientCert?: ClientCert;
}

/** Where requests get their credential. */
export interface Credentials {
  /** The kubeconfig's own client certificate, if it names one (an exec plugin may hand out another). */
  readonly clientCert?: ClientCert;
  /** The credential to send now (runs the exec plugin or re-reads the token file when due). */
  get(): Promise<Credential>;
  /**
   * The server answered 401 to `credential`: forgets it, so the next `get` makes a new one. True when that
   * may help (an exec plugin or a token file), false for a static credential.
   */
  refused(credential: Credential): boolean;
}

/** Options of `createCredentials`, for tests: a clock. */
export interface CredentialOptions {
  now?: () => number;
}

/**
 * How long a token file's content is used before it is read again: client-go's interval. Bound
 * service-account tokens are rotated by the kubelet well before they expire (at 80 % of their life).
 */
export const TOKEN_FILE_REREAD_MS = 60_000;
/** An exec credential is renewed this long before its expirationTimestamp, so no request carries a stale one. */
const EXEC_EXPIRY_MARGIN_MS = 10_000;
/** A plugin that has not answered after this long is taken for hung. */
const EXEC_TIMEOUT_MS = 60_000;

/** Reads a PEM file or returns inline PEM; a file that cannot be read is an error naming it and the field. */
export async function readPem(source: PemSource, field: string): Promise<string> {
  if ("pem" in source) return source.pem;
  try {
    return await Deno.readTextFile(source.file);
  } catch (err) {
    throw new NotariatError("usage", `cannot read the ${field} file ${source.file}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** The credentials `access` describes; reads the files it names (an unreadable one fails here). */
export async function createCredentials(
  access: ClusterAccess,
  options: CredentialOptions = {},
): Promise<Credentials> {
  const now = options.now ?? Date.now;
  const clientCert = access.clientCert && {
    cert: await readPem(access.clientCert.cert, "client-certificate"),
    key: await readPem(access.clientCert.key, "client-key"),
  };
  const fromFile = access.tokenFile === undefined ? undefined : await tokenFile(access.tokenFile, now);
  const exec = access.exec && execCredentials(access.exec, access, now);
  const staticToken = access.token;
  return {
    clientCert,
    async get() {
      const plugin = exec && await exec.get();
      const token = plugin?.token ?? (fromFile ? await fromFile.get() : staticToken);
      return {
        authorization: token === undefined ? undefined : `Bearer ${token}`,
        clientCert: plugin?.clientCert ?? clientCert,
      };
    },
    refused(credential) {
      if (exec?.refused(credential)) return true;
      if (fromFile !== undefined) {
        fromFile.expire();
        return true;
      }
      return false;
    },
  };
}

/** A token file, read again once TOKEN_FILE_REREAD_MS have passed (or after a 401). */
async function tokenFile(path: string, now: () => number) {
  const read = async () => {
    try {
      const token = (await Deno.readTextFile(path)).trim();
      if (token === "") throw new Error("the file is empty");
      return token;
    } catch (err) {
      throw new NotariatError("usage", `cannot read the token file ${path}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  };
  let token = await read();
  let readAt = now();
  return {
    async get(): Promise<string> {
      if (now() - readAt >= TOKEN_FILE_REREAD_MS) {
        readAt = now();
        // A file being rewritten may be briefly missing or empty: the token read last still works until then.
        token = await read().catch(() => token);
      }
      return token;
    },
    expire() {
      readAt = -Infinity;
    },
  };
}

/** What an exec plugin handed back. */
interface ExecResult {
  token?: string;
  clientCert?: ClientCert;
  /** ms since epoch; undefined: valid until the server refuses it. */
  expires?: number;
}

function execCredentials(plugin: ExecPlugin, access: ClusterAccess, now: () => number) {
  let cached: ExecResult | undefined;
  let running: Promise<ExecResult> | undefined;
  const fresh = (result: ExecResult | undefined) =>
    result !== undefined && (result.expires === undefined || now() < result.expires - EXEC_EXPIRY_MARGIN_MS);
  return {
    get(): Promise<ExecResult> {
      if (fresh(cached)) return Promise.resolve(cached!);
      running ??= runPlugin(plugin, access).then((result) => {
        cached = result;
        return result;
      }).finally(() => {
        running = undefined;
      });
      return running;
    },
    refused(credential: Credential): boolean {
      if (cached === undefined) return false;
      const sent = credential.authorization === `Bearer ${cached.token}` ||
        (cached.clientCert !== undefined && credential.clientCert === cached.clientCert);
      if (sent) cached = undefined;
      // Another request may have renewed it already: a retry with the current one may still help.
      return true;
    },
  };
}

/** Runs the plugin once and reads its ExecCredential. */
async function runPlugin(plugin: ExecPlugin, access: ClusterAccess): Promise<ExecResult> {
  const what = `exec plugin ${plugin.command}`;
  const cluster = plugin.provideClusterInfo
    ? {
      server: access.server,
      ...(access.ca !== undefined
        ? {
          "certificate-authority-data": encodeBase64(
            new TextEncoder().encode(await readPem(access.ca, "certificate-authority")),
          ),
        }
        : {}),
      ...(access.proxyUrl !== undefined ? { "proxy-url": access.proxyUrl } : {}),
    }
    : undefined;
  const info = {
    apiVersion: plugin.apiVersion,
    kind: "ExecCredential",
    spec: { interactive: false, ...(cluster ? { cluster } : {}) },
  };
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(plugin.command, {
      args: plugin.args,
      env: { ...plugin.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(EXEC_TIMEOUT_MS),
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      const hint = plugin.installHint?.trim();
      throw new NotariatError("kube", `${what} was not found${hint ? `: ${hint}` : ""}`, { cause: err });
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new NotariatError("kube", `${what} may not be run: notariat needs --allow-run for it`, {
        cause: err,
      });
    }
    throw new NotariatError("kube", `${what} could not be run: ${errorMessage(err)}`, { cause: err });
  }
  if (!output.success) {
    // stderr is the plugin's explanation; stdout may hold a credential, so it is never quoted.
    const stderr = new TextDecoder().decode(output.stderr).trim().replace(/\s+/g, " ");
    const excerpt = stderr.length > 300 ? `${stderr.slice(0, 300)}…` : stderr;
    const how = output.signal ? `was stopped by ${output.signal}` : `exited with status ${output.code}`;
    throw new NotariatError("kube", `${what} ${how}${excerpt ? `: ${excerpt}` : ""}`);
  }
  return parseExecCredential(new TextDecoder().decode(output.stdout), plugin.apiVersion, what);
}

/**
 * Reads a plugin's ExecCredential (client.authentication.k8s.io): status.token and/or
 * status.clientCertificateData + clientKeyData, optional status.expirationTimestamp. Errors name the field,
 * never its value.
 */
export function parseExecCredential(text: string, apiVersion: string, what: string): ExecResult {
  const bad = (problem: string): never => {
    throw new NotariatError("kube", `${what} printed no valid ExecCredential: ${problem}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    bad("its output is not JSON");
  }
  const credential = parsed as { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
  if (credential === null || typeof credential !== "object" || credential.kind !== "ExecCredential") {
    bad("kind is not ExecCredential");
  }
  if (credential.apiVersion !== apiVersion) bad(`apiVersion is not ${apiVersion} (the kubeconfig's)`);
  const status = credential.status;
  if (status === null || typeof status !== "object") bad("status is missing");
  const { token, clientCertificateData: cert, clientKeyData: key, expirationTimestamp } = status!;
  if (token !== undefined && (typeof token !== "string" || token === "")) bad("status.token is not a string");
  if ((cert === undefined) !== (key === undefined)) {
    bad("status.clientCertificateData and status.clientKeyData come together");
  }
  if (cert !== undefined && (typeof cert !== "string" || typeof key !== "string")) {
    bad("status.clientCertificateData and status.clientKeyData must be PEM strings");
  }
  if (token === undefined && cert === undefined) bad("status has neither token nor clientCertificateData");
  let expires: number | undefined;
  if (expirationTimestamp !== undefined && expirationTimestamp !== null) {
    expires = typeof expirationTimestamp === "string" ? Date.parse(expirationTimestamp) : NaN;
    if (Number.isNaN(expires)) bad("status.expirationTimestamp is not an RFC 3339 time");
  }
  return {
    token: token as string | undefined,
    clientCert: cert === undefined ? undefined : { cert: cert as string, key: key as string },
    expires,
  };
}
