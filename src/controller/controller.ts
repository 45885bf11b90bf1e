/**
 * The control loop: one certificate entry at a time can be followed from the ConfigMap (loadConfig) through
 * the scheduler (the `loop` below: the one place work is started) to reconcileEntry and the recorder (the one
 * place outcomes are told).
 */
import type { Issuer } from "../acme/issuer.ts";
import type { RunOptions } from "../cli/options.ts";
import { formatProblem, parseCertificatesConfig } from "../config/parse.ts";
import { type CertificateSpec, formatRef } from "../config/types.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import type { EventSubject, Kube } from "../kube/types.ts";
import { type ObjectChange, type ObjectWatch, watchObject } from "../kube/watch.ts";
import { createEventRecorder } from "../observe/events.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { ControllerProbe } from "./probe.ts";
import { nextAttemptTime } from "./backoff.ts";
import { type Outcome, type ReconcileDeps, reconcileEntry } from "./reconcile.ts";
import { createOutcomeRecorder, type OutcomeRecorder } from "./record.ts";

/** What the controller runs on; main.ts builds these from the command line. */
export interface ControllerDeps {
  kube: Kube;
  issuer: Issuer;
  options: RunOptions;
  logger: Logger;
  /** Aborting it stops the loop (after in-flight work finishes) and runController returns 0. */
  signal?: AbortSignal;
  now?: () => Date;
  /** Source of backoff jitter, [0, 1). */
  random?: () => number;
  /** Told of each pass, each successful read of the ConfigMap and the watches' health (/livez, /readyz). */
  probe?: ControllerProbe;
  /** Certificate and reconcile metrics, fed by the outcome recorder. */
  metrics?: Metrics;
}

/** The ConfigMap's entries that are valid, and one line per problem. */
interface LoadedConfig {
  specs: CertificateSpec[];
  problems: string[];
  resourceVersion?: string;
}

/** One configured certificate and its schedule. */
interface Entry {
  spec: CertificateSpec;
  /** When it is next reconciled (ms since epoch). */
  dueAt: number;
  failures: number;
  running: boolean;
  /** Secret versions the watch reported while a reconcile was running; "unknown" when one had none. */
  changedWhileRunning: Set<string | undefined>;
  /** The Secret's version as the last reconcile left it. */
  seenVersion?: string;
  watch?: ObjectWatch;
}

// setTimeout takes at most 2^31-1 ms; longer sleeps are cut (the loop just looks again).
const MAX_SLEEP_MS = 2 ** 31 - 1;

/**
 * Keeps every Secret of the ConfigMap valid. With `once`, reconciles each entry once and returns 1 if any entry
 * (or the configuration) failed, else 0. Otherwise reconciles at start, on every change of the ConfigMap or of
 * a managed Secret, at each certificate's renewal time, after a failure's backoff, and on the periodic
 * `resync` pass, until `signal` aborts; then returns 0. Entries are independent: one failing never holds up
 * another. With `dryRun` nothing is written, no CA is called and no Event is recorded.
 */
export async function runController(deps: ControllerDeps): Promise<number> {
  const { kube, options, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const namespace = kube.namespace;
  const subject: EventSubject = { kind: "ConfigMap", apiVersion: "v1", namespace, name: options.config };
  const events = options.dryRun ? undefined : createEventRecorder(kube, subject, {
    now,
    onError: (error) => logger.warn("could not record an Event", { error }),
  });
  const recorder = createOutcomeRecorder(logger, events, deps.metrics, now);
  const reconcileDeps: ReconcileDeps = {
    kube,
    issuer: deps.issuer,
    now,
    renewBeforeMs: options.renewBeforeMs,
    dryRun: options.dryRun,
    acmeDirectory: options.acme,
  };
  // Reads are cheap and issuance is bounded by the issuer's own concurrency; this only caps API load.
  const parallel = Math.max(1, options.concurrency) * 4;

  const loadConfig = async (): Promise<LoadedConfig> => {
    const configMap = await kube.readConfigMap(namespace, options.config);
    if (configMap === undefined) {
      return { specs: [], problems: [`ConfigMap ${namespace}/${options.config} does not exist`] };
    }
    events?.setSubject({ ...subject, uid: configMap.uid });
    const parsed = parseCertificatesConfig(configMap.data, namespace);
    return {
      specs: parsed.specs,
      problems: parsed.problems.map(formatProblem),
      resourceVersion: configMap.resourceVersion,
    };
  };

  logger.info("starting", {
    namespace,
    config: options.config,
    acme: options.acme,
    once: options.once,
    dry_run: options.dryRun,
  });
  const runDeps: RunDeps = { ...deps, now, random, loadConfig, recorder, reconcileDeps, parallel };
  if (options.once) return await runOnce(runDeps);
  await runLoop(runDeps);
  return 0;
}

/** What both modes run on: the controller's dependencies with the defaults filled in, and what they share. */
interface RunDeps extends ControllerDeps {
  now: () => Date;
  random: () => number;
  loadConfig: () => Promise<LoadedConfig>;
  recorder: OutcomeRecorder;
  reconcileDeps: ReconcileDeps;
  /** How many entries are reconciled at the same time. */
  parallel: number;
}

/** `-once`: every entry reconciled once, at most `parallel` at a time; 1 when anything failed. */
async function runOnce(deps: RunDeps): Promise<number> {
  const { loadConfig, recorder, reconcileDeps, parallel, logger } = deps;
  let config: LoadedConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    logger.error("cannot read the configuration", { error });
    return 1;
  }
  for (const problem of config.problems) await recorder.invalidConfig(problem);
  let failed = config.problems.length > 0;
  const queue = [...config.specs];
  const worker = async () => {
    for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) {
      const outcome = await reconcileEntry(spec, reconcileDeps);
      failed ||= outcome.result === "failed";
      await recorder.outcome(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
  logger.info("done", { entries: config.specs.length, failed });
  return failed ? 1 : 0;
}

/** Watching mode: reconciles on changes, renewal times, backoffs and resyncs until the signal aborts. */
async function runLoop(deps: RunDeps): Promise<void> {
  const { kube, options, logger, recorder, now } = deps;
  const entries = new Map<string, Entry>();
  const inFlight = new Set<Promise<void>>();
  let reportedProblems = new Set<string>();
  let configDue = true;
  let configRetryAt = 0;
  let configFailures = 0;
  let configVersion: string | undefined;
  let nextResync = now().getTime() + options.resyncMs;
  let wakeUp: (() => void) | undefined;
  const wake = () => wakeUp?.();
  deps.signal?.addEventListener("abort", wake);

  const configWatch = watchObject(kube, "configmaps", kube.namespace, options.config, (_change, version) => {
    if (version !== undefined && version === configVersion) return;
    configDue = true;
    configRetryAt = 0;
    wake();
  }, { logger });

  const onSecretChange = (entry: Entry) => (change: ObjectChange, version: string | undefined) => {
    if (entries.get(formatRef(entry.spec.secret)) !== entry) return;
    if (entry.running) {
      entry.changedWhileRunning.add(change === "RESYNC" ? undefined : version);
    } else if (change === "RESYNC" || version !== entry.seenVersion) {
      logger.debug("Secret changed", { secret: formatRef(entry.spec.secret), change });
      entry.dueAt = now().getTime();
      wake();
    }
  };

  const applyConfig = async () => {
    const config = await deps.loadConfig();
    configVersion = config.resourceVersion;
    const problems = new Set(config.problems);
    for (const problem of problems) if (!reportedProblems.has(problem)) await recorder.invalidConfig(problem);
    reportedProblems = problems;
    const wanted = new Map(config.specs.map((spec) => [formatRef(spec.secret), spec]));
    for (const [key, entry] of entries) {
      if (wanted.has(key)) continue;
      entry.watch?.stop();
      entries.delete(key);
      logger.info("entry removed from the configuration", { secret: key });
    }
    const at = now().getTime();
    for (const [key, spec] of wanted) {
      const entry = entries.get(key);
      if (entry === undefined) {
        const created: Entry = {
          spec,
          dueAt: at,
          failures: 0,
          running: false,
          changedWhileRunning: new Set(),
        };
        entries.set(key, created);
        const { namespace, name } = spec.secret;
        created.watch = watchObject(kube, "secrets", namespace, name, onSecretChange(created), { logger });
      } else if (JSON.stringify(entry.spec) !== JSON.stringify(spec)) {
        entry.spec = spec;
        entry.failures = 0;
        entry.dueAt = at;
        if (entry.running) entry.changedWhileRunning.add(undefined);
      }
    }
  };

  const finish = (entry: Entry, outcome: Outcome) => {
    entry.running = false;
    const at = now();
    entry.seenVersion = outcome.secretVersion;
    if (outcome.result === "failed") {
      entry.failures++;
      const retryAfter = outcome.error instanceof NotariatError ? outcome.error.retryAfter : undefined;
      entry.dueAt = nextAttemptTime(at, entry.failures, deps.random(), retryAfter).getTime();
    } else {
      entry.failures = 0;
      entry.dueAt = outcome.renewAt?.getTime() ?? at.getTime() + options.resyncMs;
    }
    const changed = [...entry.changedWhileRunning].some((v) =>
      v === undefined || v !== outcome.secretVersion
    );
    entry.changedWhileRunning.clear();
    if (changed) entry.dueAt = at.getTime();
  };

  // The one place where work is started.
  const start = (entry: Entry) => {
    entry.running = true;
    const spec = entry.spec;
    const task = reconcileEntry(spec, deps.reconcileDeps)
      .then(async (outcome) => {
        finish(entry, outcome);
        await recorder.outcome(outcome);
      })
      .catch((error) => logger.error("internal error", { secret: formatRef(spec.secret), error }))
      .finally(() => {
        inFlight.delete(task);
        wake();
      });
    inFlight.add(task);
  };

  // Every change, renewal time and backoff only moves a due time; the resync pass makes everything due.
  const resync = (at: number) => {
    nextResync = at + options.resyncMs;
    configDue = true;
    configRetryAt = 0;
    for (const entry of entries.values()) entry.dueAt = Math.min(entry.dueAt, at);
  };

  const reloadConfig = async () => {
    configDue = false;
    try {
      await applyConfig();
      configFailures = 0;
    } catch (error) {
      configFailures++;
      configDue = true;
      configRetryAt = nextAttemptTime(now(), configFailures, deps.random()).getTime();
      logger.error("cannot read the configuration; keeping the current entries", {
        error: errorMessage(error),
        retry_at: new Date(configRetryAt),
      });
    }
  };

  /** Starts the entries that are due, as many as `parallel` allows; returns when the loop must look again. */
  const startDueEntries = (): number => {
    let wakeAt = nextResync;
    if (configDue) wakeAt = Math.min(wakeAt, configRetryAt);
    const idle = [...entries.values()].filter((e) => !e.running).sort((a, b) => a.dueAt - b.dueAt);
    for (const entry of idle) {
      if (entry.dueAt > now().getTime()) return Math.min(wakeAt, entry.dueAt);
      if (inFlight.size >= deps.parallel) break;
      start(entry);
    }
    return wakeAt;
  };

  /** Sleeps until `wakeAt`, or until `wake()` (a change, a finished task, the stop signal). */
  const sleepUntil = (wakeAt: number) => {
    const sleepMs = Math.min(MAX_SLEEP_MS, Math.max(0, wakeAt - now().getTime()));
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, sleepMs);
      wakeUp = done;
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
    });
  };

  try {
    while (!deps.signal?.aborted) {
      const at = now().getTime();
      if (at >= nextResync) resync(at);
      if (configDue && at >= configRetryAt) await reloadConfig();
      const wakeAt = startDueEntries();
      if (deps.signal?.aborted) break;
      await sleepUntil(wakeAt);
    }
  } finally {
    deps.signal?.removeEventListener("abort", wake);
    configWatch.stop();
    for (const entry of entries.values()) entry.watch?.stop();
    await Promise.all(inFlight);
    logger.info("stopped");
  }
}
