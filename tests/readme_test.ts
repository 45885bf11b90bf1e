import assert from "node:assert/strict";
import { formatFlagTable } from "../src/cli/options.ts";

/** Table rows as trimmed cells joined by "|", so the formatter's column padding does not matter. */
function rows(markdown: string): Set<string> {
  return new Set(
    markdown.split("\n")
      .filter((line) => line.startsWith("| `-"))
      .map((line) => line.split("|").map((cell) => cell.trim()).join("|")),
  );
}

Deno.test("the README lists every flag of notariat, dns-check and persist-record, as the program defines them", () => {
  const readme = rows(Deno.readTextFileSync(new URL("../README.md", import.meta.url)));
  for (const command of ["run", "dns-check", "persist-record"] as const) {
    const expected = rows(formatFlagTable(command));
    assert.ok(expected.size >= 6, `${command} has flags`);
    for (const row of expected) assert.ok(readme.has(row), `README lacks the ${command} flag row: ${row}`);
  }
});
