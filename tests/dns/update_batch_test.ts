/**
 * Coalesced UPDATEs against a real Knot: concurrent challenge sets for the same zone share one message, the
 * zones of one set go out in parallel, each set still removes exactly its own values, and a message Knot
 * refuses because of one caller's value fails that caller only. Messages are counted by wrapping the real
 * sendTxtUpdate; every value is checked with a query to Knot.
 */
import assert from "node:assert/strict";
import { type DnsContext, planChallenges } from "../../src/dns/challenges.ts";
import { createTransport } from "../../src/dns/exchange.ts";
import { sendTxtUpdate, type TxtValue, type UpdateOperation } from "../../src/dns/update.ts";
import { createUpdateBatcher, type SendTxtUpdate } from "../../src/dns/update_batch.ts";
import { planUpdates } from "../../src/dns/update_plan.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";

interface Message {
  zone: string;
  operation: UpdateOperation;
  values: TxtValue[];
  /** Messages already answered when this one was sent. */
  answeredBefore: number;
}

/** The real sendTxtUpdate, recording each message it sends. */
function counting(): { messages: Message[]; send: SendTxtUpdate } {
  const messages: Message[] = [];
  let answered = 0;
  return {
    messages,
    send: async (transport, server, key, zone, operation, values, options) => {
      messages.push({ zone, operation, values, answeredBefore: answered });
      try {
        await sendTxtUpdate(transport, server, key, zone, operation, values, options);
      } finally {
        answered++;
      }
    },
  };
}

function context(knot: DnsServerHandle, send: SendTxtUpdate): DnsContext {
  return {
    resolver: knot.address,
    propagation: "update-server",
    propagationTimeoutMs: 5_000,
    timeoutMs: 2_000,
    pollIntervalMs: 20,
    authoritativePort: knot.address.port,
    updates: createUpdateBatcher(5, send),
  };
}

Deno.test("UPDATEs of concurrent orders are coalesced per zone against Knot", async (t) => {
  const knot = await startKnot();
  try {
    const key = knot.keys["hmac-sha256"].key;
    const access = { key, nameserver: knot.address };

    await t.step(
      "three orders over two zones published at once: one message per zone, each order removes only its own",
      async () => {
        const counter = counting();
        const ctx = context(knot, counter.send);
        const orders = [1, 2, 3].map((i) => [`o${i}.alpha.test`, `o${i}.beta.test`]);
        const plans = await Promise.all(orders.map((domains) => planChallenges(domains, access, ctx)));
        const published = await Promise.all(
          plans.map((plan, i) => plan.publish(orders[i].map((domain) => ({ domain, value: `v-${domain}` })))),
        );
        const adds = counter.messages.filter((m) => m.operation === "add");
        assert.deepEqual(adds.map((m) => [m.zone, m.values.length]).sort(), [["alpha.test", 3], [
          "beta.test",
          3,
        ]]);
        assert.ok(
          adds.every((m) => m.answeredBefore === 0),
          "both zones' messages were sent before either was answered",
        );
        const sorted = (messages: { zone: string; values: TxtValue[] }[]) =>
          messages.map((m) => [m.zone, m.values.map((v) => `${v.owner} ${v.value}`).sort()]).sort();
        assert.deepEqual(
          sorted(adds),
          sorted(planUpdates("add", published.map((p) => ({ key, values: p.records })))),
          "the batcher sent what planUpdates gives for the three orders at once",
        );
        for (const domain of orders.flat()) {
          assert.deepEqual(await queryTxt(knot.address, `_acme-challenge.${domain}`), [`v-${domain}`]);
        }

        await published[1].remove();
        for (const [i, domains] of orders.entries()) {
          for (const domain of domains) {
            assert.deepEqual(
              await queryTxt(knot.address, `_acme-challenge.${domain}`),
              i === 1 ? [] : [`v-${domain}`],
              `${domain} after the second order removed its values`,
            );
          }
        }
        await Promise.all([published[0].remove(), published[2].remove()]);
        const deletes = counter.messages.filter((m) => m.operation === "delete");
        assert.equal(deletes.length, 4, "the second order's two deletes, then the others' shared per zone");
        for (const domain of orders.flat()) {
          assert.deepEqual(await queryTxt(knot.address, `_acme-challenge.${domain}`), []);
        }
      },
    );

    await t.step("values signed with different keys are never merged", async () => {
      const counter = counting();
      const ctx = context(knot, counter.send);
      const other = { key: knot.keys["hmac-sha512"].key, nameserver: access.nameserver };
      const [a, b] = await Promise.all([
        planChallenges(["k1.alpha.test"], access, ctx),
        planChallenges(["k2.alpha.test"], other, ctx),
      ]);
      const published = await Promise.all([
        a.publish([{ domain: "k1.alpha.test", value: "k1" }]),
        b.publish([{ domain: "k2.alpha.test", value: "k2" }]),
      ]);
      assert.equal(counter.messages.length, 2);
      await Promise.all(published.map((p) => p.remove()));
      assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.k1.alpha.test"), []);
      assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.k2.alpha.test"), []);
    });

    await t.step("Knot refuses a shared message for one caller's value: only that caller fails", async () => {
      const counter = counting();
      const batcher = createUpdateBatcher(5, counter.send);
      const transport = createTransport({ timeoutMs: 2_000 });
      const good = { owner: "_acme-challenge.good.alpha.test", value: "good" };
      // Outside the zone the message names: Knot answers NOTZONE for the whole message (RFC 2136 3.4.1.3).
      const stray = { owner: "_acme-challenge.stray.beta.test", value: "stray" };
      const outcomes = await Promise.allSettled([
        batcher.send(transport, {
          server: knot.address,
          key,
          zone: "alpha.test",
          operation: "add",
          values: [good],
        }),
        batcher.send(transport, {
          server: knot.address,
          key,
          zone: "alpha.test",
          operation: "add",
          values: [stray],
        }),
      ]);
      assert.equal(outcomes[0].status, "fulfilled", String((outcomes[0] as PromiseRejectedResult).reason));
      assert.equal(outcomes[1].status, "rejected");
      assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /NOTZONE|not in zone|outside/i);
      assert.deepEqual(counter.messages.map((m) => m.values.map((v) => v.value)), [
        ["good", "stray"],
        ["good"],
        ["stray"],
      ]);
      assert.deepEqual(await queryTxt(knot.address, good.owner), ["good"]);
      assert.deepEqual(await queryTxt(knot.address, stray.owner), []);
      await sendTxtUpdate(transport, knot.address, key, "alpha.test", "delete", [good]);
    });
  } finally {
    await knot.stop();
  }
});
