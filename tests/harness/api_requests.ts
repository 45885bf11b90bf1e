/**
 * The API server's own count of the requests it served (`apiserver_request_total`), for benchmarks that
 * report what a run asked of it.
 */
import type { KubeHandle } from "./kube.ts";

/** apiserver_request_total summed by "verb resource". */
export async function requestCounts(cluster: KubeHandle): Promise<Map<string, number>> {
  const text = (await cluster.request("GET", "/metrics")).body as string;
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? "";
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "";
    const key = `${verb} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return counts;
}

/** What notariat asks for; the API server's own loopback requests (namespaces, services, ...) are left out. */
const NOTARIAT_RESOURCES = / (secrets|configmaps|events|leases)$/;

/**
 * The difference of two counts on notariat's resources, without the caller's own requests (listed in `own`),
 * as "verb resource=N" sorted, or "none".
 */
export function requestDiff(
  after: Map<string, number>,
  before: Map<string, number>,
  own: Map<string, number> = new Map(),
): string {
  const out: string[] = [];
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0) - (own.get(key) ?? 0);
    if (delta > 0 && NOTARIAT_RESOURCES.test(key)) out.push(`${key}=${delta}`);
  }
  return out.sort().join(" ") || "none";
}
