/**
 * What a failed issuance leaves at the CA, against a real pebble (behind the fault-injecting proxy, which
 * counts requests) and Knot: no order at all when the DNS side is broken before ordering, and no pending
 * authorization when the issuance fails after the order exists. Authorization states are read back from
 * pebble with the account's own signed POST-as-GET, independently of the issuer.
 */
import assert from "node:assert/strict";
import { openAcmeSession } from "../../src/acme/client.ts";
import { createIssuer, type IssueRequest, type IssuerOptions } from "../../src/acme/issuer.ts";
import { trustCa } from "../../src/acme/http.ts";
import { type AcmeProxyHandle, startAcmeProxy } from "../harness/acme_proxy.ts";
import { type DnsServerHandle, queryTxt, startKnot } from "../harness/dns_servers.ts";
import { startPebble } from "../harness/pebble.ts";
import { freePort } from "../harness/ports.ts";
import { createMemoryAccountStore, type MemoryAccountStore } from "../harness/memory_account_store.ts";
import {
  type LogLine,
  testIssueRequest,
  testIssuerOptions,
  type TestIssuerSettings,
} from "../harness/test_issuer.ts";
import { escape, problem, rejection } from "./expect.ts";

const EMAIL = "deactivate@alpha.test";

function request(knot: DnsServerHandle, domains: string[], extra: Partial<IssueRequest> = {}): IssueRequest {
  return testIssueRequest(knot, domains, { email: EMAIL, ...extra });
}

/** The authorization URLs the issuer touched since request number `seen`, once each. */
function authorizationsSince(proxy: AcmeProxyHandle, seen: number): string[] {
  const paths = proxy.requests.slice(seen).filter((r) => r.resource === "authorization").map((r) => r.path);
  return [...new Set(paths)].map((path) => new URL(path, proxy.directoryUrl).href);
}

/** "domain: status" for each authorization, sorted, as pebble reports it to the account that owns it. */
async function authorizationStates(
  proxy: AcmeProxyHandle,
  store: MemoryAccountStore,
  urls: string[],
): Promise<string[]> {
  const [accountKeyPem] = [...store.keys.values()];
  const session = await openAcmeSession({ directoryUrl: proxy.directoryUrl, accountKeyPem });
  const release = trustCa(proxy.directoryUrl, proxy.caPem);
  try {
    assert.equal((await session.register(EMAIL)).status, 200, "the existing account is found");
    const states = await Promise.all(urls.map(async (url) => {
      const answer = await session.post(url, null);
      assert.equal(answer.status, 200, `fetching ${url}`);
      const body = answer.body as { status: string; identifier: { value: string } };
      return `${body.identifier.value}: ${body.status}`;
    }));
    return states.sort();
  } finally {
    release();
  }
}

async function assertNoTxt(knot: DnsServerHandle, names: string[]): Promise<void> {
  for (const name of names) {
    assert.deepEqual(await queryTxt(knot.address, name), [], `no TXT left at ${name}`);
  }
}

function messages(logs: LogLine[], from: number, message: string): LogLine[] {
  return logs.slice(from).filter((l) => l.message === message);
}

Deno.test("a failed issuance wastes nothing at the CA: DNS checked before ordering, pending authorizations deactivated", async (t) => {
  const knot = await startKnot();
  const stops: (() => Promise<void>)[] = [() => knot.stop()];
  try {
    const pebble = await startPebble({ dnsServer: knot.address });
    stops.push(() => pebble.stop());
    const proxy = await startAcmeProxy(pebble);
    stops.push(() => proxy.stop());
    const store = createMemoryAccountStore();
    const logs: LogLine[] = [];
    const options = (extra: TestIssuerSettings = {}): IssuerOptions =>
      testIssuerOptions(proxy, knot.address, { accounts: store, pollTimeoutMs: 20_000, logs, ...extra });
    const issuer = createIssuer(options());
    const at = `127.0.0.1:${knot.address.port}`;

    await t.step("a successful issuance leaves its authorizations valid and deactivates none", async () => {
      const seen = proxy.requests.length;
      const logged = logs.length;
      const domains = ["ok.alpha.test", "ok.beta.test"];
      const cert = await issuer.issue(request(knot, domains));
      assert.deepEqual(cert.domains, domains);
      assert.equal(proxy.count("newOrder"), 1);
      assert.deepEqual(await authorizationStates(proxy, store, authorizationsSince(proxy, seen)), [
        "ok.alpha.test: valid",
        "ok.beta.test: valid",
      ]);
      assert.deepEqual(messages(logs, logged, "ACME authorization deactivated"), []);
    });

    await t.step("Knot down: the DNS error, and the CA never sees an order", async () => {
      await knot.halt();
      try {
        const orders = proxy.count("newOrder");
        const down = createIssuer(options({ dns: { timeoutMs: 200 } }));
        const req = request(knot, ["down.alpha.test"]);
        const err = await rejection(down.issue(req));
        assert.equal(err.kind, "dns");
        assert.match(
          err.message,
          new RegExp(
            `^${escape(req.label)}: _acme-challenge\\.down\\.alpha\\.test \\(for down\\.alpha\\.test\\): ` +
              `query _acme-challenge\\.down\\.alpha\\.test CNAME to ${escape(at)} failed: `,
          ),
        );
        assert.equal(proxy.count("newOrder"), orders, "no newOrder");
      } finally {
        await knot.restart();
      }
    });

    await t.step("a zone the server does not serve, and a CNAME loop: the DNS error, no order", async () => {
      const orders = proxy.count("newOrder");
      const unknown = request(knot, ["ok.alpha.test", "x.gamma.test"]);
      const err = await rejection(issuer.issue(unknown));
      assert.equal(err.kind, "dns");
      assert.equal(
        err.message,
        `${unknown.label}: _acme-challenge.x.gamma.test (for x.gamma.test): no zone holding ` +
          `_acme-challenge.x.gamma.test found at server ${at} (answers: _acme-challenge.x.gamma.test: REFUSED, ` +
          "x.gamma.test: REFUSED, gamma.test: REFUSED, test: REFUSED)",
      );
      const loop = request(knot, ["loop.alpha.test"]);
      const looped = await rejection(issuer.issue(loop));
      assert.equal(looped.kind, "dns");
      assert.equal(
        looped.message,
        `${loop.label}: _acme-challenge.loop.alpha.test (for loop.alpha.test): CNAME loop: ` +
          "_acme-challenge.loop.alpha.test -> loop2.alpha.test -> _acme-challenge.loop.alpha.test",
      );
      assert.equal(proxy.count("newOrder"), orders, "no newOrder");
    });

    await t.step(
      "the CA refuses the challenge answers: its error is returned, both pending authorizations deactivated",
      async () => {
        proxy.inject({
          resource: "challenge",
          times: 2,
          fault: {
            kind: "respond",
            status: 400,
            headers: { "content-type": "application/problem+json" },
            body: problem("malformed", "the challenge cannot be answered now", 400),
          },
        });
        const seen = proxy.requests.length;
        const logged = logs.length;
        const domains = ["refused.alpha.test", "refused.beta.test"];
        const req = request(knot, domains);
        const err = await rejection(issuer.issue(req));
        assert.equal(err.kind, "acme");
        assert.match(
          err.message,
          new RegExp(
            `^${escape(req.label)}: answering the dns-01 challenge for refused\\.(alpha|beta)\\.test: ` +
              "the CA answered HTTP 400 malformed: the challenge cannot be answered now$",
          ),
        );
        const urls = authorizationsSince(proxy, seen);
        assert.equal(urls.length, 2);
        assert.deepEqual(
          messages(logs, logged, "ACME authorization deactivated").map((l) => l.fields.authorization).sort(),
          [...urls].sort(),
        );
        assert.deepEqual(await authorizationStates(proxy, store, urls), [
          "refused.alpha.test: deactivated",
          "refused.beta.test: deactivated",
        ]);
        await assertNoTxt(knot, ["_acme-challenge.refused.alpha.test", "_acme-challenge.refused.beta.test"]);
      },
    );

    await t.step(
      "the values never propagate to the zone's name servers: the DNS error, the authorization deactivated",
      async () => {
        // The zone's NS (ns1 = 127.0.0.1) is looked for on a port nobody listens on. Knot may hold an update
        // until the next second when another came just before: the exchange timeout leaves room for that.
        const nowhere = freePort();
        const unseen = createIssuer(options({
          dns: {
            propagation: "all",
            authoritativePort: nowhere,
            propagationTimeoutMs: 300,
            timeoutMs: 1_500,
          },
        }));
        const seen = proxy.requests.length;
        const orders = proxy.count("newOrder");
        const challenges = proxy.count("challenge");
        const req = request(knot, ["unseen.alpha.test"]);
        const err = await rejection(unseen.issue(req));
        assert.equal(err.kind, "dns");
        assert.match(
          err.message,
          new RegExp(
            `^${escape(req.label)}: propagation not seen after 300 ms: server 127\\.0\\.0\\.1:${nowhere} ` +
              `does not serve TXT "[A-Za-z0-9_-]{43}" at _acme-challenge\\.unseen\\.alpha\\.test`,
          ),
        );
        assert.equal(proxy.count("newOrder"), orders + 1);
        assert.equal(proxy.count("challenge"), challenges, "the challenge was never answered");
        assert.deepEqual(await authorizationStates(proxy, store, authorizationsSince(proxy, seen)), [
          "unseen.alpha.test: deactivated",
        ]);
        await assertNoTxt(knot, ["_acme-challenge.unseen.alpha.test"]);
      },
    );

    await t.step(
      "a key the server refuses shows only on the write, after ordering: the DNS error, the authorization deactivated",
      async () => {
        const seen = proxy.requests.length;
        const orders = proxy.count("newOrder");
        const req = request(knot, ["badkey.alpha.test"], {
          zoneAccess: { key: knot.unauthorizedKey.key, nameserver: knot.address },
        });
        const err = await rejection(issuer.issue(req));
        assert.equal(err.kind, "dns");
        assert.equal(
          err.message,
          `${req.label}: adding TXT for badkey.alpha.test in zone 'alpha.test': server ${at} does not know key ` +
            `'${knot.unauthorizedKey.key.name}' (hmac-sha256) or does not allow it to update zone 'alpha.test' ` +
            "(NOTAUTH, TSIG BADKEY)",
        );
        assert.equal(proxy.count("newOrder"), orders + 1);
        assert.deepEqual(await authorizationStates(proxy, store, authorizationsSince(proxy, seen)), [
          "badkey.alpha.test: deactivated",
        ]);
      },
    );

    await t.step(
      "validation fails for one name of two: that error is returned and no authorization is left pending",
      async () => {
        // pebble asks Knot directly, which does not follow the CNAME into beta.test: the CA never sees the value.
        const seen = proxy.requests.length;
        const req = request(knot, ["delegated.alpha.test", "sibling.alpha.test"]);
        const err = await rejection(issuer.issue(req));
        assert.equal(err.kind, "acme");
        assert.ok(
          err.message.startsWith(
            `${req.label}: dns-01 validation of delegated.alpha.test failed: the CA did not find the expected ` +
              "TXT value at _acme-challenge.delegated.alpha.test (CNAME to delegated.beta.test) (unauthorized: ",
          ),
          err.message,
        );
        const [failed, sibling] = await authorizationStates(proxy, store, authorizationsSince(proxy, seen));
        assert.equal(failed, "delegated.alpha.test: invalid");
        // The sibling's validation races the failure: valid when it was quicker, else deactivated.
        assert.match(sibling, /^sibling\.alpha\.test: (valid|deactivated)$/);
        await assertNoTxt(knot, ["delegated.beta.test", "_acme-challenge.sibling.alpha.test"]);
      },
    );

    await t.step(
      "finalize refused: the valid authorizations are kept for reuse, none deactivated",
      async () => {
        proxy.inject({
          resource: "finalize",
          fault: {
            kind: "respond",
            status: 403,
            headers: { "content-type": "application/problem+json" },
            body: problem("unauthorized", "finalization is not allowed now", 403),
          },
        });
        const seen = proxy.requests.length;
        const logged = logs.length;
        const req = request(knot, ["final.alpha.test"]);
        const err = await rejection(issuer.issue(req));
        assert.equal(
          err.message,
          `${req.label}: finalizing the order: the CA answered HTTP 403 unauthorized: finalization is not allowed now`,
        );
        assert.deepEqual(messages(logs, logged, "ACME authorization deactivated"), []);
        assert.deepEqual(await authorizationStates(proxy, store, authorizationsSince(proxy, seen)), [
          "final.alpha.test: valid",
        ]);
      },
    );

    await t.step(
      "a deactivation the CA fails is logged, and the original error is still the one returned",
      async () => {
        proxy.inject({
          resource: "challenge",
          fault: {
            kind: "respond",
            status: 400,
            headers: { "content-type": "application/problem+json" },
            body: problem("malformed", "the challenge cannot be answered now", 400),
          },
        });
        // The first authorization request is the issuer's fetch; every later one (the deactivation) fails.
        proxy.inject({
          resource: "authorization",
          skip: 1,
          times: Infinity,
          fault: {
            kind: "respond",
            status: 500,
            headers: { "content-type": "text/html" },
            body: "<p>down</p>",
          },
        });
        const seen = proxy.requests.length;
        const logged = logs.length;
        const req = request(knot, ["kept.alpha.test"]);
        const err = await rejection(issuer.issue(req));
        proxy.clearFaults();
        assert.equal(err.kind, "acme");
        assert.equal(
          err.message,
          `${req.label}: answering the dns-01 challenge for kept.alpha.test: ` +
            "the CA answered HTTP 400 malformed: the challenge cannot be answered now",
        );
        const urls = authorizationsSince(proxy, seen);
        assert.deepEqual(
          messages(logs, logged, "deactivating an ACME authorization failed").map((l) => l.fields),
          [{
            entry: req.label,
            authorization: urls[0],
            error:
              `fetching the authorization ${urls[0]}: the CA answered HTTP 500 without a problem document: ` +
              "<p>down</p>",
          }],
        );
        assert.deepEqual(await authorizationStates(proxy, store, urls), ["kept.alpha.test: pending"]);
        await assertNoTxt(knot, ["_acme-challenge.kept.alpha.test"]);
      },
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
