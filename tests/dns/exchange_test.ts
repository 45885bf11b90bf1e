import assert from "node:assert/strict";
import { createTransport, TransportError } from "../../src/dns/exchange.ts";
import { type DnsFaultProxy, type DnsProtocol, startDnsFaultProxy } from "../harness/dns_fault_proxy.ts";
import { encodeMessage, Opcode, RecordClass, RecordType, requestHeader } from "../../src/dns/wire.ts";

const request = encodeMessage({
  header: requestHeader(Opcode.QUERY, true),
  questions: [{ name: "alpha.test", type: RecordType.SOA, class: RecordClass.IN }],
  answers: [],
  authority: [],
  additional: [],
});

/**
 * The fault proxy without an upstream, on one transport: it receives but never answers. No real server behaves
 * like this on purpose, which is exactly the failure to test; it records what arrives, so the test can see the
 * request got there.
 */
function silentServer(hostname: string, protocol: DnsProtocol): DnsFaultProxy {
  return startDnsFaultProxy({ hostname, protocols: [protocol] });
}

/** What reached `proxy`, each request as it arrived. */
function received(proxy: DnsFaultProxy): Uint8Array[] {
  return proxy.requests.map((r) => r.received);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return Uint8Array.from(chunks.flatMap((c) => Array.from(c)));
}

for (const [family, host, shown] of [["IPv4", "127.0.0.1", "127.0.0.1"], ["IPv6", "::1", "[::1]"]]) {
  Deno.test(`gives up on a silent ${family} UDP server after the bounded attempts, naming it`, async () => {
    const silent = silentServer(host, "udp");
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
      assert.deepEqual(received(silent), [request, request]);
    } finally {
      await silent.stop();
    }
  });

  Deno.test(`gives up on a silent ${family} TCP server after the bounded attempts, naming it`, async () => {
    const silent = silentServer(host, "tcp");
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
      assert.deepEqual(concat(received(silent)), concat([framed, framed]));
    } finally {
      await silent.stop();
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
