/**
 * listen() and Server: stream listeners (tcp, unix) with an accept queue, and bound
 * datagram sockets (udp, udg).
 */
import net from "node:net";
import { isIP } from "node:net";
import tls from "node:tls";
import {
  checkTransport, formatAddress, ioPath, isTlsTransport, toAddress,
  type Address, type DatagramTarget, type InetAddress,
} from "./address.js";
import { DatagramSocket } from "./datagram.js";
import { openUdp } from "./datagram-udp.js";
import { openUnixDatagram } from "./datagram-unix.js";
import { checkCallOptions, callDeadline, type CallOptions, type Deadline } from "./deadline.js";
import "./dispose.js";
import { SocketError, socketError, toSocketError } from "./errors.js";
import { DONE } from "./iterate.js";
import { validateListenOptions, type ListenOptions } from "./options.js";
import { resolveHost } from "./resolve.js";
import { Socket, type Endpoint } from "./socket.js";
import { noPeerCertificate, serverChecksNothing, serverContextOptions, serverOptionError } from "./tls-server.js";
import { verifyPeer } from "./tls-verify.js";
import { negotiatedOf } from "./tls-info.js";
import { validateTlsOptions, type TlsOptions } from "./tls-options.js";

const DEFAULT_BACKLOG = 511;
const DEFAULT_ACCEPT_QUEUE = 128;
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** A waiting `accept()`: resolved with the socket, rejected by close() or its deadline. */
interface Acceptor {
  iterating: false;
  resolve: (s: Socket) => void;
  reject: (e: SocketError) => void;
  /** The call's time limit and signal; null when nothing limits it. */
  deadline: Deadline | null;
}

/** A waiting `for await` step: resolved with an iterator result, ended (not rejected) by close(). */
interface IteratingAcceptor {
  iterating: true;
  resolve: (r: IteratorResult<Socket, undefined>) => void;
  reject: (e: SocketError) => void;
}

/**
 * A listening stream socket. Connections queue until `accept()` takes them. `await using`
 * closes it; `unref()` lets the process exit while it listens.
 *
 * @example
 * ```ts
 * import { listen } from "sockurl";
 * const server = await listen("tcp://127.0.0.1:0");
 * console.log(server.url); // tcp://127.0.0.1:40123
 * for await (const socket of server) {
 *   await socket.write("hello\r\n");
 *   await socket.close();
 * }
 * ```
 */
export class Server implements AsyncIterable<Socket>, AsyncDisposable {
  /** The URL clients connect to, with the real port. */
  readonly url: string;
  /** The bound address, with the real port. */
  readonly address: Address;
  #server: net.Server;
  #queue: Socket[] = [];
  #acceptors: Array<Acceptor | IteratingAcceptor> = [];
  #queueLimit: number;
  #dropped = 0;
  #handshakeFailures = 0;
  #closed = false;

  /** @internal Use `listen()`. */
  constructor(server: net.Server, address: Address, options: ListenOptions, tlsOptions: TlsOptions | null = null) {
    this.#server = server;
    this.address = address;
    this.url = formatAddress(address);
    this.#queueLimit = options.acceptQueue ?? DEFAULT_ACCEPT_QUEUE;
    const transport = address.transport;
    const local = Server.#acceptedLocal(address);
    if (tlsOptions !== null) {
      // A client that fails or stalls its handshake is dropped here and never reaches accept().
      server.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => {
        this.#handshakeFailures++;
        // Node reports a handshake timeout without closing the connection.
        socket.destroy();
      });
    }
    server.on(tlsOptions === null ? "connection" : "secureConnection", (raw: net.Socket) => {
      if (tlsOptions !== null) raw.allowHalfOpen = true;
      const remote = this.#peerOf(raw);
      const peerUrl = this.#urlOf(remote);
      let session;
      if (tlsOptions !== null) {
        const secure = raw as tls.TLSSocket;
        try {
          // A server that asks for no certificate and pins nothing has nothing to verify;
          // verifyPeer works peerUrl() out only for an error.
          const verdict = serverChecksNothing(tlsOptions) ? noPeerCertificate() : verifyPeer(secure, tlsOptions, null, peerUrl, "server");
          session = { stream: secure, verdict, negotiated: negotiatedOf(secure), latestSession: { current: null } };
        } catch {
          this.#handshakeFailures++;
          raw.destroy();
          return;
        }
      }
      const socket = new Socket(raw, {
        transport, url: peerUrl, readTimeout: options.readTimeout, writeTimeout: options.writeTimeout,
        highWaterMark: options.highWaterMark, tls: session, remote, local,
      });
      this.#offer(socket);
    });
    // Accept errors (EMFILE and the like) must not crash the process; the listener goes on.
    server.on("error", () => {});
  }

  /**
   * An accepted connection's peer, taken now, at accept, while the connection is certain to
   * have one (Node forgets it once the socket is destroyed, and a client may close at once).
   * A unix peer is usually unnamed: it is named by the server's path. An inet peer that reset
   * before it could be named gets the unspecified address and port 0, never the server's own
   * address, which would name the wrong end.
   */
  #peerOf(raw: net.Socket): Endpoint {
    const bound = this.address;
    if (!("port" in bound)) return { host: bound.path, port: 0, family: "unix" };
    // One getpeername(2) per connection: the one system call an accepted socket's identity costs.
    const host = raw.remoteAddress;
    if (host === undefined) return bound.host.includes(":") ? { host: "::", port: 0, family: "IPv6" } : { host: "0.0.0.0", port: 0, family: "IPv4" };
    return { host, port: raw.remotePort ?? 0, family: host.includes(":") ? "IPv6" : "IPv4" };
  }

  /** The URL naming `remote`, formatted only when asked (most sockets never are). */
  #urlOf(remote: Endpoint): string | (() => string) {
    if (remote.family === "unix") return this.url;
    const transport = this.address.transport;
    return () => formatAddress({ transport, host: remote.host, port: remote.port } as InetAddress);
  }

  /**
   * This end of every accepted connection, when the listener's own address says it (a unix
   * path, or one IP address); undefined on a wildcard listener, where each connection is asked.
   */
  static #acceptedLocal(bound: Address): Endpoint | undefined {
    if (!("port" in bound)) return Object.freeze({ host: bound.path, port: 0, family: "unix" });
    if (bound.host === "0.0.0.0" || bound.host === "::") return undefined;
    return Object.freeze({ host: bound.host, port: bound.port, family: bound.host.includes(":") ? "IPv6" : "IPv4" });
  }

  /**
   * The bound port (the real one after listening on port 0). Unix listeners have none: 0.
   *
   * @example
   * ```ts
   * const server = await listen("tcp://127.0.0.1:0");
   * const client = await connect(`tcp://127.0.0.1:${server.port}`);
   * ```
   */
  get port(): number {
    return "port" in this.address ? this.address.port : 0;
  }

  /**
   * Keeps the process alive while the server listens (the default). See `unref()`.
   *
   * @example
   * ```ts
   * server.ref();
   * ```
   */
  ref(): void {
    this.#server.ref();
  }

  /**
   * Lets the process exit while the server listens and nothing else keeps it alive, like
   * `net.Server.unref()`. Accepted sockets are not affected.
   *
   * @example
   * ```ts
   * const metrics = await listen("tcp://127.0.0.1:0");
   * metrics.unref(); // a side listener must not keep the program running
   * ```
   */
  unref(): void {
    this.#server.unref();
  }

  /** Connections dropped because the accept queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** TLS clients dropped because their handshake or certificate failed (or stalled). */
  get handshakeFailures(): number {
    return this.#handshakeFailures;
  }

  #offer(socket: Socket): void {
    if (this.#closed) {
      // A TLS handshake that finished after close(): nobody will ever accept it.
      socket.destroy();
      return;
    }
    const acceptor = this.#acceptors.length > 0 ? this.#acceptors.shift() : undefined;
    if (acceptor) {
      if (acceptor.iterating) acceptor.resolve({ value: socket, done: false });
      else {
        acceptor.deadline?.clear();
        acceptor.resolve(socket);
      }
    } else if (this.#queue.length < this.#queueLimit) {
      this.#queue.push(socket);
    } else {
      this.#dropped++;
      socket.destroy();
    }
  }

  /**
   * The next connection, waiting for one if none is queued: up to `options.timeout` ms
   * (ETIMEDOUT, phase accept), or until `options.signal` aborts (ERR_ABORTED). A connection
   * that arrives after the call gave up stays queued for the next one.
   *
   * @example
   * ```ts
   * const socket = await server.accept({ timeout: 5000 });
   * ```
   */
  accept(options?: CallOptions): Promise<Socket> {
    if (options !== undefined) {
      try {
        checkCallOptions(options, this.url, "accept");
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closedError());
    const deadline = callDeadline(options, 0, this.url, "accept", "no connection arrived");
    if (deadline === null) {
      // The common case (for await, or accept() alone): nothing to clean up afterwards.
      return new Promise((resolve, reject) => this.#acceptors.push({ iterating: false, resolve, reject, deadline }));
    }
    const expired = deadline.expired;
    if (expired !== null) {
      deadline.clear();
      return Promise.reject(expired);
    }
    return new Promise((resolve, reject) => {
      const acceptor: Acceptor = { iterating: false, resolve, reject, deadline };
      // Runs only while the acceptor is queued: #offer and close() clear the deadline as they take it.
      deadline.onExpire((err) => {
        deadline.clear();
        const i = this.#acceptors.indexOf(acceptor);
        if (i !== -1) this.#acceptors.splice(i, 1);
        reject(err);
      });
      this.#acceptors.push(acceptor);
    });
  }

  /**
   * Connections as they arrive, until the server is closed.
   *
   * @example
   * ```ts
   * for await (const socket of server) handle(socket);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<Socket, undefined> {
    // Resolved with iterator results directly: one promise per connection, not two.
    return {
      next: () => {
        const queued = this.#queue.shift();
        if (queued) return Promise.resolve({ value: queued, done: false });
        if (this.#closed) return Promise.resolve(DONE);
        return new Promise((resolve, reject) => this.#acceptors.push({ iterating: true, resolve, reject }));
      },
      return: () => Promise.resolve(DONE),
    };
  }


  /**
   * Stops listening. Pending `accept()` calls reject with ERR_SOCKET_CLOSED and queued,
   * never-accepted connections are closed; accepted sockets stay open.
   *
   * @example
   * ```ts
   * await server.close();
   * ```
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const err = this.#closedError();
    for (const a of this.#acceptors.splice(0)) {
      if (a.iterating) a.resolve(DONE);
      else {
        a.deadline?.clear();
        a.reject(err);
      }
    }
    for (const s of this.#queue.splice(0)) s.destroy();
    return new Promise((resolve) => {
      // net.Server's close callback waits for accepted sockets too; only the listener matters here.
      this.#server.close();
      setImmediate(resolve);
    });
  }

  /**
   * `await using` support: closes the server (accepted sockets stay open).
   *
   * @example
   * ```ts
   * await using server = await listen("tcp://127.0.0.1:0");
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #closedError(): SocketError {
    return socketError("ERR_SOCKET_CLOSED", "accept", this.url, "the server is closed");
  }
}

/**
 * Listens on a transport URL. Stream transports give a `Server`; `udp://` and `udg://` give
 * a bound `DatagramSocket`. Port 0 picks a free port; `server.url` tells which.
 *
 * @example
 * ```ts
 * import { listen } from "sockurl";
 * const server = await listen("tcp://[::1]:0", { backlog: 128 });
 * const udp = await listen("udp://127.0.0.1:0");
 * ```
 */
export function listen(target: DatagramTarget, options?: ListenOptions): Promise<DatagramSocket>;
export function listen(target: string | Address, options?: ListenOptions): Promise<Server>;
export async function listen(target: string | Address, options?: ListenOptions): Promise<Server | DatagramSocket> {
  const address = toAddress(target);
  const url = formatAddress(address);
  const opts = validateListenOptions(options, url);
  checkTransport(address, url);
  const tlsOptions = validateTlsOptions(opts.tls, url);
  const useTls = isTlsTransport(address.transport);
  if (opts.tls !== undefined && !useTls) {
    throw socketError("ERR_INVALID_OPTION", "address", url,
      `tls options were given for ${address.transport}://; listen on tls:// (or upgrade accepted sockets with startTls)`);
  }
  const secure = useTls
    ? { ...serverContextOptions(tlsOptions, address.transport, url), handshakeTimeout: tlsOptions.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT }
    : null;
  if (opts.reusePort && !supportsReusePort()) {
    throw socketError("ERR_INVALID_OPTION", "address", url,
      `reusePort needs Node.js 22.12 or later (this is ${process.version})`);
  }
  if ("path" in address) {
    if (address.transport === "udg") {
      const backend = await openUnixDatagram({ bind: address.path }, url, "listen");
      return new DatagramSocket(backend, { transport: "udg", url, receiveQueue: opts.receiveQueue, readTimeout: opts.readTimeout });
    }
    const server = await bindServer({ path: ioPath(address.path), backlog: opts.backlog ?? DEFAULT_BACKLOG }, url, opts.signal, null, {});
    return new Server(server, address, opts);
  }
  let host = address.host;
  if (isIP(host) === 0) {
    const found = await resolveHost(host, {}, url).catch((err: unknown) => {
      throw toSocketError(err, "listen", url);
    });
    host = found[0]!.address;
  }
  if (address.transport === "udp") {
    const backend = await openUdp({
      family: isIP(host) === 6 ? 6 : 4, bind: { host, port: address.port },
      reuseAddr: opts.reuseAddr, ipv6Only: opts.ipv6Only, broadcast: opts.broadcast,
    }, url, "listen");
    const local = backend.local();
    const bound = formatAddress({ transport: "udp", host: local.host, port: local.port });
    return new DatagramSocket(backend, { transport: "udp", url: bound, receiveQueue: opts.receiveQueue, readTimeout: opts.readTimeout });
  }
  const server = await bindServer({
    host, port: address.port, backlog: opts.backlog ?? DEFAULT_BACKLOG,
    ...(opts.ipv6Only === undefined ? {} : { ipv6Only: opts.ipv6Only }),
    ...(opts.reusePort === undefined ? {} : { reusePort: opts.reusePort }),
  }, url, opts.signal, secure, acceptedSocketOptions(opts));
  const bound = server.address() as net.AddressInfo;
  return new Server(server, { transport: address.transport, host: bound.address, port: bound.port } as InetAddress, opts, useTls ? tlsOptions : null);
}

function supportsReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** TCP_NODELAY and keep-alive for accepted connections, set by Node on the handle as it accepts. */
function acceptedSocketOptions(opts: ListenOptions): AcceptedSocketOptions {
  const keepAlive = opts.keepAlive ?? false;
  return {
    noDelay: opts.noDelay ?? true,
    keepAlive: keepAlive !== false,
    ...(typeof keepAlive === "number" ? { keepAliveInitialDelay: keepAlive } : {}),
  };
}

type AcceptedSocketOptions = Pick<net.ServerOpts, "noDelay" | "keepAlive" | "keepAliveInitialDelay">;

function bindServer(
  listenOptions: net.ListenOptions & { reusePort?: boolean },
  url: string,
  signal: AbortSignal | undefined,
  secure: tls.TlsOptions | null,
  accepted: AcceptedSocketOptions,
): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    let server: net.Server;
    try {
      server = secure === null
        ? net.createServer({ ...accepted, allowHalfOpen: true, pauseOnConnect: false })
        // Half-open only after the handshake: a client's FIN mid-handshake must end it at once.
        : tls.createServer({ ...secure, ...accepted, allowHalfOpen: false });
    } catch (err) {
      // A bad certificate, key or passphrase.
      return reject(serverOptionError(err, url));
    }
    const onError = (err: Error) => {
      server.close();
      reject(toSocketError(err, "listen", url));
    };
    server.once("error", onError);
    server.listen(signal ? { ...listenOptions, signal } : listenOptions, () => {
      server.off("error", onError);
      resolve(server);
    });
  });
}

