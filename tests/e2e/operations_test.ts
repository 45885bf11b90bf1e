/**
 * notariat as a cluster runs it, the real program against kube-apiserver, Knot and pebble: two replicas with
 * leader election (the leader killed with SIGKILL, the standby taking over without ordering again), the
 * HTTP listener's health and metrics, and the bounded shutdown in the middle of an issuance (TXT values
 * removed, pending authorizations deactivated, exit 0), as well as an interrupted dns-check.
 *
 * The issuance is interrupted while it waits for propagation to every name server of the zone: the zone's
 * NS (ns1.alpha.test, 127.0.0.1:53) never answers on this machine, so the wait lasts until the signal, at a
 * point where the order exists, its authorizations are pending and the TXT value is in Knot.
 */
import assert from "node:assert/strict";
import { openAcmeSession } from "../../src/acme/client.ts";
import { trustCa } from "../../src/acme/http.ts";
import { LEASE_NAME } from "../../src/controller/elector.ts";
import {
  certificatesConfigMap,
  type Json,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  unb64,
  waitFor,
} from "../harness/cluster_objects.ts";
import { queryTxt } from "../harness/dns_servers.ts";
import { freePort } from "../harness/ports.ts";
import { notariatCommand } from "../harness/program.ts";
import { startStack } from "../harness/stack.ts";

/** A running notariat process whose output lines are collected as they come. */
interface Program {
  child: Deno.ChildProcess;
  lines: string[];
  /** The JSON log records so far (other lines skipped). */
  records(): Json[];
  done: Promise<void>;
}

function spawn(args: string[]): Program {
  const child = notariatCommand(args, { stdout: "piped", stderr: "piped" }).spawn();
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
    if (rest !== "") lines.push(rest);
  };
  const records = () =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  return {
    child,
    lines,
    records,
    done: Promise.all([collect(child.stdout), collect(child.stderr)]).then(() => {}),
  };
}

async function stop(program: Program | undefined): Promise<void> {
  if (program === undefined) return;
  try {
    program.child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await program.child.status;
  await program.done;
}

Deno.test("leader election, health, metrics and the bounded shutdown of the real program", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  const programs: Program[] = [];
  try {
    const dns = `127.0.0.1:${knot.address.port}`;
    const tsigText = knot.keys["hmac-sha256"].text;
    const keySecret = tsigText.slice(tsigText.lastIndexOf(":") + 1);
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      tsigSecret(tsigText, dns),
    ]);
    const setCertificates = (entries: unknown[]) => cluster.apply([certificatesConfigMap(entries)]);
    const entry = (secret: string, domain: string) => ({
      secret,
      domains: [domain],
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    });
    await setCertificates([entry("site-tls", "site.alpha.test")]);
    const token = await cluster.mintToken("notariat", "notariat");
    const kubeconfig = cluster.kubeconfigFor(token, "notariat");
    const baseArgs = [
      "-config",
      "notariat",
      "-kubeconfig",
      kubeconfig,
      "-acme",
      pebble.directoryUrl,
      "-acme-ca",
      pebble.caFile,
      "-dns-resolver",
      dns,
      "-log-level",
      "debug",
    ];
    const replica = () => {
      const port = freePort();
      const program = spawn([
        ...baseArgs,
        "-leader-elect",
        "-propagation-check",
        "update-server",
        "-http-address",
        `127.0.0.1:${port}`,
      ]);
      programs.push(program);
      return { program, url: `http://127.0.0.1:${port}` };
    };
    const get = async (url: string) => {
      try {
        const response = await fetch(url);
        return { status: response.status, text: await response.text() };
      } catch {
        return undefined;
      }
    };
    const secret = async (name: string) => {
      const { status, body } = await cluster.request("GET", `/api/v1/namespaces/notariat/secrets/${name}`);
      return status === 200 ? body : undefined;
    };
    const leading = (p: Program) => p.records().some((r) => r.msg === "leader election: leading");
    // The outcome's line (the issuer's own debug line of the same name has no `secret`).
    const issued = (p: Program) =>
      p.records().filter((r) => r.msg === "certificate issued" && r.secret !== undefined).length;

    const first = replica();
    await waitFor("the first replica to lead", () => Promise.resolve(leading(first.program) || undefined));
    const second = replica();
    let leader = first;
    let standby = second;

    await t.step("one replica leads and issues; the other stands by, ready, doing nothing", async () => {
      await waitFor("site-tls", () => secret("site-tls"));
      await waitFor("the standby", () =>
        Promise.resolve(
          standby.program.records().some((r) => r.msg === "leader election: standing by") || undefined,
        ));
      const ready = await waitFor("the standby's /readyz", async () => {
        const answer = await get(`${standby.url}/readyz`);
        return answer?.status === 200 ? answer : undefined;
      });
      assert.equal(ready.text, "ok: standing by\n");
      assert.equal((await get(`${standby.url}/livez`))?.status, 200);
      assert.ok(
        !standby.program.records().some((r) => r.msg === "starting"),
        "the standby does not reconcile",
      );
      const lease = await cluster.request(
        "GET",
        `/apis/coordination.k8s.io/v1/namespaces/notariat/leases/${LEASE_NAME}`,
      );
      assert.equal(lease.status, 200);
      assert.equal(lease.body.spec.leaseDurationSeconds, 15);
      assert.ok(String(lease.body.spec.holderIdentity).includes("_"), "identity is host_uuid");
    });

    await t.step("the leader's /readyz, /livez and /metrics (cert-manager's names, no secret)", async () => {
      assert.equal((await get(`${leader.url}/livez`))?.status, 200);
      const page = (await get(`${leader.url}/metrics`))!.text;
      const labels = 'name="site-tls",namespace="notariat",issuer_name="' +
        new URL(pebble.directoryUrl).host +
        '",issuer_kind="ACMEServer",issuer_group="notariat.io"';
      for (
        const series of [
          "certmanager_certificate_expiration_timestamp_seconds",
          "certmanager_certificate_not_after_timestamp_seconds",
          "certmanager_certificate_not_before_timestamp_seconds",
          "certmanager_certificate_renewal_timestamp_seconds",
        ]
      ) {
        assert.match(
          page,
          new RegExp(`^${series}\\{${labels.replaceAll(".", "\\.")}\\} \\d+(\\.\\d+)?$`, "m"),
          series,
        );
      }
      assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="True"} 1\n`));
      assert.match(
        page,
        /^certmanager_http_acme_client_request_count\{scheme="https",host="127\.0\.0\.1:\d+",action="new_order",method="POST",status="201"\} 1$/m,
      );
      assert.match(
        page,
        /^certmanager_http_acme_client_request_duration_seconds_count\{.*action="finalize".*\} 1$/m,
      );
      assert.match(page, /^notariat_reconcile_total\{result="issued",reason="DoesNotExist"\} 1$/m);
      assert.match(page, /^notariat_dns_updates_total\{server="127\.0\.0\.1:\d+",result="success"\} 2$/m);
      assert.match(page, new RegExp(`^notariat_leader_status\\{lease="${LEASE_NAME}"\\} 1$`, "m"));
      assert.match(page, /^notariat_build_info\{version="\d+\.\d+\.\d+",deno="[\d.]+"\} 1$/m);
      const key = unb64((await secret("site-tls")).data["tls.key"]);
      assert.ok(!page.includes(keySecret), "no TSIG secret");
      assert.ok(!page.includes("PRIVATE KEY") && !page.includes(key.split("\n")[1]), "no private key");
      assert.ok(!page.includes(token), "no token");
      const standbyPage = (await get(`${standby.url}/metrics`))!.text;
      assert.match(standbyPage, new RegExp(`^notariat_leader_status\\{lease="${LEASE_NAME}"\\} 0$`, "m"));
      // Ready once the loop has read the ConfigMap.
      const ready = await waitFor("the leader's /readyz", async () => {
        const answer = await get(`${leader.url}/readyz`);
        return answer?.status === 200 ? answer : undefined;
      });
      assert.equal(ready.text, "ok: leading\n");
    });

    await t.step(
      "the leader killed with SIGKILL: the standby takes over and orders nothing again",
      async () => {
        const serial = (await secret("site-tls")).metadata.annotations["notariat.io/serial"];
        const killedAt = performance.now();
        leader.program.child.kill("SIGKILL");
        await leader.program.child.status;
        await waitFor(
          "the standby to lead",
          () => Promise.resolve(leading(standby.program) || undefined),
          40_000,
        );
        console.log(`takeover ${((performance.now() - killedAt) / 1000).toFixed(1)} s after SIGKILL`);
        await waitFor("the new leader's pass over site-tls", () =>
          Promise.resolve(
            standby.program.records().some((r) =>
              r.msg === "certificate is valid" && r.secret === "notariat/site-tls"
            ) ||
              undefined,
          ));
        assert.equal(issued(leader.program) + issued(standby.program), 1, "one certificate ordered in all");
        assert.equal((await secret("site-tls")).metadata.annotations["notariat.io/serial"], serial);
        [leader, standby] = [standby, leader];
      },
    );

    await t.step(
      "SIGTERM mid-issuance: aborted in time, TXT removed, authorization deactivated, Lease released, exit 0",
      async () => {
        // The new entry's propagation wait includes the zone's NS, which never answers: the issuance hangs there.
        await stop(leader.program);
        const program = spawn([
          ...baseArgs,
          "-leader-elect",
          "-http-address",
          "",
          "-propagation-check",
          "all",
          "-propagation-timeout",
          "10m",
          "-shutdown-timeout",
          "10s",
        ]);
        programs.push(program);
        await setCertificates([entry("site-tls", "site.alpha.test"), entry("stuck-tls", "stuck.alpha.test")]);
        const name = "_acme-challenge.stuck.alpha.test";
        await waitFor(
          "the TXT value in Knot",
          async () => (await queryTxt(knot.address, name)).length > 0 || undefined,
          60_000,
        );
        const order = program.records().find((r) =>
          r.msg === "ACME order created" && r.entry?.includes("stuck-tls")
        );
        assert.ok(order, "an order exists");
        const signalled = performance.now();
        program.child.kill("SIGTERM");
        const status = await program.child.status;
        await program.done;
        const seconds = (performance.now() - signalled) / 1000;
        console.log(`exited ${seconds.toFixed(1)} s after SIGTERM`);
        assert.equal(status.code, 0, program.lines.slice(-10).join("\n"));
        assert.deepEqual(await queryTxt(knot.address, name), [], "the TXT value is gone");
        const deactivated = program.records().filter((r) => r.msg === "ACME authorization deactivated");
        assert.equal(deactivated.length, 1);
        assert.ok(program.records().some((r) => r.msg === "leader election: Lease released"));
        const lease = await cluster.request(
          "GET",
          `/apis/coordination.k8s.io/v1/namespaces/notariat/leases/${LEASE_NAME}`,
        );
        assert.equal(lease.body.spec.holderIdentity ?? "", "", "the Lease has no holder");

        // pebble itself says the authorization is deactivated (asked with the account's own key).
        const accounts = (await cluster.request("GET", "/api/v1/namespaces/notariat/secrets")).body.items
          .filter((s: Json) => s.metadata.name.startsWith("notariat-acme-"));
        assert.equal(accounts.length, 1);
        const release = trustCa(pebble.directoryUrl, pebble.caPem);
        try {
          const session = await openAcmeSession({
            directoryUrl: pebble.directoryUrl,
            accountKeyPem: unb64(accounts[0].data["account.key"]),
          });
          // The account exists: registering again with its key answers with its URL (RFC 8555 7.3.1).
          await session.register("ops@alpha.test");
          const authorization = await session.post(deactivated[0].authorization, null);
          assert.equal((authorization.body as Json).status, "deactivated");
        } finally {
          release();
        }
      },
    );

    await t.step("an interrupted dns-check removes its probe record", async () => {
      const keyFile = Deno.makeTempFileSync({ suffix: ".key" });
      Deno.writeTextFileSync(keyFile, tsigText);
      const check = spawn([
        "dns-check",
        "-tsig-key",
        keyFile,
        "-domain",
        "probe.alpha.test",
        "-nameserver",
        dns,
        "-dns-resolver",
        dns,
        "-propagation-check",
        "all",
        "-propagation-timeout",
        "10m",
      ]);
      programs.push(check);
      const name = "_acme-challenge.probe.alpha.test";
      await waitFor(
        "the probe TXT in Knot",
        async () => (await queryTxt(knot.address, name)).length > 0 || undefined,
      );
      check.child.kill("SIGINT");
      const status = await check.child.status;
      await check.done;
      assert.equal(status.code, 1);
      assert.ok(
        check.lines.some((l) => l.startsWith("FAILED: ") && l.includes("stopped")),
        check.lines.join("\n"),
      );
      assert.deepEqual(await queryTxt(knot.address, name), [], "the probe is gone");
      Deno.removeSync(keyFile);
    });
  } finally {
    for (const program of programs) await stop(program);
    await stack.stop();
  }
});
