/**
 * The steady state at scale: N valid certificates over K namespaces, each namespace also holding 100 unrelated
 * Secrets of 100 KiB (as Helm release Secrets are), against a real kube-apiserver. Prints, for each (N, K):
 * wall and CPU of a `-once` pass; time to the end of the first pass in watch mode; RSS after an idle period;
 * TCP connections to the API server; API requests by verb and resource during the pass and during the idle
 * period (the API server's apiserver_request_total); DNS and ACME requests (expected 0). Asserts nothing.
 *
 *   deno run -A bench/steady_bench.ts [-n 1000,10000] [-k 1,10] [-idle 60] [-soak MINUTES]
 *
 * With -soak, watch mode keeps running while the bench edits the ConfigMap and random Secrets at random
 * times, printing the delay to each reaction (every change must be acted on; each expected under 2 s).
 */
import { loadManifests, RBAC_MANIFESTS } from "../tests/harness/cluster_objects.ts";
import { createOpensslCa } from "../tests/harness/openssl_ca.ts";
import { requestCounts, requestDiff } from "../tests/harness/api_requests.ts";
import { type KubeHandle, startKube } from "../tests/harness/kube.ts";
import { run } from "../tests/harness/process.ts";
import { notariatCommand } from "../tests/harness/program.ts";

const flags = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) flags.set(Deno.args[i].replace(/^-+/, ""), Deno.args[i + 1]);
const sizes = (flags.get("n") ?? "1000,10000").split(",").map(Number);
const spreads = (flags.get("k") ?? "1,10").split(",").map(Number);
const idleSeconds = Number(flags.get("idle") ?? 60);
const soakMinutes = Number(flags.get("soak") ?? 0);
/** With -profile DIR, the -once pass writes a V8 CPU profile there (deno run --cpu-prof). */
const profileDir = flags.get("profile");

/** Distinct certificates (domain sets) the entries cycle through; each Secret holds one of them. */
const LEAVES = 20;
const UNRELATED_PER_NAMESPACE = 100;
const UNRELATED_BYTES = 100 * 1024;
/** An ACME directory nothing listens on: any ACME request would fail and be logged. */
const ACME = "https://127.0.0.1:9/dir";

interface Leaf {
  domains: string[];
  crt: string;
  key: string;
}

/** A CA and LEAVES leaf certificates made with openssl (valid 60 days, so none is in its renewal window). */
async function makeLeaves(dir: string): Promise<Leaf[]> {
  const ca = await createOpensslCa({ name: "Bench", dir, days: 365, intermediate: false });
  const leaves: Leaf[] = [];
  for (let i = 0; i < LEAVES; i++) {
    const domains = [`l${i}.alpha.test`];
    const leaf = await ca.issueLeaf(`l${i}`, {
      subject: `/CN=${domains[0]}`,
      sans: domains.map((d) => `DNS:${d}`),
      days: 60,
    });
    leaves.push({ domains, crt: leaf.certPem + ca.rootPem, key: leaf.keyPem });
  }
  return leaves;
}

/** Runs `tasks` with at most `width` at a time. */
async function pool<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await task(items[next++]);
  }));
}

async function mustCreate(cluster: KubeHandle, path: string, body: unknown): Promise<void> {
  const response = await cluster.request("POST", path, body);
  if (response.status !== 201) {
    throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  }
}

function procStat(pid: number): { cpuSeconds: number; rssMiB: number; peakMiB: number } {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return {
      cpuSeconds: ticks / 100,
      rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
      peakMiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
    };
  } catch {
    return { cpuSeconds: 0, rssMiB: 0, peakMiB: 0 };
  }
}

/** TCP connections of `pid` to `port` on 127.0.0.1. */
async function connections(pid: number, port: number): Promise<number> {
  const out = await run("ss", ["-tnp", "state", "established", `dport = :${port}`]);
  return out.split("\n").filter((line) => line.includes(`pid=${pid},`)).length;
}

/** A UDP socket counting what arrives: the DNS resolver notariat is pointed at. */
function dnsCounter(): { port: number; count: () => number; close: () => void } {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let received = 0;
  (async () => {
    try {
      for await (const _ of socket) received++;
    } catch {
      // closed
    }
  })();
  return { port: (socket.addr as Deno.NetAddr).port, count: () => received, close: () => socket.close() };
}

/** Lines of a child's stdout, each parsed as a JSON log record, with the time it arrived. */
function follow(child: Deno.ChildProcess): { records: { at: number; r: Record<string, unknown> }[] } {
  const state = { records: [] as { at: number; r: Record<string, unknown> }[] };
  (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        try {
          state.records.push({ at: performance.now(), r: JSON.parse(line) });
        } catch {
          // not a log line
        }
      }
    }
  })();
  return state;
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      console.log(`  (timed out after ${timeoutMs} ms waiting for ${what})`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

async function scenario(n: number, k: number, leaves: Leaf[]): Promise<void> {
  const cluster = await startKube();
  const dns = dnsCounter();
  try {
    const port = Number(new URL(cluster.server).port);
    const namespaces = Array.from({ length: k }, (_, i) => `b${i}`);
    const binding = loadManifests(["secrets-access"])[0];
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      ...namespaces.flatMap((ns) => [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        { ...binding, metadata: { ...binding.metadata, namespace: ns } },
      ]),
    ]);
    const filler = btoa("x".repeat(UNRELATED_BYTES * 3 / 4));
    const unrelated = namespaces.flatMap((ns) =>
      Array.from({ length: UNRELATED_PER_NAMESPACE }, (_, i) => ({ ns, name: `helm-release-${i}` }))
    );
    await pool(unrelated, 16, ({ ns, name }) =>
      mustCreate(cluster, `/api/v1/namespaces/${ns}/secrets`, {
        metadata: { name, labels: { owner: "helm" } },
        type: "helm.sh/release.v1",
        data: { release: filler },
      }));
    const entries = Array.from({ length: n }, (_, i) => ({
      ns: namespaces[i % k],
      name: `c${i}`,
      leaf: leaves[i % leaves.length],
    }));
    // A few more valid Secrets the soak adds to and removes from the ConfigMap.
    const spare = Array.from(
      { length: 20 },
      (_, i) => ({ ns: namespaces[i % k], name: `spare-${i}`, leaf: leaves[i % leaves.length] }),
    );
    await pool(
      [...entries, ...spare],
      32,
      ({ ns, name, leaf }) =>
        mustCreate(cluster, `/api/v1/namespaces/${ns}/secrets`, {
          metadata: {
            name,
            labels: {
              "app.kubernetes.io/managed-by": "notariat",
              "app.kubernetes.io/component": "certificate",
            },
            annotations: { "notariat.io/acme-directory": ACME },
          },
          type: "kubernetes.io/tls",
          stringData: { "tls.crt": leaf.crt, "tls.key": leaf.key },
        }),
    );
    // One short flow-style line per entry: a ConfigMap holds at most 1 MiB, about 10,000 such lines.
    const spec = (e: { ns: string; name: string; leaf: Leaf }) =>
      `- {secret: ${e.ns}/${e.name}, domains: [${
        e.leaf.domains.join(", ")
      }], email: o@alpha.test, tsigSecretName: t}`;
    const setConfig = (list: { ns: string; name: string; leaf: Leaf }[]) =>
      cluster.apply([{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { namespace: "notariat", name: "notariat" },
        data: { certificates: list.map(spec).join("\n") },
      }]);
    await setConfig(entries);
    const token = await cluster.mintToken("notariat", "notariat");
    const args = [
      "-config=notariat",
      `-kubeconfig=${cluster.kubeconfigFor(token, "notariat")}`,
      `-acme=${ACME}`,
      `-dns-resolver=127.0.0.1:${dns.port}`,
      "-log-format=json",
    ];
    const label = `N=${n} K=${k}`;

    // -once
    const before = await requestCounts(cluster);
    const started = performance.now();
    const once = (profileDir === undefined
      ? notariatCommand(["-once", ...args], { stdout: "null", stderr: "piped" })
      : new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--cpu-prof", `--cpu-prof-dir=${profileDir}`, "main.ts", "-once", ...args],
        stdout: "null",
        stderr: "piped",
        env: { DENO_NO_UPDATE_CHECK: "1" },
      })).spawn();
    const onceLog = follow(once);
    let last = procStat(once.pid);
    const sampler = setInterval(() => {
      const now = procStat(once.pid);
      if (now.rssMiB > 0) {
        last = now;
      }
    }, 20);
    const { code } = await once.status;
    clearInterval(sampler);
    const wall = (performance.now() - started) / 1000;
    const afterOnce = await requestCounts(cluster);
    const valid = onceLog.records.filter((l) =>
      l.r.msg === "certificate is valid"
    ).length;
    const startedAt = onceLog.records.find((l) => l.r.msg === "starting")?.at ?? started;
    const doneAt = onceLog.records.find((l) => l.r.msg === "done")?.at ?? performance.now();
    const failed = onceLog.records.filter((l) => l.r.msg === "certificate failed").length;
    console.log(
      `${label} -once: ${wall.toFixed(2)} s wall (${((startedAt - started) / 1000).toFixed(2)} s to start, ` +
        `${((doneAt - startedAt) / 1000).toFixed(2)} s for the pass), ≥${
          last.cpuSeconds.toFixed(2)
        } s CPU, peak RSS ${
          last.peakMiB.toFixed(0)
        } MiB, exit ${code}, ${valid} valid, ${failed} failed; API requests: ${
          requestDiff(afterOnce, before)
        }`,
    );

    // Watch mode.
    const dnsBefore = dns.count();
    const watchBefore = await requestCounts(cluster);
    const watchStarted = performance.now();
    const child = notariatCommand(args, { stdout: "null", stderr: "piped" }).spawn();
    const log = follow(child);
    const validCount = () => log.records.filter((l) => l.r.msg === "certificate is valid").length;
    await until("the first pass", () => validCount() >= n, 600_000);
    const firstPass = (performance.now() - watchStarted) / 1000;
    const afterPass = await requestCounts(cluster);
    const passStat = procStat(child.pid);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleStat = procStat(child.pid);
    const afterIdle = await requestCounts(cluster);
    console.log(
      `${label} watch: first pass done in ${firstPass.toFixed(2)} s (RSS ${
        passStat.rssMiB.toFixed(0)
      } MiB); after ${idleSeconds} s ` +
        `idle RSS ${idleStat.rssMiB.toFixed(0)} MiB (peak ${idleStat.peakMiB.toFixed(0)}), ` +
        `${await connections(child.pid, port)} connection(s) to the API server, CPU ${
          (idleStat.cpuSeconds - passStat.cpuSeconds).toFixed(2)
        } s while idle`,
    );
    // The bench's own /metrics reads count as "get" with an empty resource and are left out.
    console.log(`${label} watch: API requests during the pass: ${requestDiff(afterPass, watchBefore)}`);
    console.log(`${label} watch: API requests while idle: ${requestDiff(afterIdle, afterPass)}`);
    console.log(
      `${label} DNS requests: ${dns.count() - dnsBefore + 0} (watch) / ${dnsBefore} (-once); ` +
        `ACME: ${
          log.records.filter((l) => l.r.msg === "certificate failed").length + failed
        } failed attempts`,
    );

    if (soakMinutes > 0) await soak(cluster, log, entries, spare, setConfig, label);
    child.kill("SIGTERM");
    await child.status;
  } finally {
    dns.close();
    await cluster.stop();
  }
}

/** Random edits for `soakMinutes`; prints each reaction's delay and a summary. */
async function soak(
  cluster: KubeHandle,
  log: { records: { at: number; r: Record<string, unknown> }[] },
  entries: { ns: string; name: string; leaf: Leaf }[],
  spare: { ns: string; name: string; leaf: Leaf }[],
  setConfig: (list: { ns: string; name: string; leaf: Leaf }[]) => Promise<void>,
  label: string,
): Promise<void> {
  const endAt = performance.now() + soakMinutes * 60_000;
  const delays: number[] = [];
  let missed = 0;
  let extra: typeof spare = [];
  let edit = 0;
  const seen = (msg: string, secret: string, after: number) => () =>
    log.records.some((l) => l.at > after && l.r.msg === msg && l.r.secret === secret);
  while (performance.now() < endAt) {
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 20_000));
    edit++;
    const at = performance.now();
    let ok: boolean;
    let what: string;
    if (Math.random() < 0.5) {
      const e = entries[Math.floor(Math.random() * entries.length)];
      what = `label on ${e.ns}/${e.name}`;
      const patched = await cluster.request(
        "PATCH",
        `/api/v1/namespaces/${e.ns}/secrets/${e.name}`,
        { metadata: { labels: { soak: String(edit) } } },
        "application/merge-patch+json",
      );
      if (patched.status !== 200) throw new Error(`patch: ${patched.status}`);
      ok = await until(what, seen("certificate is valid", `${e.ns}/${e.name}`, at), 10_000);
    } else if (extra.length < spare.length && (extra.length === 0 || Math.random() < 0.5)) {
      const added = spare[extra.length];
      extra = [...extra, added];
      what = `ConfigMap: add ${added.ns}/${added.name}`;
      await setConfig([...entries, ...extra]);
      ok = await until(what, seen("certificate is valid", `${added.ns}/${added.name}`, at), 10_000);
    } else {
      const removed = extra[extra.length - 1];
      extra = extra.slice(0, -1);
      what = `ConfigMap: remove ${removed.ns}/${removed.name}`;
      await setConfig([...entries, ...extra]);
      ok = await until(
        what,
        seen("entry removed from the configuration", `${removed.ns}/${removed.name}`, at),
        10_000,
      );
    }
    const delay = performance.now() - at;
    if (ok) delays.push(delay);
    else missed++;
    console.log(`  soak ${edit}: ${what}: ${ok ? `${delay.toFixed(0)} ms` : "MISSED"}`);
  }
  delays.sort((a, b) => a - b);
  const pct = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]?.toFixed(0);
  console.log(
    `${label} soak ${soakMinutes} min: ${delays.length} reactions, ${missed} missed; median ${
      pct(0.5)
    } ms, ` +
      `p99 ${pct(0.99)} ms, max ${delays.at(-1)?.toFixed(0)} ms`,
  );
}

const dir = Deno.makeTempDirSync({ prefix: "notariat-steady-bench-" });
try {
  const leaves = await makeLeaves(dir);
  for (const n of sizes) for (const k of spreads) await scenario(n, k, leaves);
} finally {
  Deno.removeSync(dir, { recursive: true });
}
