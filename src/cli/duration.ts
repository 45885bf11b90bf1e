/**
 * Go's duration syntax (`1h30m`, `720h`, `90s`, `500ms`), so notariat's flags read like those of the Go tools
 * operators already know. Values are milliseconds, the unit of timers in JavaScript.
 */
import { NotariatError } from "../errors.ts";

const NANOS_PER_MS = 1_000_000n;
const MAX_NANOS = (1n << 63n) - 1n;

const UNIT_NANOS: Record<string, bigint> = {
  "ns": 1n,
  "us": 1_000n,
  "\u00b5s": 1_000n, // micro sign
  "\u03bcs": 1_000n, // Greek small letter mu
  "ms": 1_000_000n,
  "s": 1_000_000_000n,
  "m": 60_000_000_000n,
  "h": 3_600_000_000_000n,
};

/**
 * Parses a Go duration (`[-+]?([0-9]*(\.[0-9]*)?unit)+`, units ns us µs ms s m h) into milliseconds, with the
 * range and error messages of Go's `time.ParseDuration`.
 *
 * @example parseDuration("1h30m") // 5400000
 * @throws NotariatError kind "usage", e.g. `time: missing unit in duration "90"`
 */
export function parseDuration(text: string): number {
  const invalid = () => new NotariatError("usage", `time: invalid duration ${goQuote(text)}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();

  let total = 0n;
  while (rest !== "") {
    const number = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest)!;
    const whole = number[1];
    const fraction = number[2] ?? "";
    if (whole === "" && fraction === "") throw invalid();
    rest = rest.slice(number[0].length);

    const unitMatch = /^[^0-9.]*/.exec(rest)![0];
    if (unitMatch === "") throw new NotariatError("usage", `time: missing unit in duration ${goQuote(text)}`);
    const unit = UNIT_NANOS[unitMatch];
    if (unit === undefined) {
      throw new NotariatError(
        "usage",
        `time: unknown unit ${goQuote(unitMatch)} in duration ${goQuote(text)}`,
      );
    }
    rest = rest.slice(unitMatch.length);

    let nanos = BigInt(whole === "" ? "0" : whole) * unit;
    if (fraction !== "") nanos += BigInt(fraction) * unit / 10n ** BigInt(fraction.length);
    total += nanos;
    if (total > MAX_NANOS + 1n) throw invalid();
  }
  if (!negative && total > MAX_NANOS) throw invalid();
  const sign = negative ? -1 : 1;
  const millis = total / NANOS_PER_MS;
  const remainder = total % NANOS_PER_MS;
  return sign * (Number(millis) + Number(remainder) / 1e6);
}

/**
 * Formats milliseconds like Go's `time.Duration.String()` (`720h0m0s`, `1.5s`, `500ms`, `0s`), which is how
 * the flag help shows defaults.
 */
export function formatDuration(ms: number): string {
  const negative = ms < 0;
  let nanos = BigInt(Math.round(Math.abs(ms) * 1e6));
  if (nanos === 0n) return "0s";
  let text: string;
  if (nanos < 1_000_000_000n) {
    if (nanos < 1_000n) text = `${nanos}ns`;
    else if (nanos < 1_000_000n) text = `${decimal(nanos, 3)}\u00b5s`;
    else text = `${decimal(nanos, 6)}ms`;
  } else {
    const seconds = decimal(nanos % 60_000_000_000n, 9);
    nanos /= 60_000_000_000n;
    const minutes = nanos % 60n;
    const hours = nanos / 60n;
    text = hours > 0n
      ? `${hours}h${minutes}m${seconds}s`
      : minutes > 0n
      ? `${minutes}m${seconds}s`
      : `${seconds}s`;
  }
  return negative ? `-${text}` : text;
}

/** `value / 10^places` in decimal, without trailing zeros in the fraction (Go's fmtFrac). */
function decimal(value: bigint, places: number): string {
  const scale = 10n ** BigInt(places);
  const fraction = (value % scale).toString().padStart(places, "0").replace(/0+$/, "");
  return fraction === "" ? `${value / scale}` : `${value / scale}.${fraction}`;
}

/** Go's `%q` for the plain strings found on a command line. */
function goQuote(text: string): string {
  return JSON.stringify(text);
}
