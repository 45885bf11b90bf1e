import assert from "node:assert/strict";
import { parseResolvConf, systemResolver } from "../../src/dns/resolv_conf.ts";

Deno.test("takes the first nameserver, skipping comments and other options", () => {
  const text =
    "# generated\nsearch example.com\n; nameserver 192.0.2.9\noptions ndots:5\nnameserver 10.0.0.10 # cluster DNS\n" +
    "nameserver 10.0.0.11\n";
  assert.deepEqual(parseResolvConf(text), { host: "10.0.0.10", port: 53 });
  assert.deepEqual(parseResolvConf("nameserver   fd00::a\n"), { host: "fd00::a", port: 53 });
  assert.equal(parseResolvConf("search example.com\n"), undefined);
});

Deno.test("a resolv.conf without nameserver is a dns error naming the file", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "search example.com\n");
    await assert.rejects(systemResolver(path), {
      name: "NotariatError",
      kind: "dns",
      message: `${path} names no nameserver`,
    });
  } finally {
    await Deno.remove(path);
  }
});
