import assert from "node:assert/strict";
import { createLogger, formatLogLine } from "../../src/observe/log.ts";

const time = new Date("2026-01-02T03:04:05.678Z");

function capture(format: "json" | "logfmt", level?: "debug" | "info" | "warn" | "error") {
  const lines: string[] = [];
  const logger = createLogger({ format, level, write: (line) => lines.push(line), now: () => time });
  return { lines, logger };
}

Deno.test("JSON lines carry time, level, message and the entry's fields", () => {
  const { lines, logger } = capture("json");
  logger.with({ entry: "certificates[0]", secret: "web/tls" }).info("issued", {
    domains: ["a.alpha.test", "*.alpha.test"],
    reason: "DoesNotExist",
    duration: "1.250s",
  });
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [{
    time: "2026-01-02T03:04:05.678Z",
    level: "info",
    msg: "issued",
    entry: "certificates[0]",
    secret: "web/tls",
    domains: "a.alpha.test,*.alpha.test",
    reason: "DoesNotExist",
    duration: "1.250s",
  }]);
});

Deno.test("logfmt quotes values with spaces, quotes or equals signs only", () => {
  const { lines, logger } = capture("logfmt");
  logger.warn('could not "read"', { secret: "web/tls", error: new Error("a=b c"), count: 3, empty: "" });
  assert.deepEqual(lines, [
    'time=2026-01-02T03:04:05.678Z level=warn msg="could not \\"read\\"" secret=web/tls error="a=b c" count=3 empty=""',
  ]);
});

Deno.test("lines below the level are dropped", () => {
  const { lines, logger } = capture("logfmt", "warn");
  logger.debug("d");
  logger.info("i");
  logger.error("e");
  assert.deepEqual(lines, ["time=2026-01-02T03:04:05.678Z level=error msg=e"]);
});

Deno.test("undefined fields are left out", () => {
  assert.equal(formatLogLine("logfmt", { msg: "x", reason: undefined }), "msg=x");
});

Deno.test("private keys and raw bytes never reach a line", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";
  const line = formatLogLine("json", {
    msg: "x",
    key: pem,
    secret: new Uint8Array([1, 2, 3]),
    error: new Error(pem),
  });
  assert.deepEqual(JSON.parse(line), {
    msg: "x",
    key: "[redacted]",
    secret: "[redacted]",
    error: "[redacted]",
  });
});
