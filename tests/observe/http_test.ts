import assert from "node:assert/strict";
import { handleRequest, type HttpEndpoints, parseListenAddress, serveHttp } from "../../src/observe/http.ts";
import { createLogger } from "../../src/observe/log.ts";

Deno.test("listen addresses as Go's net.Listen takes them", () => {
  assert.deepEqual(parseListenAddress(":9402"), { hostname: "0.0.0.0", port: 9402 });
  assert.deepEqual(parseListenAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListenAddress("[::1]:9402"), { hostname: "::1", port: 9402 });
  assert.deepEqual(parseListenAddress("9402"), { error: "'9402' is not HOST:PORT or :PORT" });
  assert.deepEqual(parseListenAddress(":99999"), { error: "port 99999 is not a number from 0 to 65535" });
});

const endpoints = (live: boolean, ready: boolean): HttpEndpoints => ({
  live: () => ({ ok: live, reason: live ? "ok" : "the watches are dead" }),
  ready: () => ({ ok: ready, reason: ready ? "ok" : "the ConfigMap has not been read yet" }),
  metrics: () => "notariat_build_info 1\n",
});

Deno.test("health answers 200 when ok and 503 with the reason when not", async () => {
  const get = (path: string, e: HttpEndpoints) =>
    handleRequest(new Request(`http://x${path}`), e, new Date());
  assert.equal(get("/livez", endpoints(true, false)).status, 200);
  const dead = get("/livez", endpoints(false, false));
  assert.equal(dead.status, 503);
  assert.equal(await dead.text(), "the watches are dead\n");
  assert.equal(get("/readyz", endpoints(true, false)).status, 503);
  assert.equal(get("/readyz", endpoints(true, true)).status, 200);
  const metrics = get("/metrics", endpoints(true, true));
  assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(await metrics.text(), "notariat_build_info 1\n");
  assert.equal(get("/other", endpoints(true, true)).status, 404);
  const post = handleRequest(
    new Request("http://x/metrics", { method: "POST" }),
    endpoints(true, true),
    new Date(),
  );
  assert.equal(post.status, 405);
});

Deno.test("the listener serves the endpoints on 127.0.0.1 and stops on close", async () => {
  const listener = await serveHttp(
    { hostname: "127.0.0.1", port: 0 },
    endpoints(true, true),
    createLogger({ format: "json", write: () => {} }),
  );
  try {
    const response = await fetch(`http://127.0.0.1:${listener.port}/readyz`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "ok\n");
  } finally {
    await listener.close();
  }
  await assert.rejects(fetch(`http://127.0.0.1:${listener.port}/readyz`));
});
