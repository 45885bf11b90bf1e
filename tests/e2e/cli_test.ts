/**
 * The program as users run it: `deno run main.ts ...` in a subprocess, its exit codes and output, and
 * `dns-check` against a real Knot server.
 */
import assert from "node:assert/strict";
import { queryTxt, startKnot } from "../harness/dns_servers.ts";
import { notariatCommand } from "../harness/program.ts";

async function notariat(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await notariatCommand(args, { env: { NO_COLOR: "1" } }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("command line: Go flag behaviour and exit codes", async (t) => {
  await t.step("-h prints every flag and exits 0", async () => {
    const { code, stdout } = await notariat(["-h"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage of notariat:\n/);
    for (const flag of ["-acme URL", "-config NAME", "-kubeconfig PATH", "-namespace NAMESPACE", "-once"]) {
      assert.ok(stdout.includes(`\n  ${flag}\n`), `help lists ${flag}`);
    }
  });
  await t.step("an unknown flag exits 2 with Go's message", async () => {
    const { code, stderr } = await notariat(["--acme=https://127.0.0.1:1/dir", "-bogus"]);
    assert.equal(code, 2);
    assert.match(stderr, /^flag provided but not defined: -bogus\n/);
  });
  await t.step("a missing -config exits 2 and says what it is", async () => {
    const { code, stderr } = await notariat(["-acme", "https://127.0.0.1:1/dir"]);
    assert.equal(code, 2);
    assert.match(stderr, /^flag -config is required/);
  });
  await t.step("every bad address exits 2 with the same wording, a resolver given by name too", async () => {
    const cases: [string[], string][] = [
      [["-config", "c", "-dns-resolver", "ns1.example.com"], "-dns-resolver"],
      [["-config", "c", "-dns-resolver", "1.2.3"], "-dns-resolver"],
      [
        ["dns-check", "-tsig-key", "k", "-domain", "a.example", "-dns-resolver", "ns1.example.com"],
        "-dns-resolver",
      ],
      [["dns-check", "-tsig-key", "k", "-domain", "a.example", "-nameserver", "1.2.3:99999"], "-nameserver"],
    ];
    for (const [args, flag] of cases) {
      const { code, stderr } = await notariat(args);
      assert.equal(code, 2, stderr);
      const value = args[args.length - 1];
      assert.ok(
        stderr.startsWith(
          `invalid value "${value}" for flag ${flag}: "${value}" is not a valid server address: `,
        ),
        stderr,
      );
    }
  });
  await t.step("without a cluster or -kubeconfig the controller exits 2 and says so", async () => {
    const { code, stderr } = await notariat(["-config", "notariat", "-log-format", "logfmt"]);
    assert.equal(code, 2);
    assert.match(stderr, /not running in a cluster .*pass -kubeconfig/);
  });
});

Deno.test("dns-check against a real Knot server", async (t) => {
  const knot = await startKnot();
  const dir = await Deno.makeTempDir({ prefix: "notariat-cli-" });
  try {
    const server = `127.0.0.1:${knot.address.port}`;
    const common = ["-nameserver", server, "-dns-resolver", server, "-propagation-check", "update-server"];

    await t.step("a working key: adds, sees, deletes and exits 0, leaving nothing", async () => {
      const keyFile = `${dir}/good.key`;
      await Deno.writeTextFile(keyFile, `${knot.keys["hmac-sha384"].text}\n`);
      const { code, stdout } = await notariat([
        "dns-check",
        "-tsig-key",
        keyFile,
        "-domain",
        "www.alpha.test",
        ...common,
      ]);
      assert.equal(code, 0, stdout);
      assert.match(stdout, /zone alpha\.test holds _acme-challenge\.www\.alpha\.test/);
      assert.match(stdout, /no longer serves it/);
      assert.match(
        stdout,
        /^OK: _acme-challenge\.www\.alpha\.test in zone alpha\.test can be updated \(\d+ ms\)$/m,
      );
      assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.www.alpha.test"), []);
    });

    await t.step(
      "a key the server does not allow: exits 1 with the decoded reason, never the secret",
      async () => {
        const keyFile = `${dir}/unauthorized.key`;
        const text = knot.unauthorizedKey.text;
        await Deno.writeTextFile(keyFile, text);
        const { code, stdout, stderr } = await notariat([
          "dns-check",
          "-tsig-key",
          keyFile,
          "-domain",
          "www.beta.test",
          ...common,
        ]);
        assert.equal(code, 1);
        assert.match(
          stdout,
          /^FAILED: .*does not know key 'notariat-unauthorized' \(hmac-sha256\) or does not allow it to update zone 'beta\.test'/m,
        );
        const secret = text.slice(text.lastIndexOf(":") + 1);
        assert.ok(!stdout.includes(secret) && !stderr.includes(secret), "the secret is never printed");
        assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.www.beta.test"), []);
      },
    );

    await t.step("a key file that does not exist: exits 1 naming the file", async () => {
      const { code, stderr } = await notariat([
        "dns-check",
        "-tsig-key",
        `${dir}/missing`,
        "-domain",
        "www.alpha.test",
        ...common,
      ]);
      assert.equal(code, 1);
      assert.match(stderr, /^dns-check: .*missing/);
    });
  } finally {
    await knot.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
