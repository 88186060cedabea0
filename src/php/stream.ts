/**
 * PhpStream: the resource behind every function of the layer. It wraps a sockurl Socket, Server or
 * DatagramSocket and adds what PHP has and sockurl has not: PHP's read buffer (`unread_bytes`),
 * `timed_out`/`eof`/`blocked` flags, a timeout per stream, and readiness for stream_select.
 *
 * Two buffers model PHP's two: `buffer` is PHP's own read buffer (filled 8192 bytes at a time,
 * counted in `unread_bytes`, and what makes stream_select return at once); `kernel` holds bytes
 * that sockurl already delivered but that PHP would still find in the kernel (recvfrom reads them,
 * stream_select counts them as ordinary readiness). Reads into `kernel` go through one pump with a
 * deadline (Socket.readTimeout), so no read is ever left pending past the time it was wanted for.
 */
import type { Writable } from "node:stream";
import { SocketError, type Datagram, type DatagramSocket, type Server, type Socket } from "../index.js";
import { AcceptQueue, DatagramQueue } from "./queues.js";
import { ByteQueue } from "./bytes.js";
import { PhpContext } from "./context.js";
import { osError } from "./errno.js";
import { handshakeWarning } from "./tls.js";
import { warn } from "./warnings.js";

/** PHP's default_socket_timeout, in ms. */
export const DEFAULT_SOCKET_TIMEOUT = 60_000;
/** PHP reads sockets in chunks of this size. */
export const CHUNK_SIZE = 8192;

type Kind = "socket" | "server" | "dgram";
/** What a fill of PHP's buffer found. */
export type FillResult = "data" | "eof" | "timeout" | "empty" | "error";

let nextId = 1;
const now = () => performance.now();

function isReadTimeout(err: unknown): boolean {
  return err instanceof SocketError && err.code === "ETIMEDOUT" && err.phase === "read";
}

/**
 * A PHP stream resource (a socket, a listening socket or a datagram socket).
 * Opaque: pass it to the layer's functions. `socket`, `server` and `datagram` give the sockurl
 * objects underneath, for code that moves on to sockurl's own API.
 */
export class PhpStream {
  readonly id = nextId++;
  /** @internal */ readonly kind: Kind;
  /** The stream's context (shared with the server it was accepted from, as in PHP). */
  context: PhpContext;
  /** @internal PHP's stream_type. */ streamType: string;
  /** @internal The PHP transport it was opened with (tcp, ssl, udp, unix, …). */ transport: string;
  /** @internal The host name the client dialled (the default peer_name). */ host: string;
  /** @internal Read timeout in ms (Infinity: none). */ timeoutMs = DEFAULT_SOCKET_TIMEOUT;
  /** @internal */ blocking = true;
  /** @internal */ timedOut = false;
  /** @internal */ eof = false;
  /** @internal */ readShut = false;
  /** @internal */ writeShut = false;
  /** @internal Bytes handed to the caller so far (PHP's ftell). */ position = 0;
  /** @internal */ persistentKey: string | null = null;
  /** @internal A pending non-blocking handshake (stream_socket_enable_crypto returning 0). */
  crypto: { promise: Promise<boolean>; done: boolean | null } | null = null;
  /** @internal PHP's read buffer. */ readonly buffer = new ByteQueue();
  /** @internal Delivered by sockurl, still "in the kernel" for PHP. */ readonly kernel = new ByteQueue();
  /** @internal For an unconnected datagram socket of a pair: where fwrite sends. */ defaultPeer: string | null = null;
  /** @internal Run once at close (temporary files of socket pairs). */ onClose: Array<() => void> = [];
  /** @internal One end of stream_socket_pair (it has no names). */ pair = false;
  /** @internal Accepted from a server (a unix socket's path then names this end). */ accepted = false;

  #socket: Socket | null;
  #accepts: AcceptQueue | null;
  #datagrams: DatagramQueue | null;
  #closed = false;
  #connecting: Promise<void> | null = null;
  #coreEnded = false;
  #coreError: unknown = null;
  #peerFin = false;
  #watched: unknown = null;
  #pull: Promise<void> | null = null;

  /** @internal Use the layer's functions. */
  constructor(init: {
    kind: Kind; context: PhpContext; streamType: string; transport: string; host?: string;
    socket?: Socket | null; server?: Server | null; datagram?: DatagramSocket | null;
  }) {
    this.kind = init.kind;
    this.context = init.context;
    this.streamType = init.streamType;
    this.transport = init.transport;
    this.host = init.host ?? "";
    this.#socket = init.socket ?? null;
    this.#accepts = init.server ? new AcceptQueue(init.server) : null;
    this.#datagrams = init.datagram ? new DatagramQueue(init.datagram) : null;
    this.watch();
  }

  /** The sockurl Socket underneath (stream sockets), or null. */
  get socket(): Socket | null {
    return this.#socket;
  }

  /** The sockurl Server underneath (listening sockets), or null. */
  get server(): Server | null {
    return this.#accepts?.server ?? null;
  }

  /** The sockurl DatagramSocket underneath (udp://, udg://), or null. */
  get datagram(): DatagramSocket | null {
    return this.#datagrams?.socket ?? null;
  }

  /** True once fclose() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  toString(): string {
    return `Resource id #${this.id}`;
  }

  /** @internal Throws PHP's TypeError for a closed resource. */
  assertOpen(fn: string): void {
    if (this.#closed) throw new TypeError(`${fn}(): supplied resource is not a valid stream resource`);
  }

  // ------------------------------------------------------------ connecting

  /** @internal An asynchronous connect (STREAM_CLIENT_ASYNC_CONNECT) still running. */
  connectInBackground(pending: Promise<Socket | DatagramSocket>): void {
    this.#connecting = pending.then(
      (s) => {
        if (this.#closed) {
          void s.close();
          return;
        }
        if (this.kind === "dgram") this.#datagrams = new DatagramQueue(s as DatagramSocket);
        else this.#socket = s as Socket;
        this.watch();
      },
      (err: unknown) => {
        this.#coreEnded = true;
        this.#coreError = err;
        this.eof = true;
      },
    ).finally(() => {
      this.#connecting = null;
    });
  }

  /** @internal Waits for a background connect, if any. */
  async ready(): Promise<void> {
    if (this.#connecting !== null) await this.#connecting;
  }

  /** @internal True while a background connect runs. */
  get connecting(): boolean {
    return this.#connecting !== null;
  }

  /** @internal Why the connection failed or ended, if it did. */
  get failure(): unknown {
    return this.#coreError ?? this.#datagrams?.error ?? null;
  }

  /** @internal Notices the peer's end of stream without reading (feof, stream_select). */
  watch(): void {
    const socket = this.#socket;
    if (socket === null) return;
    const stream = socket.stream;
    if (this.#watched === stream) return;
    this.#watched = stream;
    const onEnd = () => {
      if (this.#watched === stream) this.#peerFin = true;
    };
    stream.once("end", onEnd);
    stream.once("close", onEnd);
  }

  // ------------------------------------------------------------ stream sockets

  /** True when reading now would not wait (data, end of stream or an error is there). */
  #kernelReadyNow(): boolean {
    const s = this.#socket;
    return this.kernel.length > 0 || this.#coreEnded || this.#peerFin || (s !== null && (s.hasBufferedInput || s.closed));
  }

  #startPull(ms: number): void {
    const socket = this.#socket;
    if (this.#pull !== null || socket === null || this.#coreEnded) return;
    socket.readTimeout = ms === Infinity ? 0 : Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(ms)));
    this.#pull = socket.read(65536).then(
      (chunk) => {
        if (chunk === null) this.#coreEnded = true;
        else this.kernel.push(chunk);
      },
      (err: unknown) => {
        if (isReadTimeout(err)) return;
        this.#coreEnded = true;
        this.#coreError ??= err;
      },
    ).finally(() => {
      this.#pull = null;
    });
  }

  /** @internal Waits until the kernel queue has bytes or the stream ended; false at the deadline. */
  async waitKernel(deadline: number): Promise<boolean> {
    await this.ready();
    for (;;) {
      if (this.kernel.length > 0 || this.#coreEnded) return true;
      if (this.#socket === null) return true;
      const remaining = deadline - now();
      if (remaining <= 0) return false;
      this.#startPull(remaining);
      const pull = this.#pull;
      if (pull === null) return true;
      await pull;
    }
  }

  /**
   * @internal Refills PHP's buffer with one chunk (or one datagram). `wait`: block up to the
   * stream timeout (when the stream is in blocking mode), else take only what is there now.
   * "error": the connection failed (a TLS failure is reported as `fn`'s warning, as PHP does).
   */
  async fill(wait: boolean, fn?: string): Promise<FillResult> {
    await this.ready();
    if (this.unconnected || this.kind === "server") return "eof";
    const block = wait && this.blocking && !this.readShut;
    if (this.kind === "dgram") {
      if (block) this.timedOut = false;
      const d = await this.datagramAt(block && this.timeoutMs !== Infinity ? now() + this.timeoutMs : block ? Infinity : now(), false);
      if (d === "timeout") {
        if (!block) return "empty";
        this.timedOut = true;
        return "timeout";
      }
      if (d === "error") {
        this.eof = true;
        return "error";
      }
      this.buffer.push(d.data.subarray(0, CHUNK_SIZE));
      return "data";
    }
    if (this.kernel.length === 0 && !this.#coreEnded) {
      if (block) {
        this.timedOut = false;
        const ok = await this.waitKernel(this.timeoutMs === Infinity ? Infinity : now() + this.timeoutMs);
        if (!ok) {
          this.timedOut = true;
          return "timeout";
        }
      } else if (this.#kernelReadyNow()) {
        await this.waitKernel(now() + 1000);
      }
    }
    if (this.kernel.length > 0) {
      this.buffer.push(this.kernel.take(CHUNK_SIZE));
      return "data";
    }
    if (this.#coreEnded || this.readShut || this.#socket === null) {
      this.eof = true;
      const err = this.#coreError;
      if (this.#socket === null) return "eof";
      if (err === null || !this.#coreEnded) return "eof";
      if (err instanceof SocketError && err.code === "ERR_SOCKET_CLOSED") return "eof";
      if (err instanceof SocketError && (err.phase === "tls" || err.code.startsWith("ERR_TLS"))) {
        if (!this.#errorReported && fn !== undefined) warn(fn, handshakeWarning(err));
        this.#errorReported = true;
        return "error";
      }
      return osError(err) !== null ? "error" : "eof";
    }
    return "empty";
  }

  #errorReported = false;

  /** @internal The connection was dropped after a failed handshake or check. */
  dropped = false;

  /** @internal A stream_socket_client(…, flags 0) socket: never connected. */
  unconnected = false;

  /** @internal Drops the connection but keeps the resource valid (a failed handshake or check). */
  dropConnection(): void {
    this.dropped = true;
    this.#socket?.destroy();
    this.#coreEnded = true;
    this.eof = true;
  }

  /** @internal Bytes unread anywhere below the caller (PHP buffer, kernel queue, sockurl). */
  get plaintextPending(): number {
    const s = this.#socket;
    return this.buffer.length + this.kernel.length + (s !== null && s.hasBufferedInput ? 1 : 0);
  }

  /** @internal feof(): nothing buffered and the peer has ended (or the stream failed). */
  get atEof(): boolean {
    if (this.buffer.length > 0) return false;
    if (this.kind === "dgram") return this.eof;
    if (this.kind === "server") return false;
    if (this.eof) return true;
    if (this.kernel.length > 0) return false;
    const s = this.#socket;
    if (s !== null && s.hasBufferedInput) return false;
    return this.#coreEnded || this.#peerFin || this.readShut || (s !== null && s.closed);
  }

  // ------------------------------------------------------------ datagrams and connections

  /** @internal The next datagram (see DatagramQueue.next). */
  async datagramAt(deadline: number, peek: boolean): Promise<Datagram | "timeout" | "error"> {
    await this.ready();
    return this.#datagrams === null ? "timeout" : this.#datagrams.next(deadline, peek);
  }

  /** @internal The next connection (see AcceptQueue.next). */
  connectionAt(deadline: number): Promise<Socket | null | "failed"> {
    if (this.#accepts === null || this.#closed) return Promise.resolve(null);
    return this.#accepts.next(deadline, this.transport !== "tcp" && this.transport !== "unix");
  }

  /** @internal A tls:// listener opened without a certificate (PHP fails each accept). */
  noCertificate = false;

  // ------------------------------------------------------------ stream_select

  /** @internal Readable now, as poll() would say (buffered data counts). */
  get readReady(): boolean {
    if (this.#closed) return false;
    if (this.#connecting !== null) return false;
    switch (this.kind) {
      case "socket":
        return this.buffer.length > 0 || this.#kernelReadyNow() || this.#coreError !== null;
      case "dgram":
        return this.buffer.length > 0 || (this.#datagrams?.ready ?? false);
      case "server":
        return this.#accepts?.ready ?? false;
    }
  }

  /** @internal Writable now. */
  get writeReady(): boolean {
    if (this.#closed || this.#connecting !== null) return false;
    if (this.kind === "dgram") return this.#datagrams !== null;
    if (this.kind === "server") return false;
    const s = this.#socket;
    if (s === null) return this.#coreError !== null;
    if (s.closed) return true;
    return !(s.stream as Writable).writableNeedDrain;
  }

  /**
   * @internal Starts looking for readiness for at most `ms`; resolves when something may have
   * changed. Reads started here deliver into the queues, so nothing is lost when select moves on.
   */
  probe(ms: number, read: boolean, write: boolean): Promise<unknown> {
    const waits: Promise<unknown>[] = [];
    if (this.#connecting !== null) waits.push(this.#connecting);
    else if (read) {
      if (this.kind === "socket") {
        this.#startPull(ms);
        if (this.#pull) waits.push(this.#pull);
      } else {
        const started = this.kind === "dgram" ? this.#datagrams?.start(ms) : this.#accepts?.start(ms);
        if (started) waits.push(started);
      }
    }
    if (write && this.kind === "socket" && this.#socket !== null && this.#connecting === null) {
      const stream = this.#socket.stream;
      waits.push(new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stream.off("drain", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        stream.once("drain", done);
      }));
    }
    return Promise.race(waits);
  }

  /**
   * @internal Takes what sockurl already queued (a connection, a datagram) into this stream's
   * own queue, waiting at most a millisecond, so that readiness can be judged without waiting.
   */
  async pollNow(): Promise<void> {
    if (this.#closed || this.#connecting !== null) return;
    if (this.kind === "server" && this.#accepts !== null && !this.#accepts.ready) await this.#accepts.start(1);
    else if (this.kind === "dgram" && this.#datagrams !== null && !this.#datagrams.ready) await this.#datagrams.start(1);
  }

  /** @internal Stops background accepts started by stream_select. */
  stopProbing(): void {
    this.#accepts?.stop();
  }

  // ------------------------------------------------------------ closing

  /** @internal */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const hooks = this.onClose.splice(0);
    try {
      await this.ready();
      if (this.#socket) await this.#socket.close();
      if (this.#datagrams) await this.#datagrams.socket.close();
      if (this.#accepts) await this.#accepts.close();
    } finally {
      for (const fn of hooks) fn();
    }
  }
}

/**
 * @internal The stream argument of a PHP function: a live PhpStream, else PHP's TypeError.
 */
export function streamArg(fn: string, stream: unknown): PhpStream {
  if (!(stream instanceof PhpStream)) {
    throw new TypeError(`${fn}(): Argument #1 ($stream) must be of type resource, ${stream === null ? "null" : typeof stream} given`);
  }
  stream.assertOpen(fn);
  return stream;
}
