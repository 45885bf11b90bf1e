/**
 * The CA flags as users give them: `main.ts -once` in a subprocess against pebble 2.10 requiring external
 * account binding and offering profiles and an alternate root, a real kube-apiserver (the manifests' RBAC)
 * and Knot.
 */
import assert from "node:assert/strict";
import { parseCertificateChain, verifyChain } from "../../src/pki/certificate.ts";
import { loadManifests, RBAC_MANIFESTS, tsigSecret } from "../harness/cluster_objects.ts";
import { startKnot } from "../harness/dns_servers.ts";
import { startKube } from "../harness/kube.ts";
import { localStackFlags, notariatCommand } from "../harness/program.ts";
import { startPebble } from "../harness/pebble.ts";

const HMAC_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
const DAY = 24 * 3600 * 1000;

Deno.test("-acme-eab-secret, -acme-profile and -preferred-chain against pebble 2.10", async (t) => {
  const [cluster, knot] = await Promise.all([startKube(), startKnot()]);
  const stops: (() => Promise<void>)[] = [() => cluster.stop(), () => knot.stop()];
  try {
    const pebble = await startPebble({
      dnsServer: knot.address,
      version: "2.10",
      config: {
        externalAccountBindingRequired: true,
        externalAccountMACKeys: { "kid-1": HMAC_KEY },
        profiles: {
          default: { description: "90 days", validityPeriod: 90 * 86400 },
          shortlived: { description: "6 days", validityPeriod: 6 * 86400 },
        },
      },
      env: { PEBBLE_ALTERNATE_ROOTS: "1" },
    });
    stops.push(() => pebble.stop());
    const dns = `127.0.0.1:${knot.address.port}`;
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      tsigSecret(knot.keys["hmac-sha256"].text, dns),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: "notariat", name: "ca-eab" },
        stringData: { kid: "kid-1", hmacKey: HMAC_KEY },
      },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { namespace: "notariat", name: "notariat" },
        data: {
          certificates: JSON.stringify([
            {
              secret: "short-tls",
              domains: ["short.alpha.test"],
              email: "ops@alpha.test",
              tsigSecretName: "tsig",
            },
            {
              secret: "long-tls",
              domains: ["long.alpha.test"],
              email: "ops@alpha.test",
              tsigSecretName: "tsig",
              profile: "default",
            },
          ]),
        },
      },
    ]);
    const token = await cluster.mintToken("notariat", "notariat");
    const alternateRoot = await (await pebble.management("/roots/1")).text();
    const alternateName = parseCertificateChain(alternateRoot)[0].subject.replace(/^CN=/, "");
    const run = async (extra: string[]) => {
      const out = await notariatCommand([
        "-once",
        "-config",
        "notariat",
        ...localStackFlags({ kubeconfig: cluster.kubeconfigFor(token, "notariat"), pebble, dns }),
        ...extra,
      ], { stdout: "piped", stderr: "piped" }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { code: out.code, text };
    };
    const secret = async (name: string) =>
      (await cluster.request("GET", `/api/v1/namespaces/notariat/secrets/${name}`)).body;

    await t.step("a profile the CA does not offer fails every entry that relies on it, named", async () => {
      const { code, text } = await run(["-acme-eab-secret", "ca-eab", "-acme-profile", "nonesuch"]);
      assert.equal(code, 1);
      assert.match(
        text,
        /-acme-profile: profile \\"nonesuch\\" is not offered by the CA \(offered: default, shortlived\)/,
      );
      assert.equal(
        (await cluster.request("GET", "/api/v1/namespaces/notariat/secrets/short-tls")).status,
        404,
      );
      assert.equal(
        (await secret("long-tls")).type,
        "kubernetes.io/tls",
        "the entry naming its own profile is served",
      );
    });

    await t.step(
      "bound account, default profile from the flag, preferred chain: issued, no key in the output",
      async () => {
        const { code, text } = await run([
          "-acme-eab-secret",
          "ca-eab",
          "-acme-profile",
          "shortlived",
          "-preferred-chain",
          alternateName,
        ]);
        assert.equal(code, 0, text);
        assert.ok(!text.includes(HMAC_KEY), "the HMAC key never reaches the output");
        const short = await secret("short-tls");
        const chain = atob(short.data["tls.crt"]);
        const [leaf] = parseCertificateChain(chain);
        assert.equal(Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / DAY), 6);
        assert.equal(parseCertificateChain(chain).at(-1)?.issuerCommonName, alternateName);
        assert.equal(await verifyChain(chain, alternateRoot), true);
        assert.equal(short.metadata.annotations["notariat.io/profile"], "shortlived");
        assert.equal(short.metadata.annotations["notariat.io/renewal-source"], "ari");
        const line = text.split("\n").find((l) =>
          l.includes('"certificate issued"') && l.includes("short-tls")
        );
        assert.ok(line, text);
        const logged = JSON.parse(line);
        assert.equal(logged.renewal_source, "ari");
        assert.equal(logged.renew_at, short.metadata.annotations["notariat.io/renew-at"]);
      },
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
});
