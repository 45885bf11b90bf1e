/**
 * What the controller knows of the Secrets in the namespaces its entries name, at a cost that grows with
 * namespaces, not certificates: per namespace one LIST of the Secrets notariat labelled (with data, for the
 * first judgement of each), then a metadata-only LIST and WATCH of all (names and versions; unrelated Secrets,
 * however large, cost a few bytes each). A Secret's data is read again only when its version moved.
 */
import type { SecretRef } from "../config/types.ts";
import type { Kube, KubeSecret, MetadataItem } from "../kube/types.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../kube/types.ts";
import { listAndWatch, type ListWatch, type WatchLog } from "../kube/watch.ts";

/** Selects the Secrets notariat wrote (every Secret it writes carries the label). */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** What the index reports to the loop. */
export interface SecretIndexHandlers {
  /** A Secret of a watched namespace changed (`version` undefined: deleted). */
  changed(namespace: string, name: string, version: string | undefined): void;
  /** A namespace was (re)listed: every Secret's version in it, as now. */
  synced(namespace: string, versions: Map<string, string>): void;
  /** A namespace's watch was opened again after it ended. */
  reconnected?(): void;
}

interface NamespaceState {
  versions: Map<string, string>;
  /** Whether `versions` holds every Secret of the namespace (a list succeeded): a name not in it does not exist. */
  listed: boolean;
  /** Secrets read with readShared, kept while their version stays the same. */
  shared: Map<string, KubeSecret>;
  /** readShared's reads in flight. */
  reading: Map<string, Promise<KubeSecret | undefined>>;
  /** Secrets from the labelled list not judged yet; each is handed out once, then dropped. */
  prefetched: Map<string, KubeSecret>;
  watch?: ListWatch;
  /** Resolves after the first list succeeded or failed. */
  ready: Promise<void>;
}

/** The Secrets of the namespaces in use, listed once and then watched (see the module comment). */
export class SecretIndex {
  readonly #kube: Kube;
  readonly #handlers: SecretIndexHandlers;
  readonly #log: WatchLog;
  readonly #watch: boolean;
  readonly #namespaces = new Map<string, NamespaceState>();

  /** With `watch` false (-once), namespaces are listed once and never watched. */
  constructor(kube: Kube, handlers: SecretIndexHandlers, log: WatchLog, watch: boolean) {
    this.#kube = kube;
    this.#handlers = handlers;
    this.#log = log;
    this.#watch = watch;
  }

  /**
   * Lists (and watches) each namespace not yet known, stops watching the ones no longer named; resolves once
   * every namespace named has been listed (or failed to be: its entries then read their Secrets one by one
   * and report the error).
   */
  async use(namespaces: Iterable<string>): Promise<void> {
    const wanted = new Set(namespaces);
    for (const [namespace, state] of this.#namespaces) {
      if (wanted.has(namespace)) continue;
      state.watch?.stop();
      this.#namespaces.delete(namespace);
    }
    for (const namespace of wanted) {
      if (!this.#namespaces.has(namespace)) this.#namespaces.set(namespace, this.#start(namespace));
    }
    await Promise.all([...wanted].map((namespace) => this.#namespaces.get(namespace)!.ready));
  }

  /**
   * The Secret as last listed if that is still its version; undefined without a request when the namespace's
   * list says it does not exist (one created meanwhile is met by the write's conflict, which reads it); else
   * read from the API server. What was listed is handed out once: an entry's Secret is read by one entry.
   */
  read(ref: SecretRef): Promise<KubeSecret | undefined> {
    const state = this.#namespaces.get(ref.namespace);
    if (state === undefined) return this.#kube.readSecret(ref.namespace, ref.name);
    const prefetched = state.prefetched.get(ref.name);
    if (prefetched !== undefined) {
      state.prefetched.delete(ref.name);
      if (state.versions.get(ref.name) === prefetched.resourceVersion) return Promise.resolve(prefetched);
    }
    if (state.listed && !state.versions.has(ref.name)) return Promise.resolve(undefined);
    return this.#kube.readSecret(ref.namespace, ref.name);
  }

  /**
   * A Secret many entries read (a TSIG Secret): kept after the first read and handed out again while the
   * namespace's list or watch says its version has not moved; in a namespace not indexed, read every time.
   */
  async readShared(ref: SecretRef): Promise<KubeSecret | undefined> {
    const state = this.#namespaces.get(ref.namespace);
    if (state === undefined) return await this.#kube.readSecret(ref.namespace, ref.name);
    const kept = state.shared.get(ref.name);
    const version = state.versions.get(ref.name);
    if (kept !== undefined && state.listed && kept.resourceVersion === version) return kept;
    if (state.listed && version === undefined) return undefined;
    // Entries reconciled at once that name the same Secret wait for one read.
    let reading = state.reading.get(ref.name);
    if (reading === undefined) {
      reading = this.#kube.readSecret(ref.namespace, ref.name).then((secret) => {
        if (secret === undefined) state.shared.delete(ref.name);
        else state.shared.set(ref.name, secret);
        return secret;
      }).finally(() => state.reading.delete(ref.name));
      state.reading.set(ref.name, reading);
    }
    return await reading;
  }

  /** Lists every watched namespace again (the periodic check for anything missed). */
  relist(): void {
    for (const state of this.#namespaces.values()) state.watch?.relist();
  }

  stop(): void {
    for (const state of this.#namespaces.values()) state.watch?.stop();
    this.#namespaces.clear();
  }

  #start(namespace: string): NamespaceState {
    const state: NamespaceState = {
      versions: new Map(),
      listed: false,
      shared: new Map(),
      reading: new Map(),
      prefetched: new Map(),
      ready: Promise.resolve(),
    };
    state.ready = (async () => {
      // The labelled list first: the metadata list that follows is as new or newer, so a Secret whose version
      // differs between the two changed in between, and is read again.
      try {
        const managed = await this.#kube.listSecrets(namespace, { labelSelector: MANAGED_SELECTOR });
        for (const secret of managed.items) state.prefetched.set(secret.name, secret);
      } catch (error) {
        this.#log("debug", "cannot list notariat's Secrets; reading them one by one", { namespace, error });
      }
      if (!this.#watch) {
        try {
          const list = await this.#kube.listMetadata("secrets", namespace);
          this.#apply(state, list.items);
        } catch (error) {
          this.#log("debug", "cannot list Secrets; reading them one by one", { namespace, error });
        }
        return;
      }
      await new Promise<void>((resolve) => {
        let settled = false;
        const settle = () => {
          if (!settled) resolve();
          settled = true;
        };
        state.watch = listAndWatch(this.#kube, "secrets", namespace, {}, {
          sync: (items) => {
            this.#apply(state, [...items.values()]);
            this.#handlers.synced(namespace, new Map(state.versions));
            settle();
          },
          change: (type, item) => {
            if (type === "DELETED") {
              state.versions.delete(item.name);
              state.shared.delete(item.name);
            } else state.versions.set(item.name, item.resourceVersion);
            this.#handlers.changed(
              namespace,
              item.name,
              type === "DELETED" ? undefined : item.resourceVersion,
            );
          },
        }, {
          log: this.#log,
          // A namespace that cannot be listed does not hold up the first pass: its entries read one by one.
          // While the watch is down, what it said may be stale: Secrets are read again until it is back.
          failed: () => {
            state.listed = false;
            settle();
          },
          opened: (again) => {
            if (again) {
              state.listed = true;
              this.#handlers.reconnected?.();
            }
          },
        });
      });
    })();
    return state;
  }

  #apply(state: NamespaceState, items: MetadataItem[]): void {
    state.versions = new Map(items.map((item) => [item.name, item.resourceVersion]));
    state.listed = true;
    for (const name of state.shared.keys()) if (!state.versions.has(name)) state.shared.delete(name);
  }
}
