/**
 * The message templates in notariat's source: every string or template literal that reads as a phrase (two
 * words or more of fixed text), outside comments, log calls and flag help, with each interpolation written as
 * `…`. A small scanner rather than a TypeScript parser: it knows strings, template literals (nested), regular
 * expression literals and comments, which is all it takes to find literals reliably.
 */

/** One literal found in a source file. */
export interface MessageTemplate {
  file: string;
  line: number;
  /** The fixed text with `…` for each interpolation, e.g. `CNAME loop: …`. */
  text: string;
}

/** A literal token: its fixed parts (split where an interpolation was) and where it starts. */
interface Literal {
  parts: string[];
  offset: number;
}

/** The previous significant character or word decides whether `/` starts a regular expression. */
const REGEX_AFTER = /(?:[(,=:[!&|?{};+\-*%<>~^]|\breturn|\btypeof|\bcase|\bthrow|\bin|\bof)\s*$/;

function unescape(text: string): string {
  return text.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e.startsWith("u{")) return String.fromCodePoint(parseInt(e.slice(2, -1), 16));
    if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    return { n: "\n", t: "\t" }[e] ?? e;
  });
}

/** Scans `source` from `start`; returns the literals and where the scan stopped (at an unmatched `}`). */
function scan(source: string, start: number, literals: Literal[], stopAtBrace: boolean): number {
  let i = start;
  let depth = 0;
  let code = "";
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      i = source.indexOf("\n", i);
      if (i < 0) return source.length;
      continue;
    }
    if (c === "/" && next === "*") {
      i = source.indexOf("*/", i + 2) + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      literals.push({ parts: [unescape(source.slice(i + 1, j))], offset: i });
      code += "x";
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const parts: string[] = [];
      let text = "";
      let j = i + 1;
      const literal: Literal = { parts, offset: i };
      literals.push(literal);
      while (source[j] !== "`") {
        if (source[j] === "\\") {
          text += unescape(source.slice(j, j + 2));
          j += 2;
        } else if (source[j] === "$" && source[j + 1] === "{") {
          parts.push(text);
          text = "";
          j = scan(source, j + 2, literals, true) + 1;
        } else {
          text += source[j++];
        }
      }
      parts.push(text);
      code += "x";
      i = j + 1;
      continue;
    }
    if (c === "/" && REGEX_AFTER.test(code.slice(-12))) {
      let j = i + 1;
      let inClass = false;
      while (source[j] !== "/" || inClass) {
        if (source[j] === "\\") j++;
        else if (source[j] === "[") inClass = true;
        else if (source[j] === "]") inClass = false;
        j++;
      }
      i = j + 1;
      while (/[a-z]/.test(source[i])) i++;
      code += "x";
      continue;
    }
    if (c === "{") depth++;
    if (c === "}") {
      if (depth === 0 && stopAtBrace) return i;
      depth--;
    }
    if (!/\s/.test(c)) code += c;
    else if (!/\s$/.test(code)) code += " ";
    if (code.length > 64) code = code.slice(-32);
    i++;
  }
  return i;
}

/**
 * Literals that are not messages: the message of a log call (`log(`, `logger.info(`, `logger?.[level](`,
 * `log(level, `),
 * a flag's help text (`usage:`, checked against the README by its own test), a regular expression's source, text
 * searched for or compared against.
 */
const NOT_A_MESSAGE = [
  /\b(?:log|debug|info|warn|error)\s*(?:\?\.)?\(\s*$/,
  /\blogger\??\.?\[\w+\]\(\s*$/,
  /\blog\(\s*(?:"\w+"|\w+),\s*$/,
  /\busage:\s*$/,
  /\bnew RegExp\(\s*$/,
  /\.(?:includes|startsWith|endsWith|indexOf)\(\s*$/,
  /[!=]==?\s*$/,
];

/** The message templates of one source file; `file` names it in the results. */
export function messageTemplates(file: string, source: string): MessageTemplate[] {
  const literals: Literal[] = [];
  scan(source, 0, literals, false);
  const templates: MessageTemplate[] = [];
  let previousSkipped = false;
  for (const { parts, offset } of literals) {
    const before = source.slice(Math.max(0, offset - 40), offset);
    // A literal continuing a skipped one with `+` is part of the same non-message.
    const skipped: boolean = NOT_A_MESSAGE.some((pattern) => pattern.test(before)) ||
      (previousSkipped && /\+\s*$/.test(before));
    previousSkipped = skipped;
    const fixed = parts.join(" ");
    if (skipped || (fixed.match(/[A-Za-z]+/g) ?? []).length < 2 || !parts.some((p) => /\S \S/.test(p))) {
      continue;
    }
    if (/^[/|]/.test(fixed)) continue;
    const line = source.slice(0, offset).split("\n").length;
    templates.push({ file, line, text: parts.join("…") });
  }
  return templates;
}

/** The fixed pieces of a template, in order, without the interpolations and the spaces around them. */
export function fixedPieces(text: string): string[] {
  return text.split("…").map((piece) => piece.trim()).filter((piece) => /[A-Za-z]/.test(piece));
}

/** Whether `text` holds every fixed piece of `template`, in order. */
export function lineHoldsTemplate(text: string, template: string): boolean {
  let from = 0;
  for (const piece of fixedPieces(template)) {
    const at = text.indexOf(piece, from);
    if (at < 0) return false;
    from = at + piece.length;
  }
  return true;
}
