/**
 * What notariat needs to reach the API server, read from a parsed kubeconfig document (its current context)
 * or from the in-cluster environment: the server, the CA to trust, and how to authenticate. Pure: files are
 * named (resolved against the kubeconfig's directory), not read, and every mistake names the field.
 *
 * Supported: certificate-authority(-data), client-certificate(-data) and client-key(-data), token and
 * tokenFile, exec plugins (client.authentication.k8s.io/v1 and v1beta1), proxy-url (http, https, socks5), the
 * context's namespace. Refused with a message saying what to use instead: auth-provider, username/password,
 * impersonation, insecure-skip-tls-verify, tls-server-name, interactive exec plugins.
 */
import { NotariatError } from "../errors.ts";
import { decodeBase64 } from "./base64.ts";

/** PEM text given inline, or a file holding it. */
export type PemSource = { pem: string } | { file: string };

/** An exec credential plugin (client-go's `users[].user.exec`). */
export interface ExecPlugin {
  apiVersion: string;
  /** The program; a relative path with a slash is taken relative to the kubeconfig's directory. */
  command: string;
  args: string[];
  env: Record<string, string>;
  installHint?: string;
  /** Whether the plugin is told the cluster (KUBERNETES_EXEC_INFO's spec.cluster). */
  provideClusterInfo: boolean;
}

/** How to reach and authenticate to one API server. */
export interface ClusterAccess {
  /** https://host:port, without a trailing slash. */
  server: string;
  /** The CA that signed the server's certificate; absent: the system's roots. */
  ca?: PemSource;
  /** An HTTP(S) or SOCKS5 proxy for every request. */
  proxyUrl?: string;
  clientCert?: { cert: PemSource; key: PemSource };
  token?: string;
  /** A file holding the token, re-read as it rotates (bound service-account tokens). */
  tokenFile?: string;
  exec?: ExecPlugin;
  /** The current context's namespace. */
  namespace?: string;
}

/** The exec plugin API versions notariat speaks (the ExecCredential it expects back has the same). */
export const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

type Mapping = Record<string, unknown>;

const isMapping = (value: unknown): value is Mapping =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** Reads `document` (a parsed kubeconfig at `path`) into the current context's ClusterAccess. */
export function accessFromKubeconfig(document: unknown, path: string): ClusterAccess {
  const where = `the kubeconfig ${path}`;
  const fail = (field: string, problem: string): never => {
    throw new NotariatError("usage", `${where}: ${field} ${problem}`);
  };
  if (!isMapping(document)) throw new NotariatError("usage", `${where} is not a YAML mapping`);
  const current = document["current-context"];
  if (typeof current !== "string" || current === "") {
    throw new NotariatError("usage", `the kubeconfig ${path} has no current context with a cluster`);
  }
  const dir = directoryOf(path);
  const context = named(document, "contexts", "context", current, fail);
  const clusterName = text(context.value, "cluster", context.field, fail);
  if (clusterName === undefined) {
    throw new NotariatError("usage", `the kubeconfig ${path} has no current context with a cluster`);
  }
  const cluster = named(document, "clusters", "cluster", clusterName, fail);
  const userName = text(context.value, "user", context.field, fail);
  const user = userName === undefined || userName === ""
    ? { field: "", value: {} as Mapping }
    : named(document, "users", "user", userName, fail);

  const access: ClusterAccess = {
    server: serverUrl(cluster.value, cluster.field, fail),
  };
  const namespace = text(context.value, "namespace", context.field, fail);
  if (namespace) access.namespace = namespace;
  const c = cluster.field;
  if (cluster.value["insecure-skip-tls-verify"] === true) {
    fail(
      `${c}.insecure-skip-tls-verify`,
      "is not supported: give the server's CA as certificate-authority-data or certificate-authority",
    );
  }
  if (cluster.value["tls-server-name"] !== undefined) {
    fail(`${c}.tls-server-name`, "is not supported: use a server URL whose name the certificate holds");
  }
  const ca = pemSource(cluster.value, "certificate-authority", c, dir, fail);
  if (ca !== undefined) access.ca = ca;
  const proxy = text(cluster.value, "proxy-url", c, fail);
  if (proxy !== undefined && proxy !== "") {
    if (!/^(https?|socks5h?):\/\/[^/]/.test(proxy)) {
      fail(`${c}.proxy-url`, "must be an http://, https:// or socks5:// URL");
    }
    access.proxyUrl = proxy;
  }

  const u = user.field;
  if (user.value["auth-provider"] !== undefined) {
    fail(
      `${u}.auth-provider`,
      "is not supported: configure the provider's exec plugin instead (users[].user.exec, " +
        "e.g. kubelogin or gke-gcloud-auth-plugin)",
    );
  }
  if (user.value.username !== undefined || user.value.password !== undefined) {
    fail(`${u}.username/password`, "(basic authentication) is not supported: use a token or a certificate");
  }
  for (const key of ["as", "as-uid", "as-groups", "as-user-extra"]) {
    if (user.value[key] !== undefined) fail(`${u}.${key}`, "(impersonation) is not supported");
  }
  const cert = pemSource(user.value, "client-certificate", u, dir, fail);
  const key = pemSource(user.value, "client-key", u, dir, fail);
  if ((cert === undefined) !== (key === undefined)) {
    fail(
      `${u}.${cert === undefined ? "client-certificate" : "client-key"}`,
      `is missing: a client certificate needs both client-certificate(-data) and client-key(-data)`,
    );
  }
  if (cert !== undefined && key !== undefined) access.clientCert = { cert, key };
  const token = text(user.value, "token", u, fail);
  if (token !== undefined && token !== "") access.token = token;
  const tokenFile = text(user.value, "tokenFile", u, fail);
  if (tokenFile !== undefined && tokenFile !== "" && token === undefined) {
    access.tokenFile = resolvePath(dir, tokenFile);
  }
  if (user.value.exec !== undefined && user.value.exec !== null) {
    access.exec = execPlugin(user.value.exec, `${u}.exec`, dir, fail);
  }
  return access;
}

/** The files of the pod's service account, relative to the mount prefix (tests mount them elsewhere). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * In-cluster access: the API server from KUBERNETES_SERVICE_HOST/PORT, the service account's rotating token
 * and CA from their mount under `prefix`.
 */
export function inClusterAccess(host: string, port: string | undefined, prefix: string): ClusterAccess {
  if (port === undefined || !/^\d+$/.test(port)) {
    throw new NotariatError(
      "usage",
      "in a cluster, KUBERNETES_SERVICE_PORT must be set to the API server's port (KUBERNETES_SERVICE_HOST is)",
    );
  }
  const name = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    server: `https://${name}:${port}`,
    ca: { file: `${prefix}${SERVICE_ACCOUNT_DIR}/ca.crt` },
    tokenFile: `${prefix}${SERVICE_ACCOUNT_DIR}/token`,
  };
}

type Fail = (field: string, problem: string) => never;

/** The entry `name` of the list `document[list]` (each `{name, [inner]: {...}}`), and its field path. */
function named(
  document: Mapping,
  list: string,
  inner: string,
  name: string,
  fail: Fail,
): { field: string; value: Mapping } {
  const entries = document[list];
  const field = `${list}["${name}"]`;
  if (!Array.isArray(entries)) fail(list, `is missing: it should list the ${inner} "${name}"`);
  const entry = (entries as unknown[]).find((e) => isMapping(e) && e.name === name);
  if (entry === undefined) fail(field, "is missing: no entry has that name");
  const value = (entry as Mapping)[inner] ?? {};
  if (!isMapping(value)) fail(`${field}.${inner}`, "must be a mapping");
  return { field: `${field}.${inner}`, value: value as Mapping };
}

function text(mapping: Mapping, key: string, at: string, fail: Fail): string | undefined {
  const value = mapping[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(`${at}.${key}`, "must be a string");
  return value as string;
}

function serverUrl(cluster: Mapping, at: string, fail: Fail): string {
  const server = text(cluster, "server", at, fail);
  if (server === undefined || server === "") fail(`${at}.server`, "is missing");
  let url: URL | undefined;
  try {
    url = new URL(server!);
  } catch {
    // reported below
  }
  if (url === undefined || url.protocol !== "https:" && url.protocol !== "http:") {
    fail(`${at}.server`, "must be an https:// URL");
  }
  return server!.replace(/\/+$/, "");
}

/** `<name>-data` (base64 PEM) or `<name>` (a file); the data wins, as in client-go. */
function pemSource(
  mapping: Mapping,
  name: string,
  at: string,
  dir: string,
  fail: Fail,
): PemSource | undefined {
  const data = text(mapping, `${name}-data`, at, fail);
  if (data !== undefined && data !== "") {
    let pem: string | undefined;
    try {
      pem = new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64(data.replace(/\s+/g, "")));
    } catch {
      // reported below, without the value
    }
    if (pem === undefined || !pem.includes("-----BEGIN ")) fail(`${at}.${name}-data`, "is not base64 of PEM");
    return { pem: pem! };
  }
  const file = text(mapping, name, at, fail);
  return file === undefined || file === "" ? undefined : { file: resolvePath(dir, file) };
}

function execPlugin(value: unknown, at: string, dir: string, fail: Fail): ExecPlugin {
  if (!isMapping(value)) fail(at, "must be a mapping");
  const exec = value as Mapping;
  const apiVersion = text(exec, "apiVersion", at, fail);
  if (apiVersion === undefined || !EXEC_API_VERSIONS.includes(apiVersion)) {
    fail(`${at}.apiVersion`, `must be one of ${EXEC_API_VERSIONS.join(", ")}`);
  }
  const command = text(exec, "command", at, fail);
  if (command === undefined || command === "") fail(`${at}.command`, "is missing");
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    fail(`${at}.args`, "must be a list of strings");
  }
  const env: Record<string, string> = {};
  const entries = exec.env ?? [];
  if (!Array.isArray(entries)) fail(`${at}.env`, "must be a list of {name, value}");
  for (const [i, entry] of (entries as unknown[]).entries()) {
    if (!isMapping(entry) || typeof entry.name !== "string" || typeof entry.value !== "string") {
      fail(`${at}.env[${i}]`, "must be {name, value} with string values");
    }
    env[(entry as Mapping).name as string] = (entry as Mapping).value as string;
  }
  const mode = text(exec, "interactiveMode", at, fail);
  if (mode === "Always") {
    fail(
      `${at}.interactiveMode`,
      "Always is not supported: notariat has no terminal; use Never or IfAvailable",
    );
  } else if (mode !== undefined && mode !== "Never" && mode !== "IfAvailable") {
    fail(`${at}.interactiveMode`, "must be Never, IfAvailable or Always");
  }
  // client-go resolves a relative command with a path separator against the kubeconfig's directory.
  const program = command!.includes("/") ? resolvePath(dir, command!) : command!;
  return {
    apiVersion: apiVersion!,
    command: program,
    args: args as string[],
    env,
    installHint: text(exec, "installHint", at, fail),
    provideClusterInfo: exec.provideClusterInfo === true,
  };
}

function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : path.slice(0, slash);
}

function resolvePath(dir: string, file: string): string {
  if (file.startsWith("/")) return file;
  return `${dir === "/" ? "" : dir}/${file}`;
}
