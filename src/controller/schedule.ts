/**
 * The watching controller's decisions, as a pure state machine over a clock argument: which entries are due,
 * when to look again, what a change seen mid-run means, backoff after failures, and the periodic resync.
 * The loop in controller.ts does the I/O and tells this module what happened; nothing here reads the time.
 */

/** How a finished reconcile went, as far as scheduling is concerned. */
export interface Finished {
  failed: boolean;
  /** The Secret's version as the reconcile left it (read or written). */
  version?: string;
  /** When the certificate is next due (successful results). */
  renewAt?: Date;
  /** The earliest retry the remote side allows (an ACME Retry-After), for failures. */
  retryAfter?: Date;
}

/** What the schedule needs to know besides events: limits and the backoff rule. */
export interface ScheduleOptions {
  /** Interval of the periodic pass. */
  resyncMs: number;
  /** How many entries may run at the same time. */
  parallel: number;
  /** When a failing entry is tried again, given its consecutive failures (1 = first) and Retry-After. */
  retryAt(now: number, failures: number, retryAfter: Date | undefined): number;
  /** When a failed ConfigMap read is tried again, given its consecutive failures; `retryAt` when absent. */
  configRetryAt?(now: number, failures: number): number;
}

interface Slot {
  key: string;
  dueAt: number;
  failures: number;
  running: boolean;
  /** Versions seen while it ran; `undefined` in the set: a change of unknown version (relist, spec edit). */
  changedWhileRunning: Set<string | undefined>;
  /** The Secret's version as the last reconcile left it. */
  seenVersion?: string;
  /** Bumped whenever dueAt changes, so stale heap items are skipped. */
  generation: number;
}

interface HeapItem {
  dueAt: number;
  /** Order of scheduling: entries due at the same time start in the order they became due. */
  seq: number;
  key: string;
  generation: number;
}

const before = (a: HeapItem, b: HeapItem) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);

/**
 * The schedule of every configured entry (by key, e.g. "ns/name") and of the ConfigMap reload. Due entries
 * sit in a min-heap by due time, so a wake-up costs O(log n) per started entry, not a sort of all of them.
 */
export class Schedule {
  readonly #options: ScheduleOptions;
  readonly #slots = new Map<string, Slot>();
  #heap: HeapItem[] = [];
  #seq = 0;
  #running = 0;
  #nextResync: number;
  #configDue = true;
  #configRetryAt = 0;
  #configFailures = 0;

  constructor(options: ScheduleOptions, now: number) {
    this.#options = options;
    this.#nextResync = now + options.resyncMs;
  }

  /** How many entries are running. */
  get running(): number {
    return this.#running;
  }

  /** Whether `key` is scheduled. */
  has(key: string): boolean {
    return this.#slots.has(key);
  }

  /** A new entry: due at once. */
  add(key: string, now: number): void {
    if (this.#slots.has(key)) return;
    const slot: Slot = {
      key,
      dueAt: now,
      failures: 0,
      running: false,
      changedWhileRunning: new Set(),
      generation: 0,
    };
    this.#slots.set(key, slot);
    this.#push(slot);
  }

  /** An entry left the configuration; a run in progress finishes but is not rescheduled. */
  remove(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    if (slot.running) this.#running--;
    this.#slots.delete(key);
  }

  /** The entry's configuration changed: due at once with its backoff reset, or again right after its run. */
  edited(key: string, now: number): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    slot.failures = 0;
    if (slot.running) slot.changedWhileRunning.add(undefined);
    else this.#due(slot, now);
  }

  /**
   * The entry's Secret was seen at `version` (undefined: deleted, or changes may have been missed). A version
   * the last run left behind (its own write, or the read it judged) changes nothing.
   */
  changed(key: string, version: string | undefined, now: number): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    if (slot.running) {
      slot.changedWhileRunning.add(version);
      return false;
    }
    if (version !== undefined && version === slot.seenVersion) return false;
    this.#due(slot, now);
    return true;
  }

  /** Whether the entry's last run failed (such entries are retried at once when their namespace recovers). */
  failing(key: string): boolean {
    return (this.#slots.get(key)?.failures ?? 0) > 0;
  }

  /** Makes a failing entry due at once (its cause may be gone). */
  retryNow(key: string, now: number): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined && !slot.running && slot.failures > 0) this.#due(slot, now);
  }

  /** The entries to start now (marked running), oldest due first, as many as the parallel limit allows. */
  takeDue(now: number): string[] {
    const started: string[] = [];
    while (this.#running < this.#options.parallel) {
      const item = this.#peek();
      if (item === undefined || item.dueAt > now) break;
      this.#pop();
      const slot = this.#slots.get(item.key)!;
      slot.running = true;
      slot.generation++;
      this.#running++;
      started.push(slot.key);
    }
    return started;
  }

  /**
   * A run ended: schedule the next one at the renewal time (success) or after the backoff (failure), or at
   * once when the Secret changed to a version other than the one the run left.
   */
  finish(key: string, result: Finished, now: number): void {
    const slot = this.#slots.get(key);
    if (slot === undefined || !slot.running) return;
    slot.running = false;
    this.#running--;
    slot.seenVersion = result.version;
    let dueAt: number;
    if (result.failed) {
      slot.failures++;
      dueAt = this.#options.retryAt(now, slot.failures, result.retryAfter);
    } else {
      slot.failures = 0;
      dueAt = result.renewAt?.getTime() ?? now + this.#options.resyncMs;
    }
    const changed = [...slot.changedWhileRunning].some((v) => v === undefined || v !== result.version);
    slot.changedWhileRunning.clear();
    this.#due(slot, changed ? now : dueAt);
  }

  /** Whether the periodic pass is due; if so, the next one is scheduled and the ConfigMap is due. */
  resyncDue(now: number): boolean {
    if (now < this.#nextResync) return false;
    this.#nextResync = now + this.#options.resyncMs;
    this.configChanged();
    return true;
  }

  /** The ConfigMap changed (or a resync): reload it at once. */
  configChanged(): void {
    this.#configDue = true;
    this.#configRetryAt = 0;
  }

  /** Whether the ConfigMap should be read now. */
  configDue(now: number): boolean {
    return this.#configDue && now >= this.#configRetryAt;
  }

  /** The ConfigMap was read and applied. */
  configLoaded(): void {
    this.#configDue = false;
    this.#configFailures = 0;
  }

  /** Reading the ConfigMap failed: retried after the backoff; returns when. */
  configFailed(now: number): number {
    this.#configFailures++;
    this.#configDue = true;
    this.#configRetryAt = this.#options.configRetryAt?.(now, this.#configFailures) ??
      this.#options.retryAt(now, this.#configFailures, undefined);
    return this.#configRetryAt;
  }

  /** When the loop must look again at the latest (it also wakes on every event). */
  nextWake(): number {
    let wake = this.#nextResync;
    if (this.#configDue) wake = Math.min(wake, this.#configRetryAt);
    if (this.#running < this.#options.parallel) {
      const item = this.#peek();
      if (item !== undefined) wake = Math.min(wake, item.dueAt);
    }
    return wake;
  }

  /** When the entry is next due (undefined while it runs or when unknown). */
  dueAt(key: string): number | undefined {
    const slot = this.#slots.get(key);
    return slot === undefined || slot.running ? undefined : slot.dueAt;
  }

  #due(slot: Slot, at: number): void {
    slot.dueAt = at;
    slot.generation++;
    this.#push(slot);
  }

  #push(slot: Slot): void {
    // Stale items are dropped lazily; rebuild when they outnumber the live ones.
    if (this.#heap.length > 2 * this.#slots.size + 64) this.#rebuild();
    const heap = this.#heap;
    heap.push({ dueAt: slot.dueAt, seq: this.#seq++, key: slot.key, generation: slot.generation });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  #rebuild(): void {
    const live = [...this.#slots.values()].filter((slot) => !slot.running);
    this.#heap = live.map((slot) => ({
      dueAt: slot.dueAt,
      seq: this.#seq++,
      key: slot.key,
      generation: slot.generation,
    })).sort((a, b) => a.dueAt - b.dueAt);
  }

  /** The earliest current item, dropping stale ones (entries removed, running, or rescheduled since). */
  #peek(): HeapItem | undefined {
    while (this.#heap.length > 0) {
      const top = this.#heap[0];
      const slot = this.#slots.get(top.key);
      if (slot !== undefined && !slot.running && slot.generation === top.generation) return top;
      this.#pop();
    }
    return undefined;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left], heap[least])) least = left;
      if (right < heap.length && before(heap[right], heap[least])) least = right;
      if (least === i) break;
      [heap[least], heap[i]] = [heap[i], heap[least]];
      i = least;
    }
  }
}
