import assert from "node:assert/strict";
import { flag, type FlagDefinition, formatHelp, parseFlags } from "../../src/cli/flags.ts";
import { NotariatError } from "../../src/errors.ts";

const FLAGS: FlagDefinition[] = [
  flag({ name: "name", type: "string", usage: "a `WORD` to remember", default: "x" }),
  flag({
    name: "count",
    type: "int",
    usage: "how many",
    default: 4,
    check: (n) => n >= 1 ? undefined : "must be at least 1",
  }),
  flag({ name: "b", type: "bool", usage: "a short switch", default: false }),
  flag({ name: "wait", type: "duration", usage: "how long", default: 120_000 }),
  flag({ name: "empty", type: "string", usage: "no default", default: "" }),
];

function parsed(args: string[]): Record<string, unknown> & { rest: string[] } {
  const result = parseFlags("prog", FLAGS, args);
  assert.equal(result.kind, "parsed");
  if (result.kind !== "parsed") throw new Error("unreachable");
  return { ...Object.fromEntries(result.values), rest: result.rest };
}

function usageError(args: string[], message: string): void {
  assert.throws(() => parseFlags("prog", FLAGS, args), (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "usage");
    assert.equal(err.message, message);
    return true;
  }, args.join(" "));
}

Deno.test("defaults apply when no flag is given", () => {
  assert.deepEqual(parsed([]), {
    name: "x",
    count: 4,
    b: false,
    wait: 120_000,
    empty: "",
    rest: [],
  });
});

Deno.test("one and two dashes, -name value and -name=value all set a flag", () => {
  for (const args of [["-name", "v"], ["--name", "v"], ["-name=v"], ["--name=v"]]) {
    assert.equal(parsed(args).name, "v", args.join(" "));
  }
  assert.equal(parsed(["-name="]).name, "");
  assert.equal(parsed(["-name=a=b"]).name, "a=b");
});

Deno.test("a string flag takes the next argument even when it starts with a dash", () => {
  assert.equal(parsed(["-name", "-b"]).name, "-b");
  assert.equal(parsed(["-name", "-b"]).b, false);
});

Deno.test("a bool is set by -b or -b=value and never consumes the next argument", () => {
  assert.equal(parsed(["-b"]).b, true);
  assert.equal(parsed(["--b=true"]).b, true);
  assert.equal(parsed(["-b=false"]).b, false);
  assert.equal(parsed(["-b=0"]).b, false);
  assert.equal(parsed(["-b=T"]).b, true);
  assert.deepEqual(parsed(["-b", "false"]), {
    name: "x",
    count: 4,
    b: true,
    wait: 120_000,
    empty: "",
    rest: ["false"],
  });
});

Deno.test("ints and durations are parsed with Go's syntax", () => {
  assert.equal(parsed(["-count", "12"]).count, 12);
  assert.equal(parsed(["-count=0x10"]).count, 16);
  assert.equal(parsed(["-count", "010"]).count, 8);
  assert.equal(parsed(["-count", "+3"]).count, 3);
  assert.equal(parsed(["-wait", "1h30m"]).wait, 5_400_000);
  assert.equal(parsed(["-wait=500ms"]).wait, 500);
});

Deno.test("the last occurrence of a flag wins", () => {
  assert.equal(parsed(["-count", "2", "-count", "3"]).count, 3);
});

Deno.test("parsing stops at the first non-flag argument", () => {
  const result = parsed(["-name", "v", "pos", "-count", "3"]);
  assert.equal(result.count, 4);
  assert.deepEqual(result.rest, ["pos", "-count", "3"]);
  assert.deepEqual(parsed(["-"]).rest, ["-"]);
  assert.deepEqual(parsed(["-b", "-", "-count=2"]).rest, ["-", "-count=2"]);
});

Deno.test("-- ends the flags and is dropped", () => {
  const result = parsed(["-b", "--", "-name", "y"]);
  assert.equal(result.name, "x");
  assert.deepEqual(result.rest, ["-name", "y"]);
  assert.deepEqual(parsed(["--"]).rest, []);
});

Deno.test("flags given their default values parse to what no flags give", () => {
  assert.deepEqual(parsed(["-count=4", "-name", "x", "-b=false"]), parsed([]));
});

Deno.test("errors use Go's wording", () => {
  usageError(["-x"], "flag provided but not defined: -x");
  usageError(["--verbose=1"], "flag provided but not defined: -verbose");
  usageError(["-name"], "flag needs an argument: -name");
  usageError(["-b", "--wait"], "flag needs an argument: -wait");
  usageError(["---x"], "bad flag syntax: ---x");
  usageError(["-=x"], "bad flag syntax: -=x");
  usageError(["--=x"], "bad flag syntax: --=x");
  usageError(["-count", "abc"], 'invalid value "abc" for flag -count: parse error');
  usageError(["-count", "1.5"], 'invalid value "1.5" for flag -count: parse error');
  usageError(
    ["-count", "99999999999999999999"],
    'invalid value "99999999999999999999" for flag -count: value out of range',
  );
  usageError(["-wait", "90"], 'invalid value "90" for flag -wait: parse error');
  usageError(["-b=maybe"], 'invalid boolean value "maybe" for -b: parse error');
});

Deno.test("a check turns an unacceptable value into a usage error naming the flag", () => {
  usageError(["-count", "0"], 'invalid value "0" for flag -count: must be at least 1');
});

Deno.test("-h, -help and --help ask for help when not defined", () => {
  for (const args of [["-h"], ["-help"], ["--help"], ["--h"], ["-count", "2", "-help"]]) {
    assert.equal(parseFlags("prog", FLAGS, args).kind, "help", args.join(" "));
  }
});

Deno.test("a defined -h is an ordinary flag", () => {
  const result = parseFlags("prog", [flag({ name: "h", type: "string", usage: "host", default: "" })], [
    "-h",
    "a",
  ]);
  assert.equal(result.kind === "parsed" && result.values.get("h"), "a");
});

Deno.test("help lists flags sorted by name in Go's PrintDefaults format", () => {
  const result = parseFlags("prog sub", FLAGS, ["-help"]);
  assert.deepEqual(result, {
    kind: "help",
    text: "Usage of prog sub:\n" +
      "  -b\ta short switch\n" +
      "  -count int\n    \thow many (default 4)\n" +
      "  -empty string\n    \tno default\n" +
      '  -name WORD\n    \ta WORD to remember (default "x")\n' +
      "  -wait duration\n    \thow long (default 2m0s)\n",
  });
});

Deno.test("help omits zero defaults and shows non-zero ones as Go does", () => {
  const text = formatHelp("p", [
    flag({ name: "verbose", type: "bool", usage: "talk", default: true }),
    flag({ name: "n", type: "int", usage: "n", default: 0 }),
    flag({ name: "t", type: "duration", usage: "t", default: 0 }),
  ]);
  assert.equal(
    text,
    "Usage of p:\n  -n int\n    \tn\n  -t duration\n    \tt\n  -verbose\n    \ttalk (default true)\n",
  );
});
