/**
 * The demo's stack and story: starts Knot (taking TSIG-signed updates for alpha.test and beta.test), pebble
 * (an ACME CA validating DNS-01 against Knot) and a kube-apiserver with etcd; applies manifests/ (RBAC
 * included), a TSIG Secret and a ConfigMap; runs the real program (`main.ts -once`) under the service
 * account's token; shows the Secrets it wrote; runs it again to show that valid Secrets are left alone.
 */
import { parseCertificateChain, privateKeyMatchesCertificate, verifyChain } from "../src/pki/certificate.ts";
import { type Json, loadManifests, RBAC_MANIFESTS } from "../tests/harness/cluster_objects.ts";
import { notariatCommand } from "../tests/harness/program.ts";
import { startStack } from "../tests/harness/stack.ts";

const say = (text: string) => console.log(`\n== ${text}`);

async function runNotariat(args: string[]): Promise<number> {
  const child = notariatCommand(args, { stdout: "inherit", stderr: "inherit" }).spawn();
  return (await child.status).code;
}

const started = performance.now();
say("starting Knot DNS, pebble and kube-apiserver + etcd on 127.0.0.1");
const stack = await startStack();
const { cluster: kube, knot, pebble } = stack;
const dns = `127.0.0.1:${knot.address.port}`;
console.log(
  `Knot ${dns} (zones alpha.test, beta.test), pebble ${pebble.directoryUrl}, kube-apiserver ${kube.server}`,
);
const workDir = await Deno.makeTempDir({ prefix: "notariat-demo-" });
let code = 1;
try {
  say("applying manifests/ (namespace, service account, RBAC), a TSIG Secret and the ConfigMap");
  const secretsAccess = loadManifests(["secrets-access"]).find((m: Json) => m.kind === "RoleBinding");
  const certificates = [
    {
      secret: "web/www-alpha-tls",
      domains: ["www.alpha.test", "alpha.test"],
      email: "hostmaster@alpha.test",
      tsigSecretName: "notariat/dns-tsig",
    },
    {
      secret: "wildcard-beta-tls",
      domains: ["*.beta.test", "beta.test"],
      email: "hostmaster@alpha.test",
      tsigSecretName: "dns-tsig",
      keyType: "ecdsa-p384",
    },
  ];
  await kube.apply([
    ...loadManifests(RBAC_MANIFESTS),
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } },
    { ...secretsAccess, metadata: { ...secretsAccess.metadata, namespace: "web" } },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: "notariat", name: "dns-tsig" },
      type: "Opaque",
      stringData: { key: knot.keys["hmac-sha256"].text, nameserver: dns },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { namespace: "notariat", name: "notariat" },
      data: { certificates: certificates.map((c) => `- ${JSON.stringify(c)}`).join("\n") + "\n" },
    },
  ]);
  console.log(`certificates:\n${certificates.map((c) => `- ${JSON.stringify(c)}`).join("\n")}`);

  const token = await kube.mintToken("notariat", "notariat");
  const kubeconfig = kube.kubeconfigFor(token, "notariat");
  const args = [
    "-once",
    "-config=notariat",
    "-kubeconfig",
    kubeconfig,
    "-acme",
    pebble.directoryUrl,
    "-acme-ca",
    pebble.caFile,
    "-dns-resolver",
    dns,
    "-propagation-check=update-server",
    "-log-format=logfmt",
  ];
  say(`notariat ${args.join(" ")}`);
  code = await runNotariat(args);
  console.log(`exit code ${code}`);

  say("the Secrets notariat wrote");
  const rootPem = await pebble.issuingRoot();
  const versions: string[] = [];
  for (const [namespace, name] of [["web", "www-alpha-tls"], ["notariat", "wildcard-beta-tls"]]) {
    const { status, body } = await kube.request("GET", `/api/v1/namespaces/${namespace}/secrets/${name}`);
    if (status !== 200) {
      console.log(`${namespace}/${name}: HTTP ${status}`);
      code = 1;
      continue;
    }
    versions.push(body.metadata.resourceVersion);
    const chain = atob(body.data["tls.crt"]);
    const key = atob(body.data["tls.key"]);
    const [leaf, ...rest] = parseCertificateChain(chain);
    console.log(`${namespace}/${name} (${body.type}, resourceVersion ${body.metadata.resourceVersion})`);
    console.log(`  names:       ${leaf.dnsNames.join(", ")}`);
    console.log(`  issuer:      ${leaf.issuer}; chain: leaf + ${rest.length} intermediate(s)`);
    console.log(`  valid:       ${leaf.notBefore.toISOString()} .. ${leaf.notAfter.toISOString()}`);
    console.log(`  chain verifies against pebble's root: ${await verifyChain(chain, rootPem)}`);
    console.log(`  tls.key matches the certificate:      ${await privateKeyMatchesCertificate(key, chain)}`);
  }

  say("running notariat again: every Secret is valid, so nothing is written and the CA is not called");
  const again = await runNotariat(args);
  const after: string[] = [];
  for (const [namespace, name] of [["web", "www-alpha-tls"], ["notariat", "wildcard-beta-tls"]]) {
    const { body } = await kube.request("GET", `/api/v1/namespaces/${namespace}/secrets/${name}`);
    after.push(body?.metadata?.resourceVersion);
  }
  console.log(`exit code ${again}; resourceVersions ${versions.join(", ")} -> ${after.join(", ")}`);
  if (again !== 0 || after.join() !== versions.join()) code = 1;
} finally {
  say("stopping everything the demo started");
  await stack.stop();
  await Deno.remove(workDir, { recursive: true });
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
Deno.exit(code);
