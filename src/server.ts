/**
 * listen() and Server: stream listeners (tcp, unix) with an accept queue, and bound
 * datagram sockets (udp, udg).
 */
import net from "node:net";
import { isIP } from "node:net";
import tls from "node:tls";
import { formatAddress, isTlsTransport, type Address, type InetAddress } from "./address.js";
import { checkTransport, toAddress, type DatagramTarget } from "./connect.js";
import { DatagramSocket, openUdp, openUnixDatagram } from "./datagram.js";
import { SocketError, socketError, toSocketError } from "./errors.js";
import { validateListenOptions, validateTimeout, type ListenOptions } from "./options.js";
import { resolveHost } from "./resolve.js";
import { Socket } from "./socket.js";
import { noPeerCertificate, serverChecksNothing, serverContextOptions, serverOptionError } from "./tls-server.js";
import { verifyPeer } from "./tls-verify.js";
import { negotiatedOf } from "./tls-info.js";
import { validateTlsOptions, type TlsOptions } from "./tls-options.js";

const DEFAULT_BACKLOG = 511;
const DEFAULT_ACCEPT_QUEUE = 128;
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const noop = (): void => {};

/** Options of `Server.accept()`. */
export interface AcceptOptions {
  /** Give up after this many ms with ETIMEDOUT (0 or absent: wait forever). */
  timeout?: number;
  signal?: AbortSignal;
}

/** A waiting `accept()`: resolved with the socket, rejected by close(). */
interface Acceptor {
  iterating: false;
  resolve: (s: Socket) => void;
  reject: (e: SocketError) => void;
  cleanup: () => void;
}

/** A waiting `for await` step: resolved with an iterator result, ended (not rejected) by close(). */
interface IteratingAcceptor {
  iterating: true;
  resolve: (r: IteratorResult<Socket, undefined>) => void;
  reject: (e: SocketError) => void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * A listening stream socket. Connections queue until `accept()` takes them.
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
export class Server implements AsyncIterable<Socket> {
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
      // Attach the error listener before anything else can happen on this socket.
      // getpeername is a syscall: work the peer's URL out only when someone asks.
      const peerUrl = (): string => {
        const remote = raw.remoteAddress;
        return remote === undefined ? this.url : formatAddress({ transport, host: remote, port: raw.remotePort ?? 0 } as InetAddress);
      };
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
        highWaterMark: options.highWaterMark, tls: session,
      });
      this.#offer(socket);
    });
    // Accept errors (EMFILE and the like) must not crash the process; the listener goes on.
    server.on("error", () => {});
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
        acceptor.cleanup();
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
   * The next connection, waiting for one if none is queued.
   *
   * @example
   * ```ts
   * const socket = await server.accept({ timeout: 5000 });
   * ```
   */
  accept(options: AcceptOptions = {}): Promise<Socket> {
    try {
      if (options.timeout !== undefined) validateTimeout(options.timeout, "timeout");
    } catch (err) {
      return Promise.reject(err);
    }
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closedError());
    if (options.signal?.aborted) return Promise.reject(this.#abortError(options.signal));
    if (!options.timeout && options.signal === undefined) {
      // The common case (for await, or accept() alone): nothing to clean up afterwards.
      return new Promise((resolve, reject) => this.#acceptors.push({ iterating: false, resolve, reject, cleanup: noop }));
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const signal = options.signal;
      const acceptor: Acceptor = {
        iterating: false,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      const giveUp = (err: SocketError) => {
        const i = this.#acceptors.indexOf(acceptor);
        if (i !== -1) this.#acceptors.splice(i, 1);
        acceptor.cleanup();
        reject(err);
      };
      const onAbort = () => giveUp(this.#abortError(signal!));
      if (options.timeout) {
        const ms = options.timeout;
        timer = setTimeout(() => giveUp(socketError("ETIMEDOUT", "accept", this.url, `no connection within ${ms} ms`)), ms);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
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
        a.cleanup();
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

  #closedError(): SocketError {
    return socketError("ERR_SOCKET_CLOSED", "accept", this.url, "the server is closed");
  }

  #abortError(signal: AbortSignal): SocketError {
    return socketError("ERR_ABORTED", "accept", this.url, "aborted by the caller's signal", { cause: signal.reason });
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
    const server = await bindServer({ path: address.path, backlog: opts.backlog ?? DEFAULT_BACKLOG }, url, opts.signal, null, {});
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

