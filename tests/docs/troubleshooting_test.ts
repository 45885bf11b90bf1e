/**
 * The README's troubleshooting section lists every message notariat can emit about DNS, TSIG, ACME, the
 * Kubernetes API (RBAC) and configuration: the templates are collected from the source, so a new or reworded
 * message fails this test until the README explains it.
 */
import assert from "node:assert/strict";
import { lineHoldsTemplate, type MessageTemplate, messageTemplates } from "./message_templates.ts";

const ROOT = new URL("../../", import.meta.url);

/**
 * Where the messages are made. Left out: src/dns/check.ts (dns-check's progress report; its failures are
 * these messages), src/pki (certificate and key checks, which surface as the policy reasons of "When notariat
 * (re)issues"), src/controller's policy, loop and logging, src/observe.
 */
const SOURCES: { dir: string; except?: string[] }[] = [
  { dir: "src/dns", except: ["check.ts"] },
  { dir: "src/acme" },
  { dir: "src/config" },
  { dir: "src/kube" },
  { dir: "src/cli" },
];
const FILES = ["main.ts", "src/controller/zone_access.ts", "src/controller/write.ts"];

function sourceFiles(): string[] {
  const files = [...FILES];
  for (const { dir, except = [] } of SOURCES) {
    for (const entry of Deno.readDirSync(new URL(`${dir}/`, ROOT))) {
      if (entry.isFile && entry.name.endsWith(".ts") && !except.includes(entry.name)) {
        files.push(`${dir}/${entry.name}`);
      }
    }
  }
  return files.sort();
}

/**
 * The blocks of the README section `## When something fails` (a table row, a list item, a paragraph), each on
 * one line with its whitespace collapsed and `\|` (a pipe inside a table cell) unescaped.
 */
function troubleshootingBlocks(): string[] {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const start = readme.indexOf("\n## When something fails\n");
  assert.ok(start >= 0, "README has a section '## When something fails'");
  const end = readme.indexOf("\n## ", start + 1);
  const blocks: string[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.length > 0) blocks.push(collapse(current.join(" ")));
    current = [];
  };
  for (const line of readme.slice(start, end < 0 ? undefined : end).split("\n")) {
    if (line.trim() === "" || line.startsWith("|") || /^\s*[-*] /.test(line) || line.startsWith("#")) flush();
    if (line.trim() !== "") current.push(line.replaceAll("\\|", "|"));
    if (line.startsWith("|") || line.startsWith("#")) flush();
  }
  flush();
  return blocks;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ");
}

Deno.test("the scanner finds message literals, and skips comments, regular expressions, log lines and help", () => {
  const source = [
    "// a comment 'that is not' a message",
    "/* nor 'this one' here */",
    'const re = /it\'s "not" a string/g;',
    "const ratio = a / b / c;",
    "log(\"order created for the account\", { x: 'y z w' });",
    'logger?.[level]("watch failed, reconnecting");',
    'flag({ usage: "the help of a flag " +\n  "continued here" });',
    "throw new NotariatError(\"dns\", `server ${formatServer(`${host}:${port}`)} refused key '${k}'`);",
    "const hint = 'write it as a list';",
    'const name = "kubernetes.io/tls";',
    'log("debug", "watch reconnected after a while", { watch });',
  ].join("\n");
  assert.deepEqual(messageTemplates("x.ts", source).map((t) => [t.line, t.text]), [
    [5, "y z w"],
    [9, "server … refused key '…'"],
    [10, "write it as a list"],
  ]);
});

Deno.test("every DNS, TSIG, ACME, RBAC and configuration message is explained in the README", () => {
  const templates = new Map<string, MessageTemplate>();
  for (const file of sourceFiles()) {
    for (const t of messageTemplates(file, Deno.readTextFileSync(new URL(file, ROOT)))) {
      if (!templates.has(t.text)) templates.set(t.text, t);
    }
  }
  assert.ok(templates.size > 150, `the scanner found the messages (${templates.size})`);
  const blocks = troubleshootingBlocks();
  const missing = [...templates.values()].filter((t) =>
    !blocks.some((block) => lineHoldsTemplate(block, collapse(t.text)))
  );
  assert.deepEqual(
    missing.map((t) => `${t.file}:${t.line}: ${t.text}`),
    [],
    `${missing.length} of ${templates.size} messages are missing from the README's "When something fails"`,
  );
});
