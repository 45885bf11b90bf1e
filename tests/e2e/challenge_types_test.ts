/**
 * The program with dns-account-01 and dns-persist-01 against pebble 2.10, Knot and a real kube-apiserver, under
 * the RBAC of manifests/: two instances with different accounts validate one domain at once, each at its own
 * name; a standing record is written once, left alone by a reissue whose key may not update the zone, printed
 * by `persist-record` for a zone kept by hand (no TSIG Secret at all), and removed with its entry.
 */
import assert from "node:assert/strict";
import { accountSecretName } from "../../src/acme/account.ts";
import { accountLabel } from "../../src/acme/account_label.ts";
import { openAcmeSession } from "../../src/acme/client.ts";
import { trustCa } from "../../src/acme/http.ts";
import { parseCertificateChain, verifyChain } from "../../src/pki/certificate.ts";
import {
  certificatesConfigMap,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  unb64,
} from "../harness/cluster_objects.ts";
import { nsupdateTxt, queryTxt, startKnot } from "../harness/dns_servers.ts";
import { startKube } from "../harness/kube.ts";
import { startPebble } from "../harness/pebble.ts";
import { notariatCommand } from "../harness/program.ts";

const NS = "notariat";

Deno.test("dns-account-01 and dns-persist-01 through the notariat program", async (t) => {
  const [cluster, knot] = await Promise.all([startKube(), startKnot()]);
  const stops: (() => Promise<void>)[] = [() => cluster.stop(), () => knot.stop()];
  try {
    const pebble = await startPebble({ dnsServer: knot.address, version: "2.10" });
    stops.push(() => pebble.stop());
    const root = await pebble.issuingRoot();
    const dns = `127.0.0.1:${knot.address.port}`;
    const knotTsig = (key: string) => tsigSecret(key, dns, { namespace: NS });
    const configMap = (name: string, entries: unknown[]) =>
      certificatesConfigMap(entries, { namespace: NS, name, yaml: true });
    // The second instance reads its own ConfigMap: the shipped Role names only "notariat".
    const teamRole = [{
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { namespace: NS, name: "teams" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], resourceNames: ["team-b"], verbs: ["get"] }],
    }, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { namespace: NS, name: "teams" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "teams" },
      subjects: [{ kind: "ServiceAccount", name: "notariat", namespace: NS }],
    }];
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      ...teamRole,
      knotTsig(knot.keys["hmac-sha256"].text),
    ]);
    const kubeconfig = cluster.kubeconfigFor(await cluster.mintToken(NS, "notariat"), NS);
    const common = ["-kubeconfig", kubeconfig, "-acme", pebble.directoryUrl, "-acme-ca", pebble.caFile];
    const once = async (config: string) => {
      const out = await notariatCommand([
        "-config",
        config,
        ...common,
        "-dns-resolver",
        dns,
        "-propagation-check",
        "update-server",
        "-once",
      ], { stdout: "piped", stderr: "piped" }).output();
      return {
        code: out.code,
        log: new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout),
      };
    };
    const secret = async (name: string) => {
      const { status, body } = await cluster.request("GET", `/api/v1/namespaces/${NS}/secrets/${name}`);
      return status === 200 ? body : undefined;
    };
    const assertCertificate = async (name: string, domains: string[]) => {
      const body = await secret(name);
      assert.ok(body, `Secret ${name} exists`);
      const chain = unb64(body.data["tls.crt"]);
      assert.equal(await verifyChain(chain, root), true);
      assert.deepEqual([...parseCertificateChain(chain)[0].dnsNames].sort(), [...domains].sort());
      return body;
    };
    /** The account URL of an email's stored key, as the CA knows it. */
    const accountUrl = async (email: string) => {
      const body = await secret(accountSecretName(pebble.directoryUrl, email));
      const release = trustCa(pebble.directoryUrl, pebble.caPem);
      try {
        const session = await openAcmeSession({
          directoryUrl: pebble.directoryUrl,
          accountKeyPem: unb64(body.data["account.key"]),
        });
        await session.register(email);
        return session.accountUrl!;
      } finally {
        release();
      }
    };

    await t.step(
      "two instances with different accounts validate one domain at once, each at its own name",
      async () => {
        const entry = (team: string) => ({
          secret: `${team}-tls`,
          domains: ["shared.alpha.test"],
          email: `${team}@alpha.test`,
          tsigSecretName: "tsig",
          challenge: "dns-account-01",
        });
        await cluster.apply([configMap("notariat", [entry("a")]), configMap("team-b", [entry("b")])]);
        const [a, b] = await Promise.all([once("notariat"), once("team-b")]);
        assert.equal(a.code, 0, a.log);
        assert.equal(b.code, 0, b.log);
        const annotated = await assertCertificate("a-tls", ["shared.alpha.test"]);
        assert.equal(annotated.metadata.annotations["notariat.io/challenge"], "dns-account-01");
        await assertCertificate("b-tls", ["shared.alpha.test"]);
        const names = await Promise.all(
          ["a@alpha.test", "b@alpha.test"].map(async (email) =>
            `_${accountLabel(await accountUrl(email))}._acme-challenge.shared.alpha.test.`
          ),
        );
        assert.notEqual(names[0], names[1]);
        const changes = (await knot.journal("alpha.test")).filter((c) => c.includes("shared.alpha.test."));
        for (const name of names) {
          const mine = changes.filter((c) => c.split(" ")[1] === name);
          assert.deepEqual(mine.map((c) => c[0]), ["+", "-"], `${name}: one value added, then removed`);
        }
        assert.equal(
          changes.filter((c) => !names.includes(c.split(" ")[1])).length,
          0,
          `only the two accounts' names were written: ${changes.join("; ")}`,
        );
      },
    );

    const persist = {
      secret: "persist-tls",
      domains: ["*.persist.beta.test", "persist.beta.test"],
      email: "persist@beta.test",
      tsigSecretName: "tsig",
      challenge: "dns-persist-01",
    };
    const owner = "_validation-persist.persist.beta.test";
    let value = "";

    await t.step("dns-persist-01: the standing record is written once and remembered", async () => {
      await cluster.apply([configMap("notariat", [persist])]);
      const run = await once("notariat");
      assert.equal(run.code, 0, run.log);
      const body = await assertCertificate("persist-tls", persist.domains);
      assert.equal(body.metadata.annotations["notariat.io/challenge"], "dns-persist-01");
      value = `pebble.letsencrypt.org; accounturi=${await accountUrl(persist.email)}; policy=wildcard`;
      assert.deepEqual(await queryTxt(knot.address, owner), [value]);
      const store = await secret("notariat-standing-records");
      assert.deepEqual(
        JSON.parse(unb64(store.data["records.json"])).map((
          r: { entry: string; value: string },
        ) => [r.entry, r.value]),
        [[`${NS}/persist-tls`, value]],
      );
      // A standing record outlives the attempt: it is not a challenge value for the next start to sweep.
      const journal = await cluster.request("GET", `/api/v1/namespaces/${NS}/secrets/notariat-challenges`);
      assert.deepEqual(Object.keys(journal.body?.data ?? {}), [], "no journal record for a standing record");
    });

    await t.step(
      "a reissue with a TSIG key the server refuses succeeds and changes nothing in the zone",
      async () => {
        const before = await knot.journal("beta.test");
        await cluster.apply([knotTsig(knot.unauthorizedKey.text)]);
        await cluster.request("DELETE", `/api/v1/namespaces/${NS}/secrets/persist-tls`);
        const run = await once("notariat");
        assert.equal(run.code, 0, run.log);
        await assertCertificate("persist-tls", persist.domains);
        assert.deepEqual(await knot.journal("beta.test"), before, "no UPDATE was applied");
        await cluster.apply([knotTsig(knot.keys["hmac-sha256"].text)]);
      },
    );

    const hand = {
      secret: "hand-tls",
      domains: ["hand.alpha.test"],
      email: "persist@beta.test",
      challenge: "dns-persist-01",
      // No TSIG Secret names the server here, and the zone's SOA MNAME is on port 53: the entry names it.
      nameserver: dns,
    };

    await t.step(
      "persist-record prints the record; with it in place and no tsigSecretName, issuance works",
      async () => {
        await cluster.apply([configMap("notariat", [persist, hand])]);
        const printed = await notariatCommand([
          "persist-record",
          "-config",
          "notariat",
          "-secret",
          "hand-tls",
          ...common,
        ], {
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(printed.stdout);
        assert.equal(printed.code, 0, new TextDecoder().decode(printed.stderr));
        const expected = `pebble.letsencrypt.org; accounturi=${await accountUrl(hand.email)}`;
        assert.equal(stdout, `_validation-persist.hand.alpha.test. IN TXT "${expected}"\n`);
        const missing = await once("notariat");
        assert.equal(missing.code, 1, "without the record the entry fails");
        assert.match(
          missing.log,
          /no standing record authorizes this account at _validation-persist\.hand\.alpha\.test/,
        );
        await nsupdateTxt(
          knot.address,
          knot.keys["hmac-sha256"],
          "alpha.test",
          "add",
          "_validation-persist.hand.alpha.test",
          expected,
        );
        const run = await once("notariat");
        assert.equal(run.code, 0, run.log);
        await assertCertificate("hand-tls", hand.domains);
      },
    );

    await t.step(
      "removing the entry from the ConfigMap removes its standing record, and only that",
      async () => {
        await cluster.apply([configMap("notariat", [hand])]);
        const run = await once("notariat");
        assert.equal(run.code, 0, run.log);
        assert.deepEqual(await queryTxt(knot.address, owner), []);
        assert.equal(
          (await queryTxt(knot.address, "_validation-persist.hand.alpha.test")).length,
          1,
          "kept by hand",
        );
        const store = await secret("notariat-standing-records");
        assert.deepEqual(JSON.parse(unb64(store.data["records.json"])), []);
      },
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
