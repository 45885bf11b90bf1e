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

Deno.test("the README lists every flag of notariat and of each subcommand, as the program defines them", () => {
  const readme = rows(Deno.readTextFileSync(new URL("../README.md", import.meta.url)));
  for (const command of ["run", "dns-check", "persist-record", "status"] as const) {
    const expected = rows(formatFlagTable(command));
    assert.ok(expected.size >= 4, `${command} has flags`);
    for (const row of expected) assert.ok(readme.has(row), `README lacks the ${command} flag row: ${row}`);
  }
});

/** Each `<!-- include PATH -->` marker of the README and the text of the fenced block right after it. */
function includedBlocks(readme: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of readme.matchAll(/<!-- include (\S+) -->\n\n```[\w-]*\n([\s\S]*?)^```$/gm)) {
    blocks.set(match[1], match[2]);
  }
  return blocks;
}

Deno.test("the README shows each DNS server configuration of docs/dns exactly as the tests load it", () => {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const blocks = includedBlocks(readme);
  const markers = [...readme.matchAll(/<!-- include (\S+) -->/g)].map((m) => m[1]);
  assert.deepEqual([...blocks.keys()], markers, "every include marker is followed by a fenced block");
  const files = [...Deno.readDirSync(new URL("../docs/dns/", import.meta.url))].map((e) =>
    `docs/dns/${e.name}`
  );
  assert.ok(files.length >= 4, "docs/dns holds the Knot and BIND configurations");
  for (const file of files) {
    assert.ok(blocks.has(file), `README does not include ${file}`);
    assert.equal(
      blocks.get(file),
      Deno.readTextFileSync(new URL(`../${file}`, import.meta.url)),
      `README's ${file}`,
    );
  }
});
