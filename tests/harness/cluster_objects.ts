/**
 * What end-to-end tests, benchmarks and the demo share about the cluster side: the objects of manifests/, the
 * TSIG Secret and certificates ConfigMap notariat reads, the base64 of Secret data, and waiting for the API
 * server to show an outcome.
 */
import { loadAll } from "js-yaml";

// deno-lint-ignore no-explicit-any
export type Json = any;

const MANIFESTS_DIR = new URL("../../manifests/base/", import.meta.url);

/** The objects of manifests/base/<name>.yaml, in file order (e.g. "namespace", "rbac", "secrets-access"). */
export function loadManifests(names: readonly string[]): Json[] {
  return names.flatMap((name) =>
    loadAll(Deno.readTextFileSync(new URL(`${name}.yaml`, MANIFESTS_DIR))) as Json[]
  );
}

/** What notariat needs applied before it can run: its namespace, service account and RBAC. */
export const RBAC_MANIFESTS: readonly string[] = ["namespace", "serviceaccount", "rbac", "secrets-access"];

/** Where a Secret or ConfigMap is, when not notariat's own `notariat/tsig` or `notariat/notariat`. */
export interface ObjectPlace {
  namespace?: string;
  name?: string;
}

/**
 * The Secret an entry's `tsigSecretName` names: the TSIG key as a key file's text under `key` (e.g. a test
 * server's `keys["hmac-sha256"].text`) and, unless undefined, the server taking the updates (`host:port`)
 * under `nameserver`.
 */
export function tsigSecret(keyText: string, nameserver: string | undefined, place: ObjectPlace = {}): Json {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { namespace: place.namespace ?? "notariat", name: place.name ?? "tsig" },
    stringData: { key: keyText, ...(nameserver === undefined ? {} : { nameserver }) },
  };
}

/**
 * The ConfigMap listing `entries` under `certificates`: as JSON, or with `yaml` as a YAML list of one JSON
 * object a line (`- {...}`), the two forms the README shows.
 */
export function certificatesConfigMap(
  entries: unknown[],
  options: ObjectPlace & { yaml?: boolean; annotations?: Record<string, string> } = {},
): Json {
  const certificates = options.yaml
    ? entries.map((entry) => `- ${JSON.stringify(entry)}`).join("\n")
    : JSON.stringify(entries);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      namespace: options.namespace ?? "notariat",
      name: options.name ?? "notariat",
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    },
    data: { certificates },
  };
}

/** base64 of UTF-8 text, as Secret `data` holds it. */
export function b64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** The UTF-8 text of a Secret `data` value. */
export function unb64(text: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
}

/** Polls `probe` until it returns a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
