/**
 * The whole program on N certificates: `main.ts -once` in a subprocess against a local kube-apiserver, Knot
 * and pebble. Prints wall time and peak resident memory of a first pass (issues every certificate) and of a
 * second pass (every Secret valid: reads only). Run: deno run -A bench/controller_bench.ts [N] [concurrency]
 */
import {
  certificatesConfigMap,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
} from "../tests/harness/cluster_objects.ts";
import { notariatCommand } from "../tests/harness/program.ts";
import { startStack } from "../tests/harness/stack.ts";

const count = Number(Deno.args[0] ?? 50);
const concurrency = Number(Deno.args[1] ?? 4);
const manifests = loadManifests(RBAC_MANIFESTS);

/** Runs the program once; returns wall time and the peak RSS read from /proc while it ran. */
async function pass(args: string[]): Promise<{ code: number; ms: number; peakMiB: number }> {
  const started = performance.now();
  const child = notariatCommand(args, { stdout: "null", stderr: "null" }).spawn();
  let peakKiB = 0;
  const sample = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peakKiB = Math.max(peakKiB, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // exited
    }
  }, 20);
  const { code } = await child.status;
  clearInterval(sample);
  return { code, ms: performance.now() - started, peakMiB: peakKiB / 1024 };
}

const stack = await startStack();
const { cluster: kube, knot, pebble } = stack;
try {
  const dns = `127.0.0.1:${knot.address.port}`;
  const entries = Array.from({ length: count }, (_, i) => ({
    secret: `cert-${i}`,
    domains: [`c${i}.alpha.test`, `c${i}.beta.test`],
    email: `ops${i % 3}@alpha.test`,
    tsigSecretName: "tsig",
  }));
  await kube.apply([
    ...manifests,
    tsigSecret(knot.keys["hmac-sha256"].text, dns),
    certificatesConfigMap(entries, { yaml: true }),
  ]);
  const token = await kube.mintToken("notariat", "notariat");
  const args = [
    "-once",
    "-config=notariat",
    `-kubeconfig=${kube.kubeconfigFor(token, "notariat")}`,
    `-acme=${pebble.directoryUrl}`,
    `-acme-ca=${pebble.caFile}`,
    `-dns-resolver=${dns}`,
    "-propagation-check=update-server",
    `-concurrency=${concurrency}`,
  ];
  const first = await pass(args);
  console.log(
    `${count} certificates (2 names each, 3 accounts), concurrency ${concurrency}: first pass issued all in ` +
      `${(first.ms / 1000).toFixed(2)} s (${(first.ms / count).toFixed(0)} ms per certificate), ` +
      `peak RSS ${first.peakMiB.toFixed(0)} MiB, exit ${first.code}`,
  );
  const second = await pass(args);
  console.log(
    `second pass, all valid: ${(second.ms / 1000).toFixed(2)} s, peak RSS ${
      second.peakMiB.toFixed(0)
    } MiB, ` +
      `exit ${second.code}`,
  );
} finally {
  await stack.stop();
}
