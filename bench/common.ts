/**
 * Shared pieces of the benchmarks: the contract every benchmark file implements,
 * timing, statistics and small promise helpers.
 *
 * A benchmark file exports one function `(impl, options) => Promise<Sample>` that runs
 * the same job either with sockurl or with raw Node (`node:net`, `node:dgram`, `node:tls`)
 * and returns the measured rate. The runner (`run.ts`) interleaves the two, repeats
 * them and reports medians; a benchmark only has to do one run of one implementation.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import net from "node:net";
import { once } from "node:events";
import { connect, listen, type Server, type Socket } from "../src/index.js";
import { makePki } from "../test/fixtures/pki.js";

/** Which side of the comparison a run measures. */
export type Impl = "sockurl" | "baseline";

/** What one run of one implementation measured. */
export interface Sample {
  /** The rate, in the benchmark's unit (higher is better). */
  value: number;
  /**
   * Anything worth reporting beside the rate, such as drops. Keep it short and stable
   * from run to run: the runner lists the distinct notes under the table.
   */
  note?: string;
}

/** Options of one run. */
export interface RunOptions {
  /**
   * Fraction of the full workload: 1 for measured runs, smaller for warm-up and for quick
   * checks (`--scale`). Benchmarks scale their counts with `scaled()`.
   */
  scale: number;
}

/** One run of one implementation. */
export type BenchFn = (impl: Impl, options: RunOptions) => Promise<Sample>;

/** A benchmark as the runner lists it. */
export interface Benchmark {
  /** Short kebab-case name, used by `--only`. */
  name: string;
  /** The unit of `Sample.value`, e.g. "bytes/s". */
  unit: string;
  /**
   * The quality bar from DESIGN.md §6: the lowest acceptable sockurl ÷ baseline ratio; null for
   * a row shown only for comparison (another way of doing a job that has its own row and bar).
   */
  bar: number | null;
  /** One line on what is measured, shown by `--list`. */
  description: string;
  run: BenchFn;
  /**
   * Measured runs per implementation unless `--reps` says otherwise (default DEFAULT_REPS).
   * A benchmark whose run takes well under a second gets more, so that its median does not
   * hang on a few runs that a neighbour on the machine happened to slow down.
   */
  reps?: number;
  /**
   * The lowest CPU time ÷ wall time of an undisturbed run (default DEFAULT_MIN_UTILIZATION).
   * A benchmark whose run waits on something other than this process (a child process, a
   * timer) must set it lower, or to 0 to turn the descheduling check off.
   */
  minUtilization?: number;
}

/** Measured runs per implementation of a benchmark that names no `reps` of its own. */
export const DEFAULT_REPS = 7;

/**
 * Both ends of the built-in benchmarks share one event loop, so an undisturbed run keeps
 * a core busy: CPU ÷ wall ≈ 1 (more with GC helper threads). Below this, another tenant
 * of the machine took the core and the run is repeated.
 */
export const DEFAULT_MIN_UTILIZATION = 0.85;

/** Every benchmark talks over loopback IPv4 only. */
export const HOST = "127.0.0.1";

/** Milliseconds since an arbitrary origin, with sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

/** `n × scale`, rounded, but at least `min`. */
export function scaled(n: number, scale: number, min = 1): number {
  return Math.max(min, Math.round(n * scale));
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A promise with its resolve and reject functions. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Default bound on one run: a stuck benchmark fails instead of hanging the whole run. */
export const RUN_TIMEOUT_MS = 120_000;

/**
 * `promise`, or a rejection naming `what` after `ms` milliseconds (then `onTimeout` runs,
 * to tear down whatever the run left open).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what}: no result within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Marks a promise that runs in the background and is awaited later, so that a failure
 * before that point is not reported as an unhandled rejection; awaiting it still throws.
 */
export function background<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

let gcFn: ((options?: { type: "major"; execution: "sync" }) => void) | null | undefined;

/**
 * Runs a full garbage collection between runs when V8 allows it, so that one run's
 * garbage is not collected on the next run's clock. Best effort: a no-op if unavailable.
 *
 * It asks for a plain major GC. V8's bare `gc()` is its forced testing GC: it also discards
 * optimized code, so every run would begin by recompiling the code under test (measured on
 * tcp-connect: about 14,300 connections/s after it against 17,600-20,000 after a major GC).
 */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as typeof gcFn;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.({ type: "major", execution: "sync" });
}

/** Formats a rate for humans: thousands separators, no more than 3 decimals below 100. */
export function formatRate(value: number): string {
  const digits = value >= 100 ? 0 : value >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// ---------------------------------------------------------------- connected pairs


/** A loopback TCP connection made with sockurl: both ends and the listener. */
export interface SockurlPair {
  server: Server;
  client: Socket;
  peer: Socket;
  /** Abrupt teardown of everything (used on failure or timeout). */
  destroy(): void;
}

/** Listens on 127.0.0.1 port 0 and connects to it, with sockurl's default options. */
export async function sockurlPair(): Promise<SockurlPair> {
  const server = await listen(`tcp://${HOST}:0`);
  try {
    const [client, peer] = await Promise.all([connect(server.url), server.accept()]);
    return {
      server, client, peer,
      destroy() {
        client.destroy();
        peer.destroy();
        void server.close();
      },
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** A loopback TCP connection made with raw `node:net`. */
export interface NetPair {
  server: net.Server;
  client: net.Socket;
  peer: net.Socket;
  destroy(): void;
}

/**
 * The raw `node:net` equivalent of `sockurlPair()`: same socket options (TCP_NODELAY on
 * both ends, as sockurl sets by default), so the comparison is about the library only.
 */
export async function netPair(): Promise<NetPair> {
  const server = net.createServer({ noDelay: true });
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const client = net.connect({ host: HOST, port, noDelay: true });
  try {
    const [[peer]] = await Promise.all([accepted, once(client, "connect")]);
    return {
      server, client, peer,
      destroy() {
        client.destroy();
        peer.destroy();
        server.close();
      },
    };
  } catch (err) {
    client.destroy();
    server.close();
    throw err;
  }
}

/** Closes a net.Server and resolves once it stopped listening. */
export function closeNetServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------- TLS credentials

/**
 * What the TLS benchmarks use on both sides: the server's chain (leaf + intermediate) and
 * key, and the root the clients trust, from test/fixtures/pki.ts (generated once per
 * process, never stored). The leaf names `localhost` and 127.0.0.1; clients connect to
 * 127.0.0.1 and verify the name `peerName` (sent as SNI too).
 */
export interface TlsCredentials {
  cert: string;
  key: string;
  ca: string;
  peerName: string;
}

export async function tlsCredentials(): Promise<TlsCredentials> {
  const pki = await makePki();
  return { cert: pki.valid.chain, key: pki.valid.key, ca: pki.caBundle, peerName: "localhost" };
}

/**
 * Runs `one()` n times, `concurrency` at a time; resolves with the elapsed seconds.
 *
 * @example
 * ```ts
 * const seconds = await timed(5_000, 50, async () => (await connect(url)).close());
 * ```
 */
export async function timed(n: number, concurrency: number, one: () => Promise<void>): Promise<number> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < n) {
      started++;
      await one();
    }
  };
  const start = now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return (now() - start) / 1000;
}
