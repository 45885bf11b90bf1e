/**
 * A real ACME CA for tests: pebble on picked ports, with its own throw-away TLS certificate, validating DNS-01
 * challenges against the DNS server the test names.
 */
import type { ServerAddress } from "../../src/dns/types.ts";
import { freePort } from "./ports.ts";
import {
  killedWithTestProcess,
  makeStateDir,
  removeStateDir,
  spawnService,
  waitUntilReady,
} from "./process.ts";
import { serverTls } from "./openssl_ca.ts";

/** A running pebble, stopped (and its state dir removed) by `stop`. */
export interface PebbleHandle {
  /** https://127.0.0.1:PORT/dir */
  directoryUrl: string;
  /** PEM of the CA that signed pebble's own TLS certificate (trust this for ACME requests). */
  caPem: string;
  /** The same, as a file path (for the -acme-ca flag). */
  caFile: string;
  /** PEM of the root pebble issues under, from its management API; it changes on every start. */
  issuingRoot(): Promise<string>;
  /** https://127.0.0.1:PORT of pebble's management API (`/roots/0`, `/set-renewal-info/`, ...). */
  managementUrl: string;
  /** A request to the management API (path like `/roots/0`), trusting pebble's TLS certificate. */
  management(path: string, init?: RequestInit): Promise<Response>;
  /** PIDs of the processes this handle started, so a test can see they are gone after `stop`. */
  pids: number[];
  /** pebble's log: one line per request it handles ("POST /path -> calling handler()"), among others. */
  logFile: string;
  stop(): Promise<void>;
}

/** Options for `startPebble`. */
export interface PebbleOptions {
  /** Where pebble looks up challenge TXT records (a forwarder when CNAMEs cross zones). */
  dnsServer: ServerAddress;
  /** Percentage of nonces pebble rejects with badNonce (default 0). */
  nonceReject?: number;
  /**
   * Which pebble: "2.4" (Debian 12's, the default) or "2.10" (Debian unstable's, fetched by
   * scripts/install-pebble-2.10.sh: renewalInfo, profiles, EAB, alternate chains, dns-persist-01, dns-account-01).
   */
  version?: "2.4" | "2.10";
  /** Keys merged into the config's `pebble` object (e.g. `profiles`, `externalAccountMACKeys`, `retryAfter`). */
  config?: Record<string, unknown>;
  /** Extra environment (e.g. `PEBBLE_ALTERNATE_ROOTS`, `PEBBLE_CHAIN_LENGTH`). */
  env?: Record<string, string>;
}

/** The pebble 2.10 binary, fetched once into the cache (see scripts/install-pebble-2.10.sh). */
export async function pebble210Binary(): Promise<string> {
  const script = new URL("../../scripts/install-pebble-2.10.sh", import.meta.url).pathname;
  const out = await new Deno.Command("bash", { args: [script], stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) throw new Error("scripts/install-pebble-2.10.sh failed");
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Starts pebble without its validation sleep and without reusing authorizations, so every order runs its
 * challenges at once; nonce rejection is off unless `nonceReject` asks for it.
 */
export async function startPebble(opts: PebbleOptions): Promise<PebbleHandle> {
  const stateDir = makeStateDir("pebble");
  let client: Deno.HttpClient | undefined;
  try {
    const tls = await serverTls(stateDir, "pebble");
    const port = freePort();
    const managementPort = freePort();
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: tls.certFile,
        privateKey: tls.keyFile,
        // Unused (DNS-01 only), but pebble binds nothing there; picked so they cannot collide anyway.
        httpPort: freePort(),
        tlsPort: freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...opts.config,
      },
    };
    const binary = opts.version === "2.10" ? await pebble210Binary() : "pebble";
    Deno.writeTextFileSync(`${stateDir}/pebble.json`, JSON.stringify(config, null, 2));
    const service = spawnService(
      "pebble",
      stateDir,
      ...killedWithTestProcess(binary, [
        "-config",
        `${stateDir}/pebble.json`,
        "-dnsserver",
        `${opts.dnsServer.host}:${opts.dnsServer.port}`,
        "-strict=false",
      ]),
      {
        PEBBLE_VA_NOSLEEP: "1",
        PEBBLE_WFE_NONCEREJECT: String(opts.nonceReject ?? 0),
        PEBBLE_AUTHZREUSE: "0",
        ...opts.env,
      },
    );
    const httpClient = Deno.createHttpClient({ caCerts: [tls.caPem] });
    client = httpClient;
    const directoryUrl = `https://127.0.0.1:${port}/dir`;
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    let stopping: Promise<void> | undefined;
    try {
      await waitUntilReady(service, async () => {
        const response = await fetch(directoryUrl, { client: httpClient });
        const body = await response.json();
        return response.ok && typeof body.newAccount === "string";
      }, 15_000);
    } catch (err) {
      await service.stop();
      throw err;
    }
    return {
      directoryUrl,
      caPem: tls.caPem,
      caFile: tls.caFile,
      pids: [service.pid],
      logFile: service.logFile,
      managementUrl,
      management: (path, init) => fetch(`${managementUrl}${path}`, { ...init, client: httpClient }),
      async issuingRoot() {
        const response = await fetch(`${managementUrl}/roots/0`, { client: httpClient });
        const pem = await response.text();
        if (!response.ok) throw new Error(`pebble /roots/0 answered ${response.status}: ${pem}`);
        return pem;
      },
      stop() {
        stopping ??= (async () => {
          await service.stop();
          httpClient.close();
          removeStateDir(stateDir);
        })();
        return stopping;
      },
    };
  } catch (err) {
    client?.close();
    removeStateDir(stateDir);
    throw err;
  }
}
