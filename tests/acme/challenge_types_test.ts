/**
 * dns-persist-01 and dns-account-01 against pebble 2.10 (which offers both) and Knot: the standing record is
 * written once, then found in place (a renewal sends no UPDATE, even with a key the server refuses), replaced
 * when the policy changes, and honoured without any key; each account answers at its own dns-account-01 name.
 * pebble 2.4 (dns-01 only) shows the error for a challenge type the CA does not offer.
 */
import assert from "node:assert/strict";
import { accountLabel } from "../../src/acme/account_label.ts";
import { createIssuer, type IssueRequest, type IssuerOptions } from "../../src/acme/issuer.ts";
import { standingRecordLines } from "../../src/acme/standing_record.ts";
import { openAcmeSession } from "../../src/acme/client.ts";
import { trustCa } from "../../src/acme/http.ts";
import { parseCertificateChain, verifyChain } from "../../src/pki/certificate.ts";
import {
  type DnsServerHandle,
  nsupdateTxt,
  queryTxt,
  startForwarder,
  startKnot,
} from "../harness/dns_servers.ts";
import { startPebble } from "../harness/pebble.ts";
import { run } from "../harness/process.ts";
import { createMemoryAccountStore } from "../harness/memory_account_store.ts";
import { createMemoryStandingStore } from "../harness/memory_standing_store.ts";
import {
  type LogLine,
  testIssueRequest,
  testIssuerOptions,
  type TestIssuerSettings,
} from "../harness/test_issuer.ts";
import { rejection } from "./expect.ts";

const PEBBLE_ISSUER = "pebble.letsencrypt.org";

/** The zone's SOA serial as Knot serves it: it moves with every applied UPDATE. */
async function soaSerial(knot: DnsServerHandle, zone: string): Promise<number> {
  const out = await run("kdig", [
    `@${knot.address.host}`,
    "-p",
    String(knot.address.port),
    "+tcp",
    "+short",
    "SOA",
    zone,
  ]);
  return Number(out.trim().split(/\s+/)[2]);
}

Deno.test("dns-persist-01 and dns-account-01 against pebble 2.10 and Knot", async (t) => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    // pebble's resolver does not follow a CNAME into another zone; the forwarder in front of Knot does.
    const forwarder = await startForwarder(knot.address);
    stops.push(() => forwarder.stop());
    const [pebble, pebble24] = await Promise.all([
      startPebble({ dnsServer: forwarder.address, version: "2.10" }),
      startPebble({ dnsServer: knot.address }),
    ]);
    stops.push(() => pebble.stop(), () => pebble24.stop());
    const root = await pebble.issuingRoot();
    const nameserver = `127.0.0.1:${knot.address.port}`;
    const logs: LogLine[] = [];
    const standing = createMemoryStandingStore();
    const accounts = createMemoryAccountStore();
    const options = (extra: TestIssuerSettings = {}): IssuerOptions =>
      testIssuerOptions(pebble, knot.address, {
        accounts,
        pollTimeoutMs: 20_000,
        logs,
        standingRecords: standing,
        ...extra,
      });
    const issuer = createIssuer(options());
    const persist = (domains: string[], extra: Partial<IssueRequest> = {}): IssueRequest =>
      testIssueRequest(knot, domains, {
        label: "certificates[0] (secret default/persist-tls)",
        email: "persist@alpha.test",
        challenge: "dns-persist-01",
        standingOwner: { entry: "default/persist-tls", tsigSecret: "default/tsig", nameserver },
        ...extra,
      });
    const accountUrl = () => logs.find((l) => l.message === "ACME account ready")!.fields.account as string;
    const owner = "_validation-persist.persist.alpha.test";

    await t.step(
      "the first issuance writes the standing record from the challenge object, once",
      async () => {
        const cert = await issuer.issue(persist(["persist.alpha.test"]));
        assert.equal(await verifyChain(cert.certificatePem, root), true);
        const value = `${PEBBLE_ISSUER}; accounturi=${accountUrl()}`;
        assert.deepEqual(await queryTxt(knot.address, owner), [value]);
        assert.deepEqual(standing.records.map((r) => [r.entry, r.domain, r.owner, r.value]), [
          ["default/persist-tls", "persist.alpha.test", owner, value],
        ]);
      },
    );

    await t.step(
      "a renewal sends no UPDATE: it succeeds with a key the server refuses to let update",
      async () => {
        const serial = await soaSerial(knot, "alpha.test");
        const denied = { key: knot.unauthorizedKey.key, nameserver: knot.address };
        const cert = await issuer.issue(persist(["persist.alpha.test"], { zoneAccess: denied }));
        assert.equal(await verifyChain(cert.certificatePem, root), true);
        assert.equal(await soaSerial(knot, "alpha.test"), serial, "the zone did not change");
        assert.equal(standing.records.length, 1);
      },
    );

    await t.step(
      "adding the wildcard replaces the record with policy=wildcard and deletes the old value",
      async () => {
        const domains = ["*.persist.alpha.test", "persist.alpha.test"];
        const cert = await issuer.issue(persist(domains));
        assert.deepEqual([...parseCertificateChain(cert.certificatePem)[0].dnsNames].sort(), domains.sort());
        const value = `${PEBBLE_ISSUER}; accounturi=${accountUrl()}; policy=wildcard`;
        assert.deepEqual(await queryTxt(knot.address, owner), [value]);
        assert.deepEqual(standing.records.map((r) => r.value), [value]);
      },
    );

    await t.step("persistUntil in the entry is written into the record", async () => {
      const persistUntil = new Date("2099-01-01T00:00:00Z");
      await issuer.issue(persist(["until.alpha.test"], { persistUntil }));
      assert.deepEqual(await queryTxt(knot.address, "_validation-persist.until.alpha.test"), [
        `${PEBBLE_ISSUER}; accounturi=${accountUrl()}; persistUntil=${persistUntil.getTime() / 1000}`,
      ]);
    });

    await t.step(
      "a CNAME at the standing name is followed: the record is written in the target's zone",
      async () => {
        const beta = await soaSerial(knot, "beta.test");
        await issuer.issue(persist(["delegated.alpha.test"]));
        const value = `${PEBBLE_ISSUER}; accounturi=${accountUrl()}`;
        assert.deepEqual(await queryTxt(knot.address, "persist-delegated.beta.test"), [value]);
        assert.equal(await soaSerial(knot, "beta.test"), beta + 1, "one UPDATE in the target zone");
        assert.ok(
          standing.records.some((r) =>
            r.owner.startsWith("persist-delegated.beta.test") && r.zone.startsWith("beta.test")
          ),
        );
      },
    );

    await t.step("without a TSIG key, the record put in place by hand is enough", async () => {
      const release = trustCa(pebble.directoryUrl, pebble.caPem);
      let lines;
      try {
        const [keyPem] = [...accounts.keys.values()];
        const session = await openAcmeSession({ directoryUrl: pebble.directoryUrl, accountKeyPem: keyPem });
        await session.register("persist@alpha.test");
        const spec = {
          index: 0,
          secret: { namespace: "default", name: "hand-tls" },
          domains: ["hand.beta.test"],
          email: "persist@alpha.test",
          keyType: "ecdsa-p256" as const,
          challenge: "dns-persist-01" as const,
        };
        lines = await standingRecordLines(spec, session);
      } finally {
        release();
      }
      assert.deepEqual(lines.map((l) => l.zoneLine), [
        `_validation-persist.hand.beta.test. IN TXT "${PEBBLE_ISSUER}; accounturi=${accountUrl()}"`,
      ]);
      const noKey = {
        zoneAccess: { nameserver: knot.address },
        standingOwner: { entry: "default/hand-tls" },
      };
      const refused = await rejection(issuer.issue(persist(["hand.beta.test"], noKey)));
      assert.match(
        refused.message,
        /no standing record authorizes this account at _validation-persist\.hand\.beta\.test/,
      );
      assert.ok(refused.message.includes(lines[0].zoneLine), refused.message);
      await nsupdateTxt(
        knot.address,
        knot.keys["hmac-sha256"],
        "beta.test",
        "add",
        "_validation-persist.hand.beta.test",
        lines[0].value,
      );
      const cert = await issuer.issue(persist(["hand.beta.test"], noKey));
      assert.equal(await verifyChain(cert.certificatePem, root), true);
      assert.equal(
        standing.records.some((r) => r.domain === "hand.beta.test"),
        false,
        "not notariat's record",
      );
    });

    await t.step("dns-account-01 answers at the account's own name and removes the value", async () => {
      const before = logs.length;
      const cert = await issuer.issue({
        ...persist(["acct.alpha.test"]),
        challenge: "dns-account-01",
        email: "account@alpha.test",
      });
      assert.equal(await verifyChain(cert.certificatePem, root), true);
      const url = logs.slice(before).find((l) => l.message === "ACME account ready")!.fields
        .account as string;
      const name = `_${accountLabel(url)}._acme-challenge.acct.alpha.test`;
      const published = logs.slice(before).find((l) => l.message === "challenge records published")!;
      assert.deepEqual(
        (published.fields.records as { owner: string }[]).map((r) => r.owner.replace(/\.$/, "")),
        [name],
      );
      assert.deepEqual(await queryTxt(knot.address, name), [], "removed after validation");
    });

    await t.step(
      "a CA that does not offer the chosen type is a clear error naming what it offers",
      async () => {
        const old = createIssuer(options({ directoryUrl: pebble24.directoryUrl, caPem: pebble24.caPem }));
        const err = await rejection(old.issue(persist(["old.alpha.test"])));
        assert.match(
          err.message,
          /^certificates\[0\] \(secret default\/persist-tls\): the CA offers no dns-persist-01 challenge for old\.alpha\.test \(offered: [a-z0-9-, ]*dns-01[a-z0-9-, ]*\) \(set challenge: to one it offers\)$/,
        );
      },
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
