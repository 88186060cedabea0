/**
 * Shared pieces of the load scenarios (test/stress/load*.test.ts): child processes that play
 * one role each (so that a process's memory and descriptors are measured alone), memory
 * sampling, descriptor counts, and what the kernel reports about loopback sockets.
 *
 * A load test file is also its own child: spawned with SOCKURL_LOAD_ROLE set, it runs that
 * role instead of registering tests (see `role()` and `spawnRole()`). Children talk to the
 * test process over the IPC channel, with plain JSON messages `{ type, ... }`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const HOST = "127.0.0.1";
export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const immediate = () => new Promise<void>((r) => setImmediate(r));

/** Open descriptors of this process (the entry readdir itself opens is not counted). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length - 1;
}

/** "12.3 MiB", "640 KiB", "12 B", signed when `signed`. */
export function bytes(n: number, signed = false): string {
  const sign = signed && n > 0 ? "+" : n < 0 ? "-" : "";
  const a = Math.abs(n);
  const text = a >= MiB ? `${(a / MiB).toFixed(1)} MiB` : a >= KiB ? `${(a / KiB).toFixed(1)} KiB` : `${Math.round(a)} B`;
  return sign + text;
}

/** Runs `fn(i)` for i in [0, count), at most `limit` at a time. */
export async function pool(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) await fn(next++);
  }));
}

/** `p`, or a rejection naming `what` after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- memory

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export function memory(): Memory {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Full collections (needs `node --expose-gc`), with turns of the event loop between them. */
export async function collect(rounds = 3): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("collect() needs node --expose-gc");
  for (let i = 0; i < rounds; i++) {
    await immediate();
    gc();
    await sleep(10);
  }
}

/** Memory after full collections. */
export async function settledMemory(): Promise<Memory> {
  await collect();
  return memory();
}

/** The largest value of each memory field (and of `extra()`), sampled every `everyMs`. */
export class PeakSampler {
  peak: Memory & { extra: number } = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0, extra: 0 };
  samples = 0;
  #timer: NodeJS.Timeout;
  #extra: () => number;

  constructor(everyMs = 50, extra: () => number = () => 0) {
    this.#extra = extra;
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
    this.#timer.unref();
  }

  sample(): void {
    const m = memory();
    const p = this.peak;
    this.samples++;
    p.rss = Math.max(p.rss, m.rss);
    p.heapUsed = Math.max(p.heapUsed, m.heapUsed);
    p.external = Math.max(p.external, m.external);
    p.arrayBuffers = Math.max(p.arrayBuffers, m.arrayBuffers);
    p.extra = Math.max(p.extra, this.#extra());
  }

  stop(): Memory & { extra: number } {
    clearInterval(this.#timer);
    this.sample();
    return this.peak;
  }
}

// ---------------------------------------------------------------- the kernel's view

export interface ProcNetEntry {
  localPort: number;
  remotePort: number;
  state: number;
  txQueue: number;
  rxQueue: number;
  /** UDP only: datagrams the kernel dropped on this socket (receive buffer full). */
  drops: number;
}

/** Sockets of /proc/net/tcp or /proc/net/udp (IPv4) on local port `port` (any port when absent). */
export function procNet(proto: "tcp" | "udp", port?: number): ProcNetEntry[] {
  const lines = readFileSync(`/proc/net/${proto}`, "utf8").trim().split("\n").slice(1);
  const out: ProcNetEntry[] = [];
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    const localPort = parseInt(f[1]!.split(":")[1]!, 16);
    if (port !== undefined && localPort !== port) continue;
    const [tx, rx] = f[4]!.split(":").map((h) => parseInt(h, 16));
    out.push({
      localPort,
      remotePort: parseInt(f[2]!.split(":")[1]!, 16),
      state: parseInt(f[3]!, 16),
      txQueue: tx!,
      rxQueue: rx!,
      drops: proto === "udp" ? Number(f[12] ?? 0) : 0,
    });
  }
  return out;
}

/** Packets dropped by the kernel's per-CPU input backlog (loopback goes through it), all CPUs. */
export function softnetDrops(): number {
  let total = 0;
  for (const line of readFileSync("/proc/net/softnet_stat", "utf8").trim().split("\n")) {
    total += parseInt(line.trim().split(/\s+/)[1]!, 16);
  }
  return total;
}

/** UDP counters of /proc/net/snmp (InDatagrams, RcvbufErrors, InErrors, ...). */
export function udpSnmp(): Record<string, number> {
  const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

// ---------------------------------------------------------------- descriptor limits

function softAndHardNofile(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))!;
  const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/).map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return { soft: soft!, hard: hard! };
}

let prlimitPath: string | null | undefined;
function prlimit(): string | null {
  if (prlimitPath === undefined) {
    prlimitPath = ["/usr/bin/prlimit", "/bin/prlimit"].find((p) => existsSync(p)) ?? null;
  }
  return prlimitPath;
}

/**
 * The most descriptors a child can be given: the hard limit, or more when this process may
 * raise it (root, with prlimit) up to fs.nr_open.
 */
export function maxChildNofile(): { limit: number; why: string } {
  const { hard } = softAndHardNofile();
  if (process.getuid?.() === 0 && prlimit() !== null) {
    const nrOpen = Number(readFileSync("/proc/sys/fs/nr_open", "utf8").trim());
    return { limit: nrOpen, why: `fs.nr_open = ${nrOpen} (raised with prlimit as root)` };
  }
  return { limit: hard, why: `the hard RLIMIT_NOFILE of ${hard} (not root, so it cannot be raised)` };
}

// ---------------------------------------------------------------- roles (child processes)

/** The role this process plays, when it was spawned by `spawnRole()`. */
export function role(): string | undefined {
  return process.env.SOCKURL_LOAD_ROLE;
}

/** The configuration `spawnRole()` passed to this child. */
export function roleConfig<T>(): T {
  return JSON.parse(process.env.SOCKURL_LOAD_CONFIG ?? "{}") as T;
}

export type Message = { type: string; [key: string]: unknown };

/** Sends a message to the test process (resolves once handed to the channel). */
export function tell(message: Message): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error("no IPC channel: not spawned by spawnRole()"));
    process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
  });
}

const inbox: Message[] = [];
const waiting: Array<{ type: string; resolve: (m: Message) => void }> = [];
let listening = false;

/** The next message of `type` from the test process. */
export function heard(type: string): Promise<Message> {
  if (!listening) {
    listening = true;
    process.on("message", (m: Message) => {
      const i = waiting.findIndex((w) => w.type === m.type);
      if (i === -1) inbox.push(m);
      else waiting.splice(i, 1)[0]!.resolve(m);
    });
    // The test process went away: nothing left to do here.
    process.on("disconnect", () => process.exit(3));
  }
  const i = inbox.findIndex((m) => m.type === type);
  if (i !== -1) return Promise.resolve(inbox.splice(i, 1)[0]!);
  return new Promise((resolve) => waiting.push({ type, resolve }));
}

/**
 * Runs a role's body: reports an uncaught failure as `{ type: "failed" }`, and exits once the
 * body is done (children hold servers and sockets that the test process does not wait for).
 * Unhandled rejections and uncaught exceptions are counted: a role reports them with `escapes()`.
 */
export async function runRole(body: () => Promise<void>): Promise<never> {
  try {
    await body();
    await tell({ type: "exit" }).catch(() => {});
    process.exit(0);
  } catch (err) {
    await tell({ type: "failed", error: String((err as Error)?.stack ?? err) }).catch(() => {});
    process.exit(1);
  }
}

const escaped: string[] = [];
let recording = false;
/** Starts counting unhandled rejections and uncaught exceptions (call first thing in a role). */
export function recordEscapes(): void {
  if (recording) return;
  recording = true;
  process.on("unhandledRejection", (reason) => escaped.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`));
  process.on("uncaughtException", (err) => escaped.push(`uncaughtException: ${String(err?.stack ?? err)}`));
}
export function escapes(): string[] {
  return escaped.slice(0, 10);
}
export function escapeCount(): number {
  return escaped.length;
}

export interface SpawnOptions {
  /** Descriptors the child needs (the limit is raised with prlimit when above the current one). */
  nofile?: number;
  /** Run with --expose-gc (for `collect()`). */
  exposeGc?: boolean;
  /** Extra node flags. */
  nodeFlags?: string[];
}

/** A child playing one role, and its messages. */
export class RoleChild {
  readonly child: ChildProcess;
  readonly name: string;
  #inbox: Message[] = [];
  #waiting: Array<{ type: string; resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  #stderr = "";
  #exit: Promise<number | null>;
  #gone: Error | null = null;

  constructor(file: string, role: string, config: unknown, options: SpawnOptions = {}) {
    this.name = role;
    const env: NodeJS.ProcessEnv = { ...process.env, SOCKURL_LOAD_ROLE: role, SOCKURL_LOAD_CONFIG: JSON.stringify(config) };
    // Not a test-runner child: its output must not be parsed as test results.
    delete env.NODE_TEST_CONTEXT;
    const nodeArgs = [...(options.exposeGc ? ["--expose-gc"] : []), ...(options.nodeFlags ?? []), file];
    let command = process.execPath;
    let args = nodeArgs;
    const need = options.nofile ?? 0;
    if (need > softAndHardNofile().soft && prlimit() !== null) {
      command = prlimit()!;
      args = [`--nofile=${need}:${need}`, process.execPath, ...nodeArgs];
    }
    this.child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
    this.child.stdout!.on("data", (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-8_000);
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-8_000);
    });
    this.child.on("message", (m: Message) => {
      if (m.type === "failed") return this.#fail(new Error(`${role} failed: ${String(m.error)}`));
      const i = this.#waiting.findIndex((w) => w.type === m.type);
      if (i === -1) this.#inbox.push(m);
      else this.#waiting.splice(i, 1)[0]!.resolve(m);
    });
    this.#exit = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        if (code !== 0) this.#fail(new Error(`${role} exited with ${code ?? signal}: ${this.#stderr.trim().slice(-2_000)}`));
        else this.#fail(new Error(`${role} exited before sending the awaited message`));
        resolve(code);
      });
      this.child.once("error", (err) => {
        this.#fail(err);
        resolve(null);
      });
    });
  }

  #fail(err: Error): void {
    this.#gone ??= err;
    for (const w of this.#waiting.splice(0)) w.reject(this.#gone);
  }

  /** The next message of `type`, or a rejection when the child fails, exits or takes longer than `ms`. */
  next(type: string, ms: number): Promise<Message> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i !== -1) return Promise.resolve(this.#inbox.splice(i, 1)[0]!);
    if (this.#gone) return Promise.reject(this.#gone);
    const p = new Promise<Message>((resolve, reject) => this.#waiting.push({ type, resolve, reject }));
    return within(p, ms, `${this.name}: message "${type}"`);
  }

  send(message: Message): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Resolves with the exit code (waits at most `ms`, then kills the child). */
  async exited(ms = 10_000): Promise<number | null> {
    return within(this.#exit, ms, `${this.name}: exit`).catch(() => {
      this.kill();
      return null;
    });
  }

  /** Ends the child (by its own pid) if it is still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Spawns `file` (a compiled load test) to play `role` with `config`. */
export function spawnRole(file: string, role: string, config: unknown, options: SpawnOptions = {}): RoleChild {
  return new RoleChild(file, role, config, options);
}

// ---------------------------------------------------------------- figures

/**
 * Keeps the figures of a scenario: printed as test diagnostics, and written as JSON to
 * $SOCKURL_LOAD_FIGURES/<name>.json when that variable names a directory.
 */
export function keepFigures(name: string, figures: unknown): void {
  const dir = process.env.SOCKURL_LOAD_FIGURES;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(figures, null, 2) + "\n");
}

/** The node and kernel this ran on, for the report. */
export function machine(): Record<string, string | number> {
  const cpus = spawnSync("nproc", [], { encoding: "utf8" }).stdout.trim();
  return { node: process.version, cpus: Number(cpus) || 0, kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim() };
}
