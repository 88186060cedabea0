/** Shared test helpers: real loopback servers, descriptor counts, temp dirs. */
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { SocketError } from "../src/index.js";

const here = fileURLToPath(new URL(".", import.meta.url));
/** test/fixtures in the source tree (dist/test/.. → ../../test/fixtures). */
export const fixturesDir = join(here, "..", "..", "test", "fixtures");

/** Open descriptors of this process. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "sockurl-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A port where nothing listens, for TCP and UDP alike, on every loopback address. It is chosen
 * below the kernel's ephemeral range and checked free: a port merely released after a bind to
 * port 0 can be handed out again at once (to a listener of a test running beside this one, or as
 * a source port), and a "refused" target would then answer. `taken` keeps one caller's ports apart.
 *
 * @example
 * ```ts
 * await rejectsWith(connect(`tcp://127.0.0.1:${await closedPort()}`), "ECONNREFUSED");
 * ```
 */
export async function closedPort(taken: Set<number> = new Set()): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000));
    if (taken.has(port) || !(await isFree(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error("no free port below the ephemeral range");
}

function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768; // not Linux: the usual lower bound
  }
}

/** A machine without IPv6 cannot bind "::"; the IPv4 wildcard is then the whole story. */
const NO_IPV6 = new Set(["EAFNOSUPPORT", "EADDRNOTAVAIL"]);

/** Whether TCP and UDP can both bind `port` on the wildcard address (both families when possible). */
async function isFree(port: number): Promise<boolean> {
  const tcp = (host: string) => new Promise<string | null>((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    server.listen({ host, port, ipv6Only: false }, () => server.close(() => resolve(null)));
  });
  const udp = (type: "udp4" | "udp6") => new Promise<string | null>((resolve) => {
    const socket = dgram.createSocket({ type, ipv6Only: false });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(err.code ?? "error");
    });
    socket.bind(port, type === "udp6" ? "::" : "0.0.0.0", () => socket.close(() => resolve(null)));
  });
  const either = async (six: () => Promise<string | null>, four: () => Promise<string | null>) => {
    const err = await six();
    return err === null || (NO_IPV6.has(err) && (await four()) === null);
  };
  return (await either(() => tcp("::"), () => tcp("0.0.0.0"))) && (await either(() => udp("udp6"), () => udp("udp4")));
}

/**
 * A listener on `host` whose accept queue is full, so connects to it stall (never answer).
 * Made by a tiny python script because Node always accepts at once.
 */
export async function stalledListener(host: string, seconds = 30): Promise<{ port: number; close: () => void }> {
  const child: ChildProcess = spawn("python3", [join(fixturesDir, "stalled-listener.py"), host, String(seconds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`stalled-listener exited with ${code}`)));
    child.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
  });
  child.removeAllListeners("exit");
  // The script prints the port once its filler connection occupies the queue: no wait needed.
  return { port, close: () => child.kill() };
}

/** Asserts that `promise` rejects with a SocketError carrying `code` (and optional fields). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  fields: { phase?: string; message?: RegExp; reason?: string } = {},
): Promise<SocketError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof SocketError, `expected a SocketError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (fields.phase) assert.equal(error.phase, fields.phase, error.message);
  if (fields.message) assert.match(error.message, fields.message);
  if (fields.reason) assert.equal(error.reason, fields.reason);
  return error;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `condition` every 10 ms until it holds; fails naming `what` once `ms` have passed.
 *
 * @example
 * ```ts
 * await until(() => server.dropped === 16, "16 datagrams dropped", 2_000);
 * ```
 */
export async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms`);
    await sleep(10);
  }
}

/** A raw node:net (or node:tls) listener on 127.0.0.1, port 0, that remembers its sockets to destroy them. */
export interface RawServer {
  server: net.Server;
  port: number;
  url: string;
  sockets: Set<net.Socket>;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/**
 * Starts a raw server whose `onConnection` plays the peer, for peers that misbehave in ways a
 * sockurl server would not. With `tls`, a node:tls server that calls `onConnection` after the
 * handshake (failed handshakes are ignored). Errors on the peer's sockets are swallowed (the peer
 * is hostile on purpose); everything is destroyed by close().
 *
 * @example
 * ```ts
 * const peer = await rawServer((s) => s.end("220 hello\r\n"));
 * await peer.close();
 * ```
 */
export async function rawServer(
  onConnection: (socket: net.Socket) => void,
  options: net.ServerOpts & { tls?: tls.TlsOptions } = {},
): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { accepted: 0 };
  const accept = (socket: net.Socket): void => {
    state.accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  };
  const { tls: secure, ...serverOptions } = options;
  const server = secure === undefined
    ? net.createServer(serverOptions, accept)
    : tls.createServer({ ...serverOptions, ...secure }, accept).on("tlsClientError", () => {});
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    server,
    port,
    url: `tcp://127.0.0.1:${port}`,
    sockets,
    get accepted() {
      return state.accepted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
