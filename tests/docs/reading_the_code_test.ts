/**
 * The README's "Reading the code" follows one certificate through the files that handle it, and names each
 * folder's main module, which opens with what the folder owns. A renamed or moved file, a new folder, or a main
 * module that lost its opening comment fails here until the README and the code agree again.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** The text of the README section `## Reading the code`, up to the next section. */
function section(): string {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const start = readme.indexOf("\n## Reading the code\n");
  assert.ok(start >= 0, "README has a section '## Reading the code'");
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The repository files a text names in backticks (`src/dns/wire.ts`, `main.ts`). */
function namedFiles(text: string): string[] {
  return [...text.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => m[1]);
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(new URL(path, ROOT)).isFile;
  } catch {
    return false;
  }
}

/** The folders of src/. */
function folders(): string[] {
  return [...Deno.readDirSync(new URL("src/", ROOT))].filter((e) => e.isDirectory).map((e) => e.name).sort();
}

Deno.test("every file the README's route of a certificate names exists, and the route passes every folder", () => {
  const [route] = section().split("\nEach folder's main module");
  const files = namedFiles(route);
  assert.ok(files.length >= 12, "the route names the files it passes");
  const missing = files.filter((file) => !isFile(file));
  assert.deepEqual(missing, [], "files the README's Reading the code names, and the repository lacks");
  const passed = new Set(files.map((file) => file.split("/")[1]));
  for (const folder of folders()) assert.ok(passed.has(folder), `the route passes through src/${folder}/`);
});

Deno.test("each folder's main module, as the README names it, opens with what the folder owns", () => {
  const [, list] = section().split("\nEach folder's main module");
  assert.ok(list, "the section names each folder's main module");
  const modules = namedFiles(list);
  assert.deepEqual(
    modules.map((file) => file.split("/")[1]),
    folders(),
    "one main module per folder of src/",
  );
  for (const file of modules) {
    const folder = file.split("/")[1];
    const text = Deno.readTextFileSync(new URL(file, ROOT));
    assert.ok(
      text.startsWith(`/**\n * The ${folder} folder owns `),
      `${file} opens with a doc comment "The ${folder} folder owns ..."`,
    );
  }
});
