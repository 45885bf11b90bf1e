/**
 * notariat: keeps the kubernetes.io/tls Secrets listed in a ConfigMap valid, with certificates from an ACME CA
 * obtained over DNS-01 and RFC 2136 updates signed with TSIG. This file only wires things together:
 * flags → clients → the loop (or the dns-check command).
 */
import { createIssuer } from "./src/acme/issuer.ts";
import { type DnsFlags, parseCommandLine, type RunOptions } from "./src/cli/options.ts";
import { runController } from "./src/controller/controller.ts";
import { isAddressLiteral, parseNameserver } from "./src/dns/address.ts";
import type { DnsContext } from "./src/dns/challenges.ts";
import { runDnsCheck } from "./src/dns/check.ts";
import { systemResolver } from "./src/dns/resolv_conf.ts";
import type { ServerAddress } from "./src/dns/types.ts";
import { errorMessage, NotariatError } from "./src/errors.ts";
import { createKubeAccountStore } from "./src/kube/account_store.ts";
import { createKube } from "./src/kube/client.ts";
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
    const issuer = createIssuer({
      directoryUrl: options.acme,
      caPem,
      accounts: createKubeAccountStore(kube, kube.namespace),
      dns: await dnsContext(options, logger),
      concurrency: options.concurrency,
      log: (message, fields) => logger.debug(message, fields),
    });
    const stop = new AbortController();
    const onSignal = () => {
      logger.info("stopping: finishing work in progress");
      stop.abort();
    };
    Deno.addSignalListener("SIGTERM", onSignal);
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      return await runController({ kube, issuer, options, logger, signal: stop.signal });
    } finally {
      Deno.removeSignalListener("SIGTERM", onSignal);
      Deno.removeSignalListener("SIGINT", onSignal);
      await kube.close();
    }
  } catch (err) {
    logger.error("cannot start", { error: errorMessage(err) });
    return err instanceof NotariatError && err.kind === "usage" ? 2 : 1;
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
