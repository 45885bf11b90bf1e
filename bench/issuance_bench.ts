/**
 * Many certificates at once, on one stack (a real kube-apiserver, Knot, pebble): notariat as users run it
 * (`main.ts -once`, every entry of one ConfigMap) against certbot and lego with 4 processes at a time, each
 * with the smallest waits it allows. Every certificate has 2 names in 2 zones. Prints, per tool: total wall
 * time, per-certificate median and p95, CPU seconds, peak RSS, HTTP exchanges with the CA per certificate
 * (pebble's own request log) and the ratio to the faster peer; then notariat's single-certificate latency
 * in watch mode (ConfigMap write to "certificate issued", 10 times). Figures only, no assertions.
 *
 * Run: deno run -A bench/issuance_bench.ts [count=100] [concurrency=program default] [--cpu-prof DIR]
 *   [--no-peers] [--no-watch] [--pebble-2.10] [--bind] (BIND in Knot's place); with BENCH_LOG=FILE the -once run's log lines are kept in FILE, with
 *   BENCH_PEBBLE_LOG=FILE pebble's log up to the end of that run, with BENCH_WATCH_LOG=FILE the watch-mode run's lines.
 */
import { requestCounts, requestDiff } from "../tests/harness/api_requests.ts";
import { loadManifests, RBAC_MANIFESTS } from "../tests/harness/cluster_objects.ts";
import type { KubeHandle } from "../tests/harness/kube.ts";
import { makeStateDir, removeStateDir } from "../tests/harness/process.ts";
import { localStackFlags, notariatArgs, notariatCommand } from "../tests/harness/program.ts";
import { startStack } from "../tests/harness/stack.ts";
import { certbot, installed, lego, type Peer, type ProcessCost, readTimeFile } from "./peers.ts";

const flags = Deno.args.filter((a) => a.startsWith("--"));
const positional = Deno.args.filter((a, i) => !a.startsWith("--") && Deno.args[i - 1] !== "--cpu-prof");
const count = Number(positional[0] ?? 100);
const concurrency = positional[1] === undefined ? undefined : Number(positional[1]);
const cpuProfDir = Deno.args.includes("--cpu-prof")
  ? Deno.args[Deno.args.indexOf("--cpu-prof") + 1]
  : undefined;
const withPeers = !flags.includes("--no-peers");
const withWatch = !flags.includes("--no-watch");
const PEER_PROCESSES = 4;
const WATCH_RUNS = 10;
const NS = "notariat";
const EMAIL = "bench@alpha.test";

/** What one tool's run of `count` certificates came to. */
interface Result {
  tool: string;
  ok: number;
  wallMs: number;
  /** Time of each certificate from the start of its own work (not counting a wait for a free slot). */
  perCertMs: number[];
  cpuSeconds?: number;
  peakRssMiB?: number;
  exchanges: number;
  errors: string[];
}

const domainsOf = (prefix: string, i: number) => [`${prefix}${i}.alpha.test`, `${prefix}${i}.beta.test`];

/** The HTTP requests pebble logged so far ("METHOD /path -> calling handler()"). */
function pebbleRequests(logFile: string): number {
  return Deno.readTextFileSync(logFile).split("\n").filter((line) => line.endsWith("-> calling handler()"))
    .length;
}

/** CPU seconds (user + system) each server of the stack has used so far, read from /proc. */
function stackCpu(servers: Record<string, number[]>): Record<string, number> {
  const tick = 100; // USER_HZ on Linux
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(servers)) {
    out[name] = 0;
    for (const pid of pids) {
      try {
        const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
        out[name] += (Number(fields[11]) + Number(fields[12])) / tick;
      } catch {
        // gone: counts nothing
      }
    }
  }
  return out;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return (s[Math.floor((s.length - 1) / 2)] + s[Math.floor(s.length / 2)]) / 2;
}

/** Writes the ConfigMap `name` listing `entries`. */
async function writeConfig(kube: KubeHandle, name: string, entries: unknown[]): Promise<void> {
  await kube.apply([{
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { namespace: NS, name },
    data: {
      certificates: entries.length === 0 ? "[]" : entries.map((e) => `- ${JSON.stringify(e)}`).join("\n"),
    },
  }]);
}

const entry = (secret: string, domains: string[]) => ({
  secret,
  domains,
  email: EMAIL,
  tsigSecretName: "tsig",
});

/** Lines of a stream as they come. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
      yield buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
    }
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

const withBind = flags.includes("--bind");
const stack = await startStack({
  pebbleVersion: flags.includes("--pebble-2.10") ? "2.10" : undefined,
  bind: withBind,
});
const { cluster: kube, knot, pebble } = stack;
const work = makeStateDir("bench-issuance");
try {
  const dns = `127.0.0.1:${knot.address.port}`;
  await kube.apply([
    ...loadManifests(RBAC_MANIFESTS),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: NS, name: "tsig" },
      stringData: { key: knot.keys["hmac-sha256"].text, nameserver: dns },
    },
  ]);
  const kubeconfig = kube.kubeconfigFor(await kube.mintToken(NS, "notariat"), NS);
  const programArgs = (config: string) => [
    `-config=${config}`,
    ...localStackFlags({ kubeconfig, pebble, dns }),
    "-log-level=debug",
    ...(concurrency === undefined ? [] : [`-concurrency=${concurrency}`]),
  ];
  console.log(
    `stack: kube-apiserver ${kube.server}, ${
      withBind ? "BIND" : "Knot"
    } ${dns}, pebble ${pebble.directoryUrl} ` +
      "(PEBBLE_VA_NOSLEEP=1, no authorization reuse, no nonce rejection)",
  );
  console.log(
    `${count} certificates of 2 names (<x>N.alpha.test, <x>N.beta.test), one ACME account per tool`,
  );

  const results: Result[] = [];
  let stackCpuLine = "";
  let apiRequestsLine = "";

  // notariat: the whole program, once, under /usr/bin/time for CPU and peak RSS.
  {
    const entries = Array.from({ length: count }, (_, i) => entry(`n${i}`, domainsOf("n", i)));
    await writeConfig(kube, "notariat", entries);
    const timeFile = `${work}/notariat.time`;
    const denoArgs = notariatArgs(["-once", ...programArgs("notariat")]);
    if (cpuProfDir !== undefined) denoArgs.splice(1, 0, "--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`);
    const before = pebbleRequests(pebble.logFile);
    const servers = {
      "kube-apiserver+etcd": kube.pids,
      pebble: pebble.pids,
      [withBind ? "BIND" : "Knot"]: knot.pids,
    };
    const cpuBefore = stackCpu(servers);
    const requestsBefore = await requestCounts(kube);
    const started = performance.now();
    const output = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S %M", "-o", timeFile, Deno.execPath(), ...denoArgs],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const wallMs = performance.now() - started;
    const cpuAfter = stackCpu(servers);
    stackCpuLine = Object.keys(servers).map((name) =>
      `${name} ${(cpuAfter[name] - cpuBefore[name]).toFixed(2)}`
    )
      .join(", ");
    apiRequestsLine = requestDiff(await requestCounts(kube), requestsBefore);
    if (Deno.env.get("BENCH_LOG")) Deno.writeFileSync(Deno.env.get("BENCH_LOG")!, output.stderr);
    if (Deno.env.get("BENCH_PEBBLE_LOG")) {
      Deno.copyFileSync(pebble.logFile, Deno.env.get("BENCH_PEBBLE_LOG")!);
    }
    const logged = new TextDecoder().decode(output.stderr).split("\n").map(parseLine)
      .filter((l) => l !== undefined);
    const issued = logged.filter((l) => l.msg === "certificate issued" && typeof l.ms === "number");
    const failed = logged.filter((l) => l.level === "error");
    const cost: ProcessCost | undefined = readTimeFile(timeFile);
    results.push({
      tool: `notariat -once${concurrency === undefined ? "" : ` -concurrency ${concurrency}`}`,
      ok: logged.filter((l) => l.msg === "certificate issued" && l.duration !== undefined).length,
      wallMs,
      perCertMs: issued.map((l) => l.ms as number),
      cpuSeconds: cost?.cpuSeconds,
      peakRssMiB: cost?.peakRssMiB,
      exchanges: pebbleRequests(pebble.logFile) - before,
      errors: failed.slice(0, 3).map((l) => `${l.msg}: ${l.error}`),
    });
  }

  // The peers: 4 processes at a time, each worker with its own state dir (and so one account).
  const peers: Peer[] = [];
  if (withPeers) {
    if (!(await installed("/usr/bin/time", ["true"]))) {
      console.log("/usr/bin/time missing: apt-get install time");
    }
    for (const peer of [certbot, lego]) {
      const why = await peer.missing();
      if (why === undefined) peers.push(peer);
      else console.log(`${peer.name}: ${why} (skipped)`);
    }
  }
  for (const peer of peers) {
    const before = pebbleRequests(pebble.logFile);
    const perCertMs: number[] = [];
    const costs: ProcessCost[] = [];
    const errors: string[] = [];
    let next = 0;
    const prefix = peer.name[0];
    const worker = async (w: number) => {
      const dir = `${work}/${peer.name}-${w}`;
      Deno.mkdirSync(dir, { recursive: true });
      for (let i = next++; i < count; i = next++) {
        const started = performance.now();
        try {
          const { cost } = await peer.obtain({ ...pebble, knot }, domainsOf(prefix, i), dir, EMAIL);
          perCertMs.push(performance.now() - started);
          if (cost) costs.push(cost);
        } catch (err) {
          errors.push(String(err instanceof Error ? err.message : err));
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: PEER_PROCESSES }, (_, w) => worker(w)));
    results.push({
      tool: `${peer.name} x${PEER_PROCESSES}`,
      ok: perCertMs.length,
      wallMs: performance.now() - started,
      perCertMs,
      cpuSeconds: costs.length === 0 ? undefined : costs.reduce((n, c) => n + c.cpuSeconds, 0),
      peakRssMiB: costs.length === 0 ? undefined : Math.max(...costs.map((c) => c.peakRssMiB)),
      exchanges: pebbleRequests(pebble.logFile) - before,
      errors: errors.slice(0, 3),
    });
  }

  const fastestPeer = Math.min(...results.slice(1).map((r) => r.wallMs));
  const rows = [[
    "tool",
    "ok",
    "wall s",
    "median s",
    "p95 s",
    "CPU s",
    "peak RSS MiB",
    "HTTP/cert",
    "x faster peer",
  ]];
  for (const r of results) {
    const sorted = [...r.perCertMs].sort((a, b) => a - b);
    rows.push([
      r.tool,
      `${r.ok}/${count}`,
      (r.wallMs / 1000).toFixed(2),
      (median(sorted) / 1000).toFixed(3),
      (quantile(sorted, 0.95) / 1000).toFixed(3),
      r.cpuSeconds === undefined ? "-" : r.cpuSeconds.toFixed(2),
      r.peakRssMiB === undefined ? "-" : r.peakRssMiB.toFixed(0),
      (r.exchanges / count).toFixed(1),
      Number.isFinite(fastestPeer) ? (fastestPeer / r.wallMs).toFixed(1) : "-",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  console.log(
    "\n" +
      rows.map((row) =>
        row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ")
      )
        .join("\n"),
  );
  console.log(
    "peak RSS: of the one notariat process; of the largest single peer process. CPU: user + system of every " +
      "process of the tool. notariat's per-certificate time runs from the issuer taking the entry to the chain " +
      "checked; a peer's is its process's wall time.",
  );
  console.log(`CPU s of the servers during notariat's run: ${stackCpuLine}`);
  console.log(`API requests of notariat's run: ${apiRequestsLine}`);
  for (const r of results) for (const e of r.errors) console.log(`${r.tool} error: ${e}`);

  // Watch mode: the program running, one new entry at a time; ConfigMap write to its "certificate issued".
  if (withWatch) {
    await writeConfig(kube, "notariat", []);
    const child = notariatCommand(programArgs("notariat"), { stdout: "null", stderr: "piped" }).spawn();
    const reader = lines(child.stderr);
    const watchLog = Deno.env.get("BENCH_WATCH_LOG");
    const waitFor = async (match: (l: Record<string, unknown>) => boolean) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const next = await reader.next();
        if (next.done) throw new Error("notariat exited");
        if (watchLog) Deno.writeTextFileSync(watchLog, next.value + "\n", { append: true });
        const parsed = parseLine(next.value);
        if (parsed?.level === "error") console.log(`watch: ${parsed.msg}: ${parsed.error}`);
        if (parsed && match(parsed)) return parsed;
      }
      throw new Error("no such log line within 60 s");
    };
    try {
      await waitFor((l) => l.msg === "starting");
      await new Promise((r) => setTimeout(r, 1000));
      const latencies: number[] = [];
      const entries: unknown[] = [];
      for (let i = 0; i < WATCH_RUNS; i++) {
        entries.push(entry(`w${i}`, domainsOf("w", i)));
        const started = performance.now();
        await writeConfig(kube, "notariat", entries);
        await waitFor((l) => l.msg === "certificate issued" && l.secret === `${NS}/w${i}`);
        latencies.push(performance.now() - started);
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      console.log(
        `\nwatch mode, one new entry at a time (2 names), ConfigMap write to "certificate issued", ` +
          `${WATCH_RUNS} runs: min ${(sorted[0] / 1000).toFixed(3)} s, median ${
            (median(sorted) / 1000).toFixed(3)
          } s, max ${(sorted.at(-1)! / 1000).toFixed(3)} s`,
      );
      console.log(`  each: ${latencies.map((ms) => (ms / 1000).toFixed(3)).join(" ")}`);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reader.return(undefined);
    }
  }
} finally {
  removeStateDir(work);
  await stack.stop();
}
