/** The two line formats notariat writes: one JSON object per line, or logfmt (`key=value ...`). */
export type LogFormat = "json" | "logfmt";

/** How much a line matters; lines below the logger's level are dropped. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Structured context of a line. By convention: `entry` (e.g. "certificates[0]"), `secret` ("ns/name"),
 * `domains`, `reason` (a policy reason), `duration` (seconds, e.g. "1.204s"), `error`.
 */
export type LogFields = Record<string, unknown>;

/** A structured logger. Lines never carry key material: PEM private keys and byte arrays are redacted. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger adding `fields` to every line (e.g. the entry being reconciled). */
  with(fields: LogFields): Logger;
}

/** Options of `createLogger`; `write` defaults to stderr, `now` to the wall clock, `level` to "info". */
export interface LoggerOptions {
  format: LogFormat;
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => Date;
}

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const REDACTED = "[redacted]";

/** Creates the process's logger: each call writes one line in the chosen format. */
export function createLogger(options: LoggerOptions): Logger {
  const encoder = new TextEncoder();
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const now = options.now ?? (() => new Date());
  const threshold = LEVELS[options.level ?? "info"];
  const make = (context: LogFields): Logger => {
    const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
      if (LEVELS[level] < threshold) return;
      write(formatLogLine(options.format, { time: now(), level, msg: message, ...context, ...fields }));
    };
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      with: (fields) => make({ ...context, ...fields }),
    };
  };
  return make({});
}

/** Formats one record (without trailing newline). Undefined fields are left out; values are made printable. */
export function formatLogLine(format: LogFormat, record: LogFields): string {
  const entries = Object.entries(record)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => [key, printable(value)] as const);
  if (format === "json") return JSON.stringify(Object.fromEntries(entries));
  return entries.map(([key, value]) => `${key}=${logfmtValue(value)}`).join(" ");
}

function printable(value: unknown): string | number | boolean | null {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return redact(value.message);
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return REDACTED;
  if (Array.isArray(value)) return redact(value.map((v) => String(printable(v))).join(","));
  if (typeof value === "object") return redact(JSON.stringify(value));
  return redact(String(value));
}

// A safety net: no caller should pass key material, but a PEM key inside an error text must not reach a log.
function redact(text: string): string {
  return /PRIVATE KEY-----/.test(text) ? REDACTED : text;
}

function logfmtValue(value: string | number | boolean | null): string {
  const text = String(value);
  // JSON escaping changes exactly the texts with quotes, backslashes or control characters.
  const quoted = JSON.stringify(text);
  return text === "" || /[\s=]/.test(text) || quoted !== `"${text}"` ? quoted : text;
}
