/**
 * A real Kubernetes API server for tests: etcd plus kube-apiserver (built once and cached by
 * scripts/build-kube-apiserver.sh), with token authentication and RBAC enforced. There are no controllers:
 * service-account tokens come from the TokenRequest API, and the test creates every object it needs.
 */
import { freePort } from "./ports.ts";
import {
  isRunning,
  killedWithTestProcess,
  makeStateDir,
  removeStateDir,
  run,
  type Service,
  spawnService,
  waitUntilReady,
} from "./process.ts";
import { clientTls, serverTls } from "./openssl_ca.ts";

/** An API answer: the HTTP status and the parsed JSON body (the raw text when it is not JSON). */
export interface KubeResponse {
  status: number;
  // Tests read arbitrary fields of arbitrary objects; typing them all would be noise.
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** A running API server, stopped (both processes, and the state dir removed) by `stop`. */
export interface KubeHandle {
  /** https://127.0.0.1:PORT */
  server: string;
  /** CA for the server's TLS certificate. */
  caPem: string;
  /** A token in group system:masters. */
  adminToken: string;
  /** Path to a kubeconfig (namespace "default") using adminToken. */
  adminKubeconfig: string;
  /** Writes another kubeconfig file for `token` with `namespace` as its default, returns its path. */
  kubeconfigFor(token: string, namespace: string): string;
  /**
   * Writes a kubeconfig whose user entry is `user` as given (client-certificate, tokenFile, exec...), and
   * whose cluster entry has `cluster`'s fields too (e.g. proxy-url), in a directory of its own (relative
   * paths in it resolve there); returns its path.
   */
  kubeconfigWith(user: Record<string, unknown>, namespace: string, cluster?: Record<string, unknown>): string;
  /**
   * A client certificate for user "cert-admin" in group system:masters, signed by the CA the API server
   * trusts for clients (--client-ca-file): PEM, and the same as files.
   */
  clientCert: { certPem: string; keyPem: string; certFile: string; keyFile: string };
  /** A token for the service account, from the TokenRequest API (the account must exist). */
  mintToken(namespace: string, serviceAccount: string): Promise<string>;
  /** Small admin REST helper for test setup/inspection: method, path (e.g. /api/v1/namespaces), JSON body. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
  /**
   * Creates each object (Namespace, ServiceAccount, Role, ClusterRole, bindings, ConfigMap, Secret...) via the
   * REST API, replacing it if it exists. Namespaced objects without a namespace go to "default".
   */
  apply(objects: unknown[]): Promise<void>;
  /** PIDs of the processes this handle started (etcd, kube-apiserver), to see they are gone after `stop`. */
  pids: number[];
  /**
   * Stops kube-apiserver (SIGTERM, by PID), keeping etcd and its data, and starts it again with the same flags
   * on the same port; resolves once it is ready. What an API server upgrade or crash looks like to a client.
   * `pids` then holds the new server's PID.
   */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

/** The audience and issuer of service-account tokens, as in a real cluster. */
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc";

const CLUSTER_SCOPED_KINDS = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding"]);

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

/** The collection path of `object` (plural is the lower-case kind plus "s", true for every kind tests use). */
function collectionPath(object: KubeObject): string {
  const base = object.apiVersion === "v1" ? "/api/v1" : `/apis/${object.apiVersion}`;
  const plural = `${object.kind.toLowerCase()}s`;
  if (CLUSTER_SCOPED_KINDS.has(object.kind)) return `${base}/${plural}`;
  return `${base}/namespaces/${object.metadata.namespace ?? "default"}/${plural}`;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The kube-apiserver binary, building it first if it is not cached yet (waits for a build in progress). */
async function kubeApiserverBinary(): Promise<string> {
  const script = new URL("../../scripts/build-kube-apiserver.sh", import.meta.url).pathname;
  return (await run("bash", [script])).trim();
}

async function startEtcd(stateDir: string): Promise<{ service: Service; url: string }> {
  const clientPort = freePort();
  const peerPort = freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const service = spawnService(
    "etcd",
    stateDir,
    ...killedWithTestProcess("etcd", [
      "--data-dir",
      `${stateDir}/etcd`,
      "--listen-client-urls",
      url,
      "--advertise-client-urls",
      url,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      `default=${peer}`,
      "--logger",
      "zap",
      "--log-level",
      "warn",
    ]),
  );
  try {
    await waitUntilReady(service, async () => {
      const response = await fetch(`${url}/health`);
      return response.ok && (await response.json()).health === "true";
    }, 15_000);
  } catch (err) {
    await service.stop();
    throw err;
  }
  return { service, url };
}

function kubeconfig(
  server: string,
  caPem: string,
  user: Record<string, unknown>,
  namespace: string,
  cluster: Record<string, unknown> = {},
): string {
  // JSON is YAML, and leaves no quoting to get wrong.
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "test",
        cluster: { server, "certificate-authority-data": btoa(caPem), ...cluster },
      }],
      users: [{ name: "test", user }],
      contexts: [{ name: "test", context: { cluster: "test", user: "test", namespace } }],
      "current-context": "test",
    },
    null,
    2,
  );
}

/** Options of `startKube`. */
export interface KubeOptions {
  /**
   * Extra kube-apiserver flags, e.g. `--min-request-timeout=4` (watches that ask for no timeout end after
   * 4–8 s) or `--watch-cache-sizes=secrets#20` (a short history, so an old resume version is 410 Gone).
   */
  apiserverArgs?: string[];
}

/**
 * Starts etcd and kube-apiserver on picked ports with a fresh CA, an admin token in system:masters, and
 * service-account token signing; returns once the server is ready and the "default" namespace exists.
 */
export async function startKube(options: KubeOptions = {}): Promise<KubeHandle> {
  const binary = await kubeApiserverBinary();
  const stateDir = makeStateDir("kube");
  const services: Service[] = [];
  let client: Deno.HttpClient | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    stopping ??= (async () => {
      // The API server keeps no state of its own (etcd does, and goes with the state dir): killing it skips
      // its graceful shutdown, a second per stop.
      for (const service of services) {
        if (service.name !== "kube-apiserver" || !isRunning(service.pid)) continue;
        try {
          Deno.kill(service.pid, "SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await Promise.all(services.map((service) => service.stop()));
      client?.close();
      removeStateDir(stateDir);
    })();
  try {
    const tls = await serverTls(stateDir, "kube-apiserver");
    const clientCert = await clientTls(stateDir, "cert-admin", "system:masters");
    const serviceAccountKey = `${stateDir}/service-account.key`;
    const serviceAccountPublicKey = `${stateDir}/service-account.pub`;
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      serviceAccountKey,
    ]);
    // The verifying side reads public keys only (a PKCS#8 private key there is "no valid public key").
    await run("openssl", ["pkey", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPublicKey]);
    const adminToken = randomToken();
    Deno.writeTextFileSync(`${stateDir}/tokens.csv`, `${adminToken},admin,admin,"system:masters"\n`);

    const etcd = await startEtcd(stateDir);
    services.push(etcd.service);

    const port = freePort();
    const server = `https://127.0.0.1:${port}`;
    const spawnApiserver = () =>
      spawnService(
        "kube-apiserver",
        stateDir,
        ...killedWithTestProcess(binary, [
          "--insecure-port=0",
          "--bind-address=127.0.0.1",
          `--secure-port=${port}`,
          "--advertise-address=127.0.0.1",
          "--endpoint-reconciler-type=none",
          `--etcd-servers=${etcd.url}`,
          `--token-auth-file=${stateDir}/tokens.csv`,
          `--client-ca-file=${clientCert.caFile}`,
          "--anonymous-auth=false",
          "--authorization-mode=RBAC",
          `--service-account-key-file=${serviceAccountPublicKey}`,
          `--service-account-signing-key-file=${serviceAccountKey}`,
          `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
          `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
          "--service-cluster-ip-range=10.0.0.0/24",
          `--tls-cert-file=${tls.certFile}`,
          `--tls-private-key-file=${tls.keyFile}`,
          `--cert-dir=${stateDir}/certs`,
          ...(options.apiserverArgs ?? []),
        ]),
      );
    const apiserver = spawnApiserver();
    services.push(apiserver);
    const httpClient = Deno.createHttpClient({ caCerts: [tls.caPem] });
    client = httpClient;

    const request = async (
      method: string,
      path: string,
      body?: unknown,
      contentType = "application/json",
    ) => {
      const response = await fetch(`${server}${path}`, {
        method,
        client: httpClient,
        headers: {
          authorization: `Bearer ${adminToken}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": contentType }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: KubeResponse["body"] = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (e.g. /readyz answers "ok")
      }
      return { status: response.status, body: parsed };
    };

    const ready = (service: Service) =>
      waitUntilReady(service, async () => (await request("GET", "/readyz")).status === 200, 60_000);
    await ready(apiserver);
    // The server's own bootstrap normally creates "default"; create it if it has not (409 means it has).
    const created = await request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "default" },
    });
    if (created.status !== 201 && created.status !== 409) {
      throw new Error(
        `creating namespace default answered ${created.status}: ${JSON.stringify(created.body)}`,
      );
    }

    const kubeconfigFor = (token: string, namespace: string): string => {
      const path = Deno.makeTempFileSync({ dir: stateDir, prefix: "kubeconfig-", suffix: ".yaml" });
      Deno.writeTextFileSync(path, kubeconfig(server, tls.caPem, { token }, namespace));
      return path;
    };
    const kubeconfigWith = (
      user: Record<string, unknown>,
      namespace: string,
      cluster: Record<string, unknown> = {},
    ): string => {
      const dir = Deno.makeTempDirSync({ dir: stateDir, prefix: "kubeconfig-" });
      const path = `${dir}/config`;
      Deno.writeTextFileSync(path, kubeconfig(server, tls.caPem, user, namespace, cluster));
      return path;
    };

    const pids = services.map((s) => s.pid);
    const restartApiserver = async () => {
      const index = services.findIndex((s) => s.name === "kube-apiserver");
      const old = services[index];
      await old.stop();
      const restarted = spawnApiserver();
      services[index] = restarted;
      pids[pids.indexOf(old.pid)] = restarted.pid;
      await ready(restarted);
    };

    return {
      server,
      caPem: tls.caPem,
      adminToken,
      adminKubeconfig: kubeconfigFor(adminToken, "default"),
      kubeconfigFor,
      kubeconfigWith,
      clientCert,
      async mintToken(namespace, serviceAccount) {
        const path = `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`;
        const response = await request("POST", path, {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { audiences: [SERVICE_ACCOUNT_ISSUER], expirationSeconds: 3600 },
        });
        if (response.status !== 201) {
          throw new Error(
            `TokenRequest for ${namespace}/${serviceAccount} answered ${response.status}: ${
              JSON.stringify(response.body)
            }`,
          );
        }
        return response.body.status.token;
      },
      request,
      async apply(objects) {
        for (const object of objects as KubeObject[]) {
          const collection = collectionPath(object);
          const what = `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`;
          const created = await request("POST", collection, object);
          if (created.status === 201) continue;
          if (created.status !== 409) {
            throw new Error(`creating ${what} answered ${created.status}: ${JSON.stringify(created.body)}`);
          }
          const itemPath = `${collection}/${object.metadata.name}`;
          const existing = await request("GET", itemPath);
          const resourceVersion = existing.body?.metadata?.resourceVersion;
          const replaced = await request("PUT", itemPath, {
            ...object,
            metadata: { ...object.metadata, resourceVersion },
          });
          if (replaced.status !== 200) {
            throw new Error(
              `replacing ${what} answered ${replaced.status}: ${JSON.stringify(replaced.body)}`,
            );
          }
        }
      },
      pids,
      restartApiserver,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
