/**
 * Bad answers to DNS UPDATE, produced by a fault proxy in front of a real Knot: the proxy forwards every
 * message and, for UPDATE requests over TCP, damages Knot's real answer after Knot has applied the update.
 * Each fault must give a NotariatError kind "dns" naming the server and what was wrong, and the zone must end
 * up without the challenge values (checked with kdig, independently of notariat's DNS code).
 */
import assert from "node:assert/strict";
import { parseServerAddress } from "../../src/dns/address.ts";
import dgram from "node:dgram";
import { type DnsContext, publishChallenges } from "../../src/dns/challenges.ts";
import { createTransport } from "../../src/dns/exchange.ts";
import { sendTxtUpdate } from "../../src/dns/update.ts";
import { query } from "../../src/dns/query.ts";
import { signMessage } from "../../src/dns/tsig.ts";
import { decodeMessage, Opcode, RecordType, tsigRecordOf } from "../../src/dns/wire.ts";
import { NotariatError } from "../../src/errors.ts";
import type { ServerAddress, TsigKey } from "../../src/dns/types.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";

/** How the proxy damages the answer to an UPDATE. */
type Fault =
  | "none"
  | "wrong-id"
  | "other-question"
  | "garbage"
  | "garbage-body"
  | "truncated-frame"
  | "bad-mac"
  | "unsigned"
  | "other-key"
  | "skewed-time";

/** Keys the proxy re-signs answers with: the right one (for a skewed time) and another one. */
interface Signers {
  right: TsigKey;
  other: TsigKey;
}

/** The answer without its TSIG record, ARCOUNT one less. */
function stripTsig(answer: Uint8Array): Uint8Array {
  const decoded = decodeMessage(answer);
  const cut = answer.slice(0, decoded.tsigOffset);
  const arcount = ((cut[10] << 8) | cut[11]) - 1;
  cut[10] = arcount >> 8;
  cut[11] = arcount & 0xff;
  return cut;
}

interface FaultProxy {
  address: ServerAddress;
  /** The fault applied to the next `count` UPDATE answers; later answers pass unchanged. */
  inject(fault: Fault, count?: number): void;
  /** The fault applied to the answers of the next `count` queries over UDP. */
  injectQuery(fault: Fault, count: number): void;
  /** How many UPDATE requests reached Knot. */
  updates: number;
  stop(): Promise<void>;
}

function isUpdate(request: Uint8Array): boolean {
  return request.length > 2 && ((request[2] >> 3) & 0xf) === Opcode.UPDATE;
}

/** The answer as the fault makes it, or undefined for a frame cut short (TCP only). */
function damage(
  fault: Fault,
  answer: Uint8Array,
  request: Uint8Array,
  signers: Signers,
): Uint8Array | undefined {
  const bytes = answer.slice();
  switch (fault) {
    case "none":
      return bytes;
    case "wrong-id":
      bytes[0] ^= 0xff;
      return bytes;
    case "other-question":
      // The question's first label starts at offset 13: "alpha" becomes "blpha".
      bytes[13] += 1;
      return bytes;
    case "garbage":
      return crypto.getRandomValues(new Uint8Array(answer.length));
    case "garbage-body": {
      // Header and question intact, then bytes that decode to nothing sensible: ARCOUNT claims records
      // that are not there.
      const decoded = decodeMessage(answer);
      const end = decoded.tsigOffset ?? answer.length;
      const cut = bytes.slice(0, end);
      cut[10] = 0x00;
      cut[11] = 0x07;
      return cut;
    }
    case "truncated-frame":
      return undefined;
    case "bad-mac":
      // The MAC is followed by original id, error and other length (6 bytes) when other data is empty.
      bytes[bytes.length - 7] ^= 0x01;
      return bytes;
    case "unsigned":
      return stripTsig(answer);
    case "other-key":
      return signMessage(stripTsig(answer), signers.other, Math.floor(Date.now() / 1000)).bytes;
    case "skewed-time": {
      // Correctly signed with the right key, an hour in the past.
      const requestMac = tsigRecordOf(decodeMessage(request))!.data.tsig.mac;
      return signMessage(stripTsig(answer), signers.right, Math.floor(Date.now() / 1000) - 3600, {
        requestMac,
      })
        .bytes;
    }
  }
}

async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array | undefined> {
  const buffer = new Uint8Array(length);
  let received = 0;
  while (received < length) {
    const n = await conn.read(buffer.subarray(received));
    if (n === null) return undefined;
    received += n;
  }
  return buffer;
}

function frame(message: Uint8Array): Uint8Array {
  const framed = new Uint8Array(message.length + 2);
  framed[0] = message.length >> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}

async function forwardTcp(upstream: ServerAddress, request: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: upstream.host, port: upstream.port });
  try {
    await conn.write(frame(request));
    const prefix = await readExactly(conn, 2);
    const answer = prefix && await readExactly(conn, (prefix[0] << 8) | prefix[1]);
    if (answer === undefined) throw new Error("upstream closed the connection");
    return answer;
  } finally {
    conn.close();
  }
}

function forwardUdp(upstream: ServerAddress, request: Uint8Array): Promise<Uint8Array> {
  const socket = dgram.createSocket("udp4");
  return new Promise<Uint8Array>((resolve, reject) => {
    socket.on("message", (message: Uint8Array) => {
      socket.close();
      resolve(new Uint8Array(message));
    });
    socket.on("error", (err: Error) => {
      socket.close();
      reject(err);
    });
    socket.send(request, upstream.port, upstream.host);
  });
}

/** Starts the proxy on a free port serving UDP and TCP in front of `upstream`. */
function startFaultProxy(upstream: ServerAddress, signers: Signers): FaultProxy {
  for (;;) {
    const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (tcp.addr as Deno.NetAddr).port;
    let udp: Deno.DatagramConn;
    try {
      udp = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
    } catch {
      tcp.close();
      continue;
    }
    let fault: Fault = "none";
    let remaining = 0;
    let queryFault: Fault = "none";
    let queriesRemaining = 0;
    const conns = new Set<Deno.Conn>();
    const proxy: FaultProxy = {
      address: { host: "127.0.0.1", port },
      updates: 0,
      inject(next, count = 1) {
        fault = next;
        remaining = count;
      },
      injectQuery(next, count) {
        queryFault = next;
        queriesRemaining = count;
      },
      async stop() {
        tcp.close();
        udp.close();
        for (const c of conns) c.close();
        await Promise.all([accepting, receiving]);
      },
    };
    const faultFor = (request: Uint8Array): Fault => {
      if (!isUpdate(request)) return "none";
      proxy.updates++;
      if (remaining === 0) return "none";
      remaining--;
      return fault;
    };
    const serve = async (conn: Deno.Conn) => {
      conns.add(conn);
      try {
        for (;;) {
          const prefix = await readExactly(conn, 2);
          const request = prefix && await readExactly(conn, (prefix[0] << 8) | prefix[1]);
          if (request === undefined) return;
          const chosen = faultFor(request);
          const answer = await forwardTcp(upstream, request);
          const damaged = damage(chosen, answer, request, signers);
          if (damaged === undefined) {
            // The length announces the whole answer, but only half of it arrives before the close.
            await conn.write(frame(answer).subarray(0, 2 + (answer.length >> 1)));
            return;
          }
          await conn.write(frame(damaged));
        }
      } catch {
        // the client went away
      } finally {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    };
    const accepting = (async () => {
      for await (const conn of tcp) serve(conn);
    })().catch(() => {});
    const receiving = (async () => {
      for (;;) {
        const [request, remote] = await udp.receive();
        let chosen: Fault = "none";
        if (!isUpdate(request) && queriesRemaining > 0) {
          queriesRemaining--;
          chosen = queryFault;
        }
        forwardUdp(upstream, request)
          .then((answer) => udp.send(damage(chosen, answer, request, signers)!, remote))
          .catch(() => {});
      }
    })().catch(() => {});
    return proxy;
  }
}

function context(proxy: FaultProxy): DnsContext {
  // Generous: a loaded machine may take a while to apply an update; no fault below waits for a timeout.
  return { resolver: proxy.address, propagation: "off", propagationTimeoutMs: 1000, timeoutMs: 3000 };
}

Deno.test("bad answers to DNS UPDATE are named and leave no challenge value behind", async (t) => {
  let knot: DnsServerHandle | undefined;
  let proxy: FaultProxy | undefined;
  try {
    knot = await startKnot();
    const key = knot.keys["hmac-sha256"].key;
    const signers = { right: key, other: knot.keys["hmac-sha512"].key };
    proxy = startFaultProxy(knot.address, signers);
    const at = `127.0.0.1:${proxy.address.port}`;
    const access = { key, nameserver: parseServerAddress(at) };
    const knotAddress = knot.address;
    const p = proxy;

    await t.step("the proxy itself passes a clean exchange through", async () => {
      const published = await publishChallenges(
        [{ domain: "clean.alpha.test", value: "c" }],
        access,
        context(p),
      );
      assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.clean.alpha.test"), ["c"]);
      await published.remove();
      assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.clean.alpha.test"), []);
    });

    const mismatch = `server ${at} answered over TCP with a message that is not the answer to the request ` +
      "(its id or question differ) (2 attempts)";
    // Faults the transport sees are met on both attempts; the others end the exchange at once.
    const cases: { fault: Fault; attempts: number; says: string }[] = [
      { fault: "wrong-id", attempts: 2, says: mismatch },
      { fault: "other-question", attempts: 2, says: mismatch },
      { fault: "garbage", attempts: 2, says: mismatch },
      {
        fault: "garbage-body",
        attempts: 1,
        says: `server ${at} sent a malformed answer to the update of zone 'alpha.test'`,
      },
      {
        fault: "truncated-frame",
        attempts: 2,
        says: `server ${at} closed the TCP connection in the middle of the answer`,
      },
      {
        fault: "bad-mac",
        attempts: 1,
        says: `server ${at} answered the update of zone 'alpha.test' with NOERROR but its TSIG signature ` +
          `does not verify with key '${key.name}'`,
      },
      {
        fault: "other-key",
        attempts: 1,
        says:
          `server ${at} answered the update of zone 'alpha.test' with NOERROR but signed it with another key ` +
          `(signed with key '${signers.other.name}')`,
      },
      {
        fault: "skewed-time",
        attempts: 1,
        says: `clock skew of 3600 s between notariat and the server ${at} (fudge 300 s)`,
      },
      {
        fault: "unsigned",
        attempts: 1,
        says: `server ${at} answered the update of zone 'alpha.test' with NOERROR but without a TSIG ` +
          "signature, so the answer cannot be trusted",
      },
    ];
    for (const { fault, attempts, says } of cases) {
      await t.step(
        `${fault}: the add fails naming the server, and the value Knot took is removed`,
        async () => {
          const owner = `_acme-challenge.${fault}.alpha.test`;
          // Every attempt of the add is damaged; the removal's answer passes.
          p.inject(fault, attempts);
          const before = p.updates;
          const err = await publishChallenges(
            [{ domain: `${fault}.alpha.test`, value: "v" }],
            access,
            context(p),
          )
            .then(() => undefined, (e) => e);
          assert.ok(err instanceof NotariatError, `expected a NotariatError, got ${err}`);
          assert.equal(err.kind, "dns");
          assert.ok(
            err.message.startsWith(`adding TXT for ${fault}.alpha.test in zone 'alpha.test': `),
            err.message,
          );
          assert.ok(err.message.includes(says), err.message);
          assert.ok(!err.message.includes("removing what was added failed"), err.message);
          assert.equal(p.updates, before + attempts + 1, "the removal reached the server");
          assert.deepEqual(await queryTxt(knotAddress, owner), []);
        },
      );
    }

    await t.step("a garbled answer to zone discovery is named, and no update is sent", async () => {
      const before = p.updates;
      p.injectQuery("garbage-body", 10);
      try {
        const err = await publishChallenges([{ domain: "q.alpha.test", value: "q" }], access, context(p))
          .then(() => undefined, (e) => e);
        assert.ok(err instanceof NotariatError);
        assert.equal(err.kind, "dns");
        const expected =
          `_acme-challenge.q.alpha.test (for q.alpha.test): query _acme-challenge.q.alpha.test ` +
          `CNAME to ${at} failed: the answer is malformed (name runs past the end at byte `;
        assert.equal(err.message.slice(0, expected.length), expected);
        assert.match(err.message.slice(expected.length), /^\d+\)$/);
      } finally {
        p.injectQuery("none", 0);
      }
      assert.equal(p.updates, before);
      assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.q.alpha.test"), []);
    });

    await t.step(
      "a damaged answer to the removal is reported, and the removal still took effect",
      async () => {
        const published = await publishChallenges(
          [{ domain: "late.alpha.test", value: "l" }],
          access,
          context(p),
        );
        assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.late.alpha.test"), ["l"]);
        p.inject("bad-mac", 1);
        await assert.rejects(published.remove(), {
          kind: "dns",
          message:
            `deleting TXT for late.alpha.test in zone 'alpha.test': server ${at} answered the update of ` +
            `zone 'alpha.test' with NOERROR but its TSIG signature does not verify with key '${key.name}'`,
        });
        assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.late.alpha.test"), []);
      },
    );

    await t.step(
      "over UDP, answers with a wrong id are ignored, then named once nothing else came",
      async () => {
        // A raw socket in front of Knot answers every request with Knot's answer, its id flipped.
        const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
        const port = (socket.addr as Deno.NetAddr).port;
        const answering = (async () => {
          for (;;) {
            const [request, remote] = await socket.receive();
            const answer = await forwardUdp(knotAddress, request);
            await socket.send(damage("wrong-id", answer, request, signers)!, remote);
          }
        })().catch(() => {});
        const udpAt = `127.0.0.1:${port}`;
        const wrong =
          `server ${udpAt} answered over UDP only with messages that are not the answer to the request ` +
          "(their id or question differ; 1 ignored in 1000 ms)";
        try {
          const udpTransport = createTransport({ timeoutMs: 1000, attempts: 1 });
          await assert.rejects(
            query(udpTransport, { host: "127.0.0.1", port }, "alpha.test", RecordType.SOA),
            {
              kind: "dns",
              message: `query alpha.test SOA to ${udpAt} failed: ${wrong} (1 attempts)`,
            },
          );
          await assert.rejects(
            sendTxtUpdate(
              udpTransport,
              { host: "127.0.0.1", port },
              key,
              "alpha.test",
              "add",
              [{ owner: "_acme-challenge.udp.alpha.test", value: "u" }],
              { protocol: "udp" },
            ),
            { kind: "dns", message: `update of zone 'alpha.test': ${wrong} (1 attempts)` },
          );
        } finally {
          socket.close();
          await answering;
        }
        // Knot applied that update: this is why publishChallenges removes values after an unconfirmed add.
        assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.udp.alpha.test"), ["u"]);
        await sendTxtUpdate(createTransport({ timeoutMs: 3000 }), knotAddress, key, "alpha.test", "delete", [
          { owner: "_acme-challenge.udp.alpha.test", value: "u" },
        ]);
        assert.deepEqual(await queryTxt(knotAddress, "_acme-challenge.udp.alpha.test"), []);
      },
    );
  } finally {
    await proxy?.stop();
    await knot?.stop();
  }
});
