/**
 * Anti-replay nonces (RFC 8555 section 7.2) kept between requests. Every answer to a signed POST carries a fresh
 * `Replay-Nonce`, good for the next request, so a client that keeps them asks `newNonce` only when it has none
 * in hand: once at the start, and again only for a request that finds every nonce taken by requests still in
 * flight. Nonces belong to the CA, not to an account, so one pool serves every account of a CA.
 */

/** The nonces of one CA that are not in use. */
export interface NoncePool {
  /**
   * A nonce for the next signed request: the freshest one kept, else one from `fetchFresh` (a HEAD of
   * newNonce). Each nonce is handed out once.
   */
  take(fetchFresh: () => Promise<string>): Promise<string>;
  /** Keeps a nonce the CA sent along with an answer. */
  put(nonce: string): void;
  /** Nonces kept now. */
  readonly size: number;
}

/** How many nonces are kept at most: more than requests in flight is never needed, and old ones may expire. */
export const NONCE_POOL_CAPACITY = 64;

/**
 * A pool that hands out the newest nonce first (the oldest are the likeliest to have expired at the CA, which
 * answers an expired one with badNonce and a fresh nonce) and drops the oldest beyond `capacity`.
 */
export function createNoncePool(capacity: number = NONCE_POOL_CAPACITY): NoncePool {
  const kept: string[] = [];
  return {
    take(fetchFresh) {
      const nonce = kept.pop();
      return nonce === undefined ? fetchFresh() : Promise.resolve(nonce);
    },
    put(nonce) {
      if (nonce === "" || kept.includes(nonce)) return;
      kept.push(nonce);
      if (kept.length > capacity) kept.shift();
    },
    get size() {
      return kept.length;
    },
  };
}
