/**
 * A command-line parser with the rules and messages of Go's `flag` package, so notariat's command line behaves
 * like the Go program it replaces (`-acme URL`, `--once`, `-renew-before=720h`). `node:util` parseArgs cannot:
 * it reads `-acme` as a cluster of one-letter options.
 */
import { NotariatError } from "../errors.ts";
import { looksLikeKeyMaterial, quoteValue } from "../quote.ts";
import { formatDuration, parseDuration } from "./duration.ts";

/** The value types a flag can hold; durations are milliseconds. */
export type FlagType = "string" | "int" | "bool" | "duration";

/** The JavaScript type behind each flag type. */
export interface FlagValueTypes {
  string: string;
  int: number;
  bool: boolean;
  duration: number;
}

/** One flag: its name without dash, type, one-line usage and default. */
export interface FlagDefinition<T extends FlagType = FlagType> {
  name: string;
  type: T;
  /**
   * Shown in the help. As in Go, a back-quoted word names the argument (`` read the key from `FILE` `` shows
   * `-tsig-key FILE`); without one the type word is shown.
   */
  usage: string;
  default: FlagValueTypes[T];
  /** Returns why a parsed value is unacceptable (e.g. "must be at least 1"), or undefined when it is fine. */
  check?: (value: FlagValueTypes[T]) => string | undefined;
}

/** What a parse produced: the help text to print (exit 0), or the values and the arguments after the flags. */
export type FlagParseResult =
  | { kind: "help"; text: string }
  | {
    kind: "parsed";
    /** Every defined flag's value, the default where the flag was not given. */
    values: Map<string, FlagValueTypes[FlagType]>;
    /** Arguments after the first non-flag argument or after `--`. */
    rest: string[];
  };

/** Declares a flag with its types tied together (a duration's default and check take milliseconds). */
export function flag<T extends FlagType>(definition: FlagDefinition<T>): FlagDefinition {
  return definition as unknown as FlagDefinition;
}

/**
 * Parses `args` against `flags` with Go's rules: `-name` and `--name` are the same; `-name=value` or
 * `-name value`; a bool is only `-b`, `-b=true` or `-b=false`; parsing stops at the first non-flag argument or
 * after `--`. `-h`, `-help` and `--help` (unless defined) ask for help.
 *
 * @param program the name in the help's first line, e.g. `notariat dns-check`
 * @throws NotariatError kind "usage" with Go's message, e.g. `flag provided but not defined: -x`
 */
export function parseFlags(
  program: string,
  flags: readonly FlagDefinition[],
  args: readonly string[],
): FlagParseResult {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const values = new Map<string, FlagValueTypes[FlagType]>(flags.map((f) => [f.name, f.default]));
  let i = 0;
  while (i < args.length) {
    const arg = args[i];
    if (arg.length < 2 || arg[0] !== "-") break;
    const dashes = arg[1] === "-" ? 2 : 1;
    if (arg === "--") {
      i++;
      break;
    }
    const body = arg.slice(dashes);
    if (body === "" || body[0] === "-" || body[0] === "=") {
      // Go prints the argument as it is; one shaped like a key, or a huge one, is not repeated.
      throw usage(`bad flag syntax: ${quoteValue(arg) === JSON.stringify(arg) ? arg : quoteValue(arg)}`);
    }
    i++;
    const equals = body.indexOf("=");
    const name = equals < 0 ? body : body.slice(0, equals);
    let text = equals < 0 ? undefined : body.slice(equals + 1);
    const definition = byName.get(name);
    if (definition === undefined) {
      if (name === "h" || name === "help") return { kind: "help", text: formatHelp(program, flags) };
      const shown = /^[A-Za-z0-9_.-]{1,64}$/.test(name) && !looksLikeKeyMaterial(name)
        ? `-${name}`
        : quote(name);
      throw usage(`flag provided but not defined: ${shown}`);
    }
    if (definition.type === "bool") {
      const value = text === undefined ? true : parseBool(text);
      if (value === undefined) throw usage(`invalid boolean value ${quote(text!)} for -${name}: parse error`);
      set(definition, value, text ?? "true");
      continue;
    }
    if (text === undefined) {
      if (i >= args.length) throw usage(`flag needs an argument: -${name}`);
      text = args[i++];
    }
    set(definition, parseValue(definition, text), text);
  }
  return { kind: "parsed", values, rest: args.slice(i) };

  function set(definition: FlagDefinition, value: FlagValueTypes[FlagType], text: string): void {
    const problem = definition.check?.(value as never);
    if (problem !== undefined) {
      // The check's reason may quote parts of the value; a value shaped like a key is not repeated at all.
      const reason = looksLikeKeyMaterial(text) ? "not a valid value (see -h)" : problem;
      throw usage(`invalid value ${quote(text)} for flag -${definition.name}: ${reason}`);
    }
    values.set(definition.name, value);
  }
}

/**
 * The help text in the format of Go's `flag.PrintDefaults`: flags sorted by name, each as
 * `  -name type\n    \tusage (default ...)`, the default omitted when it is the zero value.
 */
export function formatHelp(program: string, flags: readonly FlagDefinition[]): string {
  const lines = [`Usage of ${program}:`];
  for (const definition of sortedFlags(flags)) {
    const { argument, usage } = describeFlag(definition);
    let line = `  -${definition.name}${argument === "" ? "" : ` ${argument}`}`;
    line += line.length <= 4 ? "\t" : "\n    \t";
    line += usage.replaceAll("\n", "\n    \t");
    const shown = formatDefault(definition);
    if (shown !== undefined) line += ` (default ${shown})`;
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}

/** Flags in the order the help lists them. */
export function sortedFlags(flags: readonly FlagDefinition[]): FlagDefinition[] {
  return [...flags].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * The argument word and the usage with back quotes removed, like Go's `flag.UnquoteUsage`: the back-quoted
 * word when there is one, else the type word (none for a bool).
 */
export function describeFlag(definition: FlagDefinition): { argument: string; usage: string } {
  const quoted = /`([^`]*)`/.exec(definition.usage);
  if (quoted !== null) {
    return { argument: quoted[1], usage: definition.usage.replace(quoted[0], quoted[1]) };
  }
  const argument = definition.type === "bool" ? "" : definition.type;
  return { argument, usage: definition.usage };
}

/** The default as Go prints it (`"json"`, `4`, `2m0s`, `true`), or undefined for a zero value, which Go omits. */
export function formatDefault(definition: FlagDefinition): string | undefined {
  const value = definition.default;
  switch (definition.type) {
    case "string":
      return value === "" ? undefined : JSON.stringify(value);
    case "int":
      return value === 0 ? undefined : String(value);
    case "bool":
      return value === false ? undefined : String(value);
    case "duration":
      return value === 0 ? undefined : formatDuration(value as number);
  }
}

function parseValue(definition: FlagDefinition, text: string): FlagValueTypes[FlagType] {
  const parseError = () => usage(`invalid value ${quote(text)} for flag -${definition.name}: parse error`);
  switch (definition.type) {
    case "string":
      return text;
    case "int": {
      const value = parseGoInt(text);
      if (value === undefined) throw parseError();
      if (!Number.isSafeInteger(value)) {
        throw usage(`invalid value ${quote(text)} for flag -${definition.name}: value out of range`);
      }
      return value;
    }
    case "duration":
      try {
        return parseDuration(text);
      } catch {
        throw parseError();
      }
    case "bool":
      throw parseError();
  }
}

/** Go's `strconv.ParseInt(s, 0, 64)` syntax without underscores: a sign, then decimal, `0x`, `0o`, `0b` or `0`-octal. */
function parseGoInt(text: string): number | undefined {
  const match = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (match === null) return undefined;
  const digits = match[2];
  const magnitude = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits.toLowerCase());
  return Number(match[1] === "-" ? -magnitude : magnitude);
}

/** Go's `strconv.ParseBool`. */
function parseBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

function quote(text: string): string {
  return quoteValue(text);
}

function usage(message: string): NotariatError {
  return new NotariatError("usage", message);
}
