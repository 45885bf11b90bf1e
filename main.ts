/**
 * notariat: keeps the kubernetes.io/tls Secrets listed in a ConfigMap valid, with certificates from an ACME CA
 * obtained over DNS-01 and RFC 2136 updates signed with TSIG. This file only wires things together:
 * flags → clients → the loop (or the dns-check command).
 */
import { createAccountCache } from "./src/acme/account.ts";
import { openAcmeSession } from "./src/acme/client.ts";
import { createIssuer } from "./src/acme/issuer.ts";
import { standingRecordLines } from "./src/acme/standing_record.ts";
import { trustCa } from "./src/acme/transport.ts";
import {
  type DnsFlags,
  parseCommandLine,
  type PersistRecordOptions,
  type RunOptions,
} from "./src/cli/options.ts";
import { parseSecretRef } from "./src/config/names.ts";
import { formatProblem, parseCertificatesConfig } from "./src/config/parse.ts";
import { formatRef } from "./src/config/types.ts";
import { runController } from "./src/controller/controller.ts";
import { runStandingSweeps, type SweepDeps, sweepStandingRecords } from "./src/controller/standing_sweep.ts";
import { isAddressLiteral, parseNameserver } from "./src/dns/address.ts";
import type { DnsContext } from "./src/dns/challenges.ts";
import { runDnsCheck } from "./src/dns/check.ts";
import { systemResolver } from "./src/dns/resolv_conf.ts";
import type { ServerAddress } from "./src/dns/types.ts";
import { errorMessage, NotariatError } from "./src/errors.ts";
import { createKubeAccountStore } from "./src/kube/account_store.ts";
import { createKube } from "./src/kube/client.ts";
import { createKubeStandingStore } from "./src/kube/standing_store.ts";
import { createLogger, type Logger } from "./src/observe/log.ts";

/** Runs notariat with `args` and returns the process exit code (2 for a usage error, as Go's flag does). */
export async function main(args: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseCommandLine(args);
  } catch (err) {
    if (err instanceof NotariatError && err.kind === "usage") {
      console.error(err.message);
      console.error("Run 'notariat -h' for the list of flags.");
      return 2;
    }
    throw err;
  }
  switch (command.kind) {
    case "help":
      console.log(command.text);
      return 0;
    case "dns-check": {
      const { options } = command;
      try {
        const keyText = await Deno.readTextFile(options.tsigKey);
        const ok = await runDnsCheck({
          keyText,
          keySource: `file ${options.tsigKey}`,
          domain: options.domain,
          nameserver: options.nameserver,
          ctx: await dnsContext(options),
        }, (line) => console.log(line));
        return ok ? 0 : 1;
      } catch (err) {
        console.error(`dns-check: ${errorMessage(err)}`);
        return 1;
      }
    }
    case "persist-record":
      try {
        for (const line of await persistRecords(command.options)) console.log(line);
        return 0;
      } catch (err) {
        console.error(`persist-record: ${errorMessage(err)}`);
        return err instanceof NotariatError && err.kind === "usage" ? 2 : 1;
      }
    case "run":
      return await run(command.options);
  }
}

/** The controller: connects to Kubernetes, builds the issuer, and runs the loop until SIGTERM/SIGINT. */
async function run(options: RunOptions): Promise<number> {
  const logger = createLogger({ format: options.logFormat, level: options.logLevel });
  try {
    const kube = await createKube({ kubeconfig: options.kubeconfig, namespace: options.namespace });
    const caPem = options.acmeCa === undefined ? undefined : await readCaBundle(options.acmeCa);
    const dns = await dnsContext(options, logger);
    const standingRecords = createKubeStandingStore(kube, kube.namespace);
    const issuer = createIssuer({
      directoryUrl: options.acme,
      caPem,
      accounts: createKubeAccountStore(kube, kube.namespace),
      dns,
      concurrency: options.concurrency,
      log: (message, fields) => logger.debug(message, fields),
      standingRecords,
    });
    const sweep: SweepDeps = {
      kube,
      configName: options.config,
      store: standingRecords,
      dns,
      log: (level, message, fields) => logger[level](message, fields),
    };
    const stop = new AbortController();
    const onSignal = () => {
      logger.info("stopping: finishing work in progress");
      stop.abort();
    };
    Deno.addSignalListener("SIGTERM", onSignal);
    Deno.addSignalListener("SIGINT", onSignal);
    // Standing dns-persist-01 records of entries that left the ConfigMap go on every resync (and at exit with
    // -once), independently of the control loop and its watches.
    const sweeps = options.once || options.dryRun
      ? Promise.resolve()
      : runStandingSweeps(sweep, options.resyncMs, stop.signal);
    try {
      const code = await runController({ kube, issuer, options, logger, signal: stop.signal });
      if (options.once && !options.dryRun) {
        await sweepStandingRecords(sweep).catch((error) =>
          logger.warn("sweeping standing records failed", { error: errorMessage(error) })
        );
      }
      return code;
    } finally {
      stop.abort();
      await sweeps;
      Deno.removeSignalListener("SIGTERM", onSignal);
      Deno.removeSignalListener("SIGINT", onSignal);
      await kube.close();
    }
  } catch (err) {
    logger.error("cannot start", { error: errorMessage(err) });
    return err instanceof NotariatError && err.kind === "usage" ? 2 : 1;
  }
}

/** `persist-record`: the zone-file lines of the standing records the named entry needs. */
async function persistRecords(options: PersistRecordOptions): Promise<string[]> {
  const kube = await createKube({ kubeconfig: options.kubeconfig, namespace: options.namespace });
  let release = () => {};
  try {
    const ref = formatRef(parseSecretRef(options.secret, kube.namespace));
    const configMap = await kube.readConfigMap(kube.namespace, options.config);
    if (configMap === undefined) {
      throw new NotariatError("config", `ConfigMap ${kube.namespace}/${options.config} does not exist`);
    }
    const parsed = parseCertificatesConfig(configMap.data, kube.namespace);
    const spec = parsed.specs.find((s) => formatRef(s.secret) === ref);
    if (spec === undefined) {
      const problems = parsed.problems.filter((p) => p.secret === ref).map(formatProblem);
      throw new NotariatError(
        "config",
        problems.length > 0
          ? problems.join("; ")
          : `no entry of ConfigMap ${options.config} has secret ${ref}`,
      );
    }
    if (spec.challenge !== "dns-persist-01") {
      throw new NotariatError(
        "config",
        `certificates[${spec.index}] (secret ${ref}): challenge: is ${
          spec.challenge ?? "dns-01"
        }, not dns-persist-01`,
      );
    }
    if (options.acmeCa !== undefined) release = trustCa(options.acme, await readCaBundle(options.acmeCa));
    const accounts = createAccountCache({
      directoryUrl: options.acme,
      store: createKubeAccountStore(kube, kube.namespace),
      openSession: (accountKeyPem) => openAcmeSession({ directoryUrl: options.acme, accountKeyPem }),
    });
    const account = await accounts.get(spec.email);
    return (await standingRecordLines(spec, account.session)).map((line) => line.zoneLine);
  } finally {
    release();
    await kube.close();
  }
}

async function readCaBundle(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch((err) => {
    throw new NotariatError("usage", `-acme-ca: cannot read ${path}: ${errorMessage(err)}`);
  });
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new NotariatError("usage", `-acme-ca: ${path} holds no PEM certificate`);
  }
  return text;
}

/** The DNS settings shared by the controller and dns-check, with the resolver from the flag or resolv.conf. */
async function dnsContext(flags: DnsFlags, logger?: Logger): Promise<DnsContext> {
  return {
    resolver: flags.dnsResolver === undefined ? await systemResolver() : resolverAddress(flags.dnsResolver),
    propagation: flags.propagationCheck,
    propagationTimeoutMs: flags.propagationTimeoutMs,
    timeoutMs: flags.dnsTimeoutMs,
    log: logger === undefined ? undefined : (message, fields) => logger.debug(message, fields),
  };
}

function resolverAddress(text: string): ServerAddress {
  const parsed = parseNameserver(text);
  if ("error" in parsed) throw new NotariatError("usage", `-dns-resolver: ${parsed.error}`);
  if (!isAddressLiteral(parsed.host)) {
    throw new NotariatError("usage", `-dns-resolver: '${text}' must be an IP address, not a name`);
  }
  return parsed;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
