/** Runs async jobs with at most `size` of them in flight; the rest wait in arrival order. */
export interface Limiter {
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Jobs running now, for logs and tests. */
  readonly active: number;
  /** Jobs waiting for a slot. */
  readonly waiting: number;
}

/** A FIFO limiter: bounds parallel issuances so a burst of renewals cannot flood the CA or the DNS server. */
export function createLimiter(size: number): Limiter {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${size}`);
  }
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else active--;
  };
  return {
    async run(job) {
      if (active < size) active++;
      else await new Promise<void>((resolve) => queue.push(resolve));
      try {
        return await job();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
