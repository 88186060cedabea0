/**
 * DatagramSocket: UDP (`udp://`) and unix datagram (`udg://`) sockets, connected or bound,
 * with a bounded receive queue that counts what it had to drop.
 */
import dgram from "node:dgram";
import { rmSync } from "node:fs";
import { constants as osConstants } from "node:os";
import type unixDgramModule from "unix-dgram";
import { formatAddress, parseAddress, type Address } from "./address.js";
import { SocketError, socketError, toSocketError } from "./errors.js";
import { untilClosed } from "./iterate.js";
import { validateTimeout } from "./options.js";
import type { Endpoint } from "./socket.js";

/** One received datagram and who sent it. */
export interface Datagram {
  data: Buffer;
  /** The sender; for unbound unix datagram senders `host` is "". */
  remote: Endpoint;
}

/** The largest UDP payloads IPv4 and IPv6 can carry (65535 minus the headers). */
const MAX_UDP4_PAYLOAD = 65507;
const MAX_UDP6_PAYLOAD = 65527;
const DEFAULT_RECEIVE_QUEUE = 1024;

type Destination = { host: string; port: number } | { path: string } | null;

/** What differs between UDP and unix datagram sockets (internal). */
export interface DatagramBackend {
  /** Sends one datagram; `to` is null on a connected socket. `done` gets null or nothing on success. */
  send(data: Buffer, to: Destination, done: (err?: unknown) => void): void;
  local(): Endpoint;
  remote(): Endpoint | null;
  close(): void;
  /** Called by the backend for each datagram and for asynchronous errors. */
  onMessage: (data: Buffer, remote: Endpoint) => void;
  onError: (err: unknown) => void;
}

/** A pending `receive()` (resolves a Datagram) or iterator `next()` (resolves an IteratorResult). */
interface Waiter {
  resolve: (d: Datagram | IteratorResult<Datagram, undefined>) => void;
  reject: (e: SocketError) => void;
  timer: NodeJS.Timeout | undefined;
  iterating: boolean;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * A UDP or unix datagram socket. From `connect("udp://…")` it is connected (use `send`);
 * from `listen("udp://…")` it is bound (use `receive` and `sendTo`).
 *
 * @example
 * ```ts
 * import { connect } from "sockurl";
 * const udp = await connect("udp://127.0.0.1:5353");
 * await udp.send("ping");
 * const { data } = await udp.receive();
 * await udp.close();
 * ```
 */
export class DatagramSocket implements AsyncIterable<Datagram> {
  readonly transport: "udp" | "udg";
  /** The peer's URL when connected, else this socket's own bound URL. */
  readonly url: string;
  #backend: DatagramBackend;
  #queue: Datagram[] = [];
  #waiters: Waiter[] = [];
  #limit: number;
  #dropped = 0;
  #closed = false;
  #failure: SocketError | null = null;
  #readTimeout: number;
  /** UDP: the family of this socket (and of its peer, when connected). */
  readonly #family: 4 | 6;

  /** @internal Use `connect()` or `listen()`. */
  constructor(backend: DatagramBackend, init: { transport: "udp" | "udg"; url: string; receiveQueue?: number | undefined; readTimeout?: number | undefined }) {
    this.transport = init.transport;
    this.url = init.url;
    this.#backend = backend;
    this.#limit = init.receiveQueue ?? DEFAULT_RECEIVE_QUEUE;
    this.#readTimeout = init.readTimeout ?? 0;
    this.#family = backend.local().family === "IPv6" ? 6 : 4;
    backend.onMessage = (data, remote) => this.#deliver({ data, remote });
    backend.onError = (err) => this.#fail(toSocketError(err, "read", this.url));
  }

  /** This socket's address. */
  get local(): Endpoint {
    return this.#backend.local();
  }

  /** The connected peer, or null on a bound socket. */
  get remote(): Endpoint | null {
    return this.#backend.remote();
  }

  /** Datagrams discarded because `receiveQueue` was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Milliseconds `receive()` waits before it rejects with ETIMEDOUT; 0 waits forever. */
  get readTimeout(): number {
    return this.#readTimeout;
  }

  set readTimeout(ms: number) {
    this.#readTimeout = validateTimeout(ms, "readTimeout");
  }

  #deliver(d: Datagram): void {
    const w = this.#waiters.length > 0 ? this.#waiters.shift() : undefined;
    if (w) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.resolve(w.iterating ? { value: d, done: false } : d);
    } else if (this.#queue.length < this.#limit) {
      this.#queue.push(d);
    } else {
      this.#dropped++;
    }
  }

  #fail(err: SocketError): void {
    // An ICMP error on a connected socket is reported to the next receive, once.
    const w = this.#waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.reject(err);
    } else {
      this.#failure = err;
    }
  }

  /**
   * Sends one datagram to the connected peer; resolves once the OS has it.
   *
   * @example
   * ```ts
   * await udp.send(Buffer.from([0x00, 0x01]));
   * ```
   */
  send(data: string | Uint8Array): Promise<void> {
    let buf: Buffer;
    try {
      this.#checkConnected();
      buf = this.#payload(data, null);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#sendOne(buf, null);
  }

  /**
   * Sends one datagram to `target` (`"udp://127.0.0.1:53"`, `"127.0.0.1:53"`, `"udg:///tmp/s"`).
   *
   * @example
   * ```ts
   * await server.sendTo("pong", from.remote);
   * ```
   */
  sendTo(data: string | Uint8Array, target: string | Address | Endpoint): Promise<void> {
    let to: Destination;
    let buf: Buffer;
    try {
      to = this.#destination(target);
      buf = this.#payload(data, to);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#sendOne(buf, to);
  }

  /**
   * Sends several datagrams, in order, to the connected peer or to `target`, with one promise
   * for all of them (like `sendmmsg(2)`): the way to send at full rate, since awaiting each
   * `send()` costs a turn of the event loop's promise queue per datagram. Every datagram is
   * checked before the first is sent. Resolves with the number sent once the OS has them all;
   * rejects with the first failure (later datagrams may still have gone out).
   *
   * @example
   * ```ts
   * await udp.sendMany(["a", "b", "c"]);
   * await server.sendMany(chunks, from.remote);
   * ```
   */
  sendMany(datagrams: Iterable<string | Uint8Array>, target?: string | Address | Endpoint): Promise<number> {
    const buffers: Buffer[] = [];
    let to: Destination = null;
    try {
      if (target === undefined) this.#checkConnected();
      else to = this.#destination(target);
      if (datagrams === null || typeof datagrams !== "object" || !(Symbol.iterator in datagrams)) {
        throw socketError("ERR_INVALID_OPTION", "write", this.url, "sendMany() takes an iterable of strings or Uint8Arrays");
      }
      for (const data of datagrams) buffers.push(this.#payload(data, to));
    } catch (err) {
      return Promise.reject(err);
    }
    if (buffers.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      let done = 0;
      let failure: SocketError | null = null;
      // One callback for the lot: the OS completes sends in the order they were made.
      const sent = (err: unknown): void => {
        if (err != null && failure === null) failure = this.#sendError(err, buffers[done]!);
        if (++done === buffers.length) {
          if (failure === null) resolve(done);
          else reject(failure);
        }
      };
      for (const buf of buffers) this.#backend.send(buf, to, sent);
    });
  }

  #sendOne(buf: Buffer, to: Destination): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#backend.send(buf, to, (err) => (err == null ? resolve() : reject(this.#sendError(err, buf))));
    });
  }

  #checkConnected(): void {
    if (this.#closed) throw socketError("ERR_SOCKET_CLOSED", "write", this.url, "the socket is closed");
    if (this.#backend.remote() === null) {
      throw socketError("ERR_INVALID_ADDRESS", "write", this.url,
        "this socket is not connected; use sendTo(data, target)");
    }
  }

  #destination(target: string | Address | Endpoint): Destination {
    if (this.#closed) throw socketError("ERR_SOCKET_CLOSED", "write", this.url, "the socket is closed");
    if (typeof target === "object" && target !== null && "family" in target) {
      return target.family === "unix" ? { path: target.host } : { host: target.host, port: target.port };
    }
    let address: Address;
    if (typeof target === "string" && this.transport === "udg" && !target.includes("://")) {
      address = { transport: "udg", path: target };
    } else {
      address = typeof target === "string"
        ? parseAddress(target.includes("://") ? target : `${this.transport}://${target}`)
        : target;
    }
    if (address.transport !== this.transport) {
      throw socketError("ERR_INVALID_ADDRESS", "write", formatAddress(address),
        `a ${this.transport}:// socket cannot send to a ${address.transport}:// address`);
    }
    return "path" in address ? { path: address.path } : { host: address.host, port: address.port };
  }

  /** The bytes of one datagram, checked against what the protocol can carry. */
  #payload(data: string | Uint8Array, to: Destination): Buffer {
    const buf = typeof data === "string" ? Buffer.from(data)
      : Buffer.isBuffer(data) ? data
      : data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : null;
    if (buf === null) throw socketError("ERR_INVALID_OPTION", "write", this.url, "data must be a string or a Uint8Array");
    if (buf.length > MAX_UDP4_PAYLOAD && this.transport === "udp") {
      const family = to !== null && "host" in to ? (to.host.includes(":") ? 6 : 4) : this.#family;
      const max = family === 6 ? MAX_UDP6_PAYLOAD : MAX_UDP4_PAYLOAD;
      if (buf.length > max) {
        throw socketError("ERR_DATAGRAM_TOO_LARGE", "write", this.url,
          `${buf.length} bytes exceed the largest UDP/IPv${family} payload of ${max} bytes`);
      }
    }
    return buf;
  }

  #sendError(err: unknown, buf: Buffer): SocketError {
    const e = toSocketError(err, "write", this.url);
    return e.code === "EMSGSIZE"
      ? socketError("ERR_DATAGRAM_TOO_LARGE", "write", this.url, `${buf.length} bytes are more than the socket can send`, { cause: err })
      : e;
  }

  /**
   * The next datagram, waiting up to `readTimeout` ms.
   *
   * @example
   * ```ts
   * const { data, remote } = await server.receive();
   * ```
   */
  receive(): Promise<Datagram> {
    return this.#next(false) as Promise<Datagram>;
  }

  /**
   * The datagrams that arrive in one turn of the event loop, at least one (waiting up to
   * `readTimeout` ms for it) and at most `max` (like `recvmmsg(2)`): one promise for a burst,
   * where `receive()` needs one per datagram.
   *
   * @example
   * ```ts
   * const datagrams = await server.receiveMany();
   * for (const { data, remote } of datagrams) console.log(remote.host, data.length);
   * ```
   */
  receiveMany(max = Infinity): Promise<Datagram[]> {
    if (!(max >= 1 && (max === Infinity || Number.isInteger(max)))) {
      return Promise.reject(socketError("ERR_INVALID_OPTION", "read", this.url,
        `receiveMany(max): max must be a positive integer, got ${String(max)}`));
    }
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.splice(0, max));
    return this.receive().then((first) => max === 1 ? [first] : new Promise((resolve) => {
      // The first datagram woke us; those that came with it are delivered before setImmediate runs.
      setImmediate(() => {
        const burst = this.#queue.splice(0, max - 1);
        burst.unshift(first);
        resolve(burst);
      });
    }));
  }

  /**
   * Bursts of datagrams (see `receiveMany`) until the socket is closed.
   *
   * @example
   * ```ts
   * for await (const datagrams of server.batches()) count += datagrams.length;
   * ```
   */
  batches(max = Infinity): AsyncIterable<Datagram[]> {
    return { [Symbol.asyncIterator]: () => untilClosed(() => this.receiveMany(max)) };
  }

  /**
   * Datagrams until the socket is closed.
   *
   * @example
   * ```ts
   * for await (const { data, remote } of server) await server.sendTo(data, remote);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<Datagram, undefined> {
    return {
      next: () => this.#next(true) as Promise<IteratorResult<Datagram, undefined>>,
      return: () => Promise.resolve(DONE),
    };
  }

  /**
   * The next datagram, as itself (`receive()`) or as an iterator result (`for await`, which
   * ends at close instead of rejecting). One promise per datagram, resolved by `#deliver`.
   */
  #next(iterating: boolean): Promise<Datagram | IteratorResult<Datagram, undefined>> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(iterating ? { value: queued, done: false } : queued);
    if (this.#failure) {
      const err = this.#failure;
      this.#failure = null;
      return Promise.reject(err);
    }
    if (this.#closed) {
      return iterating ? Promise.resolve(DONE)
        : Promise.reject(socketError("ERR_SOCKET_CLOSED", "read", this.url, "the socket is closed"));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, iterating };
      if (this.#readTimeout > 0) {
        const ms = this.#readTimeout;
        w.timer = setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          reject(socketError("ETIMEDOUT", "read", this.url, `no datagram within readTimeout ${ms} ms`));
        }, ms);
      }
      this.#waiters.push(w);
    });
  }

  /**
   * Closes the socket; waiting receives reject with ERR_SOCKET_CLOSED. Safe to call twice.
   *
   * @example
   * ```ts
   * await udp.close();
   * ```
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const err = socketError("ERR_SOCKET_CLOSED", "read", this.url, "the socket was closed");
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      if (w.iterating) w.resolve(DONE);
      else w.reject(err);
    }
    this.#queue = [];
    this.#backend.close();
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------- UDP

/** Options for opening a UDP socket (internal). */
export interface UdpOpenOptions {
  family: 4 | 6;
  bind?: { host: string; port: number } | undefined;
  connect?: { host: string; port: number } | undefined;
  reuseAddr?: boolean | undefined;
  ipv6Only?: boolean | undefined;
  broadcast?: boolean | undefined;
}

/**
 * Opens, binds and optionally connects a UDP socket; rejects with the OS error.
 *
 * @example
 * ```ts
 * const backend = await openUdp({ family: 4, connect: { host: "127.0.0.1", port: 53 } });
 * ```
 */
export function openUdp(o: UdpOpenOptions, url: string, phase: "connect" | "listen"): Promise<DatagramBackend> {
  const socket = dgram.createSocket({
    type: o.family === 6 ? "udp6" : "udp4",
    reuseAddr: o.reuseAddr ?? false,
    ...(o.ipv6Only === undefined ? {} : { ipv6Only: o.ipv6Only }),
  });
  let local: Endpoint | null = null;
  let remote: Endpoint | null = null;
  const backend: DatagramBackend = {
    send(data, to, done) {
      if (to === null) socket.send(data, done);
      else if ("host" in to) socket.send(data, to.port, to.host, done);
      else done(socketError("ERR_INVALID_ADDRESS", "write", url, "a udp:// socket cannot send to a path"));
    },
    local() {
      if (local === null) {
        const a = socket.address();
        local = { host: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
      }
      return local;
    },
    remote() {
      return remote;
    },
    close() {
      socket.close();
    },
    onMessage: () => {},
    onError: () => {},
  };
  socket.on("message", (msg, rinfo) =>
    backend.onMessage(msg, { host: rinfo.address, port: rinfo.port, family: rinfo.family === "IPv6" ? "IPv6" : "IPv4" }));
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => {
      socket.close();
      reject(toSocketError(err, phase, url));
    };
    socket.once("error", fail);
    const ready = () => {
      socket.off("error", fail);
      socket.on("error", (err) => backend.onError(err));
      backend.local();
      if (o.connect !== undefined) {
        // Asked once here: remoteAddress() is a syscall, and send() needs to know.
        const a = socket.remoteAddress();
        remote = { host: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
      }
      resolve(backend);
    };
    socket.bind({ address: o.bind?.host ?? (o.family === 6 ? "::" : "0.0.0.0"), port: o.bind?.port ?? 0 }, () => {
      // Broadcast must be allowed before connecting to a broadcast address.
      if (o.broadcast) socket.setBroadcast(true);
      if (o.connect === undefined) return ready();
      socket.connect(o.connect.port, o.connect.host, (err?: Error) => (err ? fail(err) : ready()));
    });
  });
}

// ---------------------------------------------------------------- unix datagrams

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, n]) => [n, name]),
);

function unixError(err: Error & { code?: unknown; errno?: unknown; syscall?: string }): Error {
  const n = typeof err.errno === "number" ? Math.abs(err.errno) : NaN;
  const name = ERRNO_NAMES.get(n);
  if (err.code === 1) return Object.assign(new Error("the receiver's queue is full"), { code: "EAGAIN", errno: 11 });
  return name ? Object.assign(new Error(`${err.syscall ?? "unix datagram"} ${name}`), { code: name, errno: n }) : err;
}

/**
 * Opens a unix datagram socket, bound to `bind` and/or connected to `connect`.
 *
 * @example
 * ```ts
 * const backend = await openUnixDatagram({ bind: "/tmp/server.sock" }, "udg:///tmp/server.sock", "listen");
 * ```
 */
export async function openUnixDatagram(
  o: { bind?: string | undefined; connect?: string | undefined },
  url: string,
  phase: "connect" | "listen",
): Promise<DatagramBackend> {
  // A native addon: loaded by the first udg:// socket rather than by every program that imports sockurl.
  let unixDgram: typeof unixDgramModule;
  try {
    unixDgram = (await import("unix-dgram")).default;
  } catch (err) {
    throw socketError("ERR_UNSUPPORTED_TRANSPORT", phase, url,
      `udg:// needs the unix-dgram native module, which failed to load (${(err as Error).message})`, { cause: err });
  }
  return new Promise((resolve, reject) => {
    let socket: ReturnType<typeof unixDgram.createSocket>;
    try {
      socket = unixDgram.createSocket("unix_dgram");
    } catch (err) {
      return reject(toSocketError(unixError(err as Error), phase, url));
    }
    let open = true;
    let bound = false;
    const backend: DatagramBackend = {
      send(data, to, done) {
        const cb = (err?: Error & { code?: number }) => done(err ? unixError(err) : undefined);
        if (to === null) socket.send(data, cb);
        else if ("path" in to) socket.send(data, 0, data.length, to.path, cb);
        else done(socketError("ERR_INVALID_ADDRESS", "write", url, "a udg:// socket sends to paths, not host:port"));
      },
      local: () => ({ host: o.bind ?? "", port: 0, family: "unix" }),
      remote: () => (o.connect === undefined ? null : { host: o.connect, port: 0, family: "unix" }),
      close() {
        if (open) {
          open = false;
          socket.close();
          // Like Node's unix stream servers, remove the socket file this socket created.
          if (bound) rmSync(o.bind!, { force: true });
        }
      },
      onMessage: () => {},
      onError: () => {},
    };
    let failed: unknown = null;
    socket.on("error", (err) => {
      if (failed === null && !ready) failed = unixError(err);
      else backend.onError(unixError(err));
    });
    socket.on("message", (buf, rinfo) => backend.onMessage(buf, { host: rinfo.path ?? "", port: 0, family: "unix" }));
    let ready = false;
    // unix-dgram reports bind/connect errors synchronously through 'error'.
    if (o.bind !== undefined) {
      socket.bind(o.bind);
      bound = failed === null;
    }
    if (failed === null && o.connect !== undefined) socket.connect(o.connect);
    if (failed !== null) {
      backend.close();
      return reject(toSocketError(failed, phase, url));
    }
    ready = true;
    resolve(backend);
  });
}
