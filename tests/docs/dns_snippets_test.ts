/**
 * The DNS server configuration the README shows (docs/dns/*.conf) loaded into the real Knot and BIND, with a key
 * made by the quick start's own command line (`keymgr -t notariat > notariat.key`, `tsig-keygen notariat >
 * notariat.key`, read from the README) and read by notariat's own key parser, as the TSIG Secret holds it. Signed UPDATEs prove that each snippet lets the key write TXT records at the
 * challenge names and nowhere else, and no other type.
 */
import assert from "node:assert/strict";
import { publishChallenges } from "../../src/dns/challenges.ts";
import { createTransport } from "../../src/dns/exchange.ts";
import { signMessage } from "../../src/dns/tsig.ts";
import { parseTsigKey } from "../../src/dns/tsig_key.ts";
import type { ServerAddress, TsigKey } from "../../src/dns/types.ts";
import { buildTxtUpdate, sendTxtUpdate } from "../../src/dns/update.ts";
import {
  decodeMessage,
  encodeMessage,
  Rcode,
  rcodeName,
  RecordClass,
  RecordType,
} from "../../src/dns/wire.ts";
import {
  type ConfiguredServerHandle,
  queryTxt,
  startConfiguredBind,
  startConfiguredKnot,
} from "../harness/dns_servers.ts";
import { makeStateDir, removeStateDir, run } from "../harness/process.ts";
import { quickStartSteps } from "../../scripts/quick_start.ts";

const ZONES: Record<string, string> = {
  "example.com": [
    "$ORIGIN example.com.",
    "$TTL 60",
    "@ SOA ns1 hostmaster 1 3600 600 86400 60",
    "@ NS ns1",
    "ns1 A 127.0.0.1",
    "www A 127.0.0.1",
    "_acme-challenge.shop CNAME shop.acme.example.net.",
  ].join("\n") + "\n",
  "acme.example.net": [
    "$ORIGIN acme.example.net.",
    "$TTL 60",
    "@ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60",
    "@ NS ns1.example.com.",
  ].join("\n") + "\n",
};

function snippet(name: string): string {
  return Deno.readTextFileSync(new URL(`../../docs/dns/${name}`, import.meta.url));
}

/** The quick start's command that makes the key with `tool`, e.g. `keymgr -t notariat > notariat.key`. */
function keygenCommand(tool: string): string {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const commands = quickStartSteps(readme).flatMap((step) => step.commands);
  const command = commands.find((c) => c.startsWith(`${tool} `));
  assert.ok(command, `the README's quick start makes the key with ${tool}`);
  return command;
}

/** Runs a quick-start key command in a fresh directory and returns the notariat.key it writes. */
async function runKeygen(tool: string): Promise<string> {
  const dir = makeStateDir("keygen");
  try {
    await run("bash", ["-c", `cd '${dir}' && ${keygenCommand(tool)}`]);
    return await Deno.readTextFile(`${dir}/notariat.key`);
  } finally {
    removeStateDir(dir);
  }
}

const transport = createTransport({ timeoutMs: 2000, attempts: 1 });

/** Adds one TXT value, proves it is served, deletes it and proves it is gone. */
async function assertTxtAllowed(server: ServerAddress, key: TsigKey, zone: string, owner: string) {
  await sendTxtUpdate(transport, server, key, zone, "add", [{ owner, value: "allowed" }]);
  assert.deepEqual(await queryTxt(server, owner), ["allowed"], `${owner} serves the added value`);
  await sendTxtUpdate(transport, server, key, zone, "delete", [{ owner, value: "allowed" }]);
  assert.deepEqual(await queryTxt(server, owner), [], `${owner} no longer serves it`);
}

/** Proves the server refuses a TXT value at `owner` and serves nothing there afterwards. */
async function assertTxtRefused(server: ServerAddress, key: TsigKey, zone: string, owner: string) {
  await assert.rejects(
    sendTxtUpdate(transport, server, key, zone, "add", [{ owner, value: "refused" }]),
    // Knot answers NOTAUTH + BADKEY for a key its acl does not cover, BIND REFUSED (see the README's table).
    (err: Error) =>
      err.name === "NotariatError" && /refused to let key|does not allow it to update/.test(err.message),
    `TXT at ${owner} is refused`,
  );
  assert.ok(!(await queryTxt(server, owner)).includes("refused"), `${owner} serves no refused value`);
}

/** The RCODE of a signed UPDATE that adds an A record at `owner`: the same message as a TXT add, other type. */
async function addARecord(server: ServerAddress, key: TsigKey, zone: string, owner: string): Promise<number> {
  const message = buildTxtUpdate(zone, "add", [{ owner, value: "x" }]);
  message.authority = [{
    name: owner,
    type: RecordType.A,
    class: RecordClass.IN,
    ttl: 60,
    data: { kind: "a", address: "192.0.2.1" },
  }];
  const signed = signMessage(encodeMessage(message), key, Math.floor(Date.now() / 1000));
  return decodeMessage(await transport.exchange(server, signed.bytes, "tcp")).header.rcode;
}

async function assertARefused(server: ServerAddress, key: TsigKey, zone: string, owner: string) {
  const rcode = await addARecord(server, key, zone, owner);
  assert.notEqual(rcode, Rcode.NOERROR, `A at ${owner} is refused (got ${rcodeName(rcode)})`);
  const answer = await run("kdig", [
    `@${server.host}`,
    "-p",
    String(server.port),
    "+tcp",
    "+short",
    "A",
    owner,
  ]);
  assert.equal(answer.trim(), "", `${owner} serves no A record`);
}

interface Flavour {
  kind: string;
  /** The key file the README's command writes. */
  keygen: () => Promise<string>;
  start: (config: string) => Promise<ConfiguredServerHandle>;
  direct: string;
  delegated: string;
  /** Whether the delegated zone's own apex takes TXT: Knot's `update-owner-match: sub` says no, BIND's zonesub yes. */
  apexOfDelegated: "refused" | "allowed";
}

const FLAVOURS: Flavour[] = [
  {
    kind: "Knot",
    keygen: () => runKeygen("keymgr"),
    start: (config) => startConfiguredKnot({ zones: ZONES, config }),
    direct: "knot.conf",
    delegated: "knot-delegated.conf",
    apexOfDelegated: "refused",
  },
  {
    kind: "BIND",
    keygen: () => runKeygen("tsig-keygen"),
    start: (config) => startConfiguredBind({ zones: ZONES, config }),
    direct: "bind.conf",
    delegated: "bind-delegated.conf",
    apexOfDelegated: "allowed",
  },
];

for (const flavour of FLAVOURS) {
  Deno.test(`${flavour.kind}: the README's configuration lets notariat's key write challenge TXT records only`, async (t) => {
    const keyFile = await flavour.keygen();
    const key = parseTsigKey(keyFile, "notariat.key");
    const server = await flavour.start(
      [keyFile, snippet(flavour.direct), snippet(flavour.delegated)].join("\n"),
    );
    try {
      const at = server.address;
      await t.step("TXT at each configured challenge name is added and deleted", async () => {
        await assertTxtAllowed(at, key, "example.com", "_acme-challenge.example.com");
        await assertTxtAllowed(at, key, "example.com", "_acme-challenge.www.example.com");
      });
      await t.step("TXT at any other name of the zone is refused", async () => {
        for (
          const owner of [
            "example.com",
            "www.example.com",
            "_acme-challenge.mail.example.com",
            "sub._acme-challenge.example.com",
          ]
        ) await assertTxtRefused(at, key, "example.com", owner);
      });
      await t.step("another type at a challenge name is refused", async () => {
        await assertARefused(at, key, "example.com", "_acme-challenge.example.com");
        await assertARefused(at, key, "example.com", "_acme-challenge.www.example.com");
      });
      await t.step("the delegated challenge zone takes TXT and no other type", async () => {
        await assertTxtAllowed(at, key, "acme.example.net", "shop.acme.example.net");
        await assertTxtAllowed(at, key, "acme.example.net", "any.other.acme.example.net");
        await assertARefused(at, key, "acme.example.net", "shop.acme.example.net");
        if (flavour.apexOfDelegated === "refused") {
          await assertTxtRefused(at, key, "acme.example.net", "acme.example.net");
        } else {
          await assertTxtAllowed(at, key, "acme.example.net", "acme.example.net");
        }
        await assertTxtRefused(at, key, "example.com", "shop.example.com");
      });
      await t.step("notariat follows the CNAME of a delegated name and writes its value there", async () => {
        const published = await publishChallenges(
          [{ domain: "shop.example.com", value: "delegated" }],
          { key, nameserver: at },
          { resolver: at, propagation: "update-server", propagationTimeoutMs: 3000, timeoutMs: 2000 },
        );
        assert.deepEqual(
          published.records.map((r) => [r.owner, r.zone]),
          [["shop.acme.example.net", "acme.example.net"]],
        );
        assert.deepEqual(await queryTxt(at, "shop.acme.example.net"), ["delegated"]);
        await published.remove();
        assert.deepEqual(await queryTxt(at, "shop.acme.example.net"), []);
      });
    } finally {
      await server.stop();
    }
  });
}
