/**
 * The control loop: one certificate entry at a time can be followed from the ConfigMap (loadConfig) through
 * the scheduler (the `loop` below: the one place work is started) to reconcileEntry and the recorder (the one
 * place outcomes are told).
 */
import type { Issuer } from "../acme/issuer.ts";
import { formatProblem, parseCertificatesConfig } from "../config/parse.ts";
import { type CertificateSpec, formatRef } from "../config/types.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import type { EventSubject, Kube } from "../kube/types.ts";
import { listAndWatch, type WatchLog } from "../kube/watch.ts";
import { createEventRecorder } from "../observe/events.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { ControllerProbe } from "./probe.ts";
import { type BackoffOptions, nextAttemptTime } from "./backoff.ts";
import { type Outcome, type ReconcileDeps, reconcileEntry } from "./reconcile.ts";
import { createOutcomeRecorder, type OutcomeRecorder } from "./record.ts";
import { Schedule } from "./schedule.ts";
import { SecretIndex } from "./secret_index.ts";

/** What the controller is told to do (main.ts fills it from the command line). */
export interface ControllerOptions {
  /** Name of the ConfigMap, in the Kubernetes client's namespace. */
  config: string;
  /** The ACME directory URL, recorded on written Secrets. */
  acme: string;
  /** Reconcile every entry once and return. */
  once: boolean;
  /** Write nothing, call no CA, record no Event. */
  dryRun: boolean;
  renewBeforeMs: number;
  /** How many certificates may be obtained at the same time. */
  concurrency: number;
  /** Interval of the periodic pass. */
  resyncMs: number;
}

/** What the controller runs on; main.ts builds these from the command line. */
export interface ControllerDeps {
  kube: Kube;
  issuer: Issuer;
  options: ControllerOptions;
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
  /** Told when entries left the ConfigMap (main.ts then removes their standing dns-persist-01 records). */
  entriesRemoved?: () => void;
}

/** The ConfigMap's entries that are valid, and one line per problem. */
interface LoadedConfig {
  specs: CertificateSpec[];
  problems: string[];
  resourceVersion?: string;
}

/**
 * The longest the loop sleeps before it looks again (and tells the probe it is alive), even with nothing due:
 * /livez can then tell a stuck loop from an idle one within minutes.
 */
export const HEARTBEAT_MS = 30_000;

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
  const log: WatchLog = (level, message, fields) => logger[level](message, fields);
  const runDeps: RunDeps = { ...deps, now, random, loadConfig, recorder, reconcileDeps, parallel, log };
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
  log: WatchLog;
}

/** The namespaces whose Secrets the entries name. */
function namespacesOf(specs: Iterable<CertificateSpec>): Set<string> {
  return new Set([...specs].map((spec) => spec.secret.namespace));
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
  // One labelled LIST and one metadata LIST per namespace instead of a GET per Secret.
  const index = new SecretIndex(deps.kube, { changed() {}, synced() {} }, deps.log, false);
  await index.use(namespacesOf(config.specs));
  const readDeps: ReconcileDeps = {
    ...reconcileDeps,
    readSecret: (ref) => index.read(ref),
    readSharedSecret: (ref) => index.readShared(ref),
  };
  const queue = [...config.specs];
  const worker = async () => {
    for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) {
      const outcome = await reconcileEntry(spec, readDeps);
      failed ||= outcome.result === "failed";
      await recorder.outcome(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
  logger.info("done", { entries: config.specs.length, failed });
  return failed ? 1 : 0;
}

/**
 * How a failed ConfigMap read is retried: 1 s doubling to 30 s. It costs the CA nothing, and until it succeeds
 * no entry is looked after, so it does not wait as long as a failed issuance (1 min, 10 min, ...).
 */
const CONFIG_BACKOFF: BackoffOptions = { baseMs: 1_000, factor: 2, capMs: 30_000, jitter: 0.1 };

/**
 * Watching mode: reconciles on changes, renewal times, backoffs and resyncs until the signal aborts. The
 * decisions are the Schedule's (src/controller/schedule.ts); this function only does the I/O around them.
 */
async function runLoop(deps: RunDeps): Promise<void> {
  const { kube, options, logger, recorder } = deps;
  const now = () => deps.now().getTime();
  const schedule = new Schedule({
    resyncMs: options.resyncMs,
    parallel: deps.parallel,
    retryAt: (at, failures, retryAfter) =>
      nextAttemptTime(new Date(at), failures, deps.random(), retryAfter).getTime(),
    configRetryAt: (at, failures) =>
      nextAttemptTime(new Date(at), failures, deps.random(), undefined, CONFIG_BACKOFF).getTime(),
  }, now());
  const specs = new Map<string, CertificateSpec>();
  const inFlight = new Set<Promise<void>>();
  let reportedProblems = new Set<string>();
  let configVersion: string | undefined;
  let wakeUp: (() => void) | undefined;
  const wake = () => wakeUp?.();
  deps.signal?.addEventListener("abort", wake);

  const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
  const index = new SecretIndex(
    kube,
    {
      changed(namespace, name, version) {
        const key = keyOf(namespace, name);
        if (!specs.has(key)) return;
        if (schedule.changed(key, version, now())) {
          logger.debug("Secret changed", { secret: key, version });
          wake();
        }
      },
      synced(namespace, versions) {
        for (const [key, spec] of specs) {
          if (spec.secret.namespace !== namespace) continue;
          // A namespace that could not be read before may be readable now: failing entries try again at once.
          if (schedule.failing(key)) schedule.retryNow(key, now());
          else schedule.changed(key, versions.get(spec.secret.name), now());
        }
        wake();
      },
      reconnected: () => deps.metrics?.watchReconnected("secrets"),
    },
    deps.log,
    true,
  );

  const configChanged = (version: string | undefined) => {
    if (version !== undefined && version === configVersion) return;
    schedule.configChanged();
    wake();
  };
  const configWatch = listAndWatch(kube, "configmaps", kube.namespace, {
    fieldSelector: `metadata.name=${options.config}`,
  }, {
    sync: (items) => configChanged(items.get(options.config)?.resourceVersion),
    change: (type, item) => configChanged(type === "DELETED" ? undefined : item.resourceVersion),
  }, {
    log: deps.log,
    opened: (again) => {
      if (again) deps.metrics?.watchReconnected("configmaps");
    },
  });

  const applyConfig = async () => {
    const config = await deps.loadConfig();
    configVersion = config.resourceVersion;
    const problems = new Set(config.problems);
    for (const problem of problems) if (!reportedProblems.has(problem)) await recorder.invalidConfig(problem);
    reportedProblems = problems;
    const wanted = new Map(config.specs.map((spec) => [formatRef(spec.secret), spec]));
    let removed = false;
    for (const key of specs.keys()) {
      if (wanted.has(key)) continue;
      specs.delete(key);
      schedule.remove(key);
      removed = true;
      logger.info("entry removed from the configuration", { secret: key });
    }
    if (removed) deps.entriesRemoved?.();
    // Namespaces are listed before their new entries are due, so a first pass reads no Secret one by one.
    await index.use(namespacesOf(wanted.values()));
    const at = now();
    for (const [key, spec] of wanted) {
      const known = specs.get(key);
      specs.set(key, spec);
      if (known === undefined) schedule.add(key, at);
      else if (JSON.stringify(known) !== JSON.stringify(spec)) schedule.edited(key, at);
    }
  };

  const reconcileDeps: ReconcileDeps = {
    ...deps.reconcileDeps,
    readSecret: (ref) => index.read(ref),
    readSharedSecret: (ref) => index.readShared(ref),
  };
  // The one place where work is started.
  const start = (key: string) => {
    const spec = specs.get(key)!;
    const task = reconcileEntry(spec, reconcileDeps)
      .then(async (outcome: Outcome) => {
        const retryAfter = outcome.error instanceof NotariatError ? outcome.error.retryAfter : undefined;
        schedule.finish(key, {
          failed: outcome.result === "failed",
          version: outcome.secretVersion,
          renewAt: outcome.renewAt,
          retryAfter,
        }, now());
        await recorder.outcome(outcome);
      })
      .catch((error) => logger.error("internal error", { secret: key, error }))
      .finally(() => {
        inFlight.delete(task);
        wake();
      });
    inFlight.add(task);
  };

  const reloadConfig = async () => {
    try {
      await applyConfig();
      schedule.configLoaded();
      deps.probe?.configLoaded(deps.now());
    } catch (error) {
      const retryAt = schedule.configFailed(now());
      logger.error("cannot read the configuration; keeping the current entries", {
        error: errorMessage(error),
        retry_at: new Date(retryAt),
      });
    }
  };

  /** Sleeps until `wakeAt`, or until `wake()` (a change, a finished task, the stop signal). */
  const sleepUntil = (wakeAt: number) => {
    const sleepMs = Math.min(HEARTBEAT_MS, Math.max(0, wakeAt - now()));
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
      const at = now();
      deps.probe?.tick(new Date(at));
      deps.probe?.watchesHealthy(
        !configWatch.health().failing || at - (configWatch.health().failingSince ?? at) < 60_000,
      );
      if (schedule.resyncDue(at)) index.relist();
      if (schedule.configDue(at)) await reloadConfig();
      if (deps.signal?.aborted) break;
      for (const key of schedule.takeDue(now())) start(key);
      await sleepUntil(schedule.nextWake());
    }
  } finally {
    deps.signal?.removeEventListener("abort", wake);
    configWatch.stop();
    index.stop();
    await Promise.all(inFlight);
    logger.info("stopped");
  }
}
