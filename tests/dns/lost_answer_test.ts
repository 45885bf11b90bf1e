/**
 * An UPDATE that the server applies but whose answer never arrives: publishChallenges fails, yet deletes the
 * values it may have added. A TCP proxy in front of real Knot swallows the answers to the first connections
 * (the fault no real server produces on purpose); Knot itself applies every update.
 */
import assert from "node:assert/strict";
import { publishChallenges } from "../../src/dns/challenges.ts";
import { queryTxt, startKnot } from "../harness/dns_servers.ts";

async function readFrame(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  const read = async (length: number) => {
    const buffer = new Uint8Array(length);
    for (let got = 0; got < length;) {
      const n = await conn.read(buffer.subarray(got));
      if (n === null) return undefined;
      got += n;
    }
    return buffer;
  };
  const prefix = await read(2);
  const body = prefix && await read((prefix[0] << 8) | prefix[1]);
  if (!prefix || !body) return undefined;
  const frame = new Uint8Array(2 + body.length);
  frame.set(prefix);
  frame.set(body, 2);
  return frame;
}

/** Forwards each TCP connection's one message to `upstream`; the answers of the first `swallow` are dropped. */
function answerDroppingProxy(upstream: { hostname: string; port: number }, swallow: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const open = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn, index: number) => {
    open.add(conn);
    try {
      const request = await readFrame(conn);
      if (!request) return;
      const server = await Deno.connect(upstream);
      let answer: Uint8Array | undefined;
      try {
        await server.write(request);
        answer = await readFrame(server);
      } finally {
        server.close();
      }
      if (answer && index > swallow) await conn.write(answer);
      // A swallowed answer: keep the connection open and silent until the client gives up.
      if (index <= swallow) await conn.read(new Uint8Array(1)).catch(() => null);
    } catch {
      // the client went away
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  };
  const accepting = (async () => {
    const served: Promise<void>[] = [];
    for await (const conn of listener) served.push(serve(conn, ++connections));
    await Promise.all(served);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    connections: () => connections,
    async close() {
      listener.close();
      for (const conn of open) conn.close();
      await accepting;
    },
  };
}

Deno.test("an add whose answer is lost is still cleaned up", async () => {
  const knot = await startKnot();
  // Both attempts of the add lose their answer; the delete that follows gets through.
  const proxy = answerDroppingProxy({ hostname: "127.0.0.1", port: knot.address.port }, 2);
  try {
    const owner = "_acme-challenge.lost.alpha.test";
    const failure = await publishChallenges(
      [{ domain: "lost.alpha.test", value: "lost-answer" }],
      { key: knot.keys["hmac-sha256"].key },
      {
        resolver: knot.address,
        // Updates go to the zone's primary (ns1.alpha.test = 127.0.0.1) on this port: the proxy.
        authoritativePort: proxy.port,
        propagation: "update-server",
        propagationTimeoutMs: 2000,
        // Knot may hold a repeated update of a zone until the next second: leave room for that.
        timeoutMs: 1500,
      },
    ).then(() => undefined, (err) => err);
    assert.ok(failure instanceof Error, "publishing fails");
    assert.doesNotMatch(failure.message, /removing what was added failed/);
    assert.match(
      failure.message,
      new RegExp(
        `adding TXT for lost\\.alpha\\.test in zone 'alpha\\.test'.*127\\.0\\.0\\.1:${proxy.port} did not answer`,
      ),
    );
    assert.ok(proxy.connections() >= 3, "two attempts of the add, then the delete");
    assert.deepEqual(
      await queryTxt(knot.address, owner),
      [],
      "Knot applied the add, and the cleanup removed it",
    );
  } finally {
    await proxy.close();
    await knot.stop();
  }
});
