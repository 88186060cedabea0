/**
 * Running real servers from Debian for the interop suite: free ports, a work directory, daemons in
 * their own process group with their output in a log file that error messages quote, waiting
 * until a port listens (and, for databases, until they say they are ready), and a stop that leaves
 * nothing behind (the whole group and every descendant, even those that started their own
 * session, like PostgreSQL's backends).
 *
 * Nothing here installs anything: `.ci/run` installs the Debian packages.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closedPort } from "../../helpers.js";

/** How long a server may take to listen once started (mariadb and postgres initialise first). */
export const START_TIMEOUT_MS = 30_000;
/** How long a server may take to exit after its stop signal, before SIGKILL. */
export const STOP_GRACE_MS = 10_000;

const taken = new Set<number>();

/**
 * A TCP port on 127.0.0.1 for a daemon to listen on, below the ephemeral range (see closedPort),
 * and not yet handed out by this process.
 */
export function freePort(): Promise<number> {
  return closedPort(taken);
}

/** A system account (uid, gid) by name, from /etc/passwd. */
export function account(name: string): { uid: number; gid: number } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`no user "${name}" in /etc/passwd: is its Debian package installed (.ci/run installs it)?`);
}

/** Fails with a clear message when a program from a Debian package is missing. */
export function requireProgram(path: string, pkg: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: install the Debian package ${pkg} (.ci/run does: apt-get install --no-install-recommends ${pkg})`);
  }
  return path;
}

/** The suite's work directory: one per run, readable by the daemons' users (they traverse it). */
export async function makeWorkDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sockurl-interop-"));
  await chmod(dir, 0o755);
  return dir;
}

/** A subdirectory owned by `owner` (a user name), mode 0755 unless given. */
export async function ownedDir(path: string, owner?: string, mode = 0o755): Promise<string> {
  await mkdir(path, { recursive: true });
  await chmod(path, mode);
  if (owner) {
    const { uid, gid } = account(owner);
    await chown(path, uid, gid);
  }
  return path;
}

/** Writes a file, then sets its mode and owner. */
export async function ownedFile(path: string, text: string, owner?: string, mode = 0o644): Promise<string> {
  await writeFile(path, text, { mode });
  await chmod(path, mode);
  if (owner) {
    const { uid, gid } = account(owner);
    await chown(path, uid, gid);
  }
  return path;
}

/** The server certificate (leaf + intermediate, as served) and its key, copied into `dir` for `owner`. */
export interface ServerCert {
  /** Leaf + intermediate, PEM. */
  chain: string;
  /** The leaf alone, PEM. */
  cert: string;
  /** PKCS#8 PEM key, mode 0600, owned by the daemon's user. */
  key: string;
  /** The root CA, PEM. */
  ca: string;
}

/** Copies the test CA's `valid` certificate files into `dir`, the key 0600 and everything owned by `owner`. */
export async function installCert(files: { chain: string; cert: string; key: string; ca: string }, dir: string, owner?: string): Promise<ServerCert> {
  await ownedDir(dir, owner);
  const out = { chain: join(dir, "server.chain.crt"), cert: join(dir, "server.crt"), key: join(dir, "server.key"), ca: join(dir, "ca.crt") };
  for (const [from, to, mode] of [
    [files.chain, out.chain, 0o644], [files.cert, out.cert, 0o644], [files.key, out.key, 0o600], [files.ca, out.ca, 0o644],
  ] as const) {
    await copyFile(from, to);
    await chmod(to, mode);
    if (owner) {
      const { uid, gid } = account(owner);
      await chown(to, uid, gid);
    }
  }
  return out;
}

export interface DaemonOptions {
  /** Extra environment (PATH and LANG are kept). */
  env?: Record<string, string>;
  cwd?: string;
  /** Run as this user (and its primary group) instead of root. */
  user?: string;
  /** Signal that asks the server to stop (default SIGTERM; PostgreSQL: SIGINT, its fast shutdown). */
  stopSignal?: NodeJS.Signals;
  /** Files the server writes its log to besides stdout/stderr, shown when it fails. */
  logFiles?: string[];
  /** The file that receives stdout and stderr. */
  logPath: string;
}

/** Daemons started by this process and not yet stopped: ended by force if the process goes away first. */
const live = new Set<Daemon>();
let exitHooked = false;

/**
 * The daemons run detached (setsid: a process session each), so they would outlive this process when it is
 * interrupted (a Ctrl-C, a CI timeout) before `after()` stops them: on exit, SIGINT and SIGTERM,
 * SIGKILL whatever is still running, then let the signal take its course.
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = () => {
    for (const daemon of live) daemon.killNow();
  };
  process.once("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** A running daemon. */
export class Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  readonly #options: DaemonOptions;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly #exited: Promise<void>;
  #stopped: Promise<void> | null = null;
  #spawnError: string | null = null;

  constructor(name: string, command: string, args: string[], options: DaemonOptions) {
    this.name = name;
    this.#options = options;
    const ids = options.user ? account(options.user) : undefined;
    // Output goes to a file, not to a pipe: Node's pipes are socketpairs, and daemons that open
    // /dev/stdout (postfix's maillog_file) get ENXIO from a socket.
    const out = openSync(options.logPath, "a", 0o644);
    this.child = spawn(command, args, {
      // Its own process group and session: stop() can find and end everything it started.
      detached: true,
      stdio: ["ignore", out, out],
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    closeSync(out);
    hookExit();
    live.add(this);
    this.#exited = new Promise<void>((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve();
      });
      this.child.once("error", (err) => {
        this.#spawnError = err.message;
        this.#exit = { code: null, signal: null };
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True once the daemon's main process has exited. */
  get exited(): boolean {
    return this.#exit !== null;
  }

  /** The daemon's output and its log files (the last 8 KiB of each), for error messages. */
  log(): string {
    const parts = [`--- ${this.name}: ${this.child.spawnargs.join(" ")}`];
    if (this.#exit) parts.push(`--- exited: code ${this.#exit.code} signal ${this.#exit.signal}`);
    if (this.#spawnError) parts.push(`--- could not start: ${this.#spawnError}`);
    for (const file of [this.#options.logPath, ...(this.#options.logFiles ?? [])]) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        text = `(unreadable: ${(err as Error).message})`;
      }
      parts.push(`--- ${file}:`, tail(text));
    }
    return parts.join("\n");
  }

  /** An Error whose message carries the daemon's log. */
  failure(what: string): Error {
    return new Error(`${this.name}: ${what}\n${this.log()}`);
  }

  /**
   * Resolves when 127.0.0.1:`port` accepts a connection; fails with the log when the daemon
   * exits first or the timeout passes.
   */
  async waitForPort(port: number, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw this.failure(`exited before it listened on 127.0.0.1:${port}`);
      if (await canConnect(port)) return;
      if (performance.now() > until) throw this.failure(`did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves when the daemon's output (its stdout/stderr file) matches `pattern`. */
  async waitForLog(pattern: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (pattern.test(await readIfExists(this.#options.logPath))) return;
      if (this.exited) throw this.failure(`exited before it logged ${pattern}`);
      if (performance.now() > until) throw this.failure(`did not log ${pattern} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves when the daemon's main process exits (a foreground helper such as an init step). */
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const result = await Promise.race([this.#exited.then(() => "exited" as const), timedOut]);
    clearTimeout(timer);
    if (result === "timeout") {
      await this.stop();
      throw this.failure(`did not finish within ${timeoutMs} ms`);
    }
    return this.#exit!;
  }

  /**
   * Stops the daemon: its stop signal to the process group, SIGKILL to whatever is left after
   * STOP_GRACE_MS (the group and every descendant found before signalling), and fails when a
   * process still lives after that.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop().finally(() => live.delete(this));
    return this.#stopped;
  }

  /** SIGKILL to the group and every descendant, at once and synchronously (for process exit). */
  killNow(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const all = [...descendantsOf(pid), ...groupOf(pid)];
    signal(-pid, "SIGKILL");
    if (!this.exited) signal(pid, "SIGKILL");
    for (const p of all) signal(p, "SIGKILL");
  }

  async #stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const pgid = pid; // detached: the leader's pid is the group id
    // Everything in the group, and every descendant: some servers start their own session
    // (PostgreSQL's backends) and are no longer in the group.
    const members = () => new Set([...descendantsOf(pid), ...groupOf(pgid)]);
    let tracked = members();
    // First the leader alone, so that each parent stops and reaps its own children (a child
    // orphaned here would stay a zombie: this machine's init does not reap).
    if (!this.exited) signal(pid, this.#options.stopSignal ?? "SIGTERM");
    const graceUntil = performance.now() + STOP_GRACE_MS;
    while (performance.now() < graceUntil) {
      for (const p of members()) tracked.add(p); // late children (a worker forked during shutdown)
      tracked = new Set([...tracked].filter(alive));
      if (tracked.size === 0 && this.exited) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Then whatever is left, without mercy.
    const stubborn = [...tracked].filter(alive);
    signal(-pgid, "SIGKILL");
    for (const p of stubborn) signal(p, "SIGKILL");
    const killUntil = performance.now() + 3_000;
    while (performance.now() < killUntil && ([...tracked].some(alive) || !this.exited)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = [...tracked].filter(alive);
    if (left.length > 0 || !this.exited) {
      throw this.failure(`processes left behind after SIGKILL: ${left.join(", ") || pid}`);
    }
    throw this.failure(`did not stop within ${STOP_GRACE_MS} ms of ${this.#options.stopSignal ?? "SIGTERM"}; killed ${stubborn.join(", ") || pid}`);
  }
}

/** Starts a daemon (see Daemon). */
export function startDaemon(name: string, command: string, args: string[], options: DaemonOptions): Daemon {
  return new Daemon(name, command, args, options);
}

/** Runs a one-shot setup command to completion; fails with its output when it does not exit 0. */
export async function runStep(name: string, command: string, args: string[], options: DaemonOptions & { timeoutMs?: number }): Promise<void> {
  const step = new Daemon(name, command, args, options);
  const { code, signal } = await step.waitForExit(options.timeoutMs ?? START_TIMEOUT_MS);
  await step.stop();
  if (code !== 0) throw step.failure(`failed (exit code ${code}, signal ${signal})`);
}

function tail(text: string, max = 8192): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

function procStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ..." — comm may hold spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.push({ pid: Number(entry), state: rest[0]!, ppid: Number(rest[1]), pgrp: Number(rest[2]) });
  }
  return out;
}

function groupOf(pgid: number): number[] {
  return procStats().filter((p) => p.pgrp === pgid && p.state !== "Z").map((p) => p.pid);
}

function descendantsOf(root: number): number[] {
  const stats = procStats();
  const children = new Map<number, number[]>();
  for (const p of stats) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Alive and not a zombie (an orphaned zombie waits for init, it runs nothing). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Reads a text file, or "" when it does not exist. */
export async function readIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return "";
  }
}

/** What every server setup gets. */
export interface SetupContext {
  /** The suite's work directory (see makeWorkDir); each server makes its own subdirectory. */
  work: string;
  /** The test CA's `valid` server certificate: leaf + intermediate, the leaf, its key, and the root. */
  certFiles: { chain: string; cert: string; key: string; ca: string };
}

/** A started server: its ports by protocol, and how to stop it. */
export interface RunningServer {
  name: string;
  ports: Record<string, number>;
  daemons: Daemon[];
  /** Milliseconds from the start of its setup until every port listened. */
  startedInMs: number;
  stop(): Promise<void>;
}

/**
 * Waits until every port listens, then describes the server; on failure stops its daemons and
 * fails with their logs.
 */
export async function listening(
  name: string,
  daemons: Daemon[],
  ports: Record<string, number>,
  since: number,
  /** A line the server logs once it serves clients (a port may listen before that). */
  readyLog?: RegExp,
): Promise<RunningServer> {
  const stop = async () => {
    const results = await Promise.allSettled(daemons.map((d) => d.stop()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length > 0) throw new Error(failed.map((r) => String(r.reason instanceof Error ? r.reason.message : r.reason)).join("\n"));
  };
  try {
    const main = daemons[daemons.length - 1]!;
    for (const port of Object.values(ports)) await main.waitForPort(port);
    if (readyLog) await main.waitForLog(readyLog);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return { name, ports, daemons, startedInMs: performance.now() - since, stop };
}
