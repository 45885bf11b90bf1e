/**
 * Stopping work in flight: the shutdown (SIGTERM, SIGINT, lost leadership) aborts a signal, and long waits
 * (polling the CA, waiting for DNS propagation) end at once with a "stopped" error, so that the code around
 * them removes what it published and gives back what it holds.
 */
import { NotariatError } from "./errors.ts";

/** The error of work abandoned at `what` (e.g. "waiting for the order to become ready"). */
export function stoppedError(what: string): NotariatError {
  return new NotariatError("stopped", `${what}: stopped, notariat is shutting down`);
}

/** Throws stoppedError when `signal` is aborted. */
export function checkStopped(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw stoppedError(what);
}

/** Waits `ms`; rejects with stoppedError as soon as `signal` aborts (at once if it already has). */
export function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(stoppedError(what));
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", stop, { once: true });
    function done() {
      signal?.removeEventListener("abort", stop);
      resolve();
    }
    function stop() {
      clearTimeout(timer);
      reject(stoppedError(what));
    }
  });
}

/**
 * `work`, or a stoppedError as soon as `signal` aborts, whichever comes first. For waits whose single step
 * can take long (a query to a silent server): the abandoned step ends on its own timeout, unobserved.
 */
export function untilStopped<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(stoppedError(what));
  }
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      work.catch(() => {});
      reject(stoppedError(what));
    };
    signal.addEventListener("abort", stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}
