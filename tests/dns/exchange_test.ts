import assert from "node:assert/strict";
import { createTransport, TransportError } from "../../src/dns/exchange.ts";
import { encodeMessage, Opcode, RecordClass, RecordType, requestHeader } from "../../src/dns/wire.ts";

const request = encodeMessage({
  header: requestHeader(Opcode.QUERY, true),
  questions: [{ name: "alpha.test", type: RecordType.SOA, class: RecordClass.IN }],
  answers: [],
  authority: [],
  additional: [],
});

/**
 * A bound UDP port that receives but never answers: no real server behaves like this on purpose, which is
 * exactly the failure to test. Collects what arrives so the test can see the request got there.
 */
function silentUdp(hostname: string): { port: number; received: Uint8Array[]; close(): Promise<void> } {
  const socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  const received: Uint8Array[] = [];
  const loop = (async () => {
    try {
      for (;;) received.push((await socket.receive())[0]);
    } catch {
      // closed
    }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    received,
    async close() {
      socket.close();
      await loop;
    },
  };
}

/** A bound TCP port that accepts and reads but never answers. */
function silentTcp(hostname: string): { port: number; received: Uint8Array[]; close(): Promise<void> } {
  const listener = Deno.listen({ hostname, port: 0 });
  const received: Uint8Array[] = [];
  const conns: Deno.Conn[] = [];
  const reads: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      reads.push((async () => {
        const buf = new Uint8Array(4096);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            received.push(buf.slice(0, n));
          }
        } catch {
          // closed by the client
        }
      })());
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed by the client
        }
      }
      await loop.catch(() => {});
      await Promise.all(reads);
    },
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return Uint8Array.from(chunks.flatMap((c) => Array.from(c)));
}

for (const [family, host, shown] of [["IPv4", "127.0.0.1", "127.0.0.1"], ["IPv6", "::1", "[::1]"]]) {
  Deno.test(`gives up on a silent ${family} UDP server after the bounded attempts, naming it`, async () => {
    const silent = silentUdp(host);
    try {
      const started = performance.now();
      await assert.rejects(
        createTransport({ timeoutMs: 150, attempts: 2 }).exchange(
          { host, port: silent.port },
          request,
          "udp",
        ),
        (err: unknown) => {
          assert.ok(err instanceof TransportError);
          assert.equal(
            err.message,
            `server ${shown}:${silent.port} did not answer within 150 ms over UDP (2 attempts)`,
          );
          return true;
        },
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 300 && elapsed < 1000, `took ${elapsed} ms`);
      assert.deepEqual(silent.received, [request, request]);
    } finally {
      await silent.close();
    }
  });

  Deno.test(`gives up on a silent ${family} TCP server after the bounded attempts, naming it`, async () => {
    const silent = silentTcp(host);
    try {
      await assert.rejects(
        createTransport({ timeoutMs: 150, attempts: 2 }).exchange(
          { host, port: silent.port },
          request,
          "tcp",
        ),
        {
          name: "TransportError",
          message: `server ${shown}:${silent.port} did not answer within 150 ms over TCP (2 attempts)`,
        },
      );
      // Each attempt sent the message with its two-byte length prefix (RFC 1035 4.2.2).
      const framed = Uint8Array.from([request.length >> 8, request.length & 0xff, ...request]);
      assert.deepEqual(concat(silent.received), concat([framed, framed]));
    } finally {
      await silent.close();
    }
  });
}

Deno.test("reports a refused TCP connection as unreachable, not as a timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    createTransport({ timeoutMs: 500, attempts: 3 }).exchange({ host: "127.0.0.1", port }, request, "tcp"),
    { message: `server 127.0.0.1:${port} could not be reached (connection refused) over TCP (3 attempts)` },
  );
});
