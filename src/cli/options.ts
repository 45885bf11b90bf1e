/**
 * The cli folder owns notariat's command line: Go-style flags (flags.ts, duration.ts) read into checked
 * options for each subcommand (this module). It reads no file and reaches no server: main.ts acts on what it
 * returns.
 *
 * notariat's command line: `notariat -config NAME [flags]` keeps certificates; `notariat dns-check -tsig-key
 * FILE -domain NAME [flags]` tests DNS UPDATE for one name and exits. Values are checked here, so the rest of
 * the program receives options it can use as they are.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { quoteValue } from "../quote.ts";
import type { PropagationCheck, ServerAddress } from "../dns/types.ts";
import { parseSecretRef, validateLabel, validateSubdomain } from "../config/names.ts";
import { normalizeDomain } from "../dns/names.ts";
import { validateProfileName } from "../config/parse.ts";
import { parseServerAddress } from "../dns/address.ts";
import { DEFAULT_RENEW_BEFORE_MS } from "../controller/renewal.ts";
import type { LogLevel } from "../observe/log.ts";
import { parseListenAddress } from "../observe/http.ts";
import { VERSION } from "../version.ts";
import { describeFlag, flag, type FlagDefinition, formatDefault, parseFlags, sortedFlags } from "./flags.ts";

/** What the command line asks for. */
export type Command =
  | { kind: "help"; text: string }
  | { kind: "version"; text: string }
  | { kind: "run"; options: RunOptions }
  | { kind: "dns-check"; options: DnsCheckOptions }
  | { kind: "status"; options: StatusOptions }
  | { kind: "persist-record"; options: PersistRecordOptions };

/** Where notariat finds its cluster and its ConfigMap; shared by the controller and `notariat status`. */
export interface ClusterOptions {
  /** Name of the ConfigMap listing the certificates. */
  config: string;
  /** kubeconfig path; undefined means in-cluster. */
  kubeconfig?: string;
  /** Namespace of the ConfigMap; undefined means the pod's, else the kubeconfig context's. */
  namespace?: string;
}

/** Options of `notariat status`. */
export interface StatusOptions extends ClusterOptions {
  /** As the controller's -renew-before, for the next renewal time shown. */
  renewBeforeMs: number;
}

/** DNS settings shared by `run` and `dns-check`. */
export interface DnsFlags {
  /** The recursive resolver (an IP address); undefined means the first nameserver of /etc/resolv.conf. */
  dnsResolver?: ServerAddress;
  propagationCheck: PropagationCheck;
  propagationTimeoutMs: number;
  /** Timeout of one DNS exchange. */
  dnsTimeoutMs: number;
}

/** Options of the certificate manager itself. */
export interface RunOptions extends DnsFlags, ClusterOptions {
  /** ACME directory URL. */
  acme: string;
  /** PEM bundle to trust for the ACME server. */
  acmeCa?: string;
  /** The CA's certificate profile for entries that name none; undefined: the CA's default. */
  acmeProfile?: string;
  /** `[namespace/]name` of the Secret with the external account binding's `kid` and `hmacKey`. */
  acmeEabSecret?: string;
  /** Common name of the top issuer whose alternate chain to prefer. */
  preferredChain?: string;
  concurrency: number;
  /** Renew no later than when this much validity is left (at most half the lifetime); 0: the rule alone. */
  renewBeforeMs: number;
  /** Interval of the periodic pass over every certificate. */
  resyncMs: number;
  logFormat: "json" | "logfmt";
  logLevel: LogLevel;
  once: boolean;
  dryRun: boolean;
  /** Listen address of /livez, /readyz and /metrics; "" disables the listener. */
  httpAddress: string;
  /** Whether to reconcile only while holding the leader election Lease. */
  leaderElect: boolean;
  /** How long a shutdown may take for in-flight work to be aborted and cleaned up. */
  shutdownTimeoutMs: number;
}

/** Options of `notariat dns-check`. */
export interface DnsCheckOptions extends DnsFlags {
  /** File holding the TSIG key. */
  tsigKey: string;
  /** Normalized like a configured domain (lower case, punycode, no trailing dot). */
  domain: string;
  /** The server that receives the update (its host may be a name). */
  nameserver?: ServerAddress;
}

/**
 * How many certificates are obtained at once unless -concurrency says otherwise. Measured with
 * bench/issuance_bench.ts (100 certificates, 2 names each, on a 2-core machine): 4 leaves the CA and the DNS
 * waiting, 16 keeps the one JavaScript thread busy, and 32 or 64 only lengthen each certificate's own time.
 * Let's Encrypt counts new orders per account over 3 hours (300), not how many run at once, and 16 orders of a
 * few names each hold far fewer pending authorizations than its per-account cap (300).
 */
export const DEFAULT_CONCURRENCY = 16;

/** Options of `notariat persist-record`. */
export interface PersistRecordOptions {
  acme: string;
  acmeCa?: string;
  config: string;
  kubeconfig?: string;
  namespace?: string;
  /** `[namespace/]name` of the entry's Secret, as the entry's `secret` writes it. */
  secret: string;
}

/** The default ACME directory: Let's Encrypt's staging CA, so a first try cannot hit production rate limits. */
export const DEFAULT_ACME_DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory";

const PROPAGATION_CHECKS: readonly PropagationCheck[] = ["all", "update-server", "off"];
const LOG_FORMATS = ["json", "logfmt"] as const;
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const positive = (value: number) => value > 0 ? undefined : "must be positive";
const oneOf = (choices: readonly string[]) => (value: string) =>
  choices.includes(value) ? undefined : `must be one of ${choices.join(", ")}`;
const reason = (check: (value: string) => unknown) => (value: string) => {
  if (value === "") return undefined;
  try {
    check(value);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
};

/** Flags of both commands. */
export const DNS_FLAGS: readonly FlagDefinition[] = [
  flag({
    name: "dns-resolver",
    type: "string",
    usage: "`HOST:PORT` of the recursive resolver used to find zones and their servers " +
      "(default: the first nameserver in /etc/resolv.conf)",
    default: "",
    check: reason((value) => parseServerAddress(value, { addressOnly: true })),
  }),
  flag({
    name: "propagation-check",
    type: "string",
    usage: "which servers must serve a new TXT record before the CA is asked to validate it: " +
      "all (every authoritative server of the zone), update-server (the one that took the update) or off",
    default: "all",
    check: oneOf(PROPAGATION_CHECKS),
  }),
  flag({
    name: "propagation-timeout",
    type: "duration",
    usage: "how long to wait for a TXT record to be served before the attempt fails",
    default: 2 * 60_000,
    check: positive,
  }),
  flag({
    name: "dns-timeout",
    type: "duration",
    usage: "timeout of one DNS exchange (a query or an update)",
    default: 5_000,
    check: positive,
  }),
];

const CONFIG_FLAG = flag({
  name: "config",
  type: "string",
  usage: '`NAME` of the ConfigMap whose key "certificates" lists the certificates (required)',
  default: "",
  check: reason((value) => validateSubdomain(value, "ConfigMap name")),
});

/** Flags of `notariat status` and of the controller: the cluster, the namespace and the ConfigMap. */
export const CLUSTER_FLAGS: readonly FlagDefinition[] = [
  CONFIG_FLAG,
  flag({
    name: "kubeconfig",
    type: "string",
    usage: "`PATH` of a kubeconfig file (default: the in-cluster service account)",
    default: "",
  }),
  flag({
    name: "namespace",
    type: "string",
    usage: "`NAMESPACE` of the ConfigMap and of Secrets named without a namespace " +
      "(default: the pod's namespace, else the kubeconfig context's)",
    default: "",
    check: reason((value) => validateLabel(value, "namespace")),
  }),
];

const RENEW_BEFORE_FLAG = flag({
  name: "renew-before",
  type: "duration",
  usage: "renew a certificate at the latest when this much of its validity remains, capped at half its " +
    "lifetime (0: only the rule of renewing with a third of the lifetime left, half for 10 days or less); " +
    "the CA's renewal information (ARI) takes precedence where it offers one",
  default: DEFAULT_RENEW_BEFORE_MS,
  check: (value) => value >= 0 ? undefined : "must not be negative",
});

/** Flags of `notariat` (the certificate manager). */
export const RUN_FLAGS: readonly FlagDefinition[] = [
  flag({
    name: "acme",
    type: "string",
    usage: "`URL` of the ACME directory; Let's Encrypt's production CA is " +
      "https://acme-v02.api.letsencrypt.org/directory",
    default: DEFAULT_ACME_DIRECTORY,
    check: (value) => {
      try {
        const url = new URL(value);
        return url.protocol === "https:" || url.protocol === "http:"
          ? undefined
          : "must be an http or https URL";
      } catch {
        return "must be an http or https URL";
      }
    },
  }),
  flag({
    name: "acme-ca",
    type: "string",
    usage:
      "`FILE` of PEM certificates to trust for the ACME server instead of the system's (for a private CA)",
    default: "",
  }),
  flag({
    name: "acme-profile",
    type: "string",
    usage:
      "`NAME` of the CA's certificate profile for entries that name none (e.g. tlsserver or shortlived " +
      "at Let's Encrypt); it must be in the directory's meta.profiles (default: the CA's default profile)",
    default: "",
    check: reason(validateProfileName),
  }),
  flag({
    name: "acme-eab-secret",
    type: "string",
    usage: "`[NAMESPACE/]NAME` of a Secret whose keys kid and hmacKey hold the external account binding " +
      "the CA issued (ZeroSSL, Google Trust Services, Sectigo, SSL.com); used when the account is registered",
    default: "",
    check: reason((value) => parseSecretRef(value, "default")),
  }),
  flag({
    name: "preferred-chain",
    type: "string",
    usage: "`ISSUER CN`: among the chains the CA offers, use the one whose top certificate was issued by " +
      "this common name (e.g. ISRG Root X2), else the CA's default chain",
    default: "",
  }),
  ...CLUSTER_FLAGS,
  flag({
    name: "concurrency",
    type: "int",
    usage: "how many certificates may be obtained at the same time",
    default: DEFAULT_CONCURRENCY,
    check: (value) => value >= 1 ? undefined : "must be at least 1",
  }),
  RENEW_BEFORE_FLAG,
  flag({
    name: "resync",
    type: "duration",
    usage: "interval of the periodic check of every certificate, on top of reacting to changes",
    default: 3_600_000,
    check: positive,
  }),
  flag({
    name: "log-format",
    type: "string",
    usage: "format of log lines: json or logfmt",
    default: "json",
    check: oneOf(LOG_FORMATS),
  }),
  flag({
    name: "log-level",
    type: "string",
    usage: "least important log lines written: debug, info, warn or error",
    default: "info",
    check: oneOf(LOG_LEVELS),
  }),
  flag({
    name: "http-address",
    type: "string",
    usage: "`HOST:PORT` serving /livez, /readyz and /metrics (:PORT for every interface; empty disables; " +
      "not with -once)",
    default: ":9402",
    check: (value) => {
      if (value === "") return undefined;
      const parsed = parseListenAddress(value);
      return "error" in parsed ? parsed.error : undefined;
    },
  }),
  flag({
    name: "leader-elect",
    type: "bool",
    usage: "reconcile only while holding the Lease notariat-leader in notariat's namespace, " +
      "so that several replicas can run (one leads, the others stand by)",
    default: false,
  }),
  flag({
    name: "shutdown-timeout",
    type: "duration",
    usage: "on SIGTERM or SIGINT, how long in-flight issuances get to be aborted and cleaned up " +
      "(TXT values removed, pending authorizations deactivated, Lease released) before notariat exits",
    default: 10_000,
    check: positive,
  }),
  flag({
    name: "version",
    type: "bool",
    usage: "print the version and exit",
    default: false,
  }),
  flag({
    name: "once",
    type: "bool",
    usage: "check every certificate once, renew what needs it, then exit (e.g. in a CronJob)",
    default: false,
  }),
  flag({
    name: "dry-run",
    type: "bool",
    usage: "log what would be done without contacting the CA or writing Secrets",
    default: false,
  }),
  ...DNS_FLAGS,
];

/** Flags of `notariat dns-check`. */
export const DNS_CHECK_FLAGS: readonly FlagDefinition[] = [
  flag({
    name: "tsig-key",
    type: "string",
    usage: "`FILE` holding the TSIG key: [algorithm:]name:secret, the output of keymgr -t, " +
      "or a tsig-keygen key block (required)",
    default: "",
  }),
  flag({
    name: "domain",
    type: "string",
    usage: "domain `NAME` whose _acme-challenge TXT record is added, checked and removed (required)",
    default: "",
    check: reason(normalizeDomain),
  }),
  flag({
    name: "nameserver",
    type: "string",
    usage: "`HOST[:PORT]` of the server that receives the update (default: the zone's primary, from its SOA)",
    default: "",
    check: reason((value) => parseServerAddress(value)),
  }),
  ...DNS_FLAGS,
];

const PERSIST_SHARED = ["acme", "acme-ca", "config", "kubeconfig", "namespace"];

/** Flags of `notariat persist-record`. */
export const PERSIST_RECORD_FLAGS: readonly FlagDefinition[] = [
  ...RUN_FLAGS.filter((f) => PERSIST_SHARED.includes(f.name)),
  flag({
    name: "secret",
    type: "string",
    usage: "`[NAMESPACE/]NAME` of the entry's Secret, as its secret field names it (required)",
    default: "",
  }),
];

/** Flags of `notariat status`. */
export const STATUS_FLAGS: readonly FlagDefinition[] = [...CLUSTER_FLAGS, RENEW_BEFORE_FLAG];

/** What `-version` prints, and the last line of `-h`. */
export const VERSION_TEXT = `notariat ${VERSION} (deno ${Deno.version.deno})`;

const SUBCOMMANDS: readonly [name: string, usage: string][] = [
  ["dns-check", "check a TSIG key and DNS UPDATE for one domain, then exit"],
  ["persist-record", "print the standing dns-persist-01 record(s) an entry needs, then exit"],
  ["status", "one line per configured certificate: state, expiry, next renewal, last reason"],
];

const SUBCOMMAND_HELP = "\nSubcommands:\n" +
  SUBCOMMANDS.map(([name, usage]) => `  ${name}\n    \t${usage} (notariat ${name} -h lists its flags)\n`)
    .join("") +
  "\n" + VERSION_TEXT + "\n";

/**
 * Parses notariat's arguments (without the program name). A first argument `dns-check` or `status` selects
 * that subcommand; `-h` gives the help of the command it follows.
 *
 * @throws NotariatError kind "usage" (the caller prints it and exits 2)
 */
export function parseCommandLine(args: readonly string[]): Command {
  if (args[0] === "dns-check") return parseDnsCheck(args.slice(1));
  if (args[0] === "status") return parseStatus(args.slice(1));
  if (args[0] === "persist-record") return parsePersistRecord(args.slice(1));
  const parsed = parseFlags("notariat", RUN_FLAGS, args);
  if (parsed.kind === "help") return { kind: "help", text: parsed.text + SUBCOMMAND_HELP };
  if (parsed.rest.length > 0) {
    const extra = quoteValue(parsed.rest[0]);
    throw usage(
      ["dns-check", "persist-record", "status"].includes(parsed.rest[0])
        ? `unexpected argument ${extra}: the ${parsed.rest[0]} subcommand must come before any flag`
        : `unexpected argument ${extra}: notariat takes flags only, or a subcommand first`,
    );
  }
  const value = valueReader(parsed.values);
  if (value.bool("version")) return { kind: "version", text: VERSION_TEXT };
  return {
    kind: "run",
    options: withoutUndefined({
      acme: value.string("acme"),
      acmeCa: value.optional("acme-ca"),
      acmeProfile: value.optional("acme-profile"),
      acmeEabSecret: value.optional("acme-eab-secret"),
      preferredChain: value.optional("preferred-chain"),
      ...clusterOptions(value),
      concurrency: value.number("concurrency"),
      renewBeforeMs: value.number("renew-before"),
      resyncMs: value.number("resync"),
      logFormat: value.string("log-format") as RunOptions["logFormat"],
      logLevel: value.string("log-level") as LogLevel,
      once: value.bool("once"),
      dryRun: value.bool("dry-run"),
      httpAddress: value.string("http-address"),
      leaderElect: value.bool("leader-elect"),
      shutdownTimeoutMs: value.number("shutdown-timeout"),
      ...dnsFlags(value),
    }),
  };
}

function parseDnsCheck(args: readonly string[]): Command {
  const parsed = parseFlags("notariat dns-check", DNS_CHECK_FLAGS, args);
  if (parsed.kind === "help") return parsed;
  if (parsed.rest.length > 0) {
    throw usage(`unexpected argument ${quoteValue(parsed.rest[0])}: notariat dns-check takes flags only`);
  }
  const value = valueReader(parsed.values);
  const tsigKey = value.string("tsig-key");
  if (tsigKey === "") {
    throw usage(
      "flag -tsig-key is required: a file holding the TSIG key ([algorithm:]name:secret, " +
        "keymgr -t output or a tsig-keygen block)",
    );
  }
  const domain = value.string("domain");
  if (domain === "") throw usage("flag -domain is required: the domain name to test DNS UPDATE for");
  return {
    kind: "dns-check",
    options: withoutUndefined({
      tsigKey,
      domain: normalizeDomain(domain),
      nameserver: optionalAddress(value.optional("nameserver")),
      ...dnsFlags(value),
    }),
  };
}

function parseStatus(args: readonly string[]): Command {
  const parsed = parseFlags("notariat status", STATUS_FLAGS, args);
  if (parsed.kind === "help") return parsed;
  if (parsed.rest.length > 0) {
    throw usage(`unexpected argument ${JSON.stringify(parsed.rest[0])}: notariat status takes flags only`);
  }
  const value = valueReader(parsed.values);
  return {
    kind: "status",
    options: withoutUndefined({ ...clusterOptions(value), renewBeforeMs: value.number("renew-before") }),
  };
}

function clusterOptions(value: ValueReader): ClusterOptions {
  const config = value.string("config");
  if (config === "") {
    throw usage(
      `flag -config is required: the name of the ConfigMap whose key "certificates" lists the certificates`,
    );
  }
  return { config, kubeconfig: value.optional("kubeconfig"), namespace: value.optional("namespace") };
}

function parsePersistRecord(args: readonly string[]): Command {
  const parsed = parseFlags("notariat persist-record", PERSIST_RECORD_FLAGS, args);
  if (parsed.kind === "help") return parsed;
  if (parsed.rest.length > 0) {
    throw usage(
      `unexpected argument ${JSON.stringify(parsed.rest[0])}: notariat persist-record takes flags only`,
    );
  }
  const value = valueReader(parsed.values);
  const config = value.string("config");
  if (config === "") throw usage("flag -config is required: the name of the ConfigMap listing the entry");
  const secret = value.string("secret");
  if (secret === "") throw usage("flag -secret is required: the [namespace/]name of the entry's Secret");
  return {
    kind: "persist-record",
    options: withoutUndefined({
      acme: value.string("acme"),
      acmeCa: value.optional("acme-ca"),
      config,
      kubeconfig: value.optional("kubeconfig"),
      namespace: value.optional("namespace"),
      secret,
    }),
  };
}

function dnsFlags(value: ValueReader): DnsFlags {
  return {
    dnsResolver: optionalAddress(value.optional("dns-resolver"), { addressOnly: true }),
    propagationCheck: value.string("propagation-check") as PropagationCheck,
    propagationTimeoutMs: value.number("propagation-timeout"),
    dnsTimeoutMs: value.number("dns-timeout"),
  };
}

/** A flag's address, parsed once here (the flag's check has already accepted it). */
function optionalAddress(
  text: string | undefined,
  options?: { addressOnly: boolean },
): ServerAddress | undefined {
  return text === undefined ? undefined : parseServerAddress(text, options);
}

type ValueReader = ReturnType<typeof valueReader>;

/** Typed access to parsed values; an empty string means "not set" for flags without a default. */
function valueReader(values: Map<string, unknown>) {
  return {
    string: (name: string) => values.get(name) as string,
    optional: (name: string) => (values.get(name) as string) || undefined,
    number: (name: string) => values.get(name) as number,
    bool: (name: string) => values.get(name) as boolean,
  };
}

/**
 * The flag reference as a Markdown table (flag, default, meaning) for the README, generated from the same
 * definitions as the help so the two cannot drift apart.
 */
export function formatFlagTable(command: "run" | "dns-check" | "persist-record" | "status"): string {
  const flags = {
    run: RUN_FLAGS,
    "dns-check": DNS_CHECK_FLAGS,
    "persist-record": PERSIST_RECORD_FLAGS,
    status: STATUS_FLAGS,
  }[command];
  const rows = sortedFlags(flags).map((definition) => {
    const { argument, usage } = describeFlag(definition);
    const name = `\`-${definition.name}${argument === "" ? "" : ` ${argument}`}\``;
    const shown = formatDefault(definition);
    return `| ${name} | ${shown === undefined ? "" : `\`${shown}\``} | ${markdownCell(usage)} |`;
  });
  return ["| Flag | Default | Meaning |", "| --- | --- | --- |", ...rows].join("\n") + "\n";
}

/** Drops unset optional fields, so an option that was not given is absent rather than present as undefined. */
function withoutUndefined<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}

function markdownCell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function usage(message: string): NotariatError {
  return new NotariatError("usage", message);
}
