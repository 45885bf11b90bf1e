/**
 * How the benchmarks drive lego and certbot (Debian's `lego` 4.9.1, `certbot` 2.1 + dns-rfc2136) against the
 * local pebble and Knot, each with the smallest waits a user can configure: one process per certificate, an
 * empty environment (no proxy, no machine CA variables), pebble's CA trusted through LEGO_CA_CERTIFICATES /
 * REQUESTS_CA_BUNDLE, 127.0.0.1 only. Each process can be measured with /usr/bin/time (CPU, peak RSS).
 */
import type { DnsServerHandle } from "../tests/harness/dns_servers.ts";
import { makeStateDir, removeStateDir } from "../tests/harness/process.ts";

/** A peer still running after this is stopped and its run counted as failed. */
export const PEER_TIMEOUT_MS = 120_000;

/** What a peer needs to know about the stack. */
export interface PeerStack {
  directoryUrl: string;
  caFile: string;
  knot: DnsServerHandle;
}

/** CPU seconds and peak resident memory of one process, as /usr/bin/time reports them. */
export interface ProcessCost {
  cpuSeconds: number;
  peakRssMiB: number;
}

/** A peer tool: `obtain` throws with the tool's own error when no certificate came out. */
export interface Peer {
  name: string;
  /** The settings used, printed with the figures. */
  settings: string[];
  /** Why the tool cannot run here, or undefined when it can. */
  missing(): Promise<string | undefined>;
  /**
   * Obtains one certificate for `domains` with `stateDir` as the tool's state (an account made there on first
   * use is reused by later calls with the same dir); returns its PEM (leaf first) and what the process cost.
   */
  obtain(stack: PeerStack, domains: string[], stateDir: string, email: string): Promise<ObtainResult>;
}

/** A certificate a peer obtained. */
export interface ObtainResult {
  pem: string;
  cost?: ProcessCost;
}

const TIME = "/usr/bin/time";
const TIME_FORMAT = "%U %S %M";

const tsig = (knot: DnsServerHandle) => knot.keys["hmac-sha256"];

/** The TSIG secret in base64, to be removed from anything printed. */
export const secretText = (knot: DnsServerHandle): string => tsig(knot).text.split(":")[2];

/** Runs a peer with only the environment given, under /usr/bin/time when it is installed, with a timeout. */
async function runPeer(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ exit: string; success: boolean; stderr: string; stdout: string; cost?: ProcessCost }> {
  const timed = await installed(TIME, ["true"]);
  const dir = timed ? makeStateDir("bench-time") : undefined;
  try {
    const out = await new Deno.Command(timed ? TIME : command, {
      args: timed ? ["-f", TIME_FORMAT, "-o", `${dir}/time`, command, ...args] : args,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LANG: "C.UTF-8", ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
    }).output();
    const text = new TextDecoder();
    return {
      exit: out.signal === null
        ? `exit ${out.code}`
        : `stopped by ${out.signal} after ${PEER_TIMEOUT_MS / 1000} s`,
      success: out.success,
      stdout: text.decode(out.stdout),
      stderr: text.decode(out.stderr),
      cost: dir === undefined ? undefined : readTimeFile(`${dir}/time`),
    };
  } finally {
    if (dir !== undefined) removeStateDir(dir);
  }
}

/** The last line of a /usr/bin/time -f "%U %S %M" output file ("Command exited with ..." may come first). */
export function readTimeFile(path: string): ProcessCost | undefined {
  try {
    const line = Deno.readTextFileSync(path).trim().split("\n").at(-1) ?? "";
    const [user, system, maxKiB] = line.split(/\s+/).map(Number);
    if ([user, system, maxKiB].some(Number.isNaN)) return undefined;
    return { cpuSeconds: user + system, peakRssMiB: maxKiB / 1024 };
  } catch {
    return undefined;
  }
}

/** Whether `command` can be started at all. */
export async function installed(command: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

/** The lines of a tool's output that say what went wrong, on one line, without log timestamps. */
function toolError(output: string, pattern: RegExp): string {
  const all = output.split("\n").map((line) => line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "").trim())
    .filter((line) => line !== "");
  const lines = all.filter((line) => pattern.test(line));
  return (lines.length > 0 ? lines : all.slice(-3)).join(" | ");
}

/** The newest file under `dir` whose path matches `pattern`, read. */
function findFile(dir: string, pattern: RegExp): string {
  const found: { path: string; mtime: number }[] = [];
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory) walk(child);
      else if (pattern.test(child)) {
        found.push({ path: child, mtime: Deno.statSync(child).mtime?.getTime() ?? 0 });
      }
    }
  };
  walk(dir);
  if (found.length === 0) throw new Error(`no certificate file under ${dir}`);
  found.sort((a, b) => b.mtime - a.mtime);
  return Deno.readTextFileSync(found[0].path);
}

/** lego's settings that remove its waits (it still sleeps 5 s when the CA says "pending" after an answer). */
export const LEGO_ENV: Record<string, string> = {
  RFC2136_TSIG_ALGORITHM: "hmac-sha256.",
  RFC2136_POLLING_INTERVAL: "0",
  RFC2136_SEQUENCE_INTERVAL: "0",
  RFC2136_PROPAGATION_TIMEOUT: "10",
};

/** lego, one process per certificate. */
export const lego: Peer = {
  name: "lego",
  settings: [
    "lego 4.9.1 (Debian), one process per certificate, --key-type ec256",
    "--dns rfc2136 --dns.resolvers 127.0.0.1:<knot> --dns.disable-cp",
    Object.entries(LEGO_ENV).map(([k, v]) => `${k}=${v}`).join(" ") +
    " LEGO_CA_CERTIFICATES=<pebble CA>",
  ],
  async missing() {
    return (await installed("lego", ["--version"])) ? undefined : "not installed: apt-get install lego";
  },
  async obtain(stack, domains, stateDir, email) {
    const dns = `127.0.0.1:${stack.knot.address.port}`;
    const result = await runPeer("lego", [
      "--server",
      stack.directoryUrl,
      "--accept-tos",
      "--email",
      email,
      "--path",
      stateDir,
      "--key-type",
      "ec256",
      "--dns",
      "rfc2136",
      "--dns.resolvers",
      dns,
      "--dns.disable-cp",
      ...domains.flatMap((domain) => ["-d", domain]),
      "run",
    ], {
      HOME: stateDir,
      ...LEGO_ENV,
      RFC2136_NAMESERVER: dns,
      RFC2136_TSIG_KEY: tsig(stack.knot).key.name,
      RFC2136_TSIG_SECRET: secretText(stack.knot),
      LEGO_CA_CERTIFICATES: stack.caFile,
    });
    if (!result.success) {
      throw new Error(
        `${result.exit}: ${toolError(result.stderr, /^(?!\[INFO\]|No key found|Saved key)/)}`,
      );
    }
    const file = `${domains[0].replace("*", "_")}.crt`;
    return { pem: findFile(`${stateDir}/certificates`, new RegExp(`/${escape(file)}$`)), cost: result.cost };
  },
};

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** certbot with dns-rfc2136, one process per certificate (one config dir may serve one process at a time). */
export const certbot: Peer = {
  name: "certbot",
  settings: [
    "certbot 2.1 + dns-rfc2136 (Debian), one process per certificate",
    "--dns-rfc2136-propagation-seconds 0 --key-type ecdsa (P-256), algorithm HMAC-SHA256",
    "REQUESTS_CA_BUNDLE=<pebble CA>",
  ],
  async missing() {
    if (!(await installed("certbot", ["--version"]))) {
      return "not installed: apt-get install certbot python3-certbot-dns-rfc2136";
    }
    // Asked of certbot itself: the plugin must be importable by certbot's own Python, not the first on PATH.
    const dir = makeStateDir("bench-certbot-plugins");
    try {
      const listed = await runPeer("certbot", [
        "plugins",
        ...["--config-dir", "--work-dir", "--logs-dir"].flatMap((flag) => [flag, dir]),
      ], { HOME: dir });
      return listed.stdout.includes("dns-rfc2136")
        ? undefined
        : "not installed: apt-get install python3-certbot-dns-rfc2136";
    } finally {
      removeStateDir(dir);
    }
  },
  async obtain(stack, domains, stateDir) {
    const ini = `${stateDir}/rfc2136.ini`;
    Deno.writeTextFileSync(
      ini,
      [
        "dns_rfc2136_server = 127.0.0.1",
        `dns_rfc2136_port = ${stack.knot.address.port}`,
        `dns_rfc2136_name = ${tsig(stack.knot).key.name}`,
        `dns_rfc2136_secret = ${secretText(stack.knot)}`,
        // Upper case: certbot falls back to HMAC-MD5 for a name it does not know, without a word.
        "dns_rfc2136_algorithm = HMAC-SHA256",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const result = await runPeer("certbot", [
      "certonly",
      "--non-interactive",
      "--agree-tos",
      "--register-unsafely-without-email",
      "--server",
      stack.directoryUrl,
      "--config-dir",
      `${stateDir}/config`,
      "--work-dir",
      `${stateDir}/work`,
      "--logs-dir",
      `${stateDir}/logs`,
      "--key-type",
      "ecdsa",
      "--dns-rfc2136",
      "--dns-rfc2136-credentials",
      ini,
      "--dns-rfc2136-propagation-seconds",
      "0",
      "--cert-name",
      domains[0].replace("*", "_"),
      ...domains.flatMap((domain) => ["-d", domain]),
    ], { HOME: stateDir, REQUESTS_CA_BUNDLE: stack.caFile });
    if (!result.success) {
      throw new Error(
        `${result.exit}: ${
          toolError(result.stderr, /error|fail|problem|Domain:|Type:|Detail:|unauthorized|refused/i)
        }`,
      );
    }
    const live = `${stateDir}/config/live/${domains[0].replace("*", "_")}`;
    return { pem: Deno.readTextFileSync(`${live}/fullchain.pem`), cost: result.cost };
  },
};
