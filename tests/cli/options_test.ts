import assert from "node:assert/strict";
import {
  type Command,
  DNS_CHECK_FLAGS,
  formatFlagTable,
  parseCommandLine,
  RUN_FLAGS,
} from "../../src/cli/options.ts";
import { NotariatError } from "../../src/errors.ts";
import { VERSION } from "../../src/version.ts";

function usageError(args: string[], message: string): void {
  assert.throws(() => parseCommandLine(args), (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "usage");
    assert.equal(err.message, message);
    return true;
  }, args.join(" "));
}

function run(args: string[]) {
  const command = parseCommandLine(args);
  if (command.kind !== "run") throw new Error(`expected run, got ${command.kind}`);
  return command.options;
}

function dnsCheck(args: string[]) {
  const command = parseCommandLine(["dns-check", ...args]);
  if (command.kind !== "dns-check") throw new Error(`expected dns-check, got ${command.kind}`);
  return command.options;
}

function helpText(command: Command): string {
  if (command.kind !== "help") throw new Error(`expected help, got ${command.kind}`);
  return command.text;
}

Deno.test("run: only -config is needed, everything else has its documented default", () => {
  assert.deepEqual(parseCommandLine(["-config", "certificates"]), {
    kind: "run",
    options: {
      acme: "https://acme-staging-v02.api.letsencrypt.org/directory",
      config: "certificates",
      concurrency: 16,
      renewBeforeMs: 0,
      resyncMs: 3_600_000,
      logFormat: "json",
      logLevel: "info",
      once: false,
      dryRun: false,
      httpAddress: ":9402",
      leaderElect: false,
      shutdownTimeoutMs: 10_000,
      propagationCheck: "all",
      propagationTimeoutMs: 120_000,
      dnsTimeoutMs: 5_000,
    },
  });
});

Deno.test("run: every flag is read in Go style (-acme URL, --once, -x=v)", () => {
  assert.deepEqual(
    run([
      "-acme",
      "https://127.0.0.1:14000/dir",
      "--acme-ca=/etc/ca.pem",
      "-config=certs",
      "-kubeconfig",
      "/home/me/.kube/config",
      "-namespace",
      "tls",
      "-concurrency",
      "2",
      "-renew-before",
      "360h",
      "-resync=10m",
      "-log-format",
      "logfmt",
      "--once",
      "-dry-run",
      "-dns-resolver",
      "127.0.0.1:5353",
      "-propagation-check",
      "update-server",
      "-propagation-timeout",
      "30s",
      "-dns-timeout",
      "1500ms",
      "-acme-profile",
      "shortlived",
      "-acme-eab-secret",
      "acme/zerossl-eab",
      "-preferred-chain",
      "ISRG Root X2",
    ]),
    {
      acme: "https://127.0.0.1:14000/dir",
      acmeCa: "/etc/ca.pem",
      config: "certs",
      kubeconfig: "/home/me/.kube/config",
      namespace: "tls",
      concurrency: 2,
      renewBeforeMs: 360 * 3_600_000,
      resyncMs: 600_000,
      logFormat: "logfmt",
      logLevel: "info",
      once: true,
      dryRun: true,
      httpAddress: ":9402",
      leaderElect: false,
      shutdownTimeoutMs: 10_000,
      dnsResolver: { host: "127.0.0.1", port: 5353 },
      propagationCheck: "update-server",
      propagationTimeoutMs: 30_000,
      dnsTimeoutMs: 1_500,
      acmeProfile: "shortlived",
      acmeEabSecret: "acme/zerossl-eab",
      preferredChain: "ISRG Root X2",
    },
  );
});

Deno.test("run: an empty optional flag counts as not given", () => {
  const options = run(["-config", "c", "-kubeconfig=", "-namespace", "", "-acme-ca=", "-dns-resolver="]);
  assert.equal("kubeconfig" in options, false);
  assert.equal("namespace" in options, false);
  assert.equal("acmeCa" in options, false);
  assert.equal("dnsResolver" in options, false);
});

Deno.test("run: -config is required", () => {
  usageError(
    [],
    'flag -config is required: the name of the ConfigMap whose key "certificates" lists the certificates',
  );
  usageError(
    ["-once", "-config="],
    'flag -config is required: the name of the ConfigMap whose key "certificates" lists the certificates',
  );
});

Deno.test("run: values outside their range are usage errors naming the flag", () => {
  usageError(
    ["-config", "c", "-concurrency", "0"],
    'invalid value "0" for flag -concurrency: must be at least 1',
  );
  usageError(
    ["-config", "c", "-concurrency", "many"],
    'invalid value "many" for flag -concurrency: parse error',
  );
  usageError(
    ["-config", "c", "-propagation-check", "sometimes"],
    'invalid value "sometimes" for flag -propagation-check: must be one of all, update-server, off',
  );
  usageError(
    ["-config", "c", "-log-format", "text"],
    'invalid value "text" for flag -log-format: must be one of json, logfmt',
  );
  usageError(
    ["-config", "c", "-renew-before", "-1h"],
    'invalid value "-1h" for flag -renew-before: must not be negative',
  );
  usageError(
    ["-config", "c", "-acme-profile", "short lived"],
    'invalid value "short lived" for flag -acme-profile: "short lived" is not a profile name: letters, ' +
      'digits, ".", "_" and "-", at most 64',
  );
  usageError(
    ["-config", "c", "-acme-eab-secret", "a/b/c"],
    'invalid value "a/b/c" for flag -acme-eab-secret: "a/b/c" is not a Secret reference: ' +
      "expected name or namespace/name",
  );
  usageError(["-config", "c", "-resync=-1h"], 'invalid value "-1h" for flag -resync: must be positive');
  usageError(["-config", "c", "-dns-timeout", "5"], 'invalid value "5" for flag -dns-timeout: parse error');
  usageError(
    ["-config", "c", "-propagation-timeout", "0"],
    'invalid value "0" for flag -propagation-timeout: must be positive',
  );
  usageError(
    ["-acme", "ftp://ca.example/dir"],
    'invalid value "ftp://ca.example/dir" for flag -acme: must be an http or https URL',
  );
  usageError(
    ["-acme", "not a url"],
    'invalid value "not a url" for flag -acme: must be an http or https URL',
  );
  usageError(
    ["-config", "My_Config"],
    'invalid value "My_Config" for flag -config: "My_Config" is not a valid ConfigMap name: must be a lowercase ' +
      "RFC 1123 subdomain: letters a-z, digits, '-' and '.', starting and ending with a letter or digit (e.g. 'example-tls')",
  );
  usageError(
    ["-config", "c", "-namespace", "a.b"],
    'invalid value "a.b" for flag -namespace: "a.b" is not a valid namespace: must be a lowercase RFC 1123 ' +
      "label: letters a-z, digits and '-', starting and ending with a letter or digit (e.g. 'my-namespace')",
  );
  usageError(
    ["-config", "c", "-dns-resolver", "10.0.0.1:99999"],
    'invalid value "10.0.0.1:99999" for flag -dns-resolver: "10.0.0.1:99999" is not a valid server address: ' +
      'port "99999" is not a number from 1 to 65535',
  );
});

Deno.test("run: unknown flags and stray arguments are usage errors", () => {
  usageError(["-config", "c", "-verbose"], "flag provided but not defined: -verbose");
  usageError(
    ["-config", "c", "start"],
    'unexpected argument "start": notariat takes flags only, or a subcommand first',
  );
  usageError(
    ["-once", "dns-check"],
    'unexpected argument "dns-check": the dns-check subcommand must come before any flag',
  );
});

Deno.test("persist-record: -config and -secret are required, the ACME and Kubernetes flags are shared", () => {
  assert.deepEqual(parseCommandLine(["persist-record", "-config", "c", "-secret", "web/site-tls"]), {
    kind: "persist-record",
    options: {
      acme: "https://acme-staging-v02.api.letsencrypt.org/directory",
      config: "c",
      secret: "web/site-tls",
    },
  });
  usageError(
    ["persist-record", "-secret", "s"],
    "flag -config is required: the name of the ConfigMap listing the entry",
  );
  usageError(
    ["persist-record", "-config", "c"],
    "flag -secret is required: the [namespace/]name of the entry's Secret",
  );
  usageError(
    ["persist-record", "-config", "c", "-secret", "s", "-once"],
    "flag provided but not defined: -once",
  );
});

Deno.test("help lists every run flag sorted, in Go's format, then the subcommand", () => {
  for (const args of [["-h"], ["-help"], ["--help"], ["-config", "c", "-h"]]) {
    const text = helpText(parseCommandLine(args));
    assert.ok(
      text.startsWith("Usage of notariat:\n  -acme URL\n    \tURL of the ACME directory"),
      args.join(" "),
    );
    const names = [...text.matchAll(/^ {2}-([a-z-]+)/gm)].map((m) => m[1]);
    assert.deepEqual(names, RUN_FLAGS.map((f) => f.name).sort());
    assert.ok(
      text.includes(
        "\n  -concurrency int\n    \thow many certificates may be obtained at the same time (default 16)\n",
      ),
    );
    assert.ok(
      text.includes(
        "\n  -once\n    \tcheck every certificate once, renew what needs it, then exit (e.g. in a CronJob)\n",
      ),
    );
    assert.ok(text.includes(" on top of reacting to changes (default 1h0m0s)\n"));
    assert.ok(
      text.includes(
        "\nSubcommands:\n  dns-check\n    \tcheck a TSIG key and DNS UPDATE for one domain, then exit (notariat dns-check -h lists its flags)\n" +
          "  persist-record\n    \tprint the standing dns-persist-01 record(s) an entry needs, then exit " +
          "(notariat persist-record -h lists its flags)\n",
      ),
    );
    assert.ok(
      text.endsWith(`\nnotariat ${VERSION} (deno ${Deno.version.deno})\n`),
      "the version is the last line",
    );
  }
});

Deno.test("dns-check: reads its flags and normalizes the domain like a configured one", () => {
  assert.deepEqual(dnsCheck(["-tsig-key", "/keys/tsig.key", "-domain", "Bücher.Example."]), {
    tsigKey: "/keys/tsig.key",
    domain: "xn--bcher-kva.example",
    propagationCheck: "all",
    propagationTimeoutMs: 120_000,
    dnsTimeoutMs: 5_000,
  });
  assert.deepEqual(
    dnsCheck([
      "-tsig-key=k",
      "-domain=example.com",
      "-nameserver",
      "[::1]:5353",
      "-dns-resolver",
      "127.0.0.1",
      "-propagation-check=off",
      "-dns-timeout=2s",
    ]),
    {
      tsigKey: "k",
      domain: "example.com",
      nameserver: { host: "::1", port: 5353 },
      dnsResolver: { host: "127.0.0.1", port: 53 },
      propagationCheck: "off",
      propagationTimeoutMs: 120_000,
      dnsTimeoutMs: 2_000,
    },
  );
});

Deno.test("dns-check: -tsig-key and -domain are required, run flags are unknown", () => {
  usageError(
    ["dns-check", "-domain", "example.com"],
    "flag -tsig-key is required: a file holding the TSIG key ([algorithm:]name:secret, keymgr -t output or a tsig-keygen block)",
  );
  usageError(
    ["dns-check", "-tsig-key", "k"],
    "flag -domain is required: the domain name to test DNS UPDATE for",
  );
  usageError(["dns-check", "-config", "c"], "flag provided but not defined: -config");
  usageError(
    ["dns-check", "-tsig-key", "k", "-domain", "example.com", "now"],
    'unexpected argument "now": notariat dns-check takes flags only',
  );
  usageError(
    ["dns-check", "-tsig-key", "k", "-domain", "localhost"],
    'invalid value "localhost" for flag -domain: "localhost" is not a valid domain name: it has a single label, and a CA will not issue for it',
  );
  usageError(
    ["dns-check", "-tsig-key", "k", "-domain", "d.example", "-nameserver", "ns1..example"],
    'invalid value "ns1..example" for flag -nameserver: "ns1..example" is not a valid server address: ' +
      '"ns1..example" is not a valid host name: it has an empty label (two dots in a row, or a leading dot)',
  );
});

Deno.test("dns-check: help has its own title and flags", () => {
  const text = helpText(parseCommandLine(["dns-check", "-h"]));
  assert.ok(text.startsWith("Usage of notariat dns-check:\n  -dns-resolver HOST:PORT\n"));
  const names = [...text.matchAll(/^ {2}-([a-z-]+)/gm)].map((m) => m[1]);
  assert.deepEqual(names, DNS_CHECK_FLAGS.map((f) => f.name).sort());
  assert.ok(text.includes("\n  -tsig-key FILE\n    \tFILE holding the TSIG key: "));
});

Deno.test("the Markdown flag table has one row per flag, with its argument and default", () => {
  const table = formatFlagTable("run").split("\n");
  assert.equal(table[0], "| Flag | Default | Meaning |");
  assert.equal(table[1], "| --- | --- | --- |");
  assert.equal(table.length, 2 + RUN_FLAGS.length + 1);
  assert.equal(table.at(-1), "");
  assert.ok(
    table.includes("| `-concurrency int` | `16` | how many certificates may be obtained at the same time |"),
  );
  assert.ok(
    table.includes(
      "| `-once` |  | check every certificate once, renew what needs it, then exit (e.g. in a CronJob) |",
    ),
  );
  assert.ok(
    table.includes(
      "| `-resync duration` | `1h0m0s` | interval of the periodic check of every certificate, on top of reacting to changes |",
    ),
  );
  assert.equal(formatFlagTable("dns-check").split("\n").length, 2 + DNS_CHECK_FLAGS.length + 1);
  assert.ok(
    formatFlagTable("dns-check").includes(
      "| `-domain NAME` |  | domain NAME whose _acme-challenge TXT record",
    ),
  );
});

Deno.test("every bad address is a usage error with the same wording, a name for the resolver too", () => {
  const reason = (text: string, rest: string) =>
    `${JSON.stringify(text)} is not a valid server address: ${rest}`;
  usageError(
    ["-config", "c", "-dns-resolver", "ns1.example.com"],
    'invalid value "ns1.example.com" for flag -dns-resolver: ' +
      reason("ns1.example.com", "it must be an IP address, not a name (a resolver cannot be found by name)"),
  );
  usageError(
    ["-config", "c", "-dns-resolver", "1.2.3"],
    `invalid value "1.2.3" for flag -dns-resolver: ${reason("1.2.3", '"1.2.3" is not an IPv4 address')}`,
  );
  usageError(
    ["dns-check", "-tsig-key", "k", "-domain", "d.example", "-dns-resolver", "127.0.0.1:0"],
    `invalid value "127.0.0.1:0" for flag -dns-resolver: ${
      reason("127.0.0.1:0", 'port "0" is not a number from 1 to 65535')
    }`,
  );
  usageError(
    ["dns-check", "-tsig-key", "k", "-domain", "d.example", "-nameserver", "1.2.3"],
    `invalid value "1.2.3" for flag -nameserver: ${reason("1.2.3", '"1.2.3" is not an IPv4 address')}`,
  );
});

Deno.test("run: health, leader election, shutdown and log level flags", () => {
  const options = run([
    "-config",
    "c",
    "-http-address",
    "127.0.0.1:9500",
    "-leader-elect",
    "-shutdown-timeout",
    "25s",
    "-log-level",
    "debug",
  ]);
  assert.equal(options.httpAddress, "127.0.0.1:9500");
  assert.equal(options.leaderElect, true);
  assert.equal(options.shutdownTimeoutMs, 25_000);
  assert.equal(options.logLevel, "debug");
  assert.equal(run(["-config", "c", "-http-address="]).httpAddress, "", "empty disables the listener");
  usageError(
    ["-config", "c", "-http-address", "9402"],
    `invalid value "9402" for flag -http-address: '9402' is not HOST:PORT or :PORT`,
  );
  usageError(
    ["-config", "c", "-log-level", "trace"],
    'invalid value "trace" for flag -log-level: must be one of debug, info, warn, error',
  );
});

Deno.test("-version prints the version without needing -config", () => {
  assert.deepEqual(parseCommandLine(["-version"]), {
    kind: "version",
    text: `notariat ${VERSION} (deno ${Deno.version.deno})`,
  });
});

Deno.test("status: takes the cluster flags and -renew-before, and needs -config", () => {
  assert.deepEqual(parseCommandLine(["status", "-kubeconfig", "/k", "-namespace", "ns", "-config", "c"]), {
    kind: "status",
    options: { config: "c", kubeconfig: "/k", namespace: "ns", renewBeforeMs: 0 },
  });
  usageError(
    ["status"],
    'flag -config is required: the name of the ConfigMap whose key "certificates" lists the certificates',
  );
  usageError(["status", "-once"], "flag provided but not defined: -once");
  const help = parseCommandLine(["status", "-h"]);
  assert.equal(help.kind, "help");
});
