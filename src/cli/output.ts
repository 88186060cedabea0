/**
 * Output formatting shared by the subcommands: colour only on a TTY (never with NO_COLOR or
 * TERM=dumb; FORCE_COLOR turns it on), aligned key/value blocks, tables, durations.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";

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

/** `host:port`, with brackets for IPv6; the path for unix endpoints. */
export function hostPort(e: { host: string; port: number; family: string }): string {
  if (e.family === "unix") return e.host || "(unnamed)";
  return e.family === "IPv6" ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
