/**
 * An UPDATE that the server applies but whose answer never arrives: publishChallenges fails, yet deletes the
 * values it may have added. The fault proxy in front of real Knot (TCP only) swallows the answers to the first
 * two requests (the fault no real server produces on purpose); Knot itself applies every update.
 */
import assert from "node:assert/strict";
import { publishChallenges } from "../../src/dns/challenges.ts";
import { startDnsFaultProxy } from "../harness/dns_fault_proxy.ts";
import { queryTxt, startKnot } from "../harness/dns_servers.ts";

Deno.test("an add whose answer is lost is still cleaned up", async () => {
  const knot = await startKnot();
  // Both attempts of the add lose their answer; the delete that follows gets through.
  const proxy = startDnsFaultProxy({
    upstream: knot.address,
    protocols: ["tcp"],
    rules: [{ fault: "lose-answer", count: 2 }],
  });
  try {
    const owner = "_acme-challenge.lost.alpha.test";
    const failure = await publishChallenges(
      [{ domain: "lost.alpha.test", value: "lost-answer" }],
      { key: knot.keys["hmac-sha256"].key },
      {
        resolver: knot.address,
        // Updates go to the zone's primary (ns1.alpha.test = 127.0.0.1) on this port: the proxy.
        authoritativePort: proxy.port,
        propagation: "update-server",
        propagationTimeoutMs: 2000,
        // Knot may hold a repeated update of a zone until the next second: leave room for that.
        timeoutMs: 1500,
      },
    ).then(() => undefined, (err) => err);
    assert.ok(failure instanceof Error, "publishing fails");
    assert.doesNotMatch(failure.message, /removing what was added failed/);
    assert.match(
      failure.message,
      new RegExp(
        `adding TXT for lost\\.alpha\\.test in zone 'alpha\\.test'.*127\\.0\\.0\\.1:${proxy.port} did not answer`,
      ),
    );
    assert.ok(proxy.connections() >= 3, "two attempts of the add, then the delete");
    assert.deepEqual(
      await queryTxt(knot.address, owner),
      [],
      "Knot applied the add, and the cleanup removed it",
    );
  } finally {
    await proxy.stop();
    await knot.stop();
  }
});
