/**
 * Real authoritative DNS servers for tests: Knot and BIND serving the same two zones, each with one TSIG key
 * per HMAC algorithm allowed to update TXT records, plus a key the server knows but never lets update. Also a
 * forwarding resolver, because pebble's resolver does not chase a CNAME into another zone.
 */
import {
  type ServerAddress,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
  type TsigKey,
} from "../../src/dns/types.ts";
import { exchangeTcp } from "./dns_stream.ts";
import { startCnameForwarder } from "./forwarder.ts";
import { freePort } from "./ports.ts";
import {
  killedWithTestProcess,
  makeStateDir,
  removeStateDir,
  run,
  type Service,
  spawnService,
  waitUntilReady,
} from "./process.ts";

/** A TSIG key as the server knows it, and as a TSIG Secret's `key` field holds it ("hmac-sha256:name:base64"). */
export interface TestKey {
  key: TsigKey;
  text: string;
}

/** A running authoritative server for `zones`, stopped (and its state dir removed) by `stop`. */
export interface DnsServerHandle {
  kind: "knot" | "bind";
  /** 127.0.0.1 and a picked port, TCP and UDP. */
  address: ServerAddress;
  zones: string[];
  /** One key per algorithm, allowed to update TXT anywhere in both zones. */
  keys: Record<TsigAlgorithm, TestKey>;
  /** Known to the server, NOT allowed to update. */
  unauthorizedKey: TestKey;
  /** PIDs of the processes this handle started, so a test can see they are gone after `stop`. */
  pids: number[];
  /** Stops the server process (SIGTERM, by PID) and keeps its state dir and port, for `restart`: an outage. */
  halt(): Promise<void>;
  /**
   * Starts the server again on the same port with the same configuration, zones and journal (halting it first
   * if it runs); resolves once it answers for every zone. `pids` then holds the new process's PID.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Knot also keeps every applied change in its journal, which a test can read back. */
export interface KnotHandle extends DnsServerHandle {
  kind: "knot";
  /**
   * Every TXT record the server's journal shows added or removed in `zone` since it started, in order, as
   * `+ owner. "value"` and `- owner. "value"` lines: what UPDATEs changed, even records gone again.
   */
  journal(zone: string): Promise<string[]>;
}

/** A running forwarding resolver. */
export interface ForwarderHandle {
  address: ServerAddress;
  stop(): Promise<void>;
}

/** The zones both servers serve. */
export const TEST_ZONES: string[] = ["alpha.test", "beta.test"];

const UNAUTHORIZED_KEY_NAME = "notariat-unauthorized";

function keyName(algorithm: TsigAlgorithm): string {
  return `notariat-${algorithm.replace("hmac-", "")}`;
}

/**
 * The zone file for `zone`: SOA, NS, glue, www, and in alpha.test the CNAME delegations (of a dns-01 and of a
 * dns-persist-01 name), chain and loop.
 */
function zoneFile(zone: string): string {
  const lines = [
    `$ORIGIN ${zone}.`,
    `$TTL 60`,
    `@ SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
    `@ NS ns1.${zone}.`,
    `ns1 A 127.0.0.1`,
    `www A 127.0.0.1`,
  ];
  if (zone === "alpha.test") {
    lines.push(
      `_acme-challenge.delegated CNAME delegated.beta.test.`,
      `_validation-persist.delegated CNAME persist-delegated.beta.test.`,
      `_acme-challenge.chain CNAME chain1.alpha.test.`,
      `chain1 CNAME chain2.beta.test.`,
      `_acme-challenge.loop CNAME loop2.alpha.test.`,
      `loop2 CNAME _acme-challenge.loop.alpha.test.`,
    );
  }
  return lines.join("\n") + "\n";
}

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function testKey(algorithm: TsigAlgorithm, name: string, base64: string): TestKey {
  return {
    key: { algorithm, name, secret: decodeBase64(base64) },
    text: `${algorithm}:${name}:${base64}`,
  };
}

/** Generates a key with Knot's keymgr, whose first output line is `# ALG:NAME:SECRET`. */
async function knotKey(algorithm: TsigAlgorithm, name: string): Promise<TestKey> {
  const first = (await run("keymgr", ["-t", name, algorithm])).split("\n")[0];
  const match = /^# ([\w-]+):([^:]+):(\S+)$/.exec(first);
  if (!match) throw new Error(`keymgr printed an unexpected first line for ${name}`);
  return testKey(algorithm, name, match[3]);
}

/** Generates a key with BIND's tsig-keygen, which prints a `key "NAME" { ...; secret "..."; };` block. */
async function bindKey(algorithm: TsigAlgorithm, name: string): Promise<TestKey> {
  const match = /secret "([^"]+)"/.exec(await run("tsig-keygen", ["-a", algorithm, name]));
  if (!match) throw new Error(`tsig-keygen printed no secret for ${name}`);
  return testKey(algorithm, name, match[1]);
}

async function makeKeys(
  generate: (algorithm: TsigAlgorithm, name: string) => Promise<TestKey>,
): Promise<{ keys: Record<TsigAlgorithm, TestKey>; unauthorizedKey: TestKey }> {
  const generated = await Promise.all(TSIG_ALGORITHMS.map((alg) => generate(alg, keyName(alg))));
  const keys = Object.fromEntries(generated.map((k) => [k.key.algorithm, k])) as Record<
    TsigAlgorithm,
    TestKey
  >;
  const unauthorizedKey = await generate("hmac-sha256", UNAUTHORIZED_KEY_NAME);
  return { keys, unauthorizedKey };
}

function encodeName(name: string): number[] {
  const bytes: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    const encoded = new TextEncoder().encode(label);
    bytes.push(encoded.length, ...encoded);
  }
  bytes.push(0);
  return bytes;
}

/**
 * Asks `server` over TCP for the SOA of `zone` (RD set, so a forwarder forwards it) and tells whether it
 * answered NOERROR with at least one answer record. Hand-written so readiness does not depend on the code
 * under test.
 */
export async function soaAnswers(server: ServerAddress, zone: string): Promise<boolean> {
  const id = Math.floor(Math.random() * 0x10000);
  // RFC 1035 4.1.1: id, flags (RD), QDCOUNT 1; then QNAME, QTYPE SOA (6), QCLASS IN (1).
  const message = [id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...encodeName(zone), 0, 6, 0, 1];
  const response = await exchangeTcp(server, new Uint8Array(message), 2000);
  if (response === undefined) return false;
  const rcode = response[3] & 0x0f;
  const answers = (response[6] << 8) | response[7];
  return ((response[0] << 8) | response[1]) === id && rcode === 0 && answers > 0;
}

/** Waits until `server` answers SOA for every zone; fails with `service`'s log tail. */
async function waitForZones(service: Service, server: ServerAddress, zones: string[]): Promise<void> {
  await waitUntilReady(service, async () => {
    for (const zone of zones) if (!(await soaAnswers(server, zone))) return false;
    return true;
  }, 15_000);
}

/** The TXT records of kdig's answer section, each a sequence of quoted strings with \DDD escapes, joined. */
function parseTxtAnswers(output: string): string[] {
  const records: string[] = [];
  for (const line of output.split("\n")) {
    const data = /^\S+\s+\d+\s+IN\s+TXT\s+(".*)$/.exec(line)?.[1];
    if (data === undefined) continue;
    let value = "";
    for (const [, body] of data.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
      value += body.replace(
        /\\(\d{3}|.)/g,
        (_, esc: string) => /^\d{3}$/.test(esc) ? String.fromCharCode(Number(esc)) : esc,
      );
    }
    records.push(value);
  }
  return records;
}

/**
 * The TXT values `server` serves at `name` (at the end of the CNAME chain when the server follows it), each
 * record's strings joined, sorted; empty for NODATA and NXDOMAIN. Throws on any other status (SERVFAIL,
 * REFUSED) so a broken lookup never passes for an empty one. Uses kdig over TCP, so tests can check a server's
 * contents independently of notariat's DNS code.
 */
export async function queryTxt(server: ServerAddress, name: string): Promise<string[]> {
  const output = await run("kdig", [`@${server.host}`, "-p", String(server.port), "+tcp", "TXT", name]);
  const status = /status: (\w+)/.exec(output)?.[1];
  if (status !== "NOERROR" && status !== "NXDOMAIN") {
    throw new Error(`TXT ${name} at ${server.host}:${server.port} answered ${status ?? "nothing"}`);
  }
  return parseTxtAnswers(output).sort();
}

function startedHandle(
  kind: "knot" | "bind",
  first: Service,
  address: ServerAddress,
  keys: Record<TsigAlgorithm, TestKey>,
  unauthorizedKey: TestKey,
  spawn: () => Service,
): DnsServerHandle {
  let service = first;
  const pids = [service.pid];
  return {
    kind,
    address,
    zones: [...TEST_ZONES],
    keys,
    unauthorizedKey,
    pids,
    halt() {
      return service.stop();
    },
    async restart() {
      await service.stop();
      const old = service.pid;
      service = spawn();
      pids[pids.indexOf(old)] = service.pid;
      await waitForZones(service, address, TEST_ZONES);
    },
    async stop() {
      await service.stop();
      removeStateDir(service.stateDir);
    },
  };
}

async function startOrCleanUp<T>(service: Service, ready: () => Promise<T>): Promise<T> {
  try {
    return await ready();
  } catch (err) {
    await service.stop();
    removeStateDir(service.stateDir);
    throw err;
  }
}

/** knot.conf's server, control, database and log sections: one worker each, state in `stateDir`. */
function knotServerLines(stateDir: string, port: number): string[] {
  return [
    "server:",
    `  rundir: "${stateDir}"`,
    `  pidfile: "${stateDir}/knot.pid"`,
    `  listen: 127.0.0.1@${port}`,
    "  background-workers: 1",
    "  tcp-workers: 1",
    "  udp-workers: 1",
    "control:",
    `  listen: "${stateDir}/knot.sock"`,
    "database:",
    `  storage: "${stateDir}/db"`,
    "log:",
    "  - target: stderr",
    "    any: info",
  ];
}

/** knot.conf's default template: zone files in `stateDir`, updates kept in the journal only. */
function knotTemplateLines(stateDir: string): string[] {
  return [
    "template:",
    "  - id: default",
    `    storage: "${stateDir}"`,
    '    file: "%s.zone"',
    "    zonefile-sync: -1",
    "    journal-content: changes",
  ];
}

/** Starts Knot DNS on a free port, serving the test zones; updates stay in the journal. */
export async function startKnot(): Promise<KnotHandle> {
  const stateDir = makeStateDir("knot");
  try {
    const port = freePort();
    const { keys, unauthorizedKey } = await makeKeys(knotKey);
    const allKeys = [...Object.values(keys), unauthorizedKey];
    for (const zone of TEST_ZONES) Deno.writeTextFileSync(`${stateDir}/${zone}.zone`, zoneFile(zone));
    // Knot does not create its database directory; without it every update fails with SERVFAIL.
    Deno.mkdirSync(`${stateDir}/db`);
    const config = [
      ...knotServerLines(stateDir, port),
      "key:",
      ...allKeys.flatMap((k) => [
        `  - id: ${k.key.name}`,
        `    algorithm: ${k.key.algorithm}`,
        `    secret: ${k.text.split(":")[2]}`,
      ]),
      "acl:",
      "  - id: txt-update",
      `    key: [${Object.values(keys).map((k) => k.key.name).join(", ")}]`,
      "    action: update",
      "    update-type: TXT",
      ...knotTemplateLines(stateDir),
      "    acl: txt-update",
      "zone:",
      ...TEST_ZONES.map((zone) => `  - domain: ${zone}`),
    ].join("\n") + "\n";
    Deno.writeTextFileSync(`${stateDir}/knot.conf`, config);
    const spawn = () =>
      spawnService("knot", stateDir, ...killedWithTestProcess("knotd", ["-c", `${stateDir}/knot.conf`]));
    const service = spawn();
    const address = { host: "127.0.0.1", port };
    return await startOrCleanUp(service, async () => {
      await waitForZones(service, address, TEST_ZONES);
      const handle = startedHandle("knot", service, address, keys, unauthorizedKey, spawn);
      return {
        ...handle,
        kind: "knot" as const,
        async journal(zone: string) {
          const out = await run("kjournalprint", ["-x", "-D", `${stateDir}/db/journal`, zone]);
          const changes: string[] = [];
          let sign = "";
          for (const line of out.split("\n")) {
            if (line.startsWith(";; Removed")) sign = "-";
            else if (line.startsWith(";; Added")) sign = "+";
            const txt = /^(\S+)\s+\d+\s+TXT\s+(.*)$/.exec(line);
            if (txt && sign) changes.push(`${sign} ${txt[1]} ${txt[2]}`);
          }
          return changes;
        },
      };
    });
  } catch (err) {
    removeStateDir(stateDir);
    throw err;
  }
}

function bindKeyBlock(k: TestKey): string {
  return `key "${k.key.name}" { algorithm ${k.key.algorithm}; secret "${k.text.split(":")[2]}"; };`;
}

/** BIND's options: its files in its state dir, one port, no control channel, no NOTIFY to port 53. */
function bindOptions(stateDir: string, port: number, extra: string[]): string {
  return [
    "options {",
    `  directory "${stateDir}";`,
    `  pid-file "${stateDir}/named.pid";`,
    `  session-keyfile "${stateDir}/session.key";`,
    `  managed-keys-directory "${stateDir}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    "  listen-on-v6 { none; };",
    "  notify no;",
    "  dnssec-validation no;",
    "  allow-query { any; };",
    ...extra.map((line) => `  ${line}`),
    "};",
    "controls { };",
  ].join("\n");
}

function startNamed(name: string, stateDir: string): Service {
  // -g: foreground, log to stderr; -4: no IPv6 sockets; -n 1: one worker, the machine is shared.
  return spawnService(
    name,
    stateDir,
    ...killedWithTestProcess("named", ["-g", "-4", "-n", "1", "-c", `${stateDir}/named.conf`]),
  );
}

/** Starts BIND on a free port, authoritative (no recursion) for the test zones. */
export async function startBind(): Promise<DnsServerHandle> {
  const stateDir = makeStateDir("bind");
  try {
    const port = freePort();
    const { keys, unauthorizedKey } = await makeKeys(bindKey);
    const allKeys = [...Object.values(keys), unauthorizedKey];
    for (const zone of TEST_ZONES) Deno.writeTextFileSync(`${stateDir}/${zone}.zone`, zoneFile(zone));
    const grants = Object.values(keys).map((k) => `grant "${k.key.name}" zonesub TXT;`).join(" ");
    const config = [
      bindOptions(stateDir, port, ["recursion no;"]),
      ...allKeys.map(bindKeyBlock),
      ...TEST_ZONES.map((zone) =>
        `zone "${zone}" { type primary; file "${stateDir}/${zone}.zone"; update-policy { ${grants} }; };`
      ),
    ].join("\n") + "\n";
    Deno.writeTextFileSync(`${stateDir}/named.conf`, config);
    const service = startNamed("bind", stateDir);
    const address = { host: "127.0.0.1", port };
    return await startOrCleanUp(service, async () => {
      await waitForZones(service, address, TEST_ZONES);
      return startedHandle(
        "bind",
        service,
        address,
        keys,
        unauthorizedKey,
        () => startNamed("bind", stateDir),
      );
    });
  } catch (err) {
    removeStateDir(stateDir);
    throw err;
  }
}

/** A server started from configuration the caller wrote (keys, ACLs, zones), stopped by `stop`. */
export interface ConfiguredServerHandle {
  address: ServerAddress;
  /** The state directory, which is also the server's working directory: relative zone file names land here. */
  stateDir: string;
  pids: number[];
  stop(): Promise<void>;
}

/** What a configured server serves: zone files by zone name, and configuration text appended to the harness's. */
export interface ServerConfiguration {
  /** Zone name → zone file text, written to `<stateDir>/<zone>.zone`. */
  zones: Record<string, string>;
  /**
   * Knot: sections after the harness's `server`, `control`, `database`, `log` and a `default` template that stores
   * each zone in `<zone>.zone`. BIND: statements after the harness's `options` (no recursion) and `controls`.
   * Typically a key as keymgr or tsig-keygen prints it, then zone and ACL snippets.
   */
  config: string;
}

async function startConfigured(
  kind: "knot" | "bind",
  configuration: ServerConfiguration,
  configure: (stateDir: string, port: number) => { file: string; text: string },
  spawn: (stateDir: string, file: string) => Service,
): Promise<ConfiguredServerHandle> {
  const stateDir = makeStateDir(kind);
  try {
    const port = freePort();
    for (const [zone, text] of Object.entries(configuration.zones)) {
      Deno.writeTextFileSync(`${stateDir}/${zone}.zone`, text);
    }
    const { file, text } = configure(stateDir, port);
    Deno.writeTextFileSync(file, text);
    const service = spawn(stateDir, file);
    const address = { host: "127.0.0.1", port };
    return await startOrCleanUp(service, async () => {
      await waitForZones(service, address, Object.keys(configuration.zones));
      return {
        address,
        stateDir,
        pids: [service.pid],
        async stop() {
          await service.stop();
          removeStateDir(stateDir);
        },
      };
    });
  } catch (err) {
    removeStateDir(stateDir);
    throw err;
  }
}

/** Starts Knot DNS on a free port with the caller's keys, ACLs and zones; updates stay in the journal. */
export function startConfiguredKnot(configuration: ServerConfiguration): Promise<ConfiguredServerHandle> {
  return startConfigured("knot", configuration, (stateDir, port) => {
    Deno.mkdirSync(`${stateDir}/db`);
    const base = [
      ...knotServerLines(stateDir, port),
      ...knotTemplateLines(stateDir),
    ];
    return { file: `${stateDir}/knot.conf`, text: [...base, configuration.config].join("\n") + "\n" };
  }, (stateDir, file) => spawnService("knot", stateDir, ...killedWithTestProcess("knotd", ["-c", file])));
}

/** Starts BIND on a free port, authoritative only, with the caller's keys and zones (relative to its state dir). */
export function startConfiguredBind(configuration: ServerConfiguration): Promise<ConfiguredServerHandle> {
  return startConfigured("bind", configuration, (stateDir, port) => ({
    file: `${stateDir}/named.conf`,
    text: [bindOptions(stateDir, port, ["recursion no;"]), configuration.config].join("\n") + "\n",
  }), (stateDir) => startNamed("bind", stateDir));
}

/**
 * A resolver in front of `upstream` with no cache, so a client following CNAMEs across zones works (pebble
 * validating a CNAME-delegated challenge). It runs inside the test process; see forwarder.ts for why it is not
 * a BIND instance. Resolves once it answers SOA for the test zones through the upstream.
 */
export async function startForwarder(upstream: ServerAddress): Promise<ForwarderHandle> {
  const forwarder = startCnameForwarder(upstream);
  try {
    const deadline = Date.now() + 5000;
    for (;;) {
      const answers = await Promise.all(
        TEST_ZONES.map((zone) => soaAnswers(forwarder.address, zone).catch(() => false)),
      );
      if (answers.every((ok) => ok)) return forwarder;
      if (Date.now() > deadline) {
        throw new Error(
          `forwarder on port ${forwarder.address.port} cannot reach ${upstream.host}:${upstream.port}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await forwarder.stop();
    throw err;
  }
}

/**
 * Adds or deletes one TXT value at `name` on `server` with knsupdate, signed with `key`, so tests can seed or
 * inspect a zone independently of notariat's DNS code. Throws with knsupdate's error (e.g. REFUSED, NOTAUTH).
 */
export async function nsupdateTxt(
  server: ServerAddress,
  key: TestKey,
  zone: string,
  action: "add" | "delete",
  name: string,
  value: string,
): Promise<void> {
  // The key goes through stdin, not argv, so it never shows up in a process listing or an error message.
  const script = [
    `server ${server.host} ${server.port}`,
    `key ${key.text}`,
    `zone ${zone}.`,
    `update ${action} ${name}. 60 TXT "${value.replace(/(["\\])/g, "\\$1")}"`,
    "send",
    "",
  ].join("\n");
  await run("knsupdate", [], { stdin: script });
}
