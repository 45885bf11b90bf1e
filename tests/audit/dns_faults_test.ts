/**
 * Bad answers to DNS UPDATE, produced by a fault proxy in front of a real Knot: the proxy forwards every
 * message and, for UPDATE requests over TCP, damages Knot's real answer after Knot has applied the update.
 * Each fault must give a NotariatError kind "dns" naming the server and what was wrong, and the zone must end
 * up without the challenge values (checked with kdig, independently of notariat's DNS code).
 */
import assert from "node:assert/strict";
import { parseServerAddress } from "../../src/dns/address.ts";
import { type DnsContext, publishChallenges } from "../../src/dns/challenges.ts";
import { createTransport } from "../../src/dns/exchange.ts";
import { sendTxtUpdate } from "../../src/dns/update.ts";
import { query } from "../../src/dns/query.ts";
import { RecordType } from "../../src/dns/wire.ts";
import { NotariatError } from "../../src/errors.ts";
import { type DnsFault, type DnsFaultProxy, startDnsFaultProxy } from "../harness/dns_fault_proxy.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";

/** How many UPDATE requests reached Knot through the proxy (all go over TCP). */
function updates(proxy: DnsFaultProxy): number {
  return proxy.count({ kind: "update", protocol: "tcp" });
}

function context(proxy: DnsFaultProxy): DnsContext {
  // Generous: a loaded machine may take a while to apply an update; no fault below waits for a timeout.
  return { resolver: proxy.address, propagation: "off", propagationTimeoutMs: 1000, timeoutMs: 3000 };
}

Deno.test("bad answers to DNS UPDATE are named and leave no challenge value behind", async (t) => {
  let knot: DnsServerHandle | undefined;
  let proxy: DnsFaultProxy | undefined;
  try {
    knot = await startKnot();
    const key = knot.keys["hmac-sha256"].key;
    const signers = { right: key, other: knot.keys["hmac-sha512"].key };
    proxy = startDnsFaultProxy({ upstream: knot.address, signers });
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
    const cases: { fault: DnsFault; attempts: number; says: string }[] = [
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
          p.inject({ fault, kind: "update", protocol: "tcp", count: attempts });
          const before = updates(p);
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
          assert.equal(updates(p), before + attempts + 1, "the removal reached the server");
          assert.deepEqual(await queryTxt(knotAddress, owner), []);
        },
      );
    }

    await t.step("a garbled answer to zone discovery is named, and no update is sent", async () => {
      const before = updates(p);
      p.inject({ fault: "garbage-body", kind: "query", protocol: "udp", count: 10 });
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
        p.clear();
      }
      assert.equal(updates(p), before);
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
        p.inject({ fault: "bad-mac", kind: "update", protocol: "tcp" });
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
        // A second proxy in front of Knot answers every request over UDP with Knot's answer, its id flipped.
        const flipping = startDnsFaultProxy({
          upstream: knotAddress,
          protocols: ["udp"],
          rules: [{ fault: "wrong-id", count: Infinity }],
        });
        const port = flipping.port;
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
          await flipping.stop();
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
