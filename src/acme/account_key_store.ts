/**
 * Where ACME account keys live: one Secret `notariat-acme-*` per (CA, email) in notariat's namespace.
 * The Kubernetes module implements it; losing a key loses the account, so the store never overwrites.
 */
export interface AccountKeyStore {
  /**
   * The account key PEM stored under this Secret name, or undefined when no such Secret exists.
   * Throws a NotariatError when the Secret exists but holds no usable key (never treated as absent).
   */
  read(name: string): Promise<string | undefined>;
  /**
   * Creates the Secret holding a new account key. Returns false when a Secret of that name already exists
   * (another worker won the race): the caller then reads it. Never replaces an existing Secret.
   */
  create(name: string, keyPem: string, info: { email: string; directoryUrl: string }): Promise<boolean>;
}
