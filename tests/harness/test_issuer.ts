/**
 * The issuer set-up the ACME, controller and end-to-end tests and the benchmarks share: a real issuer
 * (`createIssuer`) pointed at a CA the harness started (pebble, or the fault-injecting proxy in front of it) and
 * at the DNS server that takes its challenge records, with the short timings a test wants; and the request for
 * a certificate whose challenges go to that server.
 */
import { createIssuer, type Issuer, type IssueRequest, type IssuerOptions } from "../../src/acme/issuer.ts";
import type { DnsContext } from "../../src/dns/challenges.ts";
import type { ServerAddress } from "../../src/dns/types.ts";
import type { DnsServerHandle } from "./dns_servers.ts";
import { createMemoryAccountStore } from "./memory_account_store.ts";

/** An ACME server to talk to: its directory and the CA its TLS certificate comes from (pebble's handle is one). */
export interface AcmeEndpoint {
  directoryUrl: string;
  caPem?: string;
}

/** One line the issuer logged. */
export interface LogLine {
  message: string;
  fields: Record<string, unknown>;
}

/** What a test changes of the defaults; `dns` is merged field by field, `logs` collects every log line. */
export type TestIssuerSettings = Partial<Omit<IssuerOptions, "dns">> & {
  dns?: Partial<DnsContext>;
  logs?: LogLine[];
};

/**
 * Options for an issuer against `ca` whose challenge records are checked at `resolver` by asking the server
 * that took the update. Defaults: a fresh in-memory account store, DNS timeout 2 s, propagation timeout 10 s
 * polled every 50 ms, 2 issuances at once, CA polled from 50 ms up to 500 ms, at most 30 s per wait.
 */
export function testIssuerOptions(
  ca: AcmeEndpoint,
  resolver: ServerAddress,
  settings: TestIssuerSettings = {},
): IssuerOptions {
  const { dns, logs, ...rest } = settings;
  return {
    directoryUrl: ca.directoryUrl,
    caPem: ca.caPem,
    accounts: createMemoryAccountStore(),
    dns: {
      resolver,
      propagation: "update-server",
      propagationTimeoutMs: 10_000,
      timeoutMs: 2_000,
      pollIntervalMs: 50,
      ...dns,
    },
    concurrency: 2,
    pollTimeoutMs: 30_000,
    pollPolicy: { initialMs: 50, maxMs: 500 },
    ...(logs === undefined ? {} : { log: (message, fields) => logs.push({ message, fields }) }),
    ...rest,
  };
}

/** A real issuer made with `testIssuerOptions`. */
export function createTestIssuer(
  ca: AcmeEndpoint,
  resolver: ServerAddress,
  settings?: TestIssuerSettings,
): Issuer {
  return createIssuer(testIssuerOptions(ca, resolver, settings));
}

/** One issuance an issuer made by `recordingStarts` began: the Secret its label names, and when (`performance.now()`). */
export interface IssueStart {
  secret: string;
  at: number;
}

/** `issuer`, noting in `starts` when each issuance begins: the moment notariat acted on a change. */
export function recordingStarts(issuer: Issuer, starts: IssueStart[]): Issuer {
  return {
    ...issuer,
    issue(request) {
      starts.push({ secret: /secret (\S+)\)/.exec(request.label)![1], at: performance.now() });
      return issuer.issue(request);
    },
  };
}

/**
 * A request for an ECDSA P-256 certificate for `domains`, its challenge records sent to `server` signed with the
 * server's hmac-sha256 key. Labelled as the first ConfigMap entry with a Secret named after the first domain
 * (`*` spelled `wild`), e.g. `certificates[0] (secret default/www.alpha.test)`.
 */
export function testIssueRequest(
  server: DnsServerHandle,
  domains: string[],
  extra: Partial<IssueRequest> = {},
): IssueRequest {
  return {
    label: `certificates[0] (secret default/${domains[0].replace("*", "wild")})`,
    domains,
    email: "certs@alpha.test",
    keyType: "ecdsa-p256",
    zoneAccess: { key: server.keys["hmac-sha256"].key, nameserver: server.address },
    ...extra,
  };
}
