/**
 * What notariat does when the CA fails: a fault-injecting proxy in front of a real pebble answers chosen
 * requests with rate limits, Retry-After, server errors, bodies that are not JSON, cut connections and
 * rejected nonces, which pebble never sends on its own. Knot takes the challenge records, so every step also
 * checks that no TXT value is left behind. The issuer trusts only the proxy's CA, so a request that went around
 * the proxy to pebble would fail; every exchange below is one the proxy saw.
 */
import assert from "node:assert/strict";
import { createIssuer, type IssueRequest } from "../../src/acme/issuer.ts";
import { nextAttemptTime } from "../../src/controller/backoff.ts";
import type { NotariatError } from "../../src/errors.ts";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { createOpensslCa } from "../harness/openssl_ca.ts";
import { type AcmeProxyHandle, type FaultRule, startAcmeProxy } from "../harness/acme_proxy.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";
import { startPebble } from "../harness/pebble.ts";
import { type LogLine, testIssueRequest, testIssuerOptions } from "../harness/test_issuer.ts";
import { escape, problem, rejection } from "./expect.ts";

const EMAIL = "faults@alpha.test";

function request(knot: DnsServerHandle, domain: string): IssueRequest {
  return testIssueRequest(knot, [domain], { email: EMAIL });
}

async function assertNoTxt(knot: DnsServerHandle, domain: string): Promise<void> {
  assert.deepEqual(
    await queryTxt(knot.address, `_acme-challenge.${domain}`),
    [],
    `no TXT left for ${domain}`,
  );
}

Deno.test("CA failures injected in front of pebble: exact errors, Retry-After honoured, no TXT left", async (t) => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    const pebble = await startPebble({ dnsServer: knot.address });
    stops.push(() => pebble.stop());
    const proxy: AcmeProxyHandle = await startAcmeProxy(pebble);
    stops.push(() => proxy.stop());
    const logs: LogLine[] = [];
    const options = testIssuerOptions(proxy, knot.address, { pollTimeoutMs: 20_000, logs });
    const issuer = createIssuer(options);
    let firstLimit: { err: NotariatError; at: Date } | undefined;

    await t.step(
      "through the proxy, every ACME resource is reached and a certificate is issued",
      async () => {
        const cert = await issuer.issue(request(knot, "plain.alpha.test"));
        assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, ["plain.alpha.test"]);
        const once = ["directory", "newAccount", "newOrder", "challenge", "finalize", "certificate"] as const;
        for (const resource of once) assert.equal(proxy.count(resource), 1, `${resource} requests`);
        assert.equal(proxy.count("authorization"), 1, "the authorization fetched once, never polled");
        assert.ok(proxy.count("order") >= 1, "the order polled");
        assert.equal(proxy.count("newNonce", "HEAD"), 1, "one newNonce: every later POST reuses an answer's");
        assert.ok(proxy.requests.length <= 12, `${proxy.requests.length} exchanges with the CA`);
        assert.equal(proxy.count("other"), 0);
      },
    );

    const label = (domain: string) => request(knot, domain).label;
    const rateLimited = (retryAfter: string): FaultRule => ({
      resource: "newOrder",
      fault: {
        kind: "respond",
        status: 429,
        headers: { "retry-after": retryAfter, "content-type": "application/problem+json" },
        body: problem("rateLimited", "too many new orders recently", 429),
      },
    });

    await t.step(
      "newOrder rate limited with Retry-After: 120: an acme error naming the limit, retryAfter set, then success",
      async () => {
        proxy.inject(rateLimited("120"));
        const before = Date.now();
        const err = await rejection(issuer.issue(request(knot, "limited.alpha.test")));
        const after = Date.now();
        assert.equal(err.kind, "acme");
        assert.ok(err.retryAfter, "retryAfter is set");
        assert.ok(
          err.retryAfter.getTime() >= before + 120_000 && err.retryAfter.getTime() <= after + 120_000,
        );
        assert.equal(
          err.message,
          `${label("limited.alpha.test")}: creating the order: rate limited by the CA ` +
            `(retry after ${err.retryAfter.toISOString()}): too many new orders recently`,
        );
        await assertNoTxt(knot, "limited.alpha.test");
        firstLimit = { err, at: new Date(after) };

        const orders = proxy.count("newOrder");
        const cert = await issuer.issue(request(knot, "limited.alpha.test"));
        assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, ["limited.alpha.test"]);
        assert.equal(
          proxy.count("newOrder"),
          orders + 1,
          "one new order, not retried behind the caller's back",
        );
        await assertNoTxt(knot, "limited.alpha.test");
      },
    );

    await t.step("Retry-After as an HTTP date is honoured to the second", async () => {
      const until = new Date(Math.ceil(Date.now() / 1000) * 1000 + 120_000);
      proxy.inject(rateLimited(until.toUTCString()));
      const err = await rejection(issuer.issue(request(knot, "dated.alpha.test")));
      assert.equal(err.kind, "acme");
      assert.equal(err.retryAfter?.getTime(), until.getTime());
      assert.equal(
        err.message,
        `${label("dated.alpha.test")}: creating the order: rate limited by the CA ` +
          `(retry after ${until.toISOString()}): too many new orders recently`,
      );
    });

    await t.step(
      "the controller's backoff schedules the rate-limited entry no earlier than Retry-After",
      () => {
        const { err, at: failedAt } = firstLimit!;
        for (const random of [0, 0.5, 0.999]) {
          assert.equal(
            nextAttemptTime(failedAt, 1, random, err.retryAfter).getTime(),
            err.retryAfter!.getTime(),
          );
          for (const failures of [2, 3, 4, 5, 8]) {
            assert.ok(nextAttemptTime(failedAt, failures, random, err.retryAfter) >= err.retryAfter!);
          }
        }
      },
    );

    await t.step(
      "a 503 with Retry-After: 1 on an order poll: the poller waits, then succeeds",
      async () => {
        proxy.inject({
          resource: "order",
          fault: { kind: "respond", status: 503, headers: { "retry-after": "1" }, body: "" },
        });
        const seen = proxy.requests.length;
        const cert = await issuer.issue(request(knot, "busy.alpha.test"));
        assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, ["busy.alpha.test"]);
        const polls = proxy.requests.slice(seen).filter((r) => r.resource === "order");
        assert.equal(polls[0].fault, "respond", "the first poll got the 503");
        const spacing = polls[1].at - polls[0].at;
        assert.ok(spacing >= 1_000, `the next poll came ${spacing} ms after the 503`);
        assert.ok(spacing < 3_000, `the next poll came ${spacing} ms after the 503`);
        await assertNoTxt(knot, "busy.alpha.test");
      },
    );

    await t.step(
      "a 503 whose Retry-After is past the poll deadline: the CA's answer at once, with retryAfter; TXT removed",
      async () => {
        proxy.inject({
          resource: "order",
          fault: { kind: "respond", status: 503, headers: { "retry-after": "3600" }, body: "" },
        });
        const before = Date.now();
        const err = await rejection(issuer.issue(request(knot, "later.alpha.test")));
        const after = Date.now();
        assert.ok(after - before < 5_000, `failed after ${after - before} ms`);
        assert.equal(err.kind, "acme");
        assert.equal(
          err.message,
          `${
            label("later.alpha.test")
          }: validation of later.alpha.test: the CA answered HTTP 503 with an empty body`,
        );
        const retryAt = err.retryAfter?.getTime() ?? 0;
        assert.ok(retryAt >= before + 3_600_000 && retryAt <= after + 3_600_000);
        await assertNoTxt(knot, "later.alpha.test");
      },
    );

    await t.step(
      "a 503 with a problem document on newOrder: the CA's words and its Retry-After",
      async () => {
        proxy.inject({
          resource: "newOrder",
          fault: {
            kind: "respond",
            status: 503,
            headers: { "retry-after": "60", "content-type": "application/problem+json" },
            body: problem("serverInternal", "The service is down for maintenance", 503),
          },
        });
        const before = Date.now();
        const err = await rejection(issuer.issue(request(knot, "down.alpha.test")));
        const after = Date.now();
        assert.equal(
          err.message,
          `${label("down.alpha.test")}: creating the order: the CA answered HTTP 503 serverInternal: ` +
            "The service is down for maintenance",
        );
        const retryAt = err.retryAfter?.getTime() ?? 0;
        assert.ok(retryAt >= before + 60_000 && retryAt <= after + 60_000);
      },
    );

    await t.step(
      "a 500 with an HTML page on finalize: the step and the status, the page on one line; TXT removed",
      async () => {
        proxy.inject({
          resource: "finalize",
          fault: {
            kind: "respond",
            status: 500,
            headers: { "content-type": "text/html" },
            body:
              "<html>\n  <head><title>500 Internal Server Error</title></head>\n  <body>Oops</body>\n</html>\n",
          },
        });
        const err = await rejection(issuer.issue(request(knot, "broken.alpha.test")));
        assert.equal(err.kind, "acme");
        assert.equal(err.retryAfter, undefined);
        assert.equal(
          err.message,
          `${
            label("broken.alpha.test")
          }: finalizing the order: the CA answered HTTP 500 without a problem document: ` +
            "<html> <head><title>500 Internal Server Error</title></head> <body>Oops</body> </html>",
        );
        await assertNoTxt(knot, "broken.alpha.test");
      },
    );

    await t.step(
      "a 200 with a body that is not JSON where an authorization is expected: a clear error",
      async () => {
        proxy.inject({
          resource: "authorization",
          fault: {
            kind: "respond",
            status: 200,
            headers: { "content-type": "text/html" },
            body: "<p>maintenance</p>",
          },
        });
        const err = await rejection(issuer.issue(request(knot, "maintenance.alpha.test")));
        assert.equal(err.kind, "acme");
        assert.match(
          err.message,
          new RegExp(
            `^${escape(label("maintenance.alpha.test"))}: fetching the authorization ${
              escape(proxy.directoryUrl.replace("/dir", "/authZ/"))
            }\\S+: ` +
              "the CA answered HTTP 200 with a body that is not a JSON object: <p>maintenance</p>$",
          ),
        );
        await assertNoTxt(knot, "maintenance.alpha.test");
      },
    );

    await t.step(
      "a 201 with a body that is not JSON for the new order: a clear error at once, not a poll timeout",
      async () => {
        proxy.inject({
          resource: "newOrder",
          fault: {
            kind: "respond",
            status: 201,
            headers: { "content-type": "text/plain", location: `${proxy.directoryUrl}-order` },
            body: "created",
          },
        });
        const started = Date.now();
        const err = await rejection(issuer.issue(request(knot, "garbled.alpha.test")));
        assert.ok(Date.now() - started < 5_000);
        assert.equal(
          err.message,
          `${
            label("garbled.alpha.test")
          }: creating the order: the CA answered HTTP 201 with a body that is not a JSON object: created`,
        );
      },
    );

    await t.step(
      "a directory that is not an ACME directory: the status or the body named, and the next try reads it again",
      async () => {
        const fresh = createIssuer(options);
        proxy.inject({
          resource: "directory",
          fault: { kind: "respond", status: 503, headers: { "content-type": "text/html" }, body: "<html>" },
        });
        const down = await rejection(fresh.issue(request(knot, "dir-down.alpha.test")));
        assert.equal(down.kind, "acme");
        assert.match(
          down.message,
          new RegExp(`GET ${escape(proxy.directoryUrl)}: the ACME directory answered 503`),
        );
        proxy.inject({
          resource: "directory",
          fault: { kind: "respond", status: 200, headers: { "content-type": "text/html" }, body: "<html>" },
        });
        const html = await rejection(fresh.issue(request(knot, "dir-html.alpha.test")));
        assert.match(
          html.message,
          new RegExp(`the ACME directory ${escape(proxy.directoryUrl)} is not a JSON object`),
        );
        const cert = await fresh.issue(request(knot, "dir-back.alpha.test"));
        assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, ["dir-back.alpha.test"]);
        await assertNoTxt(knot, "dir-down.alpha.test");
      },
    );

    await t.step("the connection cut mid-response: the transport's cause, at once", async () => {
      proxy.inject({ resource: "newOrder", fault: { kind: "drop" } });
      const started = Date.now();
      const err = await rejection(issuer.issue(request(knot, "cut.alpha.test")));
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 10_000, `failed after ${elapsed} ms`);
      assert.equal(err.kind, "acme");
      assert.equal(
        err.message,
        `${label("cut.alpha.test")}: creating the order: POST ${
          proxy.directoryUrl.replace("/dir", "/order-plz")
        }: ` +
          "error reading a body from connection",
      );
      await assertNoTxt(knot, "cut.alpha.test");
    });

    await t.step(
      "badNonce on the first try of every POST: retried with the fresh nonce, never surfaced",
      async () => {
        proxy.inject({
          resource: /./,
          method: "POST",
          times: Infinity,
          retriesPass: true,
          fault: {
            kind: "respond",
            status: 400,
            headers: { "content-type": "application/problem+json" },
            body: problem("badNonce", "JWS has an invalid anti-replay nonce", 400),
          },
        });
        const seen = proxy.requests.length;
        const logged = logs.length;
        const cert = await issuer.issue(request(knot, "nonce.alpha.test"));
        proxy.clearFaults();
        assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, ["nonce.alpha.test"]);
        const posts = proxy.requests.slice(seen).filter((r) => r.method === "POST");
        const rejected = posts.filter((r) => r.fault === "respond");
        assert.ok(rejected.length >= 6, `${rejected.length} POSTs rejected`);
        assert.equal(rejected.length * 2, posts.length, "every POST rejected once and retried once");
        assert.equal(proxy.count("newNonce") > 0, true);
        assert.deepEqual(
          logs.slice(logged).filter((l) => JSON.stringify(l).includes("badNonce")),
          [],
          "no log line mentions badNonce",
        );
        await assertNoTxt(knot, "nonce.alpha.test");
      },
    );

    await t.step(
      "a chain the CA sends for another key than the request's is refused, so it is never written",
      async () => {
        const ca = await createOpensslCa({ name: "Faults" });
        try {
          const domain = "otherkey.alpha.test";
          const otherKey = await generatePrivateKey("ecdsa-p256");
          const chain = await ca.signCsr(await createCsr(otherKey, [domain]), 90) + ca.intermediatePem;
          proxy.inject({
            resource: "certificate",
            method: "POST",
            fault: {
              kind: "respond",
              status: 200,
              headers: { "content-type": "application/pem-certificate-chain" },
              body: chain,
            },
          });
          const err = await rejection(issuer.issue(request(knot, domain)));
          assert.equal(err.kind, "pki");
          assert.equal(
            err.message,
            `${label(domain)}: the CA issued a certificate for a different key than the request's`,
          );
          await assertNoTxt(knot, domain);
        } finally {
          proxy.clearFaults();
          ca.remove();
        }
      },
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
