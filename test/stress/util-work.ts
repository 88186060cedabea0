/**
 * Counting the URL parser's work instead of timing it: the adversarial input shapes (shared
 * with the `url-parse-linear` row of `npm run bench`, which reports the time) and a counter of
 * the characters that parseAddress hands to the string, regex and node:net/node:url
 * primitives it is built from. The count is deterministic: the same input gives the same
 * figure on an idle machine and on a busy one.
 */
import { syncBuiltinESMExports } from "node:module";
import net from "node:net";
import url from "node:url";

/** Input shapes that would make a careless parser (or regex) superlinear: [name, make(n)]. */
export const SHAPES: ReadonlyArray<readonly [string, (n: number) => string]> = [
  ['"[" × n', (n) => "[".repeat(n)],
  ['":" × n', (n) => ":".repeat(n)],
  ['"a." × n/2', (n) => "a.".repeat(n / 2)],
  ['"%" × n', (n) => "%".repeat(n)],
  ['tcp:// + "[" × n', (n) => `tcp://${"[".repeat(n)}`],
  ['"[" + ":" × n + "]:80"', (n) => `[${":".repeat(n)}]:80`],
  ['"[::1%" + "a" × n + "]:80"', (n) => `[::1%${"a".repeat(n)}]:80`],
  ['"a" × n + ":80"', (n) => `${"a".repeat(n)}:80`],
  ['"1." × n/2 + ":80"', (n) => `${"1.".repeat(n / 2)}:80`],
  ['"1" × n + "a:80"', (n) => `${"1".repeat(n)}a:80`],
  ['"0x" × n/2 + ":80"', (n) => `${"0x".repeat(n / 2)}:80`],
  ['"a:" × n/2', (n) => "a:".repeat(n / 2)],
  ['"1:" × n/2', (n) => "1:".repeat(n / 2)],
  ['"a" × n (scheme-like, no colon)', (n) => "a".repeat(n)],
  ['"a" × n + "://h:1"', (n) => `${"a".repeat(n)}://h:1`],
  ['tcp:// + "a@" × n/2 + "h:80"', (n) => `tcp://${"a@".repeat(n / 2)}h:80`],
  ['"é" × n + ":80"', (n) => `${"é".repeat(n)}:80`],
  ['"-" × n + ":80"', (n) => `${"-".repeat(n)}:80`],
  ['host + ":" + "9" × n', (n) => `h:${"9".repeat(n)}`],
  ['unix:// + "a/" × n/2', (n) => `unix://${"a/".repeat(n / 2)}`],
  ['tcp:// + "%25" × n/3', (n) => `tcp://[::1${"%25".repeat(Math.floor(n / 3))}]:1`],
];

/** What one counted call did. */
export interface Work {
  /** Calls into the counted primitives (nested calls inside one of them are not counted again). */
  calls: number;
  /**
   * Characters handed to them: the receiver's length plus the string arguments' lengths for a
   * method that may scan its receiver (indexOf, slice, a regex exec on the input, isIPv6, …),
   * 1 for one that reads one character (charCodeAt, at, …). An upper bound on the characters
   * those primitives examine, regex backtracking aside (see `nestedQuantifier`).
   */
  chars: number;
  /** The distinct regexes run, as `/source/flags`. */
  regexes: Set<string>;
}

/** String methods that read one character. */
const ONE_CHAR = new Set(["charAt", "charCodeAt", "codePointAt", "at"]);
/** String methods that may scan their receiver and arguments. */
const SCANNING = [
  "indexOf", "lastIndexOf", "includes", "startsWith", "endsWith", "slice", "substring", "substr", "split",
  "replace", "replaceAll", "match", "matchAll", "search", "toLowerCase", "toUpperCase", "toLocaleLowerCase",
  "toLocaleUpperCase", "trim", "trimStart", "trimEnd", "normalize", "padStart", "padEnd", "repeat", "concat",
  "localeCompare", "isWellFormed", "toWellFormed",
] as const;

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

const size = (v: unknown): number => (typeof v === "string" ? v.length : 0);

/**
 * Runs `fn` with the primitives counted and returns what they were handed. The wrappers are
 * installed for the duration of the call only and always removed.
 *
 * @example
 * ```ts
 * const work = countWork(() => parseAddress("tcp://example.com:80"));
 * assert.ok(work.chars < 1000);
 * ```
 */
export function countWork(fn: () => void): Work {
  const work: Work = { calls: 0, chars: 0, regexes: new Set() };
  let depth = 0;
  const restore: Array<() => void> = [];
  const wrap = (target: Record<string, unknown>, name: string, cost: (self: unknown, args: unknown[]) => number) => {
    const original = target[name] as AnyFn | undefined;
    if (typeof original !== "function") return;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      if (depth === 0) {
        work.calls++;
        work.chars += cost(this, args);
      }
      depth++;
      try {
        return original.apply(this, args);
      } finally {
        depth--;
      }
    };
    target[name] = wrapped;
    restore.push(() => {
      target[name] = original;
    });
  };
  const strings = String.prototype as unknown as Record<string, unknown>;
  for (const name of ONE_CHAR) wrap(strings, name, () => 1);
  for (const name of SCANNING) wrap(strings, name, (self, args) => size(String(self)) + args.reduce<number>((n, a) => n + size(a), 0));
  // test, match, replace, split and search all run through exec once it is not the built-in one.
  wrap(RegExp.prototype as unknown as Record<string, unknown>, "exec", (self, args) => {
    if (self instanceof RegExp) work.regexes.add(`/${self.source}/${self.flags}`);
    return size(args[0]);
  });
  // The ESM bindings of node:net and node:url follow their CommonJS exports after a sync.
  wrap(net as unknown as Record<string, unknown>, "isIPv4", (_, args) => size(args[0]));
  wrap(net as unknown as Record<string, unknown>, "isIPv6", (_, args) => size(args[0]));
  wrap(url as unknown as Record<string, unknown>, "domainToASCII", (_, args) => size(args[0]));
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    for (const undo of restore.reverse()) undo();
    syncBuiltinESMExports();
  }
  return work;
}

/**
 * A quantified group that contains a quantifier, e.g. `(a+)+` or `(?:\d*\.)*`: the shape that
 * makes a backtracking regex engine exponential, and the only regex cost `countWork` cannot
 * see. Returns the offending group's source, or null.
 *
 * @example
 * ```ts
 * nestedQuantifier("^(a+)+$"); // "(a+)+"
 * nestedQuantifier("^[\\w-]+$"); // null
 * ```
 */
export function nestedQuantifier(source: string): string | null {
  // Per open group: where it starts and whether a repeating quantifier occurs inside it.
  const stack: Array<{ start: number; repeats: boolean }> = [];
  const repeating = (at: number): number => {
    // The length of a repeating quantifier at `at` (*, +, {n,}, {n,m} with m > 1), else 0.
    const c = source[at];
    if (c === "*" || c === "+") return 1;
    if (c !== "{") return 0;
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
    if (!m) return 0;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
    return max > 1 ? m[0].length : 0;
  };
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") stack.push({ start: i, repeats: false });
    else if (c === ")") {
      const group = stack.pop();
      if (!group) continue;
      const q = repeating(i + 1);
      if (q > 0 && group.repeats) return source.slice(group.start, i + 1 + q);
      if (stack.length > 0 && (group.repeats || q > 0)) stack[stack.length - 1]!.repeats = true;
    } else if (repeating(i) > 0 && stack.length > 0) {
      stack[stack.length - 1]!.repeats = true;
    }
  }
  return null;
}
