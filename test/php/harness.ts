/**
 * The differential harness: runs a scenario's PHP body with the real `php` binary and its
 * TypeScript twin through `sockurl/php`, against the same servers, and compares the two logs.
 *
 * A log is the ordered list of what a scenario observed:
 *   { step, value }        a recorded value (return value, errno, errstr, bytes read, metadata, …)
 *   { warning, level }     a PHP warning/notice, in the order it was raised, with PHP's exact text
 *
 * Values are normalised the same way on both sides (`normalize`): PHP lists and JS arrays are JSON
 * arrays; PHP keyed arrays and JS objects/Maps are `{ "#map": [[key, value], …] }` (key order kept,
 * keys as strings); streams are `{ "#resource": "stream" }`; strings that are not UTF-8 are
 * `{ "#hex": … }`; a thrown error is `{ "#throws": class, message }`.
 *
 * PHP runs as `php -n -d display_errors=stderr -d error_reporting=-1 <file> …` where the file is
 * prelude.php followed by the scenario's body; `DIFF_ENV` carries the servers' `Env` as JSON.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Env } from "./servers.js";

export type Entry = { step: string; value: unknown } | { warning: string; level: string };
export type Log = Entry[];

/** What a scenario's TypeScript twin gets: the log, the layer and the servers' Env. */
export interface Twin {
  readonly env: Env;
  /** The sockurl/php module (loosely typed: the suite must compile while the layer evolves). */
  readonly php: PhpLayer;
  readonly log: Log;
  rec(step: string, value: unknown): void;
  /** Awaits `f()`, records its value, or the error it threw (as PHP's attempt() does). */
  attempt<T>(step: string, f: () => T | Promise<T>): Promise<T | null>;
  /** The dialer control connection (PHP's dialer()): sends one DIAL line, returns the stream. */
  dialer(command: string): Promise<unknown>;
}

/** The layer's exports, as the twins use them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PhpLayer = Record<string, any>;

export interface Differs {
  /** Why sockurl/php differs from PHP here on purpose. */
  reason: string;
  /** The TypeScript log expected, computed from PHP's (normalised) log. */
  expect: (php: Log) => Log;
}

export interface Scenario {
  name: string;
  /** PHP code run after prelude.php (no `<?php`). */
  php: string;
  /** The same steps through sockurl/php. */
  ts: (t: Twin) => Promise<void>;
  /** Applied to every entry on both sides after the standard normalisation (e.g. mask a port). */
  normalize?: (entry: Entry) => Entry;
  /**
   * For the bridge self-check only (test/php/bridge.ts): masks values PHP leaves undefined, which
   * differ between a script and the bridge's deeper call stack. Not applied against sockurl/php.
   */
  bridgeMask?: (entry: Entry) => Entry;
  /** An on-purpose difference: the twin must produce `expect(phpLog)` instead of PHP's log. */
  differs?: Differs;
  /** Skip when the host lacks something (the reason is printed). */
  requires?: (env: Env) => string | null;
  /** Kill PHP, and give up on the twin, after this long (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** How long a scenario may run on either side unless it says otherwise. */
export const DEFAULT_TIMEOUT_MS = 5_000;

export interface Group {
  name: string;
  scenarios: Scenario[];
}

/* ------------------------------------------------------------------------------------------------ */
/* PHP                                                                                                */

const here = fileURLToPath(new URL(".", import.meta.url));
/** test/php in the source tree (the compiled harness lives in dist/test/php). */
export const sourceDir = join(here, "..", "..", "..", "test", "php");
const prelude = readFileSync(join(sourceDir, "prelude.php"), "utf8");

export interface PhpBinary {
  bin: string;
  version: string;
}

/** The php binary (PHP_BIN or `php` on PATH), or null. */
export function findPhp(): PhpBinary | null {
  const bin = process.env.PHP_BIN ?? "php";
  const r = spawnSync(bin, ["-n", "-r", "echo 'PHP ', PHP_VERSION, ' (', OPENSSL_VERSION_TEXT, ')';"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return null;
  return { bin, version: r.stdout.trim() };
}

export interface PhpRun {
  log: Log;
  stderr: string;
  stdout: string;
  exitCode: number | null;
  ms: number;
  /** Set when the run produced no log (crash, syntax error, timeout). */
  failure: string | null;
}

const scriptDir = mkdtempSync(join(tmpdir(), "sockurl-php-scripts-"));
process.on("exit", () => rmSync(scriptDir, { recursive: true, force: true }));
let scriptCounter = 0;

/** Runs `body` (after the prelude) with the php binary and returns its log. */
export function runPhp(php: PhpBinary, body: string, env: Env, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PhpRun> {
  const file = join(scriptDir, `scenario-${++scriptCounter}.php`);
  writeFileSync(file, prelude + "\n" + body.trim() + "\n");
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(php.bin, ["-n", "-d", "display_errors=stderr", "-d", "error_reporting=-1", "-d", "log_errors=0", file], {
      env: { ...process.env, DIFF_ENV: JSON.stringify(env) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      const log: Log = [];
      let failure: string | null = null;
      for (const line of stdout.split("\n")) {
        if (!line.startsWith("@@DIFF-ENTRY@@")) continue;
        try {
          log.push(JSON.parse(line.slice("@@DIFF-ENTRY@@".length)) as Entry);
        } catch (err) {
          failure ??= `a log line is not JSON: ${String(err)}`;
        }
      }
      if (signal) failure = `php was killed (${signal}) after ${ms} ms`;
      else if (!stdout.includes("\n@@DIFF-END@@\n")) failure = `php did not finish (exit ${code})`;
      resolve({ log, stdout, stderr, exitCode: code, ms, failure });
    });
  });
}

/* ------------------------------------------------------------------------------------------------ */
/* TypeScript                                                                                         */

export interface LayerHooks {
  /** Route the layer's warnings to `sink` for the duration of a twin; returns the undo. */
  captureWarnings(sink: (message: string, level: string) => void): () => void;
  /** Whether a value is one of the layer's streams / contexts / certificates (else null). */
  resourceType(value: unknown): string | null;
}

export interface TwinRun {
  log: Log;
  ms: number;
  failure: string | null;
}

/** Runs a scenario's twin with a fresh log; warnings from the layer go into the log where raised. */
export async function runTwin(scenario: Scenario, layer: PhpLayer, hooks: LayerHooks, env: Env, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<TwinRun> {
  const { php, opened } = tracking(layer, hooks);
  const log: Log = [];
  const started = performance.now();
  const rec = (step: string, value: unknown): void => {
    log.push({ step, value: normalize(value, hooks) });
  };
  const thrown = (err: unknown) => {
    const e = err as { name?: string; constructor?: { name?: string }; message?: string };
    return { "#throws": (e?.name && e.name !== "Error" ? e.name : e?.constructor?.name) ?? typeof err, message: e?.message ?? String(err) };
  };
  const twin: Twin = {
    env,
    php,
    log,
    rec,
    async attempt(step, f) {
      try {
        const value = await f();
        rec(step, value);
        return value;
      } catch (err) {
        log.push({ step, value: thrown(err) });
        return null;
      }
    },
    async dialer(command) {
      const errno = php.ref(0);
      const errstr = php.ref("");
      const c = await php.stream_socket_client(`tcp://127.0.0.1:${env.dialer}`, errno, errstr, 5);
      await php.fwrite(c, command + "\n");
      return c;
    },
  };
  const undo = hooks.captureWarnings((message, level) => log.push({ warning: message, level }));
  let failure: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      scenario.ts(twin).catch((err: unknown) => {
        log.push({ step: "#uncaught", value: thrown(err) });
      }),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the TypeScript twin did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    failure = (err as Error).message;
  } finally {
    clearTimeout(timer);
    undo();
  }
  const ms = Math.round(performance.now() - started);
  // What PHP does at the end of a script: close every stream still open (else their sockets keep
  // this process alive). Errors and warnings here are not part of the scenario.
  const restore = php.set_error_handler?.(() => true);
  for (const stream of opened) {
    try {
      await Promise.race([php.fclose(stream), new Promise((r) => setTimeout(r, 1000).unref())]);
    } catch {
      // already closed
    }
  }
  if (restore !== undefined) php.restore_error_handler?.();
  return { log, ms, failure };
}

/**
 * The layer, with every stream it hands out (returned, in an array, or through a ref) remembered,
 * so that runTwin can close them afterwards.
 */
function tracking(layer: PhpLayer, hooks: LayerHooks): { php: PhpLayer; opened: Set<unknown> } {
  const opened = new Set<unknown>();
  const note = (v: unknown, depth = 0): void => {
    if (v === null || typeof v !== "object" || depth > 2) return;
    const type = hooks.resourceType(v);
    if (type !== null) {
      if (!type.startsWith("#object:") && type !== "stream-context") opened.add(v);
      return;
    }
    if (Array.isArray(v)) for (const x of v) note(x, depth + 1);
    else if ("value" in v) note((v as { value: unknown }).value, depth + 1);
  };
  const php = new Proxy(layer, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== "function" || key === "ref" || key === "set_error_handler" || key === "restore_error_handler") return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        const after = (r: unknown): unknown => {
          note(r);
          for (const a of args) if (a && typeof a === "object" && "value" in a) note(a);
          return r;
        };
        return result instanceof Promise ? result.then(after) : after(result);
      };
    },
  });
  return { php, opened };
}

/** The common value shape (see the file header). */
export function normalize(value: unknown, hooks?: LayerHooks, seen = new Set<unknown>()): unknown {
  if (value === undefined) return null;
  if (value === null || typeof value === "boolean" || typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    // sockurl/php strings are PHP byte strings (one char per byte): decode them as PHP's JSON does.
    if (!/[^\x00-\x7f]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
    return normalize(Buffer.from(value, "latin1"), hooks, seen);
  }
  if (value instanceof Uint8Array) {
    const text = Buffer.from(value).toString("utf8");
    return Buffer.from(text, "utf8").equals(Buffer.from(value)) ? text : { "#hex": Buffer.from(value).toString("hex") };
  }
  if (typeof value === "function") return { "#function": value.name };
  if (typeof value !== "object") return String(value);
  if (seen.has(value)) return "#cycle";
  const type = hooks?.resourceType(value);
  if (type) return type.startsWith("#object:") ? { "#object": type.slice(8) } : { "#resource": type };
  seen.add(value);
  try {
    if (value instanceof Error) return { "#throws": value.name, message: value.message };
    if (Array.isArray(value)) {
      const keys = Object.keys(value);
      const dense = keys.length === value.length && keys.every((k, i) => k === String(i));
      if (dense) return value.map((v) => normalize(v, hooks, seen));
      return mapOf(keys.map((k) => [k, (value as unknown as Record<string, unknown>)[k]]), hooks, seen);
    }
    if (value instanceof Map) return mapOf([...value.entries()].map(([k, v]) => [String(k), v]), hooks, seen);
    const record = value as Record<string, unknown>;
    if ("#resource" in record || "#object" in record || "#hex" in record || "#map" in record || "#throws" in record) return value;
    return mapOf(Object.entries(record), hooks, seen);
  } finally {
    seen.delete(value);
  }
}

function mapOf(pairs: [string, unknown][], hooks: LayerHooks | undefined, seen: Set<unknown>): unknown {
  if (pairs.length === 0) return [];
  return { "#map": pairs.map(([k, v]) => [k, normalize(v, hooks, seen)]) };
}

/* ------------------------------------------------------------------------------------------------ */
/* Comparison                                                                                         */

/** Names for the numbers and paths of `env`, so that logs and diffs read `{echo}` rather than 41237. */
export function symbolTable(env: Env): [RegExp, string][] {
  const table: [RegExp, string][] = [];
  const ports: [string, number][] = [
    ["echo", env.echo],
    ["echo6", env.echo6],
    ["line", env.line],
    ["mute", env.mute],
    ["refused", env.refused],
    ["stalled", env.stalled],
    ["udp", env.udp],
    ["udp6", env.udp6],
    ["smtp", env.smtp],
    ["dialer", env.dialer],
    ...Object.entries(env.tls).map(([k, v]) => [`tls.${k}`, v] as [string, number]),
  ];
  for (const [name, port] of ports) {
    if (!port) continue;
    table.push([new RegExp(`(?<=:)${port}(?!\\d)`, "g"), `{${name}}`]);
    // The wrapped forms scenarios use to show atoi + 16-bit truncation.
    table.push([new RegExp(`(?<=:)${port + 65536}(?!\\d)`, "g"), `{${name}+65536}`]);
    table.push([new RegExp(`(?<=:-)${65536 - port}(?!\\d)`, "g"), `{65536-${name}}`]);
  }
  for (const side of [env.spare.php, env.spare.ts]) {
    side.forEach((port, i) => table.push([new RegExp(`(?<=:)${port}(?!\\d)`, "g"), `{spare${i}}`]));
  }
  table.push([new RegExp(escapeRegExp(env.tmp), "g"), "{tmp}"]);
  return table;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function substitute(value: unknown, table: [RegExp, string][]): unknown {
  if (typeof value === "string") return table.reduce((s, [re, name]) => s.replace(re, name), value);
  if (Array.isArray(value)) return value.map((v) => substitute(v, table));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, table)]));
  }
  return value;
}

/** The log as both sides are compared: symbols for env values, then the scenario's own masks. */
export function canonical(log: Log, env: Env, scenario: Scenario): Log {
  const table = symbolTable(env);
  return log.map((entry) => {
    const e = substitute(entry, table) as Entry;
    return scenario.normalize ? scenario.normalize(e) : e;
  });
}

/** One line per entry, as the diff shows it. */
export function render(entry: Entry): string {
  if ("warning" in entry) return `! ${entry.level}: ${JSON.stringify(entry.warning)}`;
  return `${entry.step} = ${show(entry.value)}`;
}

export function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o["#map"])) return `{${(o["#map"] as [string, unknown][]).map(([k, v]) => `${k}: ${show(v)}`).join(", ")}}`;
    if (typeof o["#resource"] === "string") return `resource(${o["#resource"]})`;
    if (typeof o["#object"] === "string") return `object(${o["#object"]})`;
    if (typeof o["#hex"] === "string") return `hex(${o["#hex"]})`;
    if (typeof o["#throws"] === "string") return `throws ${o["#throws"]}(${JSON.stringify(o.message)})`;
    return JSON.stringify(value);
  }
  return JSON.stringify(value);
}

/** A line diff (LCS) of two rendered logs: "  same", "- php only", "+ ts only". */
export function diffLogs(expected: Log, actual: Log, labels = { expected: "php", actual: "ts" }): string {
  const a = expected.map(render);
  const b = actual.map(render);
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: string[] = [`--- ${labels.expected}`, `+++ ${labels.actual}`];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${a[i]}`);
      i++;
    } else {
      out.push(`+ ${b[j]}`);
      j++;
    }
  }
  return out.join("\n");
}

export function sameLog(a: Log, b: Log): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Runs `tasks` with at most `limit` in flight; results in order. */
export function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T>[] {
  const results: Promise<T>[] = [];
  let running = 0;
  const queue: (() => void)[] = [];
  for (const task of tasks) {
    results.push(
      new Promise<T>((resolve, reject) => {
        const start = (): void => {
          running++;
          task()
            .then(resolve, reject)
            .finally(() => {
              running--;
              queue.shift()?.();
            });
        };
        if (running < limit) start();
        else queue.push(start);
      }),
    );
  }
  return results;
}
