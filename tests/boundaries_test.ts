import assert from "node:assert/strict";
import {
  type BoundaryProblem,
  checkBoundaries,
  folderOf,
  formatProblem,
  type ImportGraph,
  LIBRARY_RULES,
  libraryOf,
  readDeclaredImports,
  readImportGraph,
} from "../scripts/check_boundaries.ts";
import { makeStateDir, removeStateDir } from "./harness/process.ts";

const RULES = { "js-yaml": ["src/config/"], "acme-client": ["src/acme/client.ts"] };

/** A layout with one circle (config → dns → config) and js-yaml and acme-client imported outside their adapters. */
const PLANTED: ImportGraph = new Map([
  ["src/config/parse.ts", [
    { specifier: "js-yaml", line: 1 },
    { specifier: "../dns/address.ts", target: "src/dns/address.ts", line: 2 },
    { specifier: "./names.ts", target: "src/config/names.ts", line: 3 },
  ]],
  ["src/config/names.ts", [{ specifier: "node:url", line: 1 }]],
  ["src/dns/address.ts", [
    { specifier: "../config/names.ts", target: "src/config/names.ts", line: 6 },
    { specifier: "npm:js-yaml@^5.5.0", line: 7 },
  ]],
  ["src/acme/client.ts", [{ specifier: "acme-client", line: 1 }]],
  ["src/acme/issuer.ts", [
    { specifier: "acme-client", line: 4 },
    { specifier: "../errors.ts", target: "src/errors.ts", line: 5 },
  ]],
  ["src/errors.ts", []],
]);

Deno.test("a folder circle is reported with each import that makes it", () => {
  const cycles = checkBoundaries(PLANTED, RULES).filter((p) => p.kind === "cycle");
  assert.deepEqual(cycles, [{
    kind: "cycle",
    folders: ["src/config/", "src/dns/"],
    imports: [
      { file: "src/config/parse.ts", line: 2, specifier: "../dns/address.ts", target: "src/dns/address.ts" },
      { file: "src/dns/address.ts", line: 6, specifier: "../config/names.ts", target: "src/config/names.ts" },
    ],
  }]);
  const message = formatProblem(cycles[0]);
  assert.match(message, /src\/config\/ → src\/dns\/ → src\/config\//);
  assert.match(message, /src\/config\/parse\.ts:2 imports "\.\.\/dns\/address\.ts"/);
  assert.match(message, /src\/dns\/address\.ts:6 imports "\.\.\/config\/names\.ts"/);
});

Deno.test("a library imported outside its adapter is reported with the file, whatever the specifier's form", () => {
  const outside = checkBoundaries(PLANTED, RULES).filter((p) => p.kind === "outside-adapter");
  assert.deepEqual(outside.map((p) => [p.file, p.line, p.library]), [
    ["src/acme/issuer.ts", 4, "acme-client"],
    ["src/dns/address.ts", 7, "js-yaml"],
  ]);
  assert.equal(
    formatProblem(outside[0]),
    'src/acme/issuer.ts:4 imports "acme-client", which only src/acme/client.ts may import (its adapter)',
  );
});

Deno.test("a circle through three folders is one cycle; a folder importing itself is none", () => {
  const graph: ImportGraph = new Map([
    ["src/a/one.ts", [
      { specifier: "../b/two.ts", target: "src/b/two.ts", line: 1 },
      { specifier: "./other.ts", target: "src/a/other.ts", line: 2 },
    ]],
    ["src/a/other.ts", [{ specifier: "./one.ts", target: "src/a/one.ts", line: 1 }]],
    ["src/b/two.ts", [{ specifier: "../c/three.ts", target: "src/c/three.ts", line: 1 }]],
    ["src/c/three.ts", [{ specifier: "../a/other.ts", target: "src/a/other.ts", line: 3 }]],
  ]);
  const problems = checkBoundaries(graph, {});
  assert.deepEqual(problems.map((p) => p.kind === "cycle" && p.folders), [["src/a/", "src/b/", "src/c/"]]);
  assert.match(formatProblem(problems[0]), /src\/c\/three\.ts:3 imports "\.\.\/a\/other\.ts"/);
});

Deno.test("a library with no rule fails, whether deno.json declares it or a module imports it", () => {
  const graph: ImportGraph = new Map([["src/dns/wire.ts", [{ specifier: "npm:dns-packet@5", line: 2 }]]]);
  const problems: BoundaryProblem[] = checkBoundaries(graph, RULES, ["js-yaml", "left-pad"]);
  assert.deepEqual(problems, [
    { kind: "dependency-without-rule", library: "left-pad" },
    {
      kind: "import-without-rule",
      file: "src/dns/wire.ts",
      line: 2,
      specifier: "npm:dns-packet@5",
      library: "dns-packet",
    },
  ]);
  assert.match(formatProblem(problems[0]), /deno\.json imports "left-pad" with no rule/);
  assert.match(formatProblem(problems[1]), /src\/dns\/wire\.ts:2 imports "npm:dns-packet@5"/);
});

Deno.test("a rule for a library nothing imports is met, and node: built-ins are no library", () => {
  assert.deepEqual(
    checkBoundaries(new Map([["src/dns/x.ts", [{ specifier: "node:net", line: 1 }]]]), RULES, ["js-yaml"]),
    [],
  );
});

Deno.test("library names come from any specifier form; folders are the first level under src/", () => {
  assert.equal(libraryOf("@kubernetes/client-node"), "@kubernetes/client-node");
  assert.equal(libraryOf("npm:@peculiar/x509@^1.14.3"), "@peculiar/x509");
  assert.equal(libraryOf("npm:/js-yaml@5/dist/js-yaml.mjs"), "js-yaml");
  assert.equal(libraryOf("undici/types"), "undici");
  assert.equal(libraryOf("node:net"), undefined);
  assert.equal(libraryOf("../dns/wire.ts"), undefined);
  assert.equal(folderOf("src/acme/issuer.ts"), "src/acme/");
  assert.equal(folderOf("src/acme/sub/deep.ts"), "src/acme/");
  assert.equal(folderOf("src/errors.ts"), "src/errors.ts");
  assert.equal(folderOf("main.ts"), "main.ts");
});

Deno.test("the graph read from disk sees type-only, re-exported and dynamic imports", async () => {
  const dir = makeStateDir("boundaries");
  try {
    const write = (path: string, text: string) => {
      Deno.mkdirSync(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      Deno.writeTextFileSync(`${dir}/${path}`, text);
    };
    write("deno.json", "{}\n");
    write(
      "src/dns/address.ts",
      'import type { Name } from "../config/names.ts";\nexport type Host = Name;\n',
    );
    write(
      "src/config/names.ts",
      'export { type Host } from "../dns/address.ts";\nexport type Name = string;\n',
    );
    write("src/config/parse.ts", 'export const yaml = await import("js-yaml");\n');
    write("src/pki/keys.ts", 'export const one = 1;\nexport const yaml = await import("js-yaml");\n');
    write("src/observe/log.ts", 'import { load } from "js-yaml";\nexport const parse = load;\n');
    const root = new URL(`file://${dir}/`);
    const graph = await readImportGraph(root);
    assert.deepEqual([...graph.keys()].sort(), [
      "src/config/names.ts",
      "src/config/parse.ts",
      "src/dns/address.ts",
      "src/observe/log.ts",
      "src/pki/keys.ts",
    ]);
    const messages = checkBoundaries(graph, LIBRARY_RULES, readDeclaredImports(root)).map(formatProblem);
    assert.deepEqual(messages, [
      'src/observe/log.ts:1 imports "js-yaml", which only src/config/ may import (its adapter)',
      'src/pki/keys.ts:2 imports "js-yaml", which only src/config/ may import (its adapter)',
      [
        "folders import each other in a circle: src/config/ → src/dns/ → src/config/",
        '  src/config/names.ts:1 imports "../dns/address.ts" (src/dns/address.ts)',
        '  src/dns/address.ts:1 imports "../config/names.ts" (src/config/names.ts)',
      ].join("\n"),
    ]);
  } finally {
    removeStateDir(dir);
  }
});

Deno.test("notariat's own src/ imports in no circle and keeps each library behind its adapter", async () => {
  const root = new URL("../", import.meta.url);
  const graph = await readImportGraph(root);
  assert.ok(graph.has("main.ts") && graph.has("src/controller/controller.ts"), "the graph holds the modules");
  const external = [...graph.values()].flat().filter((i) => i.target === undefined);
  assert.ok(external.some((i) => i.specifier === "node:crypto"), "the graph sees imports of packages");
  assert.deepEqual(checkBoundaries(graph, LIBRARY_RULES, readDeclaredImports(root)).map(formatProblem), []);
});
