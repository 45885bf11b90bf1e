/**
 * Coalescing of DNS UPDATEs: concurrent orders whose values go to the same zone, on the same server, with the
 * same key and the same operation within a few milliseconds of each other share one signed message. An
 * authoritative server applies an UPDATE as one transaction (RFC 2136 3.4), and some take long for each
 * (Knot 3.2: up to a second), so one message for many orders is both fewer round trips and less waiting.
 *
 * What each caller sees stays what it would see alone: its promise settles when its own values are applied,
 * and when a shared message fails, every caller's values are sent again on their own (one message after the
 * other), so one order's bad value
 * (or a refusal that concerns one owner name) fails only that order, and a failure still means exactly the
 * caller's own values were not applied. The logic here knows nothing of DNS: values, groups, a send function.
 */

/** Sends one batch of values; resolves when the server applied them, rejects otherwise. */
export type SendBatch<V> = (values: V[]) => Promise<void>;

/** How submissions are grouped in time and size. */
export interface CoalescerOptions<V> {
  /** How long a batch stays open for more submissions after its first one (0: only those of the same tick). */
  windowMs: number;
  /** A batch is sent at once when it holds this many values (keeps one message well under 64 KiB). */
  maxValues: number;
  /** Values with equal identity are sent once. */
  identity(value: V): string;
  /**
   * Whether a failure leaves open that the server applied the message all the same (no answer, an answer that
   * does not verify): when the shared message failed that way, a caller whose own resend then fails outright
   * gets the shared failure, so it removes its values rather than assume they are not there.
   */
  possiblyApplied?(err: unknown): boolean;
  /** Runs `flush` after `ms` (setTimeout by default; tests may pass their own). */
  schedule?(flush: () => void, ms: number): void;
}

/** Hands values to batches; see the module comment. */
export interface Coalescer<V> {
  /**
   * Adds `values` to the open batch of `group` (opening one if there is none) and settles with the outcome for
   * these values. `send` is how this caller would send them alone; a batch is sent with its first caller's.
   */
  submit(group: string, values: V[], send: SendBatch<V>): Promise<void>;
  /** Batches open now, waiting for their window to close. */
  readonly open: number;
}

interface Submission<V> {
  values: V[];
  send: SendBatch<V>;
  resolve(): void;
  reject(err: unknown): void;
}

interface Batch<V> {
  submissions: Submission<V>[];
  size: number;
}

/** The values of `lists` in order of first appearance, each identity once. */
export function mergeValues<V>(lists: V[][], identity: (value: V) => string): V[] {
  const seen = new Set<string>();
  const merged: V[] = [];
  for (const list of lists) {
    for (const value of list) {
      const id = identity(value);
      if (seen.has(id)) continue;
      seen.add(id);
      merged.push(value);
    }
  }
  return merged;
}

/** A coalescer with the given window and batch size. */
export function createCoalescer<V>(options: CoalescerOptions<V>): Coalescer<V> {
  const schedule = options.schedule ?? ((flush, ms) => setTimeout(flush, ms));
  const batches = new Map<string, Batch<V>>();

  const flush = (group: string, batch: Batch<V>) => {
    if (batches.get(group) !== batch) return;
    batches.delete(group);
    void sendBatch(batch);
  };

  const sendBatch = async ({ submissions }: Batch<V>) => {
    if (submissions.length === 1) {
      const [only] = submissions;
      return only.send(only.values).then(only.resolve, only.reject);
    }
    const merged = mergeValues(submissions.map((s) => s.values), options.identity);
    let shared: unknown;
    try {
      await submissions[0].send(merged);
      for (const submission of submissions) submission.resolve();
      return;
    } catch (err) {
      shared = err;
    }
    const sharedUnsure = options.possiblyApplied?.(shared) ?? false;
    // One after the other: a server may apply messages that arrive together as one transaction (Knot does),
    // and then the failing caller's message would fail the others' again.
    for (const submission of submissions) {
      try {
        await submission.send(submission.values);
        submission.resolve();
      } catch (err) {
        const unsure = options.possiblyApplied?.(err) ?? false;
        submission.reject(sharedUnsure && !unsure ? shared : err);
      }
    }
  };

  return {
    submit(group, values, send) {
      return new Promise<void>((resolve, reject) => {
        let batch = batches.get(group);
        if (batch !== undefined && batch.size + values.length > options.maxValues) {
          flush(group, batch);
          batch = undefined;
        }
        if (batch === undefined) {
          const opened: Batch<V> = { submissions: [], size: 0 };
          batches.set(group, opened);
          schedule(() => flush(group, opened), options.windowMs);
          batch = opened;
        }
        batch.submissions.push({ values, send, resolve, reject });
        batch.size += values.length;
        if (batch.size >= options.maxValues) flush(group, batch);
      });
    },
    get open() {
      return batches.size;
    },
  };
}
