/**
 * The README's quick start as data: the shell commands of each numbered step, so the demo runs exactly what
 * the README says and a test can check that every command is run somewhere.
 */

/** One step of the quick start: its number (0 for the settings before step 1) and its command lines. */
export interface QuickStartStep {
  number: number;
  title: string;
  commands: string[];
}

const SECTION = "## Quick start on a real cluster";

/**
 * The steps of the README's quick start: each ```sh block, under the last `**N. Title**` before it. A command
 * is one line without its trailing `# comment`; blank and comment-only lines are left out.
 */
export function quickStartSteps(readme: string): QuickStartStep[] {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README has no section "${SECTION}"`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: QuickStartStep[] = [];
  let number = 0;
  let title = "settings";
  for (const block of section.matchAll(/\*\*(\d+)\. ([^*]+)\*\*|```sh\n([\s\S]*?)```/g)) {
    if (block[1] !== undefined) {
      number = Number(block[1]);
      title = block[2].replace(/[.:]$/, "");
      continue;
    }
    const commands = block[3].split("\n").map(withoutComment).filter((line) => line !== "");
    steps.push({ number, title, commands });
  }
  return steps;
}

/** The line without a trailing ` # comment` (a `#` inside quotes is kept) and surrounding spaces. */
function withoutComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i).trim();
    }
  }
  return line.trim();
}
