import assert from "node:assert/strict";
import { acmeAction, createMetrics, issuerLabelsFor } from "../../src/observe/metrics.ts";

const issuer = issuerLabelsFor("https://acme-v02.api.letsencrypt.org/directory");
const labels = 'name="site-tls",namespace="web",issuer_name="acme-v02.api.letsencrypt.org",' +
  'issuer_kind="ACMEServer",issuer_group="notariat.io"';

Deno.test("certificate series carry cert-manager's names and labels", () => {
  const metrics = createMetrics({ version: "1.2.3", issuer });
  metrics.certificate({
    namespace: "web",
    name: "site-tls",
    ready: "True",
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2026-04-01T00:00:00Z"),
    renewAt: new Date("2026-03-02T00:00:00Z"),
  });
  const page = metrics.render();
  assert.ok(page.includes(`certmanager_certificate_expiration_timestamp_seconds{${labels}} 1775001600\n`));
  assert.ok(page.includes(`certmanager_certificate_not_after_timestamp_seconds{${labels}} 1775001600\n`));
  assert.ok(page.includes(`certmanager_certificate_not_before_timestamp_seconds{${labels}} 1767225600\n`));
  assert.ok(page.includes(`certmanager_certificate_renewal_timestamp_seconds{${labels}} 1772409600\n`));
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="True"} 1\n`));
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="False"} 0\n`));
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="Unknown"} 0\n`));
  assert.match(page, /^notariat_build_info\{version="1\.2\.3",deno="[0-9.]+"\} 1$/m);
});

Deno.test("a failed certificate turns ready False; unknown timestamps are dropped, not zero", () => {
  const metrics = createMetrics({ version: "1", issuer });
  metrics.certificate({ namespace: "web", name: "site-tls", ready: "True", notAfter: new Date(1000_000) });
  metrics.certificate({ namespace: "web", name: "site-tls", ready: "False" });
  const page = metrics.render();
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="False"} 1\n`));
  assert.ok(page.includes(`certmanager_certificate_ready_status{${labels},condition="True"} 0\n`));
  assert.doesNotMatch(page, /^certmanager_certificate_expiration_timestamp_seconds\{/m);
});

Deno.test("ACME requests are counted by scheme, host, action, method and status", () => {
  const metrics = createMetrics({ version: "1", issuer });
  const order = "https://127.0.0.1:14000/my-order/abc123";
  metrics.acmeRequest({ url: order, method: "post", status: 200, seconds: 0.25 });
  metrics.acmeRequest({
    url: "https://127.0.0.1:14000/my-order/def456",
    method: "POST",
    status: 200,
    seconds: 0.5,
  });
  const page = metrics.render();
  const l = 'scheme="https",host="127.0.0.1:14000",action="order",method="POST",status="200"';
  assert.ok(page.includes(`certmanager_http_acme_client_request_count{${l}} 2\n`));
  assert.ok(page.includes(`certmanager_http_acme_client_request_duration_seconds_sum{${l}} 0.75\n`));
  assert.ok(page.includes(`certmanager_http_acme_client_request_duration_seconds_count{${l}} 2\n`));
  assert.doesNotMatch(page, /abc123/, "ids in the path must not become label values");
});

Deno.test("the action comes from the path of Let's Encrypt's and pebble's URLs", () => {
  const cases: [string, string, string][] = [
    ["https://acme-v02.api.letsencrypt.org/directory", "GET", "directory"],
    ["https://acme-v02.api.letsencrypt.org/acme/new-nonce", "HEAD", "new_nonce"],
    ["https://acme-v02.api.letsencrypt.org/acme/new-acct", "POST", "account"],
    ["https://acme-v02.api.letsencrypt.org/acme/new-order", "POST", "new_order"],
    ["https://acme-v02.api.letsencrypt.org/acme/authz-v3/123", "POST", "authorization"],
    ["https://acme-v02.api.letsencrypt.org/acme/chall-v3/123/abc", "POST", "challenge"],
    ["https://acme-v02.api.letsencrypt.org/acme/finalize/1/2", "POST", "finalize"],
    ["https://acme-v02.api.letsencrypt.org/acme/cert/fa0b", "POST", "certificate"],
    ["https://acme-v02.api.letsencrypt.org/acme/order/1/2", "POST", "order"],
    ["https://127.0.0.1:14000/dir", "GET", "directory"],
    ["https://127.0.0.1:14000/nonce-plz", "HEAD", "new_nonce"],
    ["https://127.0.0.1:14000/sign-me-up", "POST", "account"],
    ["https://127.0.0.1:14000/order-plz", "POST", "new_order"],
    ["https://127.0.0.1:14000/authZ/x", "POST", "authorization"],
    ["https://127.0.0.1:14000/chalZ/x", "POST", "challenge"],
    ["https://127.0.0.1:14000/finalize-order/x", "POST", "finalize"],
    ["https://127.0.0.1:14000/certZ/x", "POST", "certificate"],
    ["https://127.0.0.1:14000/draft-ietf-acme-ari-03/renewalInfo/x", "GET", "renewal_info"],
  ];
  for (const [url, method, action] of cases) assert.equal(acmeAction(url, method), action, url);
});

Deno.test("DNS updates fill a histogram per server; reconciles are counted by result and reason", () => {
  const metrics = createMetrics({ version: "1", issuer });
  metrics.dnsUpdate("127.0.0.1:53", "success", 0.02);
  metrics.dnsUpdate("127.0.0.1:53", "failure", 3);
  metrics.reconciled("issued", "DoesNotExist");
  metrics.reconciled("issued", "DoesNotExist");
  metrics.configProblem();
  metrics.leader("notariat-leader", true);
  metrics.watchReconnected("secrets");
  const page = metrics.render();
  assert.ok(page.includes('notariat_dns_updates_total{server="127.0.0.1:53",result="success"} 1\n'));
  assert.ok(page.includes('notariat_dns_updates_total{server="127.0.0.1:53",result="failure"} 1\n'));
  assert.ok(
    page.includes('notariat_dns_update_duration_seconds_bucket{server="127.0.0.1:53",le="0.025"} 1\n'),
  );
  assert.ok(page.includes('notariat_dns_update_duration_seconds_bucket{server="127.0.0.1:53",le="5"} 2\n'));
  assert.ok(
    page.includes('notariat_dns_update_duration_seconds_bucket{server="127.0.0.1:53",le="+Inf"} 2\n'),
  );
  assert.ok(page.includes('notariat_dns_update_duration_seconds_count{server="127.0.0.1:53"} 2\n'));
  assert.ok(page.includes('notariat_reconcile_total{result="issued",reason="DoesNotExist"} 2\n'));
  assert.ok(page.includes("notariat_config_problems_total 1\n"));
  assert.ok(page.includes('notariat_leader_status{lease="notariat-leader"} 1\n'));
  assert.ok(page.includes('notariat_watch_reconnects_total{resource="secrets"} 1\n'));
});

Deno.test("each certificate's challenge type is one info series, replaced when it changes", () => {
  const metrics = createMetrics({ version: "1", issuer });
  const state = { namespace: "web", name: "site-tls", ready: "True" as const };
  metrics.certificate({ ...state, challenge: "dns-01" });
  metrics.certificate({ ...state, challenge: "dns-persist-01" });
  metrics.certificate({ ...state, name: "other-tls", challenge: "dns-account-01" });
  const lines = metrics.render().split("\n").filter((l) =>
    l.startsWith("notariat_certificate_challenge_info{")
  );
  assert.deepEqual(lines.sort(), [
    'notariat_certificate_challenge_info{name="other-tls",namespace="web",challenge="dns-account-01"} 1',
    'notariat_certificate_challenge_info{name="site-tls",namespace="web",challenge="dns-persist-01"} 1',
  ]);
});

Deno.test("the renewal time's source is an info series next to cert-manager's renewal timestamp", () => {
  const metrics = createMetrics({ version: "1", issuer });
  const state = { namespace: "web", name: "site-tls", ready: "True" as const, renewAt: new Date(1_000_000) };
  metrics.certificate({ ...state, renewalSource: "rule" });
  metrics.certificate({ ...state, renewalSource: "ari" });
  const page = metrics.render();
  const lines = page.split("\n").filter((l) => l.startsWith("notariat_certificate_renewal_source_info{"));
  assert.deepEqual(lines, [
    'notariat_certificate_renewal_source_info{name="site-tls",namespace="web",source="ari"} 1',
  ]);
  assert.match(page, /certmanager_certificate_renewal_timestamp_seconds\{name="site-tls"[^}]*\} 1000\n/);
});
