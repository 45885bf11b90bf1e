/**
 * Where the CPU time of a V8 CPU profile (`deno run --cpu-prof`) went: self time per package or project
 * folder, and the heaviest functions. Figures only.
 * Run: deno run -A bench/profile_summary.ts FILE.cpuprofile [top=25]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg] = Deno.args;
if (file === undefined) throw new Error("usage: profile_summary.ts FILE.cpuprofile [top]");
const top = Number(topArg ?? 25);
const profile: Profile = JSON.parse(Deno.readTextFileSync(file));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

/** Microseconds of self time per node id: each sample's delta goes to the node it sampled. */
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

/** "npm:acme-client", "src/acme", "(garbage collector)", "ext:deno_fetch"... */
function place(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  const npm = /registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return `npm:${npm[1]}`;
  const project = /\/(src\/[^/]+|main\.ts)/.exec(url);
  if (project) return project[1];
  if (url.startsWith("ext:") || url.startsWith("node:")) return url.split("/")[0].replace(/:$/, "");
  return url.replace(/^file:\/\//, "");
}

const byPlace = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { callFrame } = nodes.get(id)!;
  const where = place(callFrame.url, callFrame.functionName);
  byPlace.set(where, (byPlace.get(where) ?? 0) + us);
  const fn = `${callFrame.functionName || "(anonymous)"} ${where}${
    callFrame.url ? `:${callFrame.lineNumber + 1}` : ""
  }`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = byPlace.get("(idle)") ?? 0;
const busy = total - idle;
const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
const pct = (us: number) => `${(100 * us / busy).toFixed(1).padStart(5)}%`;
console.log(`profile ${file}: ${ms(total)} ms sampled, ${ms(busy)} ms on the JavaScript thread (not idle)`);
console.log("\nself time by package or folder (share of the busy time):");
for (
  const [where, us] of [...byPlace].filter(([w]) => w !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, top)
) {
  console.log(`${ms(us)} ms ${pct(us)}  ${where}`);
}
console.log(`\nheaviest ${top} functions by self time:`);
for (
  const [fn, us] of [...byFunction].filter(([f]) => !f.startsWith("(idle)")).sort((a, b) => b[1] - a[1])
    .slice(0, top)
) {
  console.log(`${ms(us)} ms ${pct(us)}  ${fn}`);
}
