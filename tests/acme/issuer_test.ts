/**
 * Issuance end to end against real servers: pebble as the CA, Knot (and BIND) as the authoritative servers
 * receiving the signed updates, a forwarding BIND so pebble can follow a CNAME into the other zone.
 */
import assert from "node:assert/strict";
import { accountSecretName } from "../../src/acme/account.ts";
import {
  createIssuer,
  type IssuedCertificate,
  type IssueRequest,
  type IssuerOptions,
} from "../../src/acme/issuer.ts";
import {
  parseCertificateChain,
  privateKeyMatchesCertificate,
  verifyChain,
} from "../../src/pki/certificate.ts";
import {
  type DnsServerHandle,
  queryTxt,
  startBind,
  startForwarder,
  startKnot,
} from "../harness/dns_servers.ts";
import { startPebble } from "../harness/pebble.ts";
import { freePort } from "../harness/ports.ts";
import { createMemoryAccountStore, type MemoryAccountStore } from "../harness/memory_account_store.ts";
import {
  type LogLine,
  testIssueRequest,
  testIssuerOptions,
  type TestIssuerSettings,
} from "../harness/test_issuer.ts";
import { rejection } from "./expect.ts";

const EMAIL = "certs@alpha.test";

function request(
  server: DnsServerHandle,
  domains: string[],
  extra: Partial<IssueRequest> = {},
): IssueRequest {
  return testIssueRequest(server, domains, { email: EMAIL, ...extra });
}

/** The TXT names a set of domains uses, without CNAME chasing. */
function challengeNames(domains: string[]): string[] {
  return [...new Set(domains.map((d) => `_acme-challenge.${d.replace(/^\*\./, "")}`))];
}

async function assertIssued(cert: IssuedCertificate, root: string, domains: string[]): Promise<void> {
  assert.equal(await verifyChain(cert.certificatePem, root), true, "chain verifies against pebble's root");
  assert.equal(await privateKeyMatchesCertificate(cert.privateKeyPem, cert.certificatePem), true);
  const [leaf, ...intermediates] = parseCertificateChain(cert.certificatePem);
  assert.deepEqual([...leaf.dnsNames].sort(), [...domains].sort());
  assert.equal(intermediates.length, 1);
  assert.deepEqual(cert.domains, domains);
  assert.equal(cert.leaf.notAfter.getTime(), leaf.notAfter.getTime());
  assert.equal(cert.leaf.notBefore.getTime(), leaf.notBefore.getTime());
}

async function assertNoTxt(server: DnsServerHandle, names: string[]): Promise<void> {
  for (const name of names) {
    assert.deepEqual(await queryTxt(server.address, name), [], `no TXT left at ${name}`);
  }
}

Deno.test("ACME issuance over DNS-01 against pebble with Knot and BIND", async (t) => {
  const [knot, bind] = await Promise.all([startKnot(), startBind()]);
  const stops: (() => Promise<void>)[] = [() => knot.stop(), () => bind.stop()];
  try {
    const forwarder = await startForwarder(knot.address);
    stops.push(() => forwarder.stop());
    const [pebble, stormPebble, bindPebble] = await Promise.all([
      startPebble({ dnsServer: forwarder.address }),
      startPebble({ dnsServer: knot.address, nonceReject: 50 }),
      startPebble({ dnsServer: bind.address }),
    ]);
    stops.push(() => pebble.stop(), () => stormPebble.stop(), () => bindPebble.stop());
    const root = await pebble.issuingRoot();
    const logs: LogLine[] = [];
    const options = (store: MemoryAccountStore, extra: TestIssuerSettings = {}): IssuerOptions =>
      testIssuerOptions(pebble, forwarder.address, {
        accounts: store,
        concurrency: 4,
        pollTimeoutMs: 20_000,
        logs,
        ...extra,
      });
    const store = createMemoryAccountStore();
    const issuer = createIssuer(options(store));
    const accountName = accountSecretName(pebble.directoryUrl, EMAIL);

    await t.step(
      "a single name: the chain verifies, matches the key and names exactly the domain",
      async () => {
        const domains = ["www.alpha.test"];
        const cert = await issuer.issue(request(knot, domains));
        await assertIssued(cert, root, domains);
        await assertNoTxt(knot, challengeNames(domains));
        assert.deepEqual([...store.keys.keys()], [accountName]);
        assert.equal(store.creates, 1);
      },
    );

    await t.step("a second issuer with the same store reuses the stored account key unchanged", async () => {
      const keyBefore = store.keys.get(accountName);
      const readsBefore = store.reads;
      const second = createIssuer(options(store));
      const cert = await second.issue(request(knot, ["api.alpha.test"]));
      await assertIssued(cert, root, ["api.alpha.test"]);
      assert.equal(store.keys.get(accountName), keyBefore);
      assert.equal(store.creates, 1);
      assert.equal(store.reads, readsBefore + 1);
      const ready = logs.filter((l) => l.message === "ACME account ready");
      assert.deepEqual(
        ready.map((l) => l.fields.created),
        [true, false],
        "registered once, then found again",
      );
      assert.equal(new Set(ready.map((l) => l.fields.account)).size, 1, "the same account URL");
    });

    await t.step("a lost creation race: the key another worker stored is read back and used", async () => {
      const racing = createMemoryAccountStore();
      const winnerKey = store.keys.get(accountName)!;
      racing.create = (name) => {
        racing.creates++;
        racing.keys.set(name, winnerKey);
        return Promise.resolve(false);
      };
      const before = logs.length;
      const cert = await createIssuer(options(racing)).issue(request(knot, ["race.alpha.test"]));
      await assertIssued(cert, root, ["race.alpha.test"]);
      assert.equal(racing.keys.get(accountName), winnerKey);
      assert.equal(racing.reads, 2);
      const ready = logs.slice(before).filter((l) => l.message === "ACME account ready");
      assert.deepEqual(ready.map((l) => l.fields.created), [false], "the winner's existing account");
    });

    await t.step("one certificate across two zones, with an ECDSA P-384 key", async () => {
      const domains = ["multi.alpha.test", "multi.beta.test", "beta.test"];
      const cert = await issuer.issue(request(knot, domains, { keyType: "ecdsa-p384" }));
      await assertIssued(cert, root, domains);
      await assertNoTxt(knot, challengeNames(domains));
    });

    await t.step(
      "wildcard and apex in one order (two TXT values at one owner), with an RSA key",
      async () => {
        const domains = ["*.alpha.test", "alpha.test"];
        const cert = await issuer.issue(request(knot, domains, { keyType: "rsa2048" }));
        await assertIssued(cert, root, domains);
        await assertNoTxt(knot, ["_acme-challenge.alpha.test"]);
      },
    );

    await t.step("a CNAME-delegated name is validated in the other zone", async () => {
      const domains = ["delegated.alpha.test"];
      const cert = await issuer.issue(request(knot, domains));
      await assertIssued(cert, root, domains);
      await assertNoTxt(knot, ["delegated.beta.test", "_acme-challenge.delegated.alpha.test"]);
    });

    await t.step(
      "concurrent issuances with a fresh store share one account, registered once, within the limit",
      async () => {
        const fresh = createMemoryAccountStore();
        let inFlight = 0;
        let peak = 0;
        const registrations: unknown[] = [];
        const limited = createIssuer(options(fresh, {
          concurrency: 2,
          log: (message, fields) => {
            if (message === "ACME account ready") registrations.push(fields.account);
            if (message === "ACME order created") peak = Math.max(peak, ++inFlight);
            if (message === "certificate issued") inFlight--;
          },
        }));
        const names = ["c1", "c2", "c3", "c4", "c5"].map((n) => [`${n}.alpha.test`, `${n}.beta.test`]);
        const certs = await Promise.all(names.map((domains) => limited.issue(request(knot, domains))));
        for (const [i, cert] of certs.entries()) await assertIssued(cert, root, names[i]);
        assert.equal(fresh.creates, 1);
        assert.equal(fresh.keys.size, 1);
        assert.equal(registrations.length, 1);
        assert.equal(peak, 2);
        await assertNoTxt(knot, challengeNames(names.flat()));
      },
    );

    await t.step("half of all nonces rejected (badNonce storm): issuance still succeeds", async () => {
      const storm = createIssuer(options(createMemoryAccountStore(), {
        directoryUrl: stormPebble.directoryUrl,
        caPem: stormPebble.caPem,
        dns: { resolver: knot.address },
      }));
      const domains = ["storm.alpha.test", "storm.beta.test"];
      const cert = await storm.issue(request(knot, domains));
      await assertIssued(cert, await stormPebble.issuingRoot(), domains);
    });

    await t.step("BIND as the updated server", async () => {
      const onBind = createIssuer(options(createMemoryAccountStore(), {
        directoryUrl: bindPebble.directoryUrl,
        caPem: bindPebble.caPem,
        dns: { resolver: bind.address },
      }));
      const domains = ["*.beta.test", "beta.test", "www.alpha.test"];
      const cert = await onBind.issue(request(bind, domains, { keyType: "ecdsa-p384" }));
      await assertIssued(cert, await bindPebble.issuingRoot(), domains);
      await assertNoTxt(bind, challengeNames(domains));
    });

    await t.step(
      "a key the server refuses: a dns error with the server's reason, and no TXT left",
      async () => {
        const req = request(knot, ["refused.alpha.test"], {
          zoneAccess: { key: knot.unauthorizedKey.key, nameserver: knot.address },
        });
        const err = await rejection(issuer.issue(req));
        assert.equal(err.kind, "dns");
        assert.ok(err.message.startsWith(`${req.label}: `), err.message);
        assert.match(err.message, /NOTAUTH|BADKEY/);
        assert.ok(!err.message.includes(btoa(String.fromCharCode(...knot.unauthorizedKey.key.secret))));
        await assertNoTxt(knot, ["_acme-challenge.refused.alpha.test"]);
      },
    );

    await t.step(
      "the CA sees no TXT value: the error names the domain and the name looked at, records removed",
      async () => {
        // bindPebble validates against BIND, while the values go to Knot: the CA cannot find them.
        const wrongView = createIssuer(options(createMemoryAccountStore(), {
          directoryUrl: bindPebble.directoryUrl,
          caPem: bindPebble.caPem,
          dns: { resolver: knot.address },
        }));
        const req = request(knot, ["unseen.alpha.test"]);
        const err = await rejection(wrongView.issue(req));
        assert.equal(err.kind, "acme");
        assert.ok(
          err.message.startsWith(
            `${req.label}: dns-01 validation of unseen.alpha.test failed: the CA did not find the expected TXT value ` +
              "at _acme-challenge.unseen.alpha.test (unauthorized: ",
          ),
          err.message,
        );
        await assertNoTxt(knot, ["_acme-challenge.unseen.alpha.test"]);
      },
    );

    await t.step("an untrusted ACME server certificate fails at once with the TLS cause", async () => {
      const untrusted = createIssuer(options(createMemoryAccountStore(), { caPem: undefined }));
      const started = Date.now();
      const err = await rejection(untrusted.issue(request(knot, ["tls.alpha.test"])));
      assert.ok(Date.now() - started < 5_000);
      assert.equal(err.kind, "acme");
      assert.match(
        err.message,
        /^certificates\[0\] \(secret default\/tls\.alpha\.test\): registering the ACME account/,
      );
      assert.match(err.message, /invalid peer certificate: UnknownIssuer$/);
    });

    await t.step("an unusable CA certificate for the ACME server is reported per entry", async () => {
      const broken = createIssuer(options(createMemoryAccountStore(), { caPem: "not a certificate" }));
      const err = await rejection(broken.issue(request(knot, ["badca.alpha.test"])));
      assert.equal(err.kind, "acme");
      assert.match(
        err.message,
        /^certificates\[0\] \(secret default\/badca\.alpha\.test\): the CA certificate given for the ACME server is unusable: no PEM certificate found$/,
      );
    });

    await t.step("a refused connection fails at once with the connection cause", async () => {
      const nowhere = `https://127.0.0.1:${freePort()}/dir`;
      const unreachable = createIssuer(options(createMemoryAccountStore(), { directoryUrl: nowhere }));
      const started = Date.now();
      const err = await rejection(unreachable.issue(request(knot, ["down.alpha.test"])));
      assert.ok(Date.now() - started < 5_000);
      assert.match(err.message, new RegExp(`GET ${nowhere}: .*Connection refused`));
    });

    await t.step("an unreadable stored account key fails the entry and is never overwritten", async () => {
      const damaged = createMemoryAccountStore();
      damaged.corrupt.add(accountName);
      const err = await rejection(
        createIssuer(options(damaged)).issue(request(knot, ["damaged.alpha.test"])),
      );
      assert.equal(err.kind, "kube");
      assert.match(err.message, /holds no usable account key$/);
      assert.equal(damaged.creates, 0);
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
