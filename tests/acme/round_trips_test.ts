/**
 * How many exchanges an issuance costs, counted by the proxy in front of a real pebble (Knot takes the
 * records): one newNonce to start the session, and another only when more requests are in flight at once than
 * nonces are kept, every other nonce taken from an answer; the authorizations of an order fetched, and its
 * challenges answered, at the same time; the order polled rather than each authorization; at most 12
 * exchanges for a single-name certificate with a new account.
 */
import assert from "node:assert/strict";
import type { IssueRequest } from "../../src/acme/issuer.ts";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { type ProxiedRequest, startAcmeProxy } from "../harness/acme_proxy.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";
import { startPebble } from "../harness/pebble.ts";
import { createTestIssuer, testIssueRequest } from "../harness/test_issuer.ts";

function request(knot: DnsServerHandle, domains: string[]): IssueRequest {
  return testIssueRequest(knot, domains, { email: "round-trips@alpha.test" });
}

/** Whether each request after the first arrived before the first of them was answered. */
function overlapping(requests: ProxiedRequest[]): boolean {
  const [first, ...rest] = requests;
  return rest.every((r) => first.answeredAt !== undefined && r.at < first.answeredAt);
}

/** The next request for `resource` is answered only after a second: a client working in parallel sends the
 * others meanwhile, one working in turn waits. */
const SLOW_ANSWER_MS = 1_000;

Deno.test("round trips of an issuance, counted in front of pebble", async (t) => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    const pebble = await startPebble({ dnsServer: knot.address });
    stops.push(() => pebble.stop());
    const proxy = await startAcmeProxy(pebble);
    stops.push(() => proxy.stop());
    const issuer = createTestIssuer(proxy, knot.address, {
      dns: { pollIntervalMs: 20 },
      concurrency: 4,
      // The issuer's own timing of order polls: the exchanges counted are those a real run makes.
      pollPolicy: undefined,
    });

    await t.step("a single name with a new account: one newNonce and at most 12 exchanges", async () => {
      const cert = await issuer.issue(request(knot, ["single.alpha.test"]));
      assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, ["single.alpha.test"]);
      assert.equal(proxy.count("newNonce"), 1, "one newNonce");
      assert.equal(proxy.count("newAccount"), 1);
      assert.equal(proxy.count("authorization"), 1, "the authorization fetched, never polled");
      const total = proxy.requests.length;
      assert.ok(total <= 12, `${total} exchanges: ${proxy.requests.map((r) => r.resource).join(", ")}`);
    });

    /** Issues a two-name certificate; its authorization and challenge requests, and its newNonce count. */
    const twoNames = async (label: string) => {
      proxy.inject({ resource: "authorization", fault: { kind: "delay", ms: SLOW_ANSWER_MS } });
      proxy.inject({ resource: "challenge", fault: { kind: "delay", ms: SLOW_ANSWER_MS } });
      const seen = proxy.requests.length;
      const domains = [`${label}.alpha.test`, `${label}.beta.test`];
      const cert = await issuer.issue(request(knot, domains));
      assert.deepEqual(parseCertificateChain(cert.certificatePem)[0].dnsNames, domains);
      for (const domain of domains) {
        assert.deepEqual(await queryTxt(knot.address, `_acme-challenge.${domain}`), []);
      }
      const mine = proxy.requests.slice(seen);
      return {
        authorizations: mine.filter((r) => r.resource === "authorization"),
        challenges: mine.filter((r) => r.resource === "challenge"),
        newNonces: mine.filter((r) => r.resource === "newNonce").length,
      };
    };

    await t.step(
      "two names: a second nonce only for the first two requests in flight at once, then the answers' nonces",
      async () => {
        const { authorizations, challenges, newNonces } = await twoNames("pair");
        assert.equal(authorizations.length, 2);
        assert.equal(challenges.length, 2);
        assert.ok(newNonces <= 1, `${newNonces} newNonce`);
        assert.ok(overlapping(challenges), "the second challenge was answered before the first answer came");
      },
    );

    await t.step(
      "the next two-name certificate: authorizations fetched and challenges answered in parallel, no newNonce",
      async () => {
        const { authorizations, challenges, newNonces } = await twoNames("again");
        assert.equal(newNonces, 0, "every nonce from an earlier answer");
        assert.ok(
          overlapping(authorizations),
          "the second authorization was asked for before the first came",
        );
        assert.ok(overlapping(challenges), "the second challenge was answered before the first answer came");
      },
    );

    await t.step("concurrent orders of one account share the nonces of all answers", async () => {
      const before = proxy.count("newNonce");
      const posts = proxy.requests.filter((r) => r.method === "POST").length;
      const names = [1, 2, 3, 4].map((i) => [`many${i}.alpha.test`]);
      await Promise.all(names.map((domains) => issuer.issue(request(knot, domains))));
      const newPosts = proxy.requests.filter((r) => r.method === "POST").length - posts;
      const fetched = proxy.count("newNonce") - before;
      // A nonce is fetched only when every kept one is in use: at most one per request in flight at once.
      assert.ok(fetched <= 4, `${fetched} newNonce for ${newPosts} POSTs of 4 concurrent orders`);
      assert.ok(newPosts >= 4 * 6, `${newPosts} POSTs`);
    });
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
