/**
 * How long a DNS UPDATE takes after the server was idle for a while: a signed add then delete of one TXT value,
 * 8 times after each idle time, against Knot and BIND, over TCP (as notariat sends them). Knot 3.2 answers
 * some adds only at the next whole second after its previous update (the wait plus the idle time come to
 * about 1 s), which is most of one certificate's time on a Knot server. Prints figures only.
 *
 * Run: deno run -A bench/update_idle_bench.ts
 */
import { createTransport } from "../src/dns/exchange.ts";
import { sendTxtUpdate } from "../src/dns/update.ts";
import { startBind, startKnot } from "../tests/harness/dns_servers.ts";

const transport = createTransport({ timeoutMs: 5_000 });

for (const start of [startKnot, startBind]) {
  const server = await start();
  const key = server.keys["hmac-sha256"].key;
  try {
    for (const idle of [0, 50, 150, 300, 600]) {
      const adds: number[] = [];
      const deletes: number[] = [];
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, idle));
        const values = [{ owner: `_acme-challenge.i${idle}-${i}.alpha.test`, value: `v${i}` }];
        let started = performance.now();
        await sendTxtUpdate(transport, server.address, key, "alpha.test", "add", values);
        adds.push(Math.round(performance.now() - started));
        started = performance.now();
        await sendTxtUpdate(transport, server.address, key, "alpha.test", "delete", values);
        deletes.push(Math.round(performance.now() - started));
      }
      console.log(
        `${server.kind} after ${idle} ms idle: add ms ${adds.join(" ")} | delete ms ${deletes.join(" ")}`,
      );
    }
  } finally {
    await server.stop();
  }
}
