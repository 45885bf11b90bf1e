/**
 * The Prometheus text exposition format (version 0.0.4), as pure functions: metric families in, the page a
 * scraper reads out. https://prometheus.io/docs/instrumenting/exposition_formats/
 */

/** One sample: its labels and value. `suffix` is appended to the family name (`_sum`, `_count`, `_bucket`). */
export interface Sample {
  labels: Record<string, string>;
  value: number;
  suffix?: string;
}

/** A metric family: a name, one help line, a type and its samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram" | "summary";
  samples: Sample[];
}

/** The content type of the page `encodeText` produces. */
export const TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Formats a sample value: integers as they are, `NaN`, `+Inf`, `-Inf`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * The text page for `families`, in the given order, each with `# HELP` and `# TYPE` lines. Throws a
 * RangeError for an invalid metric or label name (a programming error, never user input).
 */
export function encodeText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new RangeError(`invalid metric name ${family.name}`);
    lines.push(`# HELP ${family.name} ${family.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels).map(([name, value]) => {
        if (!LABEL_NAME.test(name)) throw new RangeError(`invalid label name ${name} on ${family.name}`);
        return `${name}="${escapeLabelValue(value)}"`;
      });
      const labelText = labels.length === 0 ? "" : `{${labels.join(",")}}`;
      lines.push(`${family.name}${sample.suffix ?? ""}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
