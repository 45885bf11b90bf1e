/**
 * notariat: keeps the kubernetes.io/tls Secrets listed in a ConfigMap valid, with certificates from an ACME CA
 * obtained over DNS-01 and RFC 2136 updates signed with TSIG. This file only wires things together:
 * flags → clients → the loop (or the dns-check and status commands).
 */
import { type EabCredentials, parseEabSecret } from "./src/acme/eab.ts";
import { createAccountCache } from "./src/acme/account.ts";
import { openAcmeSession } from "./src/acme/client.ts";
import { createIssuer } from "./src/acme/issuer.ts";
import { onAcmeExchange, trustCa } from "./src/acme/http.ts";
import { standingRecordLines } from "./src/acme/standing_record.ts";
import {
  type DnsFlags,
  parseCommandLine,
  type PersistRecordOptions,
  type RunOptions,
  type StatusOptions,
} from "./src/cli/options.ts";
import { parseSecretRef } from "./src/config/names.ts";
import { formatProblem, parseCertificatesConfig } from "./src/config/parse.ts";
import { formatRef } from "./src/config/types.ts";
import { createKubeChallengeJournal, journalSecretName } from "./src/controller/challenge_journal.ts";
import { runController } from "./src/controller/controller.ts";
import {
  electionIdentity,
  type LeaderElection,
  LEASE_NAME,
  startLeaderElection,
} from "./src/controller/elector.ts";
import { createProbeTracker, DEFAULT_STUCK_AFTER_MS } from "./src/controller/probe.ts";
import { runStandingSweeps, type SweepDeps, sweepStandingRecords } from "./src/controller/standing_sweep.ts";
import { formatStatusTable, readStatus } from "./src/controller/status.ts";
import type { DnsContext } from "./src/dns/challenges.ts";
import { runDnsCheck } from "./src/dns/check.ts";
import { systemResolver } from "./src/dns/resolv_conf.ts";
import { errorMessage, NotariatError } from "./src/errors.ts";
import { createKubeAccountStore } from "./src/kube/account_key_secrets.ts";
import { createKube } from "./src/kube/client.ts";
import type { Kube } from "./src/kube/types.ts";
import { createKubeStandingStore } from "./src/kube/standing_record_secret.ts";
import { type HttpListener, parseListenAddress, serveHttp } from "./src/observe/http.ts";
import { createLogger, type Logger } from "./src/observe/log.ts";
import { createMetrics, issuerLabelsFor, type Metrics } from "./src/observe/metrics.ts";
import { VERSION } from "./src/version.ts";

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
    case "version":
      console.log(command.text);
      return 0;
    case "dns-check": {
      const { options } = command;
      const interrupted = new AbortController();
      const stop = () => interrupted.abort();
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
      try {
        const keyText = await Deno.readTextFile(options.tsigKey);
        const ok = await runDnsCheck({
          keyText,
          keySource: `file ${options.tsigKey}`,
          domain: options.domain,
          nameserver: options.nameserver,
          ctx: await dnsContext(options),
          signal: interrupted.signal,
        }, (line) => console.log(line));
        return ok ? 0 : 1;
      } catch (err) {
        console.error(`dns-check: ${errorMessage(err)}`);
        return 1;
      } finally {
        Deno.removeSignalListener("SIGINT", stop);
        Deno.removeSignalListener("SIGTERM", stop);
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
    case "status":
      return await status(command.options);
    case "run":
      return await run(command.options);
  }
}

/** `notariat status`: the table of entries, from the cluster as the given kubeconfig sees it. */
async function status(options: StatusOptions): Promise<number> {
  let kube;
  try {
    kube = await createKube({ kubeconfig: options.kubeconfig, namespace: options.namespace });
    const rows = await readStatus(kube, options.config, new Date(), options.renewBeforeMs);
    console.log(formatStatusTable(rows).trimEnd());
    return rows.every((row) => row.state === "Ready") ? 0 : 1;
  } catch (err) {
    console.error(`status: ${errorMessage(err)}`);
    return err instanceof NotariatError && err.kind === "usage" ? 2 : 1;
  } finally {
    await kube?.close();
  }
}

/**
 * The controller: connects to Kubernetes, serves health and metrics, waits for leadership if asked to, and
 * runs the loop until SIGTERM/SIGINT (exit 0 after a clean shutdown) or lost leadership (exit 1).
 */
async function run(options: RunOptions): Promise<number> {
  const logger = createLogger({ format: options.logFormat, level: options.logLevel });
  const metrics = createMetrics({ version: VERSION, issuer: issuerLabelsFor(options.acme) });
  // An idle loop sleeps until its next due time, at most until the next resync: only a loop silent for longer
  // than that is stuck.
  const probe = createProbeTracker({
    leaderElection: options.leaderElect,
    stuckAfterMs: DEFAULT_STUCK_AFTER_MS,
  });
  const shutdown = new AbortController();
  const onSignal = () => {
    if (shutdown.signal.aborted) return;
    logger.info("stopping: no new work; aborting issuances in flight", {
      shutdown_timeout: `${options.shutdownTimeoutMs / 1000}s`,
    });
    shutdown.abort();
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  const forgetAcme = onAcmeExchange((exchange) => metrics.acmeRequest(exchange));
  let kube;
  let http: HttpListener | undefined;
  let election: LeaderElection | undefined;
  try {
    kube = await createKube({ kubeconfig: options.kubeconfig, namespace: options.namespace });
    // A -once run (a CronJob) has nothing to probe or scrape.
    http = options.once ? undefined : await startHttp(options.httpAddress, probe, metrics, logger);
    if (options.leaderElect) {
      election = startLeaderElection({
        kube,
        namespace: kube.namespace,
        name: LEASE_NAME,
        identity: electionIdentity(),
        logger,
        signal: shutdown.signal,
        onLeadership: (state) => {
          probe.leadership(state);
          metrics.leader(LEASE_NAME, state === "leader");
        },
      });
      if (!await election.acquired) return 0;
    }
    const stop = election === undefined ? shutdown.signal : AbortSignal.any([shutdown.signal, election.lost]);
    const caPem = options.acmeCa === undefined ? undefined : await readCaBundle(options.acmeCa);
    const journal = createKubeChallengeJournal({
      kube,
      name: journalSecretName(options.config),
      dnsTimeoutMs: options.dnsTimeoutMs,
      logger,
    });
    const dns: DnsContext = { ...await dnsContext(options, logger), onUpdate: metrics.dnsUpdate, journal };
    const standingRecords = createKubeStandingStore(kube, kube.namespace);
    const issuer = createIssuer({
      directoryUrl: options.acme,
      caPem,
      accounts: createKubeAccountStore(kube, kube.namespace),
      dns,
      concurrency: options.concurrency,
      log: (message, fields) => logger.debug(message, fields),
      defaultProfile: options.acmeProfile,
      preferredChain: options.preferredChain,
      externalAccountBinding: options.acmeEabSecret === undefined
        ? undefined
        : eabReader(kube, options.acmeEabSecret),
      standingRecords,
      signal: stop,
    });
    const sweep: SweepDeps = {
      kube,
      configName: options.config,
      store: standingRecords,
      dns,
      log: (level, message, fields) => logger[level](message, fields),
    };
    // Standing dns-persist-01 records of entries that left the ConfigMap go as soon as the loop sees them leave,
    // on every resync (and at exit with -once); only the leader sweeps, one sweep at a time.
    let sweeping = Promise.resolve();
    const sweepNow = () => {
      sweeping = sweeping.then(() => sweepStandingRecords(sweep)).then(
        () => {},
        (error) => logger.warn("sweeping standing records failed", { error: errorMessage(error) }),
      );
    };
    const sweepsDone = new AbortController();
    const sweeps = options.once || options.dryRun
      ? Promise.resolve()
      : runStandingSweeps(sweep, options.resyncMs, AbortSignal.any([stop, sweepsDone.signal]));
    try {
      // Challenge values a killed run left behind go first (only the leader gets here; a dry run changes nothing).
      if (!options.dryRun) await journal.sweep();
      const code = await withinShutdownTimeout(
        runController({
          kube,
          issuer,
          options,
          logger,
          signal: stop,
          probe,
          metrics,
          entriesRemoved: options.dryRun ? undefined : sweepNow,
        }),
        stop,
        options.shutdownTimeoutMs,
        logger,
      );
      if (options.once && !options.dryRun) {
        await sweepStandingRecords(sweep).catch((error) =>
          logger.warn("sweeping standing records failed", { error: errorMessage(error) })
        );
      }
      if (election?.lost.aborted) return 1;
      return code;
    } finally {
      sweepsDone.abort();
      await sweeps;
      await sweeping;
    }
  } catch (err) {
    logger.error("cannot start", { error: errorMessage(err) });
    return err instanceof NotariatError && err.kind === "usage" ? 2 : 1;
  } finally {
    await election?.release();
    await http?.close();
    await kube?.close();
    forgetAcme();
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

/** Reads the external account binding Secret each time an account is registered (it may be created late). */
function eabReader(kube: Kube, text: string): () => Promise<EabCredentials> {
  const ref = parseSecretRef(text, kube.namespace);
  return async () => {
    const secret = await kube.readSecret(ref.namespace, ref.name);
    if (secret === undefined) {
      throw new NotariatError(
        "config",
        `-acme-eab-secret: external account binding Secret ${formatRef(ref)} does not exist`,
      );
    }
    return parseEabSecret(secret.data, formatRef(ref));
  };
}

/** The controller's exit code, or 1 when it did not finish within `timeoutMs` of `stop` aborting. */
function withinShutdownTimeout(
  controller: Promise<number>,
  stop: AbortSignal,
  timeoutMs: number,
  logger: Logger,
): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<number>((resolve) => {
    const arm = () => {
      timer = setTimeout(() => {
        logger.error("shutdown took longer than -shutdown-timeout; exiting with work in flight", {
          shutdown_timeout: `${timeoutMs / 1000}s`,
        });
        resolve(1);
      }, timeoutMs);
    };
    if (stop.aborted) arm();
    else stop.addEventListener("abort", arm, { once: true });
  });
  return Promise.race([controller, expired]).finally(() => clearTimeout(timer));
}

/** The HTTP listener for -http-address, or none when it is empty. */
async function startHttp(
  address: string,
  probe: ReturnType<typeof createProbeTracker>,
  metrics: Metrics,
  logger: Logger,
): Promise<HttpListener | undefined> {
  if (address === "") return undefined;
  const parsed = parseListenAddress(address);
  if ("error" in parsed) throw new NotariatError("usage", `-http-address: ${parsed.error}`);
  return await serveHttp(parsed, {
    live: probe.live,
    ready: probe.ready,
    metrics: metrics.render,
  }, logger).catch((err) => {
    throw new NotariatError("usage", `-http-address: cannot listen on ${address}: ${errorMessage(err)}`);
  });
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
    resolver: flags.dnsResolver ?? await systemResolver(),
    propagation: flags.propagationCheck,
    propagationTimeoutMs: flags.propagationTimeoutMs,
    timeoutMs: flags.dnsTimeoutMs,
    log: logger === undefined ? undefined : (message, fields) => logger.debug(message, fields),
  };
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
