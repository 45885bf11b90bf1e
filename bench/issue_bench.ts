/**
 * Issuance time per certificate against a local pebble and Knot: sequential per key type, then a batch in
 * parallel. Prints figures only. Run: deno run -A bench/issue_bench.ts [count]
 */
import type { IssueRequest } from "../src/acme/issuer.ts";
import { KEY_TYPES } from "../src/config/types.ts";
import { startKnot } from "../tests/harness/dns_servers.ts";
import { startPebble } from "../tests/harness/pebble.ts";
import { createTestIssuer, testIssueRequest } from "../tests/harness/test_issuer.ts";

const count = Number(Deno.args[0] ?? 5);
const knot = await startKnot();
const pebble = await startPebble({ dnsServer: knot.address });
try {
  const issuer = (concurrency: number) =>
    createTestIssuer(pebble, knot.address, { concurrency, pollPolicy: { initialMs: 50, maxMs: 1_000 } });
  const request = (name: string, keyType: IssueRequest["keyType"]): IssueRequest =>
    testIssueRequest(knot, [`${name}.alpha.test`, `${name}.beta.test`], {
      label: name,
      email: "bench@alpha.test",
      keyType,
    });
  const timed = async (job: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await job();
    return performance.now() - started;
  };
  const summary = (ms: number[]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    return `median ${median.toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${
      sorted.at(-1)!.toFixed(0)
    } ms`;
  };

  const sequential = issuer(1);
  const first = await timed(() => sequential.issue(request("warmup", "ecdsa-p256")));
  console.log(`first issuance (registers the account): ${first.toFixed(0)} ms`);
  for (const keyType of KEY_TYPES) {
    const ms: number[] = [];
    for (let i = 0; i < count; i++) {
      ms.push(await timed(() => sequential.issue(request(`${keyType}-${i}`, keyType))));
    }
    console.log(`${keyType.padEnd(10)} x${count}, one at a time: ${summary(ms)}`);
  }
  for (const concurrency of [1, 4]) {
    const batch = issuer(concurrency);
    await batch.issue(request(`warm-${concurrency}`, "ecdsa-p256"));
    const total = await timed(() =>
      Promise.all(
        Array.from(
          { length: count * 2 },
          (_, i) => batch.issue(request(`c${concurrency}-${i}`, "ecdsa-p256")),
        ),
      )
    );
    console.log(
      `${count * 2} ecdsa-p256 certificates, concurrency ${concurrency}: ${total.toFixed(0)} ms total, ` +
        `${(total / (count * 2)).toFixed(0)} ms per certificate`,
    );
  }
} finally {
  await pebble.stop();
  await knot.stop();
}
