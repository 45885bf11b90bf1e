/**
 * The DNS module against real Knot and BIND (started once for the file): signed updates with every algorithm,
 * CNAME delegation, zone discovery, batching, propagation, dns-check, and each failure with its message. Every
 * step checks the servers' contents with kdig, independently of the code under test.
 */
import assert from "node:assert/strict";
import { parseServerAddress } from "../../src/dns/address.ts";
import { type DnsContext, planChallenges, publishChallenges } from "../../src/dns/challenges.ts";
import { runDnsCheck } from "../../src/dns/check.ts";
import { servedTxt } from "../../src/dns/propagation.ts";
import { createTransport, type Protocol, type Transport } from "../../src/dns/exchange.ts";
import { TSIG_ALGORITHMS } from "../../src/dns/types.ts";
import { sendTxtUpdate } from "../../src/dns/update.ts";
import {
  type DnsServerHandle,
  type ForwarderHandle,
  queryTxt,
  startBind,
  startForwarder,
  startKnot,
} from "../harness/dns_servers.ts";
import { startDnsFaultProxy } from "../harness/dns_fault_proxy.ts";
import { run } from "../harness/process.ts";

const transport = createTransport({ timeoutMs: 1000 });

async function serial(server: DnsServerHandle, zone: string): Promise<number> {
  const out = await run("kdig", [
    `@${server.address.host}`,
    "-p",
    String(server.address.port),
    "+short",
    "SOA",
    zone,
  ]);
  return Number(out.trim().split(/\s+/)[2]);
}

function context(server: DnsServerHandle, patch: Partial<DnsContext> = {}): DnsContext {
  return {
    resolver: server.address,
    propagation: "all",
    propagationTimeoutMs: 3000,
    timeoutMs: 1000,
    pollIntervalMs: 20,
    authoritativePort: server.address.port,
    ...patch,
  };
}

function nameserverOf(server: DnsServerHandle): string {
  return `${server.address.host}:${server.address.port}`;
}

async function stepsFor(t: Deno.TestContext, server: DnsServerHandle, resolver: ForwarderHandle | undefined) {
  const k = server.kind;
  const at = nameserverOf(server);
  const key = server.keys["hmac-sha256"].key;
  const viaNameserver = { key, nameserver: parseServerAddress(at) };

  await t.step(
    `${k}: adds, serves and deletes a value with each of the six algorithms over TCP and UDP`,
    async () => {
      const owner = "_acme-challenge.algorithms.alpha.test";
      // A value another tool put there must survive every delete.
      await sendTxtUpdate(transport, server.address, key, "alpha.test", "add", [{
        owner,
        value: "other-tool",
      }]);
      for (const algorithm of TSIG_ALGORITHMS) {
        for (const protocol of ["tcp", "udp"] as Protocol[]) {
          const value = `${algorithm}-${protocol}`;
          const signing = server.keys[algorithm].key;
          await sendTxtUpdate(transport, server.address, signing, "alpha.test", "add", [{ owner, value }], {
            protocol,
          });
          assert.deepEqual(await queryTxt(server.address, owner), [value, "other-tool"].sort(), value);
          await sendTxtUpdate(
            transport,
            server.address,
            signing,
            "alpha.test",
            "delete",
            [{ owner, value }],
            {
              protocol,
            },
          );
          assert.deepEqual(await queryTxt(server.address, owner), ["other-tool"], value);
        }
      }
      await sendTxtUpdate(transport, server.address, key, "alpha.test", "delete", [{
        owner,
        value: "other-tool",
      }]);
      assert.deepEqual(await queryTxt(server.address, owner), []);
    },
  );

  await t.step(
    `${k}: apex and wildcard values share one name; removing one order leaves another's`,
    async () => {
      const owner = "_acme-challenge.x.alpha.test";
      const first = await publishChallenges(
        [{ domain: "x.alpha.test", value: "apex" }, { domain: "*.x.alpha.test", value: "wildcard" }],
        viaNameserver,
        context(server),
      );
      assert.deepEqual(first.records.map((r) => [r.domain, r.owner, r.zone, r.server, r.value]), [
        ["x.alpha.test", owner, "alpha.test", server.address, "apex"],
        ["*.x.alpha.test", owner, "alpha.test", server.address, "wildcard"],
      ]);
      assert.deepEqual(await queryTxt(server.address, owner), ["apex", "wildcard"]);
      const second = await publishChallenges(
        [{ domain: "x.alpha.test", value: "second-order" }],
        viaNameserver,
        context(server),
      );
      assert.deepEqual(await queryTxt(server.address, owner), ["apex", "second-order", "wildcard"]);
      await first.remove();
      assert.deepEqual(await queryTxt(server.address, owner), ["second-order"]);
      await first.remove();
      assert.deepEqual(await queryTxt(server.address, owner), ["second-order"]);
      await second.remove();
      assert.deepEqual(await queryTxt(server.address, owner), []);
    },
  );

  await t.step(`${k}: all names of one zone go in one UPDATE to add and one to delete`, async () => {
    const before = { alpha: await serial(server, "alpha.test"), beta: await serial(server, "beta.test") };
    const published = await publishChallenges(
      [
        { domain: "a.alpha.test", value: "va" },
        { domain: "b.alpha.test", value: "vb" },
        { domain: "*.c.alpha.test", value: "vc1" },
        { domain: "c.alpha.test", value: "vc2" },
        { domain: "d.beta.test", value: "vd" },
      ],
      viaNameserver,
      context(server),
    );
    // Each UPDATE bumps its zone's serial by one.
    assert.deepEqual(
      { alpha: await serial(server, "alpha.test"), beta: await serial(server, "beta.test") },
      { alpha: before.alpha + 1, beta: before.beta + 1 },
    );
    assert.deepEqual(await queryTxt(server.address, "_acme-challenge.a.alpha.test"), ["va"]);
    assert.deepEqual(await queryTxt(server.address, "_acme-challenge.b.alpha.test"), ["vb"]);
    assert.deepEqual(await queryTxt(server.address, "_acme-challenge.c.alpha.test"), ["vc1", "vc2"]);
    assert.deepEqual(await queryTxt(server.address, "_acme-challenge.d.beta.test"), ["vd"]);
    await published.remove();
    assert.deepEqual(
      { alpha: await serial(server, "alpha.test"), beta: await serial(server, "beta.test") },
      { alpha: before.alpha + 2, beta: before.beta + 2 },
    );
    for (const name of ["a.alpha.test", "b.alpha.test", "c.alpha.test", "d.beta.test"]) {
      assert.deepEqual(await queryTxt(server.address, `_acme-challenge.${name}`), [], name);
    }
  });

  await t.step(
    `${k}: a CNAME-delegated name and a two-link chain are written at the target, in its zone`,
    async () => {
      const published = await publishChallenges(
        [{ domain: "delegated.alpha.test", value: "via-cname" }, {
          domain: "chain.alpha.test",
          value: "via-chain",
        }],
        viaNameserver,
        context(server),
      );
      assert.deepEqual(published.records.map((r) => [r.owner, r.zone]), [
        ["delegated.beta.test", "beta.test"],
        ["chain2.beta.test", "beta.test"],
      ]);
      assert.deepEqual(await queryTxt(server.address, "delegated.beta.test"), ["via-cname"]);
      assert.deepEqual(await queryTxt(server.address, "chain2.beta.test"), ["via-chain"]);
      await published.remove();
      assert.deepEqual(await queryTxt(server.address, "delegated.beta.test"), []);
      assert.deepEqual(await queryTxt(server.address, "chain2.beta.test"), []);
    },
  );

  await t.step(
    `${k}: without a nameserver, discovery asks the resolver and updates go to the SOA primary`,
    async () => {
      const ctx = context(server, { resolver: resolver?.address ?? server.address });
      const published = await publishChallenges(
        [{ domain: "chain.alpha.test", value: "to-primary" }, { domain: "y.alpha.test", value: "y" }],
        { key },
        ctx,
      );
      // ns1.<zone> is 127.0.0.1, and the zone's servers listen on authoritativePort.
      assert.deepEqual(published.records.map((r) => [r.owner, r.zone, r.server]), [
        ["chain2.beta.test", "beta.test", server.address],
        ["_acme-challenge.y.alpha.test", "alpha.test", server.address],
      ]);
      assert.deepEqual(await queryTxt(server.address, "chain2.beta.test"), ["to-primary"]);
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.y.alpha.test"), ["y"]);
      await published.remove();
      assert.deepEqual(await queryTxt(server.address, "chain2.beta.test"), []);
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.y.alpha.test"), []);
    },
  );

  await t.step(
    `${k}: a plan finds owners, zones and servers without writing; its publish adds only planned names`,
    async () => {
      const serials = async () => ({
        alpha: await serial(server, "alpha.test"),
        beta: await serial(server, "beta.test"),
      });
      const before = await serials();
      const plan = await planChallenges(
        ["delegated.alpha.test", "*.p.alpha.test", "p.alpha.test", "p.beta.test"],
        viaNameserver,
        context(server),
      );
      assert.deepEqual(plan.challenges.map((c) => [c.domain, c.name, c.owner, c.zone, c.server]), [
        [
          "delegated.alpha.test",
          "_acme-challenge.delegated.alpha.test",
          "delegated.beta.test",
          "beta.test",
          server.address,
        ],
        [
          "*.p.alpha.test",
          "_acme-challenge.p.alpha.test",
          "_acme-challenge.p.alpha.test",
          "alpha.test",
          server.address,
        ],
        [
          "p.beta.test",
          "_acme-challenge.p.beta.test",
          "_acme-challenge.p.beta.test",
          "beta.test",
          server.address,
        ],
      ]);
      assert.deepEqual(await serials(), before, "planning wrote nothing");
      await assert.rejects(
        plan.publish([{ domain: "p.alpha.test", value: "a" }, { domain: "q.alpha.test", value: "q" }]),
        {
          kind: "dns",
          message:
            "_acme-challenge.q.alpha.test (for q.alpha.test) was not among the planned challenge names",
        },
      );
      assert.deepEqual(await serials(), before, "an unplanned name stops the publish before any write");
      const published = await plan.publish([
        { domain: "P.alpha.test", value: "apex" },
        { domain: "*.p.alpha.test", value: "wildcard" },
        { domain: "delegated.alpha.test", value: "delegated" },
      ]);
      assert.deepEqual(published.records.map((r) => [r.domain, r.owner, r.zone]), [
        ["P.alpha.test", "_acme-challenge.p.alpha.test", "alpha.test"],
        ["*.p.alpha.test", "_acme-challenge.p.alpha.test", "alpha.test"],
        ["delegated.alpha.test", "delegated.beta.test", "beta.test"],
      ]);
      assert.deepEqual(await serials(), { alpha: before.alpha + 1, beta: before.beta + 1 });
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.p.alpha.test"), ["apex", "wildcard"]);
      assert.deepEqual(await queryTxt(server.address, "delegated.beta.test"), ["delegated"]);
      await published.remove();
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.p.alpha.test"), []);
      assert.deepEqual(await queryTxt(server.address, "delegated.beta.test"), []);
    },
  );

  await t.step(`${k}: a CNAME loop is an error and nothing is added`, async () => {
    const before = await serial(server, "alpha.test");
    await assert.rejects(
      publishChallenges([{ domain: "loop.alpha.test", value: "never" }], viaNameserver, context(server)),
      {
        name: "NotariatError",
        kind: "dns",
        message: "_acme-challenge.loop.alpha.test (for loop.alpha.test): CNAME loop: " +
          "_acme-challenge.loop.alpha.test -> loop2.alpha.test -> _acme-challenge.loop.alpha.test",
      },
    );
    assert.equal(await serial(server, "alpha.test"), before);
  });

  await t.step(`${k}: each rejected key is explained, and nothing is left behind`, async () => {
    const owner = "_acme-challenge.fail.alpha.test";
    const before = await serial(server, "alpha.test");
    const attempt = (signing: typeof key) =>
      publishChallenges(
        [{ domain: "fail.alpha.test", value: "never" }],
        { key: signing, nameserver: parseServerAddress(at) },
        context(server),
      );
    const prefix = `adding TXT for fail.alpha.test in zone 'alpha.test': server ${at}`;
    await assert.rejects(attempt({ ...key, secret: new Uint8Array(32) }), {
      kind: "dns",
      message:
        `${prefix} rejected the signature of key '${key.name}': the secret differs from the server's ` +
        "(NOTAUTH, TSIG BADSIG)",
    });
    const unauthorized = server.unauthorizedKey.key;
    await assert.rejects(attempt(unauthorized), {
      kind: "dns",
      message: k === "knot"
        ? `${prefix} does not know key '${unauthorized.name}' (hmac-sha256) or does not allow it to update zone ` +
          "'alpha.test' (NOTAUTH, TSIG BADKEY)"
        : `${prefix} refused to let key '${unauthorized.name}' update TXT records in zone 'alpha.test' (REFUSED)`,
    });
    await assert.rejects(attempt({ ...key, name: "nosuch-key" }), {
      kind: "dns",
      message: `${prefix} does not know key 'nosuch-key' (hmac-sha256) or does not allow it to update zone ` +
        "'alpha.test' (NOTAUTH, TSIG BADKEY)",
    });
    await assert.rejects(attempt({ ...key, algorithm: "hmac-sha512" }), {
      kind: "dns",
      message:
        `${prefix} does not know key '${key.name}' (hmac-sha512) or does not allow it to update zone ` +
        "'alpha.test' (NOTAUTH, TSIG BADKEY)",
    });
    const skewed = () => Date.now() + 1000_000;
    await assert.rejects(
      sendTxtUpdate(transport, server.address, key, "alpha.test", "add", [{ owner, value: "late" }], {
        clock: skewed,
      }),
      (err: Error) => {
        assert.match(
          err.message,
          new RegExp(
            `^clock skew of (999|1000|1001) s between notariat and the server ${at} \\(fudge 300 s, NOTAUTH, TSIG BADTIME\\)$`,
          ),
        );
        return true;
      },
    );
    assert.deepEqual(await queryTxt(server.address, owner), []);
    assert.equal(await serial(server, "alpha.test"), before);
  });

  await t.step(`${k}: a zone the server does not serve is named as such`, async () => {
    await assert.rejects(
      publishChallenges([{ domain: "x.gamma.test", value: "never" }], viaNameserver, context(server)),
      {
        kind: "dns",
        message:
          `_acme-challenge.x.gamma.test (for x.gamma.test): no zone holding _acme-challenge.x.gamma.test found ` +
          `at server ${at} (answers: _acme-challenge.x.gamma.test: REFUSED, x.gamma.test: REFUSED, ` +
          "gamma.test: REFUSED, test: REFUSED)",
      },
    );
    await assert.rejects(
      sendTxtUpdate(transport, server.address, key, "gamma.test", "add", [{
        owner: "_acme-challenge.gamma.test",
        value: "x",
      }]),
      {
        kind: "dns",
        message:
          `server ${at} is not authoritative for zone 'gamma.test' or did not accept key '${key.name}' (NOTAUTH)`,
      },
    );
  });

  await t.step(
    `${k}: a name server that never serves the value times out naming it, and the value is removed`,
    async () => {
      // The fault proxy without an upstream: UDP and TCP on one port, never answering.
      const silent = startDnsFaultProxy();
      try {
        // The zone's NS set (ns1 = 127.0.0.1) is looked for on the silent port.
        // Knot may hold an update until the next second when another came just before: 1.5 s leaves room.
        const ctx = context(server, {
          authoritativePort: silent.port,
          propagationTimeoutMs: 600,
          timeoutMs: 1500,
        });
        const started = performance.now();
        await assert.rejects(
          publishChallenges([{ domain: "slow.alpha.test", value: "lonely" }], viaNameserver, ctx),
          {
            kind: "dns",
            message:
              `propagation not seen after 600 ms: server 127.0.0.1:${silent.port} does not serve TXT "lonely" at ` +
              `_acme-challenge.slow.alpha.test (last query failed: query _acme-challenge.slow.alpha.test TXT to ` +
              `127.0.0.1:${silent.port} failed: server 127.0.0.1:${silent.port} did not answer within 1500 ms over UDP ` +
              "(2 attempts))",
          },
        );
        // One poll of two 1.5 s attempts (the deadline passes meanwhile), then the removal.
        assert.ok(performance.now() - started < 6000);
        assert.deepEqual(await queryTxt(server.address, "_acme-challenge.slow.alpha.test"), []);
      } finally {
        await silent.stop();
      }
    },
  );

  await t.step(`${k}: "update-server" propagation asks only the server that took the update`, async () => {
    // The fault proxy without an upstream: UDP and TCP on one port, never answering.
    const silent = startDnsFaultProxy();
    try {
      // The NS set points at the silent port: "all" would time out, "update-server" never asks it.
      // The timeout leaves room for an UPDATE Knot is slow to answer; asking the silent server would still
      // fail, by the propagation timeout.
      const ctx = context(server, {
        authoritativePort: silent.port,
        propagation: "update-server",
        timeoutMs: 2_000,
      });
      const published = await publishChallenges(
        [{ domain: "quick.alpha.test", value: "q" }],
        viaNameserver,
        ctx,
      );
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.quick.alpha.test"), ["q"]);
      await published.remove();
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.quick.alpha.test"), []);
    } finally {
      await silent.stop();
    }
  });

  await t.step(`${k}: a nameserver given by name is resolved through the resolver`, async () => {
    const byName = `ns1.alpha.test:${server.address.port}`;
    const published = await publishChallenges([{ domain: "named.beta.test", value: "n" }], {
      key,
      nameserver: parseServerAddress(byName),
    }, context(server));
    assert.deepEqual(published.records.map((r) => [r.zone, r.server]), [["beta.test", server.address]]);
    assert.deepEqual(await queryTxt(server.address, "_acme-challenge.named.beta.test"), ["n"]);
    await published.remove();
    assert.deepEqual(await queryTxt(server.address, "_acme-challenge.named.beta.test"), []);
    await assert.rejects(
      publishChallenges([{ domain: "named.beta.test", value: "n" }], {
        key,
        nameserver: parseServerAddress("nowhere.alpha.test"),
      }, context(server)),
      {
        kind: "dns",
        message:
          `nameserver nowhere.alpha.test:53 cannot be resolved: nowhere.alpha.test has no A or AAAA record at ` +
          `server ${at}`,
      },
    );
  });

  await t.step(`${k}: a truncated UDP answer is asked again over TCP`, async () => {
    const owner = "_acme-challenge.big.alpha.test";
    const values = Array.from(
      { length: 30 },
      (_, i) => `value-${String(i).padStart(2, "0")}-${"x".repeat(34)}`,
    );
    await sendTxtUpdate(
      transport,
      server.address,
      key,
      "alpha.test",
      "add",
      values.map((value) => ({ owner, value })),
    );
    const protocols: Protocol[] = [];
    const recording: Transport = {
      exchange(s, request, protocol) {
        protocols.push(protocol);
        return transport.exchange(s, request, protocol);
      },
    };
    assert.deepEqual((await servedTxt(recording, server.address, owner)).sort(), values);
    assert.deepEqual(protocols, ["udp", "tcp"]);
    await sendTxtUpdate(
      transport,
      server.address,
      key,
      "alpha.test",
      "delete",
      values.map((value) => ({ owner, value })),
    );
    assert.deepEqual(await queryTxt(server.address, owner), []);
  });

  await t.step(
    `${k}: dns-check adds, confirms, deletes and confirms a probe, printing each step`,
    async () => {
      const lines: string[] = [];
      const ok = await runDnsCheck(
        {
          keyText: server.keys["hmac-sha384"].text,
          keySource: "test key",
          domain: "delegated.alpha.test",
          nameserver: parseServerAddress(at),
          ctx: context(server),
        },
        (line) => lines.push(line),
      );
      assert.equal(ok, true, lines.join("\n"));
      const steps = lines.slice(1, -1).map((line) => line.replace(/ \(\d+ ms\)$/, ""));
      assert.ok(lines.slice(1, -1).every((line) => / \(\d+ ms\)$/.test(line)), lines.join("\n"));
      const probe = /serves TXT "(notariat-dns-check-[0-9a-f]{16})"/.exec(lines.join("\n"))?.[1];
      assert.ok(probe, lines.join("\n"));
      assert.deepEqual([lines[0], ...steps], [
        `dns-check for delegated.alpha.test with key 'notariat-sha384' (hmac-sha384) via nameserver ${at}`,
        "  CNAME _acme-challenge.delegated.alpha.test -> delegated.beta.test",
        `  zone beta.test holds delegated.beta.test; primary ns1.beta.test; updates go to ${at}`,
        `  added the probe TXT in zone beta.test at ${at}`,
        `  served by ${at}`,
        `  ${at} serves TXT "${probe}" at delegated.beta.test`,
        `  deleted the probe TXT from zone beta.test at ${at}`,
        `  ${at} no longer serves it`,
      ]);
      assert.match(
        lines[lines.length - 1],
        /^OK: delegated\.beta\.test in zone beta\.test can be updated \(\d+ ms\)$/,
      );
      assert.deepEqual(await queryTxt(server.address, "delegated.beta.test"), []);

      const failed: string[] = [];
      const refused = await runDnsCheck(
        {
          keyText: server.keys["hmac-sha256"].text.replace(/:[^:]+$/, ":AAAAAAAAAAAAAAAAAAAAAA=="),
          keySource: "test key",
          domain: "x.alpha.test",
          nameserver: parseServerAddress(at),
          ctx: context(server),
        },
        (line) => failed.push(line),
      );
      assert.equal(refused, false);
      assert.equal(
        failed[failed.length - 1],
        `FAILED: adding TXT for x.alpha.test in zone 'alpha.test': server ${at} rejected the signature of key ` +
          `'${key.name}': the secret differs from the server's (NOTAUTH, TSIG BADSIG)`,
      );
      assert.deepEqual(await queryTxt(server.address, "_acme-challenge.x.alpha.test"), []);
    },
  );
}

Deno.test("DNS UPDATE, discovery, propagation and dns-check against real Knot and BIND", async (t) => {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const [knot, bind] = await Promise.all([startKnot(), startBind()]);
    started.push(knot, bind);
    // Knot is also reached through a forwarding resolver, the way a cluster resolver sits in front of a zone.
    const forwarder = await startForwarder(knot.address);
    started.push(forwarder);

    await t.step(
      "an update to a server that never answers fails after the bounded attempts, naming it",
      async () => {
        // The fault proxy without an upstream: UDP and TCP on one port, never answering.
        const silent = startDnsFaultProxy();
        try {
          const key = knot.keys["hmac-sha256"].key;
          const at = `127.0.0.1:${silent.port}`;
          await assert.rejects(
            publishChallenges(
              [{ domain: "x.alpha.test", value: "v" }],
              { key, nameserver: parseServerAddress(at) },
              context(knot, { timeoutMs: 150 }),
            ),
            {
              kind: "dns",
              message:
                `_acme-challenge.x.alpha.test (for x.alpha.test): query _acme-challenge.x.alpha.test CNAME to ${at} ` +
                `failed: server ${at} did not answer within 150 ms over UDP (2 attempts)`,
            },
          );
          await assert.rejects(
            sendTxtUpdate(
              createTransport({ timeoutMs: 150 }),
              { host: "127.0.0.1", port: silent.port },
              key,
              "alpha.test",
              "add",
              [
                { owner: "_acme-challenge.x.alpha.test", value: "v" },
              ],
            ),
            {
              kind: "dns",
              message:
                `update of zone 'alpha.test': server ${at} did not answer within 150 ms over TCP (2 attempts)`,
            },
          );
        } finally {
          await silent.stop();
        }
      },
    );

    await stepsFor(t, knot, forwarder);
    await stepsFor(t, bind, undefined);
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
});
