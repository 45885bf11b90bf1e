/**
 * notariat's issuer against lego and certbot on the same Knot and pebble: one name, four names across both
 * zones, a wildcard with its apex (two TXT values at one name), and a name where another issuer already
 * published a value. Prints wall time, success or the tool's error, the `_acme-challenge` TXT records each run
 * left in the zone, and whether the other issuer's value survived. Figures only, no assertions.
 * A peer that is not installed is skipped with the apt-get command that installs it.
 * Run: deno run -A bench/peers_bench.ts [runs]
 */
import { errorMessage } from "../src/errors.ts";

import {
  type DnsServerHandle,
  nsupdateTxt,
  queryTxt,
  startKnot,
  TEST_ZONES,
} from "../tests/harness/dns_servers.ts";
import { startPebble } from "../tests/harness/pebble.ts";
import { makeStateDir, removeStateDir, run } from "../tests/harness/process.ts";
import { createTestIssuer, testIssueRequest } from "../tests/harness/test_issuer.ts";
import { certbot as certbotPeer, lego as legoPeer, type Peer, secretText } from "./peers.ts";

const runs = Number(Deno.args[0] ?? 3);
const EMAIL = "bench@alpha.test";

/** What one run of one tool needs to know about the stack. */
interface Stack {
  directoryUrl: string;
  caPem: string;
  caFile: string;
  knot: DnsServerHandle;
}

/** One tool under measurement: `obtain` throws with the tool's own error when no certificate came out. */
interface Contender {
  name: string;
  /** The settings used, printed with the figures. */
  settings: string[];
  /** Why the tool cannot run here, or undefined when it can. */
  missing(): Promise<string | undefined>;
  /** Obtains one certificate for `domains` from a fresh state dir; returns its PEM (leaf first). */
  obtain(stack: Stack, domains: string[], stateDir: string): Promise<string>;
}

/** One measured run. */
interface Outcome {
  ms: number;
  error?: string;
  /** `name "value"` of each challenge record the run left served (the case's `other` value not counted). */
  leftovers: string[];
  /** Whether the case's `other` value was still served after the run; undefined when the case has none. */
  keptOther?: boolean;
}

/** A case: the names to request in run `i`, distinct per tool and run unless the case is about fixed names. */
interface Case {
  name: string;
  domains(tool: string, i: number): string[];
  /**
   * A TXT value someone else (another issuer, a migration) already serves at each challenge name before the
   * run, and that the tool must leave alone.
   */
  other?: string;
}

const OTHER_VALUE = "published-by-another-issuer";

const CASES: Case[] = [
  { name: "1 name", domains: (tool, i) => [`one-${tool}-${i}.alpha.test`] },
  {
    name: "4 names, 2 zones",
    domains: (tool, i) => [
      `a-${tool}-${i}.alpha.test`,
      `b-${tool}-${i}.alpha.test`,
      `a-${tool}-${i}.beta.test`,
      `b-${tool}-${i}.beta.test`,
    ],
  },
  { name: "*.beta.test + apex", domains: () => ["*.beta.test", "beta.test"] },
  { name: "apex, other value there", domains: () => ["beta.test"], other: OTHER_VALUE },
];

const tsig = (knot: DnsServerHandle) => knot.keys["hmac-sha256"];

const notariat: Contender = {
  name: "notariat",
  settings: [
    "issuer in-process (no process start), default poll policy (0.5 s doubling), fresh account per run",
    "propagation update-server, propagation timeout 10 s, DNS timeout 5 s, concurrency 1",
    "key ecdsa-p256, TSIG hmac-sha256, nameserver 127.0.0.1:<knot>",
  ],
  missing: () => Promise.resolve(undefined),
  async obtain(stack, domains) {
    // The issuer's own poll timing and limit, as in production.
    const issuer = createTestIssuer(stack, stack.knot.address, {
      dns: { timeoutMs: 5_000, pollIntervalMs: undefined },
      concurrency: 1,
      pollPolicy: undefined,
      pollTimeoutMs: undefined,
    });
    const issued = await issuer.issue(
      testIssueRequest(stack.knot, domains, { label: "bench", email: EMAIL }),
    );
    return issued.certificatePem;
  },
};

/** A peer of peers.ts as a contender here: a fresh state dir (and account) for every run. */
function contender(peer: Peer): Contender {
  return {
    name: peer.name,
    settings: [...peer.settings, "fresh state dir per run"],
    missing: () => peer.missing(),
    obtain: async (stack, domains, stateDir) => (await peer.obtain(stack, domains, stateDir, EMAIL)).pem,
  };
}

const lego = contender(legoPeer);
const certbot = contender(certbotPeer);

/** The DNS names of a certificate's leaf, sorted, read with openssl so it does not rely on notariat's code. */
async function certificateNames(pem: string): Promise<string[]> {
  const leaf = pem.slice(0, pem.indexOf("-----END CERTIFICATE-----") + 25);
  const text = await run("openssl", ["x509", "-noout", "-ext", "subjectAltName"], { stdin: leaf });
  return [...text.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]).sort();
}

/** The challenge names of `domains`: `_acme-challenge.` before each, the wildcard label dropped. */
function challengeNames(domains: string[]): string[] {
  return [...new Set(domains.map((d) => `_acme-challenge.${d.replace(/^\*\./, "")}`))];
}

function zoneOf(name: string): string {
  return TEST_ZONES.find((zone) => name.endsWith(`.${zone}`))!;
}

/** Lists the TXT values still served at the challenge names, then deletes them so the next run starts clean. */
async function sweepLeftovers(knot: DnsServerHandle, domains: string[]): Promise<[string, string][]> {
  const left: [string, string][] = [];
  for (const name of challengeNames(domains)) {
    for (const value of await queryTxt(knot.address, name)) {
      left.push([name, value]);
      await nsupdateTxt(knot.address, tsig(knot), zoneOf(name), "delete", name, value);
    }
  }
  return left;
}

/** Times one run; a run counts as a success only when the certificate names exactly `domains`. */
async function measure(stack: Stack, tool: Contender, domains: string[], other?: string): Promise<Outcome> {
  if (other !== undefined) {
    for (const name of challengeNames(domains)) {
      await nsupdateTxt(stack.knot.address, tsig(stack.knot), zoneOf(name), "add", name, other);
    }
  }
  const stateDir = makeStateDir(`bench-${tool.name}`);
  const started = performance.now();
  let ms = 0;
  let error: string | undefined;
  try {
    const pem = await tool.obtain(stack, domains, stateDir);
    ms = performance.now() - started;
    const names = await certificateNames(pem);
    const wanted = [...domains].sort();
    if (names.join(",") !== wanted.join(",")) error = `certificate names ${names.join(", ")}`;
  } catch (err) {
    ms = performance.now() - started;
    error = errorMessage(err).replaceAll(secretText(stack.knot), "<secret>").replace(/\s+/g, " ");
  }
  removeStateDir(stateDir);
  const served = await sweepLeftovers(stack.knot, domains);
  return {
    ms,
    error,
    leftovers: served.filter(([, value]) => value !== other).map(([name, value]) => `${name} "${value}"`),
    keptOther: other === undefined
      ? undefined
      : challengeNames(domains).every((name) => served.some((s) => s[0] === name && s[1] === other)),
  };
}

/** Wall time of `command args` that does nothing but start (a peer's fixed cost per run). */
async function startupMs(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
  return performance.now() - started;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function summary(outcomes: Outcome[]): string[] {
  const ok = outcomes.filter((o) => o.error === undefined).map((o) => o.ms).sort((a, b) => a - b);
  const times = ok.length === 0
    ? ["-", "-", "-"]
    : [(ok[Math.floor((ok.length - 1) / 2)] + ok[Math.floor(ok.length / 2)]) / 2, ok[0], ok.at(-1)!].map(
      seconds,
    );
  const left = outcomes.reduce((n, o) => n + o.leftovers.length, 0);
  const kept = outcomes[0].keptOther === undefined
    ? "-"
    : `${outcomes.filter((o) => o.keptOther).length}/${outcomes.length}`;
  return [`${ok.length}/${outcomes.length}`, ...times, String(left), kept];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r.map((cell, c) => c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ")
  )
    .join("\n");
}

const contenders: Contender[] = [];
for (const tool of [notariat, lego, certbot]) {
  const why = await tool.missing();
  if (why === undefined) contenders.push(tool);
  else console.log(`${tool.name}: ${why} (skipped)`);
}

const knot = await startKnot();
const pebble = await startPebble({ dnsServer: knot.address });
try {
  const stack: Stack = {
    directoryUrl: pebble.directoryUrl,
    caPem: pebble.caPem,
    caFile: pebble.caFile,
    knot,
  };
  console.log(`stack: Knot 127.0.0.1:${knot.address.port}, pebble ${pebble.directoryUrl}`);
  console.log("pebble: PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0, no Retry-After");
  for (const tool of contenders) {
    console.log(`${tool.name}:`);
    for (const line of tool.settings) console.log(`  ${line}`);
  }
  if (contenders.includes(lego)) {
    console.log(`lego --version: ${seconds(await startupMs("lego", ["--version"]))} s`);
  }
  if (contenders.includes(certbot)) {
    console.log(`certbot --version: ${seconds(await startupMs("certbot", ["--version"]))} s`);
  }

  const results = new Map<string, Outcome[]>();
  for (const testCase of CASES) {
    // Tools take turns run by run, so a busy moment on the shared machine does not land on one tool only.
    for (let i = 0; i < runs; i++) {
      for (const tool of contenders) {
        const key = `${tool.name}\t${testCase.name}`;
        const outcome = await measure(stack, tool, testCase.domains(tool.name, i), testCase.other);
        results.set(key, [...(results.get(key) ?? []), outcome]);
      }
    }
  }

  const rows = [["tool", "case", "ok", "median s", "min s", "max s", "TXT left", "other kept"]];
  for (const testCase of CASES) {
    for (const tool of contenders) {
      rows.push([tool.name, testCase.name, ...summary(results.get(`${tool.name}\t${testCase.name}`)!)]);
    }
  }
  console.log(
    `\n${runs} runs each; times of successful runs; TXT left: challenge values still served after a run, ` +
      `summed over the runs; other kept: runs after which a value another issuer had published at the ` +
      `challenge name was still there\n${table(rows)}`,
  );

  const notes = [...results].flatMap(([key, outcomes]) =>
    outcomes.flatMap((o, i) => [
      ...(o.error === undefined
        ? []
        : [`${key.replace("\t", ", ")}, run ${i + 1} (${seconds(o.ms)} s): ${o.error}`]),
      ...o.leftovers.map((record) => `${key.replace("\t", ", ")}, run ${i + 1} left ${record}`),
    ])
  );
  if (notes.length > 0) console.log(`\n${notes.join("\n")}`);
} finally {
  await pebble.stop();
  await knot.stop();
}
