/**
 * The ACME features of current CAs against pebble 2.10: profiles, renewal information (ARI) with `replaces`,
 * external account binding and alternate chains. Knot takes the challenge records.
 */
import assert from "node:assert/strict";
import { certIdOf } from "../../src/acme/ari.ts";
import { createIssuer, type IssueRequest, type IssuerOptions } from "../../src/acme/issuer.ts";
import { parseCertificateChain, verifyChain } from "../../src/pki/certificate.ts";
import { startAcmeProxy } from "../harness/acme_proxy.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";
import { type PebbleHandle, startPebble } from "../harness/pebble.ts";
import { problem, rejection, sentReplaces } from "./expect.ts";
import {
  type LogLine,
  testIssueRequest,
  testIssuerOptions,
  type TestIssuerSettings,
} from "../harness/test_issuer.ts";

const DAY = 24 * 3600 * 1000;
const PROFILES = {
  default: { description: "90 days", validityPeriod: 90 * 86400 },
  shortlived: { description: "6 days", validityPeriod: 6 * 86400 },
};
const EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

function issuerOptions(
  pebble: PebbleHandle,
  knot: DnsServerHandle,
  logs: LogLine[],
  extra: TestIssuerSettings = {},
): IssuerOptions {
  return testIssuerOptions(pebble, knot.address, { logs, ...extra });
}

function request(knot: DnsServerHandle, domain: string, extra: Partial<IssueRequest> = {}): IssueRequest {
  return testIssueRequest(knot, [domain], extra);
}

function lifetimeDays(pem: string): number {
  const [leaf] = parseCertificateChain(pem);
  return Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / DAY);
}

Deno.test("pebble 2.10: profiles, renewal information with replaces, alternate chains", async (t) => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    const pebble = await startPebble({
      dnsServer: knot.address,
      version: "2.10",
      config: { profiles: PROFILES, retryAfter: { authz: 1, order: 1 } },
      env: { PEBBLE_ALTERNATE_ROOTS: "1" },
    });
    stops.push(() => pebble.stop());
    const logs: LogLine[] = [];
    let clock = Date.now();
    const issuer = createIssuer(issuerOptions(pebble, knot, logs, { now: () => new Date(clock) }));

    await t.step("the directory offers renewalInfo and both profiles", async () => {
      const info = await issuer.directoryInfo();
      assert.ok(info.renewalInfo?.includes("renewalInfo"));
      assert.deepEqual(Object.keys(info.profiles ?? {}).sort(), ["default", "shortlived"]);
    });

    let shortPem = "";
    await t.step("the shortlived profile gives a 6-day certificate, default a 90-day one", async () => {
      const short = await issuer.issue(request(knot, "short.alpha.test", { profile: "shortlived" }));
      assert.equal(lifetimeDays(short.certificatePem), 6);
      shortPem = short.certificatePem;
      const long = await issuer.issue(request(knot, "long.alpha.test", { profile: "default" }));
      assert.equal(lifetimeDays(long.certificatePem), 90);
    });

    await t.step("an unknown profile is the CA's refusal, naming the entry", async () => {
      const err = await rejection(issuer.issue(request(knot, "odd.alpha.test", { profile: "nonesuch" })));
      assert.match(
        err.message,
        /^certificates\[0\] \(secret default\/odd\.alpha\.test\): creating the order/,
      );
    });

    await t.step(
      "renewal information: a window inside the certificate's validity, then moved by the CA",
      async () => {
        const [leaf] = parseCertificateChain(shortPem);
        const certId = certIdOf(leaf)!;
        const first = await issuer.renewalInfo(certId);
        assert.ok(first);
        assert.ok(first.window.start.getTime() > leaf.notBefore.getTime());
        assert.ok(first.window.end.getTime() < leaf.notAfter.getTime());
        assert.ok(first.checkAt.getTime() > clock, "the next check lies ahead");

        const past = {
          suggestedWindow: {
            start: new Date(Date.now() - 2 * 3600_000).toISOString(),
            end: new Date(Date.now() - 3600_000).toISOString(),
          },
        };
        const moved = await pebble.management("/set-renewal-info/", {
          method: "POST",
          body: JSON.stringify({ certificate: shortPem, ariResponse: JSON.stringify(past) }),
        });
        assert.equal(moved.status, 200, await moved.text());
        const cached = await issuer.renewalInfo(certId);
        assert.equal(
          cached?.window.start.getTime(),
          first.window.start.getTime(),
          "cached until Retry-After",
        );
        clock = first.checkAt.getTime();
        const fresh = await issuer.renewalInfo(certId);
        assert.ok(
          Math.abs(fresh!.window.end.getTime() - Date.parse(past.suggestedWindow.end)) < 1000,
          "the moved window",
        );
      },
    );

    await t.step(
      "a renewal sends replaces; replacing the same certificate again is retried without",
      async () => {
        const [leaf] = parseCertificateChain(shortPem);
        const certId = certIdOf(leaf)!;
        const before = logs.length;
        const renewed = await issuer.issue(
          request(knot, "short.alpha.test", { profile: "shortlived", replaces: certId }),
        );
        assert.equal(lifetimeDays(renewed.certificatePem), 6);
        assert.ok(sentReplaces(logs.slice(before), certId), "the order named the certificate it replaces");
        const raced = logs.slice(before).some((l) => l.message.includes("refused replaces"));
        const again = await issuer.issue(
          request(knot, "short.alpha.test", { profile: "shortlived", replaces: certId }),
        );
        assert.ok(again.certificatePem);
        const refused = logs.slice(before).filter((l) =>
          l.message.includes("refused replaces") && String(l.fields.problem).startsWith("alreadyReplaced: ")
        );
        // When pebble's index race ate the first replaces, nothing was replaced yet: no alreadyReplaced either.
        assert.equal(refused.length, raced ? 0 : 1, "one retry without replaces");
      },
    );

    await t.step("a preferred chain picks the alternate root by its common name", async () => {
      const alternateRoot = await (await pebble.management("/roots/1")).text();
      const [root] = parseCertificateChain(alternateRoot);
      const defaultRoot = parseCertificateChain(await pebble.issuingRoot())[0];
      const preferring = createIssuer(
        issuerOptions(pebble, knot, logs, { preferredChain: root.subject.replace(/^CN=/, "") }),
      );
      const cert = await preferring.issue(request(knot, "pick.alpha.test", { profile: "default" }));
      const chain = parseCertificateChain(cert.certificatePem);
      assert.equal(chain.at(-1)?.issuerCommonName, root.subject.replace(/^CN=/, ""));
      assert.equal(await verifyChain(cert.certificatePem, alternateRoot), true);
      const unknown = createIssuer(issuerOptions(pebble, knot, logs, { preferredChain: "No Such Root" }));
      const fallback = await unknown.issue(request(knot, "fallback.alpha.test", { profile: "default" }));
      assert.equal(
        parseCertificateChain(fallback.certificatePem).at(-1)?.issuerCommonName,
        defaultRoot.subject.replace(/^CN=/, ""),
      );
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});

Deno.test("through a fault proxy: replaces refused twice is not looped; the order's expires bounds the wait", async () => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    const pebble = await startPebble({
      dnsServer: knot.address,
      version: "2.10",
      config: { profiles: { shortlived: PROFILES.shortlived } },
    });
    stops.push(() => pebble.stop());
    const proxy = await startAcmeProxy(pebble);
    stops.push(() => proxy.stop());
    const domain = "expiring.alpha.test";
    const logs: LogLine[] = [];
    const issuer = createIssuer({
      ...issuerOptions(pebble, knot, logs),
      directoryUrl: proxy.directoryUrl,
      caPem: proxy.caPem,
      pollTimeoutMs: 60_000,
    });
    // A refused replaces is dropped once, never in a loop.
    const refusal = {
      kind: "respond" as const,
      status: 409,
      headers: { "content-type": "application/problem+json" },
      body: problem("alreadyReplaced", "the certificate was already replaced", 409),
    };
    proxy.inject({ resource: "newOrder", times: 2, fault: refusal });
    const refused = await rejection(
      issuer.issue(
        request(knot, "twice.alpha.test", {
          profile: "shortlived",
          replaces: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
        }),
      ),
    );
    assert.match(refused.message, /creating the order: the CA answered HTTP 409 alreadyReplaced: /);
    assert.equal(proxy.count("newOrder"), 2, "one order with replaces, one without, then the error");

    // Every poll of the order after the challenge was answered says "still pending" and that the order ends
    // in two seconds, as a CA's short challenge window would.
    const expires = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2_000);
    proxy.inject({
      resource: "order",
      times: Infinity,
      fault: {
        kind: "respond",
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          status: "pending",
          expires: expires.toISOString(),
          identifiers: [{ type: "dns", value: domain }],
          authorizations: [],
          finalize: `${proxy.directoryUrl}/x`,
        }),
      },
    });
    // notariat's own limit is a minute: the message shows the CA's expiry ended the wait.
    const err = await rejection(issuer.issue(request(knot, domain, { profile: "shortlived" })));
    assert.equal(
      err.message,
      `certificates[0] (secret default/${domain}): validation of ${domain}: still pending and the ` +
        `order expires at ${expires.toISOString()}, giving up`,
    );
    assert.deepEqual(await queryTxt(knot.address, `_acme-challenge.${domain}`), [], "no TXT left behind");
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});

Deno.test("pebble 2.10 with external account binding required", async (t) => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    const pebble = await startPebble({
      dnsServer: knot.address,
      version: "2.10",
      config: {
        externalAccountBindingRequired: true,
        externalAccountMACKeys: { "kid-1": EAB_KEY },
        profiles: { default: PROFILES.default },
      },
    });
    stops.push(() => pebble.stop());
    const logs: LogLine[] = [];

    await t.step("the account is bound with the kid and HMAC key, and issues", async () => {
      const issuer = createIssuer(issuerOptions(pebble, knot, logs, {
        externalAccountBinding: () => Promise.resolve({ kid: "kid-1", hmacKey: EAB_KEY }),
      }));
      const cert = await issuer.issue(request(knot, "bound.alpha.test"));
      assert.equal(lifetimeDays(cert.certificatePem), 90);
    });

    await t.step("a wrong HMAC key gives the CA's message, without the key", async () => {
      const wrongKey = "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH";
      const issuer = createIssuer(issuerOptions(pebble, knot, logs, {
        externalAccountBinding: () => Promise.resolve({ kid: "kid-1", hmacKey: wrongKey }),
      }));
      const err = await rejection(issuer.issue(request(knot, "wrong.alpha.test")));
      assert.match(
        err.message,
        /registering the ACME account for certs@alpha\.test: the CA answered HTTP \d+ \w+/,
      );
      assert.ok(!err.message.includes(wrongKey));
      assert.ok(!JSON.stringify(logs).includes(wrongKey));
      assert.ok(!JSON.stringify(logs).includes(EAB_KEY));
    });

    await t.step("without binding the CA refuses the account", async () => {
      const issuer = createIssuer(issuerOptions(pebble, knot, logs));
      const err = await rejection(issuer.issue(request(knot, "unbound.alpha.test")));
      assert.match(err.message, /externalAccountRequired|external account/i);
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
