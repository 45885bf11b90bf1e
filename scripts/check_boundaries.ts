/**
 * The layout's two rules, checked over the import graph of src/ and main.ts (`deno task check` runs this file):
 * no folder of src/ imports another in a circle, and each third-party library is imported only by its adapter
 * (LIBRARY_RULES). Every library deno.json names needs a rule, so a new dependency cannot land without one.
 *
 * `checkBoundaries` is the pure part, over a graph given as data; `readImportGraph` asks `deno info` (Deno's
 * own parser: static, type-only, re-exported and dynamic imports alike) for the real one.
 *
 * @example deno run --allow-read --allow-run=deno scripts/check_boundaries.ts
 */

/** One import a module makes. */
export interface ModuleImport {
  /** The specifier as written: "../dns/types.ts", "js-yaml", "node:net". */
  specifier: string;
  /** The repository file it resolves to ("src/dns/types.ts"); absent for a package or a built-in. */
  target?: string;
  /** 1-based line of the import. */
  line: number;
}

/** Each module (a path relative to the repository root, "src/acme/issuer.ts") with the imports it makes. */
export type ImportGraph = ReadonlyMap<string, readonly ModuleImport[]>;

/**
 * Which modules may import each library (keyed as deno.json's "imports" names it): a folder, written with its
 * trailing slash ("src/kube/"), or one file. A rule for a library nothing imports any more is simply met.
 */
export type LibraryRules = Readonly<Record<string, readonly string[]>>;

/**
 * The adapters: each library behind the one module (or folder) that speaks it. A library dropped from deno.json
 * keeps its rule, so it cannot come back anywhere else.
 */
export const LIBRARY_RULES: LibraryRules = {
  "@kubernetes/client-node": ["src/kube/"],
  "undici": ["src/kube/"],
  "acme-client": ["src/acme/client.ts"],
  "@peculiar/x509": ["src/pki/"],
  "js-yaml": ["src/config/"],
};

/** One import from a module of one folder into a module of another. */
export interface CrossImport {
  file: string;
  line: number;
  specifier: string;
  target: string;
}

/** What `checkBoundaries` finds wrong. */
export type BoundaryProblem =
  /** Folders that import each other in a circle: `folders[0]` → `folders[1]` → … → `folders[0]`. */
  | { kind: "cycle"; folders: string[]; imports: CrossImport[] }
  /** A library imported outside the modules its rule allows. */
  | {
    kind: "outside-adapter";
    file: string;
    line: number;
    specifier: string;
    library: string;
    allowed: readonly string[];
  }
  /** A library imported by a module, with no rule saying where it belongs. */
  | { kind: "import-without-rule"; file: string; line: number; specifier: string; library: string }
  /** A library deno.json declares, with no rule saying where it belongs. */
  | { kind: "dependency-without-rule"; library: string };

/**
 * The unit cycles are counted in: a folder directly under src/ ("src/dns/"); a module outside such a folder
 * (src/errors.ts, main.ts) stands for itself.
 */
export function folderOf(path: string): string {
  const parts = path.split("/");
  return parts[0] === "src" && parts.length > 2 ? `src/${parts[1]}/` : path;
}

/**
 * The library a third-party specifier names ("@scope/name" or "name", without version or subpath), or
 * undefined for a relative import, a built-in (`node:`) or a file URL.
 */
export function libraryOf(specifier: string): string | undefined {
  if (/^(\.{0,2}\/|file:|node:)/.test(specifier)) return undefined;
  if (/^(https?|data|blob):/.test(specifier)) return specifier;
  const bare = specifier.replace(/^(npm|jsr):\/?/, "");
  const match = /^(@[^/@]+\/[^/@]+|[^/@]+)/.exec(bare);
  return match?.[1] ?? specifier;
}

/** Whether `file` is one of the modules `allowed` (folders end in "/"). */
function isAllowed(file: string, allowed: readonly string[]): boolean {
  return allowed.some((path) => path.endsWith("/") ? file.startsWith(path) : file === path);
}

/**
 * Every boundary problem of `graph`: each folder cycle (with the imports that make it), each library imported
 * outside its adapter or with no rule at all, and each of `declared` (deno.json's import names) with no rule.
 */
export function checkBoundaries(
  graph: ImportGraph,
  rules: LibraryRules = LIBRARY_RULES,
  declared: readonly string[] = [],
): BoundaryProblem[] {
  const problems: BoundaryProblem[] = [];
  for (const name of declared) {
    const library = libraryOf(name) ?? name;
    if (!(library in rules)) problems.push({ kind: "dependency-without-rule", library });
  }
  for (const [file, imports] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    for (const { specifier, target, line } of imports) {
      const library = target === undefined ? libraryOf(specifier) : undefined;
      if (library === undefined) continue;
      const allowed = rules[library];
      if (allowed === undefined) {
        problems.push({ kind: "import-without-rule", file, line, specifier, library });
      } else if (!isAllowed(file, allowed)) {
        problems.push({ kind: "outside-adapter", file, line, specifier, library, allowed });
      }
    }
  }
  return [...problems, ...folderCycles(graph)];
}

/** Each elementary cycle of the folder graph, once, starting at its alphabetically first folder. */
function folderCycles(graph: ImportGraph): BoundaryProblem[] {
  const edges = new Map<string, Map<string, CrossImport[]>>();
  for (const [file, imports] of graph) {
    for (const { specifier, target, line } of imports) {
      if (target === undefined) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const out = edges.get(from) ?? new Map<string, CrossImport[]>();
      edges.set(from, out);
      const list = out.get(to) ?? [];
      out.set(to, list);
      list.push({ file, line, specifier, target });
    }
  }
  const folders = [...edges.keys()].sort();
  const cycles: BoundaryProblem[] = [];
  for (const start of folders) {
    const walk = (at: string, path: string[]): void => {
      for (const next of [...(edges.get(at)?.keys() ?? [])].sort()) {
        if (next === start) {
          const hops = path.map((from, i) => edges.get(from)!.get(path[i + 1] ?? start)!);
          cycles.push({ kind: "cycle", folders: [...path], imports: hops.flat() });
        } else if (next > start && !path.includes(next)) {
          walk(next, [...path, next]);
        }
      }
    };
    walk(start, [start]);
  }
  return cycles;
}

/** A problem as one message, naming the files, lines and imports involved. */
export function formatProblem(problem: BoundaryProblem): string {
  switch (problem.kind) {
    case "cycle":
      return [
        `folders import each other in a circle: ${[...problem.folders, problem.folders[0]].join(" → ")}`,
        ...problem.imports.map((i) => `  ${i.file}:${i.line} imports "${i.specifier}" (${i.target})`),
      ].join("\n");
    case "outside-adapter":
      return `${problem.file}:${problem.line} imports "${problem.specifier}", which only ${
        problem.allowed.join(", ")
      } may import (its adapter)`;
    case "import-without-rule":
      return `${problem.file}:${problem.line} imports "${problem.specifier}", a library with no rule in ` +
        `scripts/check_boundaries.ts LIBRARY_RULES (declare it in deno.json and give it one adapter)`;
    case "dependency-without-rule":
      return `deno.json imports "${problem.library}" with no rule in scripts/check_boundaries.ts ` +
        `LIBRARY_RULES: name the one module (or folder) that may import it`;
  }
}

/** What `deno info --json` says of one module (the fields used here). */
interface InfoModule {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier?: string; span?: { start: { line: number } } };
    type?: { specifier?: string; span?: { start: { line: number } } };
  }[];
}

/** The .ts files under `dir` of `root`, as repository paths, sorted. */
function tsFiles(root: URL, dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) found.push(...tsFiles(root, `${path}/`));
    else if (entry.isFile && path.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

/**
 * The import graph of main.ts and every .ts file under src/ of the repository at `root` (a directory URL), read
 * with `deno info --json` from main.ts, then from each file not yet reached.
 */
export async function readImportGraph(root: URL): Promise<Map<string, ModuleImport[]>> {
  const mainExists = (() => {
    try {
      return Deno.statSync(new URL("main.ts", root)).isFile;
    } catch {
      return false;
    }
  })();
  const wanted = [...(mainExists ? ["main.ts"] : []), ...tsFiles(root, "src/")];
  const graph = new Map<string, ModuleImport[]>();
  const relative = (specifier: string | undefined): string | undefined =>
    specifier?.startsWith(root.href) ? decodeURIComponent(specifier.slice(root.href.length)) : undefined;
  for (const file of wanted) {
    if (graph.has(file)) continue;
    const output = await new Deno.Command("deno", {
      args: ["info", "--json", file],
      cwd: root,
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info ${file} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
    }
    const info: { modules: InfoModule[] } = JSON.parse(new TextDecoder().decode(output.stdout));
    for (const module of info.modules) {
      const path = relative(module.specifier);
      if (path === undefined || !wanted.includes(path) || graph.has(path)) continue;
      graph.set(
        path,
        (module.dependencies ?? []).map((dep) => {
          const resolved = dep.code ?? dep.type;
          return {
            specifier: dep.specifier,
            target: relative(dep.code?.specifier ?? dep.type?.specifier),
            line: (resolved?.span?.start.line ?? 0) + 1,
          };
        }),
      );
    }
    if (!graph.has(file)) graph.set(file, []);
  }
  return graph;
}

/** The library names deno.json of the repository at `root` declares in "imports". */
export function readDeclaredImports(root: URL): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  return Object.keys(config.imports ?? {});
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const graph = await readImportGraph(root);
  const declared = readDeclaredImports(root);
  const problems = checkBoundaries(graph, LIBRARY_RULES, declared);
  if (problems.length > 0) {
    for (const problem of problems) console.error(formatProblem(problem));
    Deno.exit(1);
  }
  const folders = new Set([...graph.keys()].map(folderOf).filter((folder) => folder.endsWith("/")));
  console.log(
    `boundaries: ${graph.size} modules, ${folders.size} folders of src/ importing in no circle; ` +
      `${
        declared.length === 1 ? "the one library" : `each of ${declared.length} libraries`
      } behind its adapter`,
  );
}
