import assert from "node:assert/strict";
import type { CertificateSpec } from "../../src/config/types.ts";
import type { Outcome } from "../../src/controller/reconcile.ts";
import { createOutcomeRecorder } from "../../src/controller/record.ts";
import type { EventRecorder } from "../../src/observe/events.ts";
import { createLogger } from "../../src/observe/log.ts";

const spec: CertificateSpec = {
  index: 2,
  secret: { namespace: "web", name: "site" },
  domains: ["a.alpha.test", "b.alpha.test"],
  email: "ops@alpha.test",
  tsigSecret: { namespace: "notariat", name: "tsig" },
  keyType: "ecdsa-p256",
};

function setup(withEvents = true) {
  const lines: Record<string, unknown>[] = [];
  const recorded: string[] = [];
  const logger = createLogger({
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
    now: () => new Date("2026-01-01T00:00:00Z"),
  });
  const events: EventRecorder = {
    record(type, reason, message) {
      recorded.push(`${type} ${reason} ${message}`);
      return Promise.resolve();
    },
    setSubject() {},
  };
  return { lines, recorded, recorder: createOutcomeRecorder(logger, withEvents ? events : undefined) };
}

const outcome = (o: Partial<Outcome>): Outcome => ({
  spec,
  challenge: "dns-01",
  result: "valid",
  reason: "Valid",
  message: "",
  durationMs: 1234,
  ...o,
});

Deno.test("a failure names why it failed and, told apart, why the issuance was attempted", async () => {
  const { lines, recorded, recorder } = setup();
  await recorder.outcome(
    outcome({
      result: "failed",
      reason: "config",
      message: "TSIG Secret notariat/tsig does not exist",
      attempt: { reason: "DoesNotExist", message: "the Secret does not exist" },
    }),
  );
  assert.deepEqual(lines, [{
    time: "2026-01-01T00:00:00.000Z",
    level: "error",
    msg: "certificate failed",
    entry: "certificates[2]",
    secret: "web/site",
    domains: "a.alpha.test,b.alpha.test",
    challenge: "dns-01",
    reason: "config",
    duration: "1.234s",
    error: "TSIG Secret notariat/tsig does not exist",
    attempted_because: "DoesNotExist",
  }]);
  assert.deepEqual(recorded, [
    "Warning Failed certificates[2] (secret web/site): failed (config): TSIG Secret notariat/tsig does not exist; " +
    "the issuance was attempted because of DoesNotExist (the Secret does not exist)",
  ]);
});

Deno.test("a refusal (no issuance attempted) names its reason as the failure", async () => {
  const { recorded, recorder } = setup();
  await recorder.outcome(
    outcome({ result: "failed", reason: "WrongType", message: "the Secret has type x" }),
  );
  assert.deepEqual(recorded, [
    "Warning Failed certificates[2] (secret web/site): failed (WrongType): the Secret has type x",
  ]);
});

Deno.test("issued and renewed certificates are Normal Events Issued and Renewed", async () => {
  const { recorded, recorder } = setup();
  await recorder.outcome(outcome({ result: "issued", reason: "DomainsMismatch", message: "issued x" }));
  await recorder.outcome(outcome({ result: "renewed", reason: "Expiring", message: "renewed x" }));
  assert.deepEqual(recorded, [
    "Normal Issued certificates[2] (secret web/site): DomainsMismatch: issued x",
    "Normal Renewed certificates[2] (secret web/site): Expiring: renewed x",
  ]);
});

Deno.test("a valid certificate is logged with its renewal time and makes no Event", async () => {
  const { lines, recorded, recorder } = setup();
  await recorder.outcome(outcome({ renewAt: new Date("2026-03-02T00:00:00Z") }));
  assert.deepEqual([lines[0].msg, lines[0].reason, lines[0].renew_at], [
    "certificate is valid",
    "Valid",
    "2026-03-02T00:00:00.000Z",
  ]);
  assert.deepEqual(recorded, []);
});

Deno.test("the renewal time and its source are logged, and the next ARI check when it comes first", async () => {
  const { lines, recorder } = setup();
  await recorder.outcome(outcome({
    renewAt: new Date("2026-03-01T06:00:00Z"),
    renewal: { at: new Date("2026-03-02T00:00:00Z"), source: "ari" },
  }));
  await recorder.outcome(outcome({
    renewAt: new Date("2026-03-02T00:00:00Z"),
    renewal: { at: new Date("2026-03-02T00:00:00Z"), source: "rule" },
  }));
  assert.deepEqual([lines[0].renew_at, lines[0].renewal_source, lines[0].next_check], [
    "2026-03-02T00:00:00.000Z",
    "ari",
    "2026-03-01T06:00:00.000Z",
  ]);
  assert.deepEqual([lines[1].renew_at, lines[1].renewal_source, lines[1].next_check], [
    "2026-03-02T00:00:00.000Z",
    "rule",
    undefined,
  ]);
});

Deno.test("an invalid entry is an error line and an InvalidConfig Event", async () => {
  const { lines, recorded, recorder } = setup();
  await recorder.invalidConfig("certificates[1] (secret web/x): email: missing");
  assert.equal(lines[0].level, "error");
  assert.deepEqual(recorded, ["Warning InvalidConfig certificates[1] (secret web/x): email: missing"]);
});

Deno.test("without an Event recorder (dry run) outcomes are only logged", async () => {
  const { lines, recorded, recorder } = setup(false);
  await recorder.outcome(outcome({ result: "failed", reason: "dns", message: "refused" }));
  await recorder.invalidConfig("certificates: empty");
  assert.equal(lines.length, 2);
  assert.deepEqual(recorded, []);
});

Deno.test("outcomes feed the certificate metrics: ready, validity and renewal time", async () => {
  const { createMetrics, issuerLabelsFor } = await import("../../src/observe/metrics.ts");
  const metrics = createMetrics({ version: "0", issuer: issuerLabelsFor("https://ca.test/dir") });
  const now = new Date("2026-01-01T00:00:00Z");
  const recorder = createOutcomeRecorder(
    createLogger({ format: "json", write: () => {} }),
    undefined,
    metrics,
    () => now,
  );
  const labels =
    'name="site",namespace="web",issuer_name="ca.test",issuer_kind="ACMEServer",issuer_group="notariat.io"';
  await recorder.outcome(outcome({
    result: "issued",
    reason: "DoesNotExist",
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2026-04-01T00:00:00Z"),
    renewAt: new Date("2026-03-02T00:00:00Z"),
  }));
  let page = metrics.render();
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="True"} 1\n`));
  assert.ok(page.includes(`certmanager_certificate_expiration_timestamp_seconds{${labels}} 1775001600\n`));
  assert.ok(page.includes('notariat_reconcile_total{result="issued",reason="DoesNotExist"} 1\n'));

  // A failed renewal of a certificate still valid keeps Ready True; any other failure turns it False.
  await recorder.outcome(
    outcome({
      result: "failed",
      reason: "acme",
      attempt: { reason: "Expiring", message: "the certificate expires at 2026-01-10T00:00:00.000Z" },
      notAfter: new Date("2026-01-10T00:00:00Z"),
    }),
  );
  page = metrics.render();
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="True"} 1\n`));
  await recorder.outcome(outcome({
    result: "failed",
    reason: "dns",
    attempt: {
      reason: "DomainsMismatch",
      message: "the certificate does not cover exactly the configured domains",
    },
    notAfter: new Date("2026-01-10T00:00:00Z"),
  }));
  page = metrics.render();
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="False"} 1\n`));
  await recorder.invalidConfig("certificates[3]: domains: bad");
  assert.ok(metrics.render().includes("notariat_config_problems_total 1\n"));
});
