/**
 * Helpers for the CLI suites: spawn the built `sockurl` command with real pipes, collect its
 * output, wait for lines on stderr, and make sure every child is killed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { listen, type ListenOptions, type Server, type Socket } from "../src/index.js";
import { makePki, type Pki } from "./fixtures/pki.js";
import { tempDir } from "./helpers.js";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const bin = `${root}bin/sockurl.js`;

/** A running `sockurl` child with its output so far. */
export interface CliChild {
  child: ChildProcess;
  stdout: () => string;
  /** stdout as bytes. */
  stdoutBytes: () => Buffer;
  stderr: () => string;
  /** Resolves with the exit code (or the signal name) once the child has exited and its pipes have closed. */
  exited: Promise<number | string>;
  /** Waits until stderr matches `pattern`; returns the match. */
  waitForStderr: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  kill: () => void;
}

const children = new Set<ChildProcess>();

/** Kills every child still running (call in `finally` or `after`). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
}

/**
 * Spawns `node bin/sockurl.js …args` with piped stdio.
 *
 * @example
 * ```ts
 * const c = spawnCli(["listen", "--echo", "tcp://127.0.0.1:0"]);
 * const [, url] = await c.waitForStderr(/listening on (\S+)/);
 * ```
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliChild {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "", FORCE_COLOR: "", ...env },
  });
  children.add(child);
  const out: Buffer[] = [];
  let err = "";
  const waiters: Array<() => void> = [];
  child.stdout!.on("data", (d: Buffer) => out.push(d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stdin!.on("error", () => {}); // the child may exit before reading all input
  const exited = new Promise<number | string>((resolve) => {
    // 'close', not 'exit': output can still be in the pipes when 'exit' fires.
    child.once("close", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
      for (const w of waiters.splice(0)) w();
    });
  });
  const waitForStderr = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} on stderr; got:\n${err}`)), timeoutMs);
      const check = () => {
        const m = pattern.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`sockurl exited (${child.exitCode ?? child.signalCode}) before ${pattern}; stderr:\n${err}`));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  const bytes = () => Buffer.concat(out);
  return { child, stdout: () => bytes().toString("utf8"), stdoutBytes: bytes, stderr: () => err, exited, waitForStderr, kill: () => child.kill("SIGKILL") };
}

/** The result of a finished run. */
export interface RunResult {
  code: number | string;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Runs `sockurl …args` to completion, writing `input` (then EOF) to its stdin; kills it after
 * `timeoutMs` and fails.
 */
export async function runCli(args: string[], o: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; keepStdinOpen?: boolean } = {}): Promise<RunResult> {
  const c = spawnCli(args, o.env);
  if (o.input !== undefined) c.child.stdin!.write(o.input);
  if (!o.keepStdinOpen) c.child.stdin!.end();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      c.kill();
      reject(new Error(`sockurl ${args.join(" ")} did not exit within ${o.timeoutMs ?? 15_000} ms; stdout:\n${c.stdout()}\nstderr:\n${c.stderr()}`));
    }, o.timeoutMs ?? 15_000);
  });
  try {
    const code = await Promise.race([c.exited, timeout]);
    return { code, stdout: c.stdout(), stdoutBytes: c.stdoutBytes(), stderr: c.stderr() };
  } finally {
    clearTimeout(timer);
    if (c.child.exitCode === null && c.child.signalCode === null) c.kill();
  }
}

/**
 * Starts `sockurl listen …args` and waits for its "listening on URL" line.
 */
export async function startListener(args: string[]): Promise<CliChild & { url: string }> {
  const c = spawnCli(["listen", ...args]);
  const m = await c.waitForStderr(/^listening on (\S+)$/m);
  return { ...c, url: m[1]! };
}

/** Asserts nothing; returns the single stderr line of an error run, for matching. */
export function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l !== "");
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${stderr}`);
  return lines[0]!;
}

/** What a CLI suite works with: the test PKI, a scratch directory, and the CA bundle as a file. */
export interface CliWorld {
  pki: Pki;
  dir: string;
  caFile: string;
}

/**
 * Sets up (before) and tears down (after: every child killed, the directory removed) the world of
 * a CLI suite; its fields are filled in once the suite's `before` hooks have run.
 *
 * @example
 * ```ts
 * const world = cliWorld();
 * test("…", async () => runCli(["connect", "--ca", world.caFile, url]));
 * ```
 */
export function cliWorld(): CliWorld {
  const world = {} as CliWorld;
  let cleanup = (): void => {};
  before(async () => {
    world.pki = await makePki();
    const scratch = tempDir();
    cleanup = scratch.cleanup;
    world.dir = scratch.dir;
    world.caFile = join(scratch.dir, "ca.pem");
    writeFileSync(world.caFile, world.pki.caBundle);
  });
  after(() => {
    killAll();
    cleanup();
  });
  return world;
}

/**
 * A library server that runs `fn` on each connection (destroying the socket if it throws)
 * until it is closed.
 *
 * @example
 * ```ts
 * const server = await serveEach("tcp://127.0.0.1:0", async (s) => s.close());
 * ```
 */
export async function serveEach(target: string, fn: (s: Socket) => Promise<void>, options: ListenOptions = {}): Promise<Server> {
  const server = await listen(target, options);
  void (async () => {
    for await (const socket of server) fn(socket).catch(() => socket.destroy());
  })().catch(() => {});
  return server;
}
