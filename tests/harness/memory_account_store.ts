import type { AccountKeyStore } from "../../src/acme/account_key_store.ts";
import { NotariatError } from "../../src/errors.ts";

/** An AccountKeyStore in memory with the Kubernetes store's semantics (create never replaces), counting calls. */
export interface MemoryAccountStore extends AccountKeyStore {
  keys: Map<string, string>;
  reads: number;
  creates: number;
  /** Names whose stored value is unreadable: `read` throws for them, as the Kubernetes store does. */
  corrupt: Set<string>;
}

/** An empty MemoryAccountStore. */
export function createMemoryAccountStore(): MemoryAccountStore {
  const store: MemoryAccountStore = {
    keys: new Map(),
    reads: 0,
    creates: 0,
    corrupt: new Set(),
    read(name) {
      store.reads++;
      if (store.corrupt.has(name)) {
        return Promise.reject(new NotariatError("kube", `Secret ${name} holds no usable account key`));
      }
      return Promise.resolve(store.keys.get(name));
    },
    create(name, keyPem) {
      store.creates++;
      if (store.keys.has(name) || store.corrupt.has(name)) return Promise.resolve(false);
      store.keys.set(name, keyPem);
      return Promise.resolve(true);
    },
  };
  return store;
}
