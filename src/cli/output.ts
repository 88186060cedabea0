/**
 * Output formatting shared by the subcommands: colour only on a TTY (never with NO_COLOR or
 * TERM=dumb; FORCE_COLOR turns it on), aligned key/value blocks, tables, durations, and the
 * escaping of text that came from the network or the command line (`visible`, `visibleJson`).
 */
import { once } from "node:events";
import type { Writable } from "node:stream";

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_JSON = /[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (c: string): string => {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u{${n.toString(16)}}`;
};

/**
 * Text from a server or from an argument, made safe to print on a terminal: every C0 control
 * (tab, CR and LF included), DEL, every C1 control, and the Unicode line separators and bidi
 * overrides become visible escapes (`\x1b`, `\x07`, `\r`→`\x0d`, `\u{202e}`). Raw, they would
 * let a server clear the screen, set the window title, or return the cursor and overwrite a line
 * so that it reads "sockurl: OK". Everything the commands print goes through it except the data
 * streams (the bytes of `connect` and `listen`, which are the user's payload).
 *
 * @example
 * ```ts
 * visible("220 \x1b[2J\x07ready\r sockurl: OK"); // "220 \\x1b[2J\\x07ready\\x0d sockurl: OK"
 * ```
 */
export function visible(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * Every string in `value` (deeply, through arrays and plain objects) passed through `visible`;
 * other values as they are. For reports whose strings came from the network.
 *
 * @example
 * ```ts
 * visibleDeep({ text: "a\x1bb", n: 1 }); // { text: "a\\x1bb", n: 1 }
 * ```
 */
export function visibleDeep<T>(value: T): T {
  if (typeof value === "string") return visible(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => visibleDeep(v)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visibleDeep(v)])) as T;
  }
  return value;
}

/**
 * JSON text that a terminal cannot be steered by: JSON.stringify already writes C0 controls as
 * `\u001b`-style escapes, but leaves DEL, the C1 controls (U+009B is a one-character CSI) and
 * the bidi overrides raw. They become `\u` escapes too: the same JSON value, parsed.
 *
 * @example
 * ```ts
 * visibleJson(JSON.stringify({ s: "\u009b2J" })); // '{"s":"\\u009b2J"}'
 * ```
 */
export function visibleJson(json: string): string {
  // C0 controls inside strings are escaped already; outside strings only the layout's own
  // newlines and spaces occur, which stay.
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Whether to colour what goes to `stream`. */
export function useColour(stream: { isTTY?: boolean } = process.stdout): boolean {
  const env = process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof CODES;

/** A painter: `paint("green", "ok")`, a no-op when colour is off. */
export type Paint = (style: Style, text: string) => string;

export function painter(colour: boolean): Paint {
  return colour ? (style, text) => `\x1b[${CODES[style][0]}m${text}\x1b[${CODES[style][1]}m` : (_style, text) => text;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
/** Visible width of text that may hold colour codes. */
export const width = (text: string): number => text.replace(ANSI, "").length;
const pad = (text: string, n: number): string => text + " ".repeat(Math.max(0, n - width(text)));

/**
 * Aligned `key  value` lines; `indent` spaces before each key.
 *
 * @example
 * ```ts
 * keyValues([["protocol", "TLSv1.3"], ["cipher", "TLS_AES_128_GCM_SHA256"]]);
 * ```
 */
export function keyValues(rows: ReadonlyArray<readonly [string, string]>, indent = 0, keyWidth?: number): string {
  const w = keyWidth ?? Math.max(0, ...rows.map(([k]) => width(k)));
  return rows.map(([k, v]) => `${" ".repeat(indent)}${pad(k, w)}  ${v}`.trimEnd() + "\n").join("");
}

/** A table with a header row; columns padded to their widest cell. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, paint: Paint): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ""))));
  const line = (r: readonly string[]) => r.map((c, i) => pad(c, widths[i]!)).join("  ").trimEnd() + "\n";
  return paint("bold", line(header).trimEnd()) + "\n" + rows.map(line).join("");
}

/** Milliseconds for people: `0.42 ms`, `12.3 ms`, `1.52 s`. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

/** Milliseconds for JSON: rounded to microseconds. */
export const round = (value: number): number => Math.round(value * 1000) / 1000;

/** Writes to a stream, waiting for 'drain' when its buffer is full. */
export async function writeOut(stream: Writable, data: string | Uint8Array): Promise<void> {
  if (stream.destroyed) throw Object.assign(new Error("the output stream is closed"), { code: "EPIPE" });
  if (!stream.write(data)) await once(stream, "drain");
}

/** `host:port`, with brackets for IPv6; the path for unix endpoints (a peer's path is its own choice: escaped). */
export function hostPort(e: { host: string; port: number; family: string }): string {
  if (e.family === "unix") return e.host ? visible(e.host) : "(unnamed)";
  return e.family === "IPv6" ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
