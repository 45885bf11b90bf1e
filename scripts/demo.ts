/**
 * The demo: the whole product on a local stack. Starts Knot (zones alpha.test and beta.test, TSIG-signed
 * updates), pebble (an ACME CA validating DNS-01 through a CNAME-following resolver in front of Knot) and a
 * kube-apiserver with etcd; then runs the `kubectl` and `notariat` commands of the README's quick start, read
 * from the README step by step (scripts/quick_start.ts), with its own values for the settings, and runs
 * notariat in its watching mode under the service account's token, as the Deployment's pod would. Four entries show a wildcard with its apex,
 * a Secret in another namespace, a CNAME-delegated name and an RSA key; a live edit of the ConfigMap and a
 * deleted Secret are acted on without a restart. Ends with a table of the certificates and the kubectl
 * commands to look closer.
 *
 * `-keep` leaves the stack running (until Ctrl-C) and prints the kubeconfig to use; otherwise everything the
 * demo started is stopped. Exit status 0 only when every step had the expected outcome.
 */
import { parseCertificateChain, privateKeyMatchesCertificate, verifyChain } from "../src/pki/certificate.ts";
import { type Json, waitFor } from "../tests/harness/cluster_objects.ts";
import { localStackFlags, notariatCommand } from "../tests/harness/program.ts";
import { startStack } from "../tests/harness/stack.ts";
import { type QuickStartStep, quickStartSteps } from "./quick_start.ts";

const keep = Deno.args.includes("-keep") || Deno.args.includes("--keep");
const unknown = Deno.args.filter((a) => a !== "-keep" && a !== "--keep");
if (unknown.length > 0) {
  console.error(`usage: bash scripts/demo.sh [-keep]   (unknown argument ${unknown[0]})`);
  Deno.exit(2);
}

const REPO = new URL("../", import.meta.url).pathname;
const STEPS: QuickStartStep[] = quickStartSteps(Deno.readTextFileSync(`${REPO}README.md`));
const say = (text: string) => console.log(`\n== ${text}`);
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures.push(what);
};

interface Entry {
  secret: string;
  domains: string[];
  email: string;
  tsigSecretName: string;
  keyType?: string;
}

function certificatesYaml(entries: Entry[]): string {
  return entries.map((e) =>
    [
      `- secret: ${e.secret}`,
      `  domains: [${e.domains.map((d) => d.startsWith("*") ? `"${d}"` : d).join(", ")}]`,
      `  email: ${e.email}`,
      `  tsigSecretName: ${e.tsigSecretName}`,
      ...(e.keyType ? [`  keyType: ${e.keyType}`] : []),
    ].join("\n")
  ).join("\n") + "\n";
}

const started = performance.now();
say("starting Knot DNS, pebble (through a CNAME-following resolver) and kube-apiserver + etcd on 127.0.0.1");
const stack = await startStack({ followCnames: true });
const { cluster, knot, pebble } = stack;
const dns = `127.0.0.1:${knot.address.port}`;
console.log(
  `Knot ${dns} (zones alpha.test, beta.test), pebble ${pebble.directoryUrl}, kube-apiserver ${cluster.server}`,
);
const workDir = await Deno.makeTempDir({ prefix: "notariat-demo-" });
// The demo's directory looks like a checkout, as the quick start's commands expect.
for (const name of ["manifests", "main.ts", "src", "deno.json", "deno.lock"]) {
  await Deno.symlink(`${REPO}${name}`, `${workDir}/${name}`);
}
/** The quick start's settings, with the demo's values. */
const settings = {
  NAMESERVER: dns,
  DOMAIN: "www.alpha.test",
  IMAGE: "notariat:demo",
  KUBECONFIG: cluster.adminKubeconfig,
};
// alpha.test and beta.test are not in public DNS: notariat asks Knot for everything, and checks propagation
// on the server that took the update only (the zones' NS names resolve to port 53, where nothing listens).
// `status` takes no DNS flags.
const NOTARIAT_FUNCTION =
  'notariat() { local run="deno run --unstable-net --allow-net --allow-read --allow-env --allow-sys main.ts"; ' +
  `case "$1" in status) $run "$@" ;; *) $run "$@" -dns-resolver ${dns} -propagation-check update-server ;; esac; }`;
let notariat: Deno.ChildProcess | undefined;

/** Runs `command` with bash in the demo's directory, printing it first as a user would type it. */
async function sh(command: string, options: { quiet?: boolean } = {}): Promise<string> {
  console.log(`$ ${command}`);
  const out = await new Deno.Command("bash", {
    args: ["-c", `${NOTARIAT_FUNCTION}\n${command}`],
    cwd: workDir,
    env: { ...settings, DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!options.quiet) console.log(text.trimEnd().replace(/^/gm, "  "));
  if (!out.success) throw new Error(`\`${command}\` failed with status ${out.code}`);
  return text;
}

/** Runs the `kubectl` and `notariat` commands of quick-start step `number`; says which others it leaves. */
async function runStep(number: number): Promise<void> {
  const step = STEPS.find((s) => s.number === number);
  if (step === undefined) throw new Error(`the README's quick start has no step ${number}`);
  console.log(`(quick start, step ${number}: ${step.title})`);
  for (const command of step.commands) {
    if (/^(kubectl|notariat) /.test(command)) await sh(command);
    else console.log(`  not run here: ${command}`);
  }
}

async function readSecret(ref: string): Promise<Json | undefined> {
  const [namespace, name] = ref.includes("/") ? ref.split("/") : ["notariat", ref];
  const { status, body } = await cluster.request("GET", `/api/v1/namespaces/${namespace}/secrets/${name}`);
  return status === 200 ? body : undefined;
}

/** Waits until `ref` holds a certificate for exactly `domains` (other than `notVersion`, when given). */
function certificateFor(ref: string, domains: string[], notVersion?: string): Promise<Json> {
  return waitFor(
    `${ref} to hold a certificate for ${domains.join(", ")}`,
    async () => {
      const secret = await readSecret(ref);
      if (
        secret?.type !== "kubernetes.io/tls" || secret.metadata.resourceVersion === notVersion
      ) return undefined;
      const [leaf] = parseCertificateChain(atob(secret.data["tls.crt"]));
      return [...leaf.dnsNames].sort().join() === [...domains].sort().join() ? secret : undefined;
    },
    120_000,
    200,
  );
}

let code = 1;
try {
  console.log("\nThe quick start's settings, with the demo's values:");
  for (const [name, value] of Object.entries(settings)) console.log(`$ export ${name}=${value}`);
  console.log(`$ ${NOTARIAT_FUNCTION}`);

  say("the TSIG key: Knot's, made with keymgr -t when the harness configured Knot, checked with dns-check");
  await Deno.writeTextFile(`${workDir}/notariat.key`, knot.keys["hmac-sha256"].text + "\n");
  await runStep(2);
  check(true, "dns-check added, saw and removed a probe record with the key");

  say("installing notariat, letting it keep Secrets in namespace web, storing the key");
  await sh("kubectl create namespace web");
  await runStep(3);
  console.log(
    "(no kubelet runs here: the Deployment is stored, and the demo runs notariat as its pod would)",
  );

  say("the ConfigMap: four certificates");
  const entries: Entry[] = [
    // A Secret in another namespace than notariat's.
    {
      secret: "web/www-tls",
      domains: ["www.alpha.test", "alpha.test"],
      email: "hostmaster@alpha.test",
      tsigSecretName: "notariat-tsig",
    },
    // A wildcard with its apex: two values at one name, in one UPDATE.
    {
      secret: "wildcard-beta-tls",
      domains: ["*.beta.test", "beta.test"],
      email: "hostmaster@alpha.test",
      tsigSecretName: "notariat-tsig",
      keyType: "ecdsa-p384",
    },
    // _acme-challenge.delegated.alpha.test is a CNAME to delegated.beta.test: the value goes to beta.test.
    {
      secret: "delegated-alpha-tls",
      domains: ["delegated.alpha.test"],
      email: "hostmaster@alpha.test",
      tsigSecretName: "notariat-tsig",
    },
    // An RSA key, as older clients or cert-manager's default need.
    {
      secret: "legacy-alpha-tls",
      domains: ["legacy.alpha.test"],
      email: "hostmaster@alpha.test",
      tsigSecretName: "notariat-tsig",
      keyType: "rsa2048",
    },
  ];
  await Deno.writeTextFile(`${workDir}/certificates.yaml`, certificatesYaml(entries));
  await sh("cat certificates.yaml");
  await runStep(4);

  say("notariat, watching (as the Deployment runs it, with the service account's token)");
  const token = await cluster.mintToken("notariat", "notariat");
  const args = [
    "-config",
    "notariat",
    ...localStackFlags({ kubeconfig: cluster.kubeconfigFor(token, "notariat"), pebble, dns }),
    "-log-format",
    "logfmt",
  ];
  console.log(`$ notariat ${args.join(" ")} &`);
  notariat = notariatCommand(args, { stdout: "inherit", stderr: "inherit" }).spawn();
  const first = await Promise.all(entries.map((e) => certificateFor(e.secret, e.domains)));
  check(true, "all four Secrets hold certificates");
  await runStep(5);

  say("a live edit: api.alpha.test added to web/www-tls, acted on without a restart");
  entries[0].domains.push("api.alpha.test");
  await Deno.writeTextFile(`${workDir}/certificates.yaml`, certificatesYaml(entries));
  await runStep(4);
  const edited = await certificateFor(
    entries[0].secret,
    entries[0].domains,
    first[0].metadata.resourceVersion,
  );
  check(true, "web/www-tls now covers api.alpha.test");

  say("production: the Deployment gets -acme of Let's Encrypt, and a deleted Secret is issued again at once");
  console.log("(the demo's notariat stays on pebble: nothing here reaches Let's Encrypt)");
  await runStep(6);
  const deployment =
    (await cluster.request("GET", "/apis/apps/v1/namespaces/notariat/deployments/notariat")).body;
  const container = deployment.spec.template.spec.containers[0];
  check(
    container.args.includes("-acme=https://acme-v02.api.letsencrypt.org/directory") &&
      container.image === settings.IMAGE,
    `the Deployment runs ${container.image} with args ${container.args.join(" ")}`,
  );
  const reissued = await certificateFor(
    entries[0].secret,
    entries[0].domains,
    edited.metadata.resourceVersion,
  );
  check(
    parseCertificateChain(atob(reissued.data["tls.crt"]))[0].serialNumber !==
      parseCertificateChain(atob(edited.data["tls.crt"]))[0].serialNumber,
    "web/www-tls holds a new certificate",
  );

  say("the certificates");
  const rootPem = await pebble.issuingRoot();
  const rows = [["SECRET", "DOMAINS", "KEY", "EXPIRES", "CHAIN", "KEY MATCHES"]];
  for (const entry of entries) {
    const secret = await readSecret(entry.secret);
    const chain = atob(secret.data["tls.crt"]);
    const [leaf] = parseCertificateChain(chain);
    const verified = await verifyChain(chain, rootPem);
    const matches = await privateKeyMatchesCertificate(atob(secret.data["tls.key"]), chain);
    check(
      verified && matches && leaf.keyType === (entry.keyType ?? "ecdsa-p256"),
      `${entry.secret} is valid`,
    );
    const ref = entry.secret.includes("/") ? entry.secret : `notariat/${entry.secret}`;
    rows.push([
      ref,
      leaf.dnsNames.join(","),
      leaf.keyType ?? "?",
      leaf.notAfter.toISOString().slice(0, 10),
      verified ? "verifies" : "BROKEN",
      matches ? "yes" : "NO",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());

  notariat.kill("SIGTERM");
  const status = await notariat.status;
  notariat = undefined;
  check(status.code === 0, `notariat stopped on SIGTERM with status ${status.code}`);

  say("the final state, as notariat status reports it");
  const table = await sh("notariat status -config notariat -namespace notariat -kubeconfig $KUBECONFIG");
  check(
    entries.every((entry) => {
      const ref = entry.secret.includes("/") ? entry.secret : `notariat/${entry.secret}`;
      return table.split("\n").some((line) => line.trimStart().startsWith(`${ref} `) && / Ready /.test(line));
    }),
    "notariat status shows every entry Ready",
  );

  say("to look closer");
  console.log([
    `export KUBECONFIG=${cluster.adminKubeconfig}`,
    "kubectl -n notariat get configmap notariat -o yaml     # the list of certificates",
    "kubectl -n notariat get events                          # Issued, Renewed, Failed, InvalidConfig",
    "kubectl -n web get secret www-tls -o yaml               # tls.crt, tls.key, notariat.io/* annotations",
    "kubectl -n web get secret www-tls -o jsonpath='{.data.tls\\.crt}' | base64 -d | openssl x509 -noout -text",
    "kubectl -n notariat get secrets                         # certificates and the ACME account key",
    `kdig @127.0.0.1 -p ${knot.address.port} +tcp TXT _acme-challenge.www.alpha.test   # no record left behind`,
  ].join("\n"));
  await sh(
    "kubectl -n web get secret www-tls -o jsonpath='{.data.tls\\.crt}' | base64 -d | " +
      "openssl x509 -noout -subject -ext subjectAltName",
  );
  await sh("kubectl -n notariat get secrets");
  code = failures.length === 0 ? 0 : 1;

  if (keep) {
    say("-keep: the stack keeps running; press Ctrl-C to stop it");
    console.log(`export KUBECONFIG=${cluster.adminKubeconfig}`);
    console.log(
      `Knot: 127.0.0.1:${knot.address.port} (key in ${workDir}/notariat.key), pebble: ${pebble.directoryUrl}`,
    );
    await new Promise<void>((resolve) => {
      Deno.addSignalListener("SIGINT", resolve);
      Deno.addSignalListener("SIGTERM", resolve);
    });
  } else {
    say("uninstalling: Secrets in other namespaces stay (notariat never deletes one)");
    await runStep(7);
  }
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
} finally {
  say("stopping everything the demo started");
  if (notariat) {
    notariat.kill("SIGTERM");
    await notariat.status;
  }
  await stack.stop();
  await Deno.remove(workDir, { recursive: true });
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length > 0) console.log(`failed: ${failures.join("; ")}`);
}
Deno.exit(code);
