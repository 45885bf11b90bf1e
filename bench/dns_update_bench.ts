/**
 * DNS UPDATE latency against local Knot and BIND: signed add + delete of one TXT value, one after another and
 * several at once into one zone. Prints figures only. Run: deno run -A bench/dns_update_bench.ts [count]
 */
import { sendTxtUpdate } from "../src/dns/update.ts";
import { createTransport } from "../src/dns/exchange.ts";
import { type DnsServerHandle, startBind, startKnot } from "../tests/harness/dns_servers.ts";

const count = Number(Deno.args[0] ?? 40);
const transport = createTransport({ timeoutMs: 5_000 });

function summary(label: string, ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
  return `${label}: n=${ms.length} median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`;
}

async function roundTrip(server: DnsServerHandle, name: string): Promise<number> {
  const key = server.keys["hmac-sha256"].key;
  const values = [{ owner: `_acme-challenge.${name}.alpha.test`, value: `bench-${name}` }];
  const started = performance.now();
  await sendTxtUpdate(transport, server.address, key, "alpha.test", "add", values);
  await sendTxtUpdate(transport, server.address, key, "alpha.test", "delete", values);
  return performance.now() - started;
}

for (const start of [startKnot, startBind]) {
  const server = await start();
  try {
    const sequential: number[] = [];
    for (let i = 0; i < count; i++) sequential.push(await roundTrip(server, `seq${i}`));
    console.log(summary(`${server.kind} add+delete, one at a time`, sequential));
    for (const parallel of [2, 4]) {
      const rounds: number[] = [];
      for (let i = 0; i < count / parallel; i++) {
        const started = performance.now();
        await Promise.all(
          Array.from({ length: parallel }, (_, j) => roundTrip(server, `par${parallel}-${i}-${j}`)),
        );
        rounds.push(performance.now() - started);
      }
      console.log(summary(`${server.kind} ${parallel} add+delete at once into one zone (per round)`, rounds));
    }
  } finally {
    await server.stop();
  }
}
