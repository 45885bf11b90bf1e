/**
 * The observe folder owns what notariat shows of itself: log lines (log.ts), metrics (this module, in the
 * Prometheus format of prometheus.ts) and the HTTP listener for /metrics and the probes (http.ts). The rest of
 * the code reports to it; what a probe answers is the controller's (probe.ts), and Kubernetes Events are kube's
 * (events.ts).
 *
 * notariat's metrics. The certificate and ACME client series carry cert-manager's names and labels, so its
 * dashboards and the cert-manager mixin's alerts work unchanged; notariat's own series are `notariat_*`.
 * Values are plain numbers and labels are names, servers and reasons: never a key, a token or a TSIG secret.
 */
import { encodeText, type MetricFamily, type Sample } from "./prometheus.ts";

/** What cert-manager puts in `issuer_name`, `issuer_kind` and `issuer_group`; for notariat: the ACME CA. */
export interface IssuerLabels {
  name: string;
  kind: string;
  group: string;
}

/** The issuer labels for the ACME directory `url`: its host, kind "ACMEServer", group "notariat.io". */
export function issuerLabelsFor(url: string): IssuerLabels {
  return { name: URL.canParse(url) ? new URL(url).host : url, kind: "ACMEServer", group: "notariat.io" };
}

/** What is known about one kept Secret after a reconcile. */
export interface CertificateState {
  namespace: string;
  name: string;
  /** True: a valid certificate is in place; False: it is missing, expiring or failed; Unknown: not looked at. */
  ready: "True" | "False" | "Unknown";
  notBefore?: Date;
  notAfter?: Date;
  renewAt?: Date;
  /** The ACME challenge type the entry uses (dns-01, dns-persist-01, dns-account-01). */
  challenge?: string;
  /** Where renewAt comes from: the CA's renewal information ("ari") or the lifetime rule ("rule"). */
  renewalSource?: string;
}

/** One HTTP exchange with the ACME CA; `status` 0 when no answer came. */
export interface AcmeExchange {
  url: string;
  method: string;
  status: number;
  seconds: number;
}

/** The metrics notariat feeds, and the page it serves. */
export interface Metrics {
  certificate(state: CertificateState): void;
  /** One reconcile outcome (`result` as in Outcome, `reason` the policy reason or error kind). */
  reconciled(result: string, reason: string): void;
  /** One invalid entry (or list) in the ConfigMap was reported. */
  configProblem(): void;
  dnsUpdate(server: string, result: "success" | "failure", seconds: number): void;
  acmeRequest(exchange: AcmeExchange): void;
  /** A watch connection ended and was opened again. */
  watchReconnected(resource: string): void;
  /** Whether this process holds the leader election Lease (absent without leader election). */
  leader(lease: string, isLeader: boolean): void;
  /** The Prometheus text page. */
  render(): string;
}

/** Buckets of notariat_dns_update_duration_seconds. */
export const DNS_UPDATE_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

const CONDITIONS = ["True", "False", "Unknown"] as const;

/**
 * The ACME action of a request, from its URL path, for the `action` label: the path itself holds account,
 * order and authorization ids (one series per order otherwise). Covers Let's Encrypt's (Boulder) and
 * pebble's paths.
 */
export function acmeAction(url: string, method: string): string {
  const path = URL.canParse(url) ? new URL(url).pathname.toLowerCase() : "";
  const rules: [RegExp, string][] = [
    [/nonce/, "new_nonce"],
    [/new-acct|sign-me-up|\/acct\/|my-account/, "account"],
    [/new-order|order-plz/, "new_order"],
    [/finalize/, "finalize"],
    [/authz/, "authorization"],
    [/chall|chalz/, "challenge"],
    [/renewal-?info/, "renewal_info"],
    [/cert/, "certificate"],
    [/order/, "order"],
    [/dir/, "directory"],
  ];
  for (const [pattern, action] of rules) if (pattern.test(path)) return action;
  return method.toUpperCase() === "GET" ? "directory" : "other";
}

/** A set of series of one family, keyed by their label values. */
class Series<T> {
  readonly byKey = new Map<string, { labels: Record<string, string>; value: T }>();
  constructor(private readonly initial: () => T) {}
  get(labels: Record<string, string>): T {
    const key = JSON.stringify(labels);
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      entry = { labels, value: this.initial() };
      this.byKey.set(key, entry);
    }
    return entry.value;
  }
  set(labels: Record<string, string>, value: T): void {
    this.byKey.set(JSON.stringify(labels), { labels, value });
  }
  delete(labels: Record<string, string>): void {
    this.byKey.delete(JSON.stringify(labels));
  }
  entries() {
    return [...this.byKey.values()];
  }
}

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** Creates the registry for one process; `version` goes into notariat_build_info. */
export function createMetrics(options: { version: string; issuer: IssuerLabels }): Metrics {
  const issuer = {
    issuer_name: options.issuer.name,
    issuer_kind: options.issuer.kind,
    issuer_group: options.issuer.group,
  };
  const timestamps = {
    expiration: new Series(() => 0),
    notAfter: new Series(() => 0),
    notBefore: new Series(() => 0),
    renewal: new Series(() => 0),
  };
  const ready = new Series(() => 0);
  const challenges = new Series(() => 0);
  const renewalSources = new Series(() => 0);
  const acmeCount = new Series(() => 0);
  const acmeDuration = new Series(() => ({ sum: 0, count: 0 }));
  const reconciles = new Series(() => 0);
  let configProblems = 0;
  const dnsUpdates = new Series(() => 0);
  const dnsDuration = new Series<Histogram>(() => ({
    buckets: DNS_UPDATE_BUCKETS.map(() => 0),
    sum: 0,
    count: 0,
  }));
  const reconnects = new Series(() => 0);
  const leader = new Series(() => 0);
  const seconds = (date: Date) => date.getTime() / 1000;

  const gauge = (name: string, help: string, series: Series<number>): MetricFamily => ({
    name,
    help,
    type: "gauge",
    samples: series.entries().map(({ labels, value }) => ({ labels, value })),
  });
  const counter = (name: string, help: string, series: Series<number>): MetricFamily => ({
    ...gauge(name, help, series),
    type: "counter",
  });

  return {
    certificate(state) {
      const labels = { name: state.name, namespace: state.namespace, ...issuer };
      const put = (series: Series<number>, date: Date | undefined) =>
        date === undefined ? series.delete(labels) : series.set(labels, seconds(date));
      put(timestamps.expiration, state.notAfter);
      put(timestamps.notAfter, state.notAfter);
      put(timestamps.notBefore, state.notBefore);
      put(timestamps.renewal, state.renewAt);
      for (const condition of CONDITIONS) {
        ready.set({ ...labels, condition }, condition === state.ready ? 1 : 0);
      }
      const entry = { name: state.name, namespace: state.namespace };
      const info = (series: Series<number>, key: string, value: string | undefined) => {
        if (value === undefined) return;
        for (const { labels: known } of series.entries()) {
          if (known.name === entry.name && known.namespace === entry.namespace) series.delete(known);
        }
        series.set({ ...entry, [key]: value }, 1);
      };
      info(challenges, "challenge", state.challenge);
      info(renewalSources, "source", state.renewAt === undefined ? undefined : state.renewalSource);
    },
    reconciled(result, reason) {
      reconciles.set({ result, reason }, reconciles.get({ result, reason }) + 1);
    },
    configProblem() {
      configProblems++;
    },
    dnsUpdate(server, result, took) {
      dnsUpdates.set({ server, result }, dnsUpdates.get({ server, result }) + 1);
      const histogram = dnsDuration.get({ server });
      DNS_UPDATE_BUCKETS.forEach((bound, i) => {
        if (took <= bound) histogram.buckets[i]++;
      });
      histogram.sum += took;
      histogram.count++;
    },
    acmeRequest(exchange) {
      const parsed = URL.canParse(exchange.url) ? new URL(exchange.url) : undefined;
      const labels = {
        scheme: parsed?.protocol.replace(/:$/, "") ?? "",
        host: parsed?.host ?? "",
        action: acmeAction(exchange.url, exchange.method),
        method: exchange.method.toUpperCase(),
        status: String(exchange.status),
      };
      acmeCount.set(labels, acmeCount.get(labels) + 1);
      const duration = acmeDuration.get(labels);
      duration.sum += exchange.seconds;
      duration.count++;
    },
    watchReconnected(resource) {
      reconnects.set({ resource }, reconnects.get({ resource }) + 1);
    },
    leader(lease, isLeader) {
      leader.set({ lease }, isLeader ? 1 : 0);
    },
    render() {
      const families: MetricFamily[] = [
        gauge(
          "certmanager_certificate_expiration_timestamp_seconds",
          "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
          timestamps.expiration,
        ),
        gauge(
          "certmanager_certificate_not_after_timestamp_seconds",
          "The timestamp after which the certificate is invalid, expressed as a Unix Epoch Time.",
          timestamps.notAfter,
        ),
        gauge(
          "certmanager_certificate_not_before_timestamp_seconds",
          "The timestamp before which the certificate is invalid, expressed as a Unix Epoch Time.",
          timestamps.notBefore,
        ),
        gauge(
          "certmanager_certificate_renewal_timestamp_seconds",
          "The number of seconds before expiration time the certificate should renew.",
          timestamps.renewal,
        ),
        gauge("certmanager_certificate_ready_status", "The ready status of the certificate.", ready),
        counter(
          "certmanager_http_acme_client_request_count",
          "The number of requests made by the ACME client.",
          acmeCount,
        ),
        {
          name: "certmanager_http_acme_client_request_duration_seconds",
          help: "The HTTP request latencies in seconds for the ACME client.",
          type: "summary",
          samples: acmeDuration.entries().flatMap(({ labels, value }): Sample[] => [
            { suffix: "_sum", labels, value: value.sum },
            { suffix: "_count", labels, value: value.count },
          ]),
        },
        gauge(
          "notariat_certificate_renewal_source_info",
          "Where each certificate's renewal time comes from: ari (the CA's renewal information) or rule; always 1.",
          renewalSources,
        ),
        gauge(
          "notariat_certificate_challenge_info",
          "The ACME challenge type each certificate is validated with; always 1.",
          challenges,
        ),
        counter(
          "notariat_reconcile_total",
          "Reconciles of configured entries, by result and reason.",
          reconciles,
        ),
        {
          name: "notariat_config_problems_total",
          help: "Invalid entries (or lists) reported in the ConfigMap.",
          type: "counter",
          samples: [{ labels: {}, value: configProblems }],
        },
        counter("notariat_dns_updates_total", "Signed DNS UPDATEs sent, by server and result.", dnsUpdates),
        {
          name: "notariat_dns_update_duration_seconds",
          help: "Duration of one signed DNS UPDATE exchange, by server.",
          type: "histogram",
          samples: dnsDuration.entries().flatMap(({ labels, value }): Sample[] => [
            ...DNS_UPDATE_BUCKETS.map((bound, i) => ({
              suffix: "_bucket",
              labels: { ...labels, le: String(bound) },
              value: value.buckets[i],
            })),
            { suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: value.count },
            { suffix: "_sum", labels, value: value.sum },
            { suffix: "_count", labels, value: value.count },
          ]),
        },
        counter(
          "notariat_watch_reconnects_total",
          "Watch connections opened again after one ended.",
          reconnects,
        ),
        gauge(
          "notariat_leader_status",
          "1 while this process holds the leader election Lease, else 0.",
          leader,
        ),
        {
          name: "notariat_build_info",
          help: "notariat's version and the Deno runtime it runs on; always 1.",
          type: "gauge",
          samples: [{ labels: { version: options.version, deno: Deno.version.deno }, value: 1 }],
        },
      ];
      return encodeText(families);
    },
  };
}
