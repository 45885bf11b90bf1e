import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../src/cli/duration.ts";
import { NotariatError } from "../../src/errors.ts";

Deno.test("parseDuration reads Go durations into milliseconds", () => {
  const cases: [string, number][] = [
    ["720h", 720 * 3_600_000],
    ["1h30m", 5_400_000],
    ["90s", 90_000],
    ["500ms", 500],
    ["1.5h", 5_400_000],
    [".5s", 500],
    ["1.s", 1_000],
    ["1h1m1s1ms", 3_661_001],
    ["2m0s", 120_000],
    ["0", 0],
    ["-0", 0],
    ["+5s", 5_000],
    ["-1m", -60_000],
    ["1500us", 1.5],
    ["1\u00b5s", 0.001],
    ["1\u03bcs", 0.001],
    ["250ns", 0.00025],
    ["2562047h", 2562047 * 3_600_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration rejects what Go rejects, with Go's messages", () => {
  const cases: [string, string][] = [
    ["", 'time: invalid duration ""'],
    ["-", 'time: invalid duration "-"'],
    ["abc", 'time: invalid duration "abc"'],
    [".s", 'time: invalid duration ".s"'],
    ["1h-1m", 'time: unknown unit "h-" in duration "1h-1m"'],
    ["90", 'time: missing unit in duration "90"'],
    ["1h30", 'time: missing unit in duration "1h30"'],
    ["3d", 'time: unknown unit "d" in duration "3d"'],
    ["5 s", 'time: unknown unit " s" in duration "5 s"'],
    ["2562048h", 'time: invalid duration "2562048h"'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseDuration(text), (err: unknown) => {
      assert.ok(err instanceof NotariatError);
      assert.equal(err.kind, "usage");
      assert.equal(err.message, message);
      return true;
    }, text);
  }
});

Deno.test("formatDuration prints like Go's Duration.String", () => {
  const cases: [number, string][] = [
    [720 * 3_600_000, "720h0m0s"],
    [3_600_000, "1h0m0s"],
    [120_000, "2m0s"],
    [5_000, "5s"],
    [1_500, "1.5s"],
    [3_723_004, "1h2m3.004s"],
    [500, "500ms"],
    [1.5, "1.5ms"],
    [0.0015, "1.5\u00b5s"],
    [0.000001, "1ns"],
    [0, "0s"],
    [-60_000, "-1m0s"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
});

Deno.test("formatDuration and parseDuration round-trip", () => {
  for (const ms of [1, 999, 1_000, 61_000, 3_599_999, 86_400_000, 2_592_000_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});
