/**
 * Socket: a byte stream over TCP, unix or TLS, with one read buffer shared by every
 * kind of read, promise-based writes with backpressure, and a lifecycle that never
 * leaves an error unhandled.
 */
import type { Duplex } from "node:stream";
import { hostOfUrl, type Transport } from "./address.js";
import { SocketError, socketError, toSocketError, type Phase } from "./errors.js";
import { DEFAULT_MAX_LINE, Reader } from "./reader.js";
import { validateTimeout } from "./options.js";
import { clientHandshake, prepareClient } from "./tls-client.js";
import type { TlsSession } from "./tls-handshake.js";
import { prepareServer, serverHandshake } from "./tls-server.js";
import { tlsInfoOf, type TlsInfo } from "./tls-info.js";
import { validateTlsOptions, type TlsOptions } from "./tls-options.js";

/** One end of a connection. For unix sockets `host` is the path and `port` is 0. */
export interface Endpoint {
  host: string;
  port: number;
  family: "IPv4" | "IPv6" | "unix";
}

/** Options of `readLine` and `readUntil`. */
export interface ReadLineOptions {
  /** Longest record accepted, in bytes, without its terminator (default 64 KiB). */
  maxLength?: number;
}

/** How a Socket is made from a connected Node stream (internal). */
export interface SocketInit {
  transport: Transport;
  /** The URL, or a function that works it out when first asked (accepted sockets). */
  url: string | (() => string);
  readTimeout?: number | undefined;
  /** Bytes read ahead before the socket is paused (default 64 KiB). */
  highWaterMark?: number | undefined;
  /** The finished handshake, for sockets that start out encrypted. */
  tls?: TlsSession | undefined;
  /** The host the client dialled: the default peer name for startTls(). */
  host?: string | undefined;
}

/** Options of `startTls()`: TLS options, plus which side this end plays. */
export interface StartTlsOptions extends TlsOptions {
  /** Play the server side of the handshake (needs `cert` and `key`). Default: client. */
  server?: boolean;
}

/** What a read takes from the Reader: `take(n)`, `takeExactly(n)`, `takeLine(n)` or `takeUntil(needle, n)`. */
const SOME = 0, EXACTLY = 1, LINE = 2, UNTIL = 3;
type ReadKind = typeof SOME | typeof EXACTLY | typeof LINE | typeof UNTIL;

/** A read that waits for bytes: what it takes, plain data rather than a closure per call. */
interface PendingRead {
  kind: ReadKind;
  n: number;
  needle: Buffer | null;
  resolve: (value: never) => void;
  reject: (err: SocketError) => void;
  timer: NodeJS.Timeout | undefined;
}

interface PendingWrite {
  resolve: () => void;
  reject: (err: SocketError) => void;
}

type NetLike = Duplex & {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  remoteFamily?: string | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
  address?: () => unknown;
};

/** On a stream a Socket listens to: that Socket. */
const OWNER = Symbol("sockurl.Socket");
type Owned = Duplex & { [OWNER]?: Socket };

const RESOLVED = Promise.resolve();
const EMPTY = Buffer.alloc(0);
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** How long close() waits for queued bytes to reach the kernel before it drops them. */
const CLOSE_FLUSH_GRACE = 10_000;

const ignore = (): void => {};

/**
 * `promise`, marked as handled: awaited, it still rejects; left alone, its rejection is not an
 * unhandled rejection (the connection's failure reaches the caller's next read or write).
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(ignore);
  return promise;
}

/**
 * A connected byte stream. Reads of every kind share one buffer, so `readLine`,
 * `readExactly`, `readUntil`, `read` and `for await` can be mixed without losing a byte.
 *
 * @example
 * ```ts
 * import { connect } from "sockurl";
 * const socket = await connect("tcp://127.0.0.1:25");
 * const greeting = await socket.readLine();
 * await socket.write("QUIT\r\n");
 * await socket.close();
 * ```
 */
export class Socket implements AsyncIterable<Buffer> {
  /** The transport this socket was made with (`tcp`, `unix`, `tls`, …). */
  readonly transport: Transport;
  #url: string | (() => string);

  #stream: NetLike;
  #reader: Reader;
  #reads: PendingRead[] = [];
  #writes: PendingWrite[] = [];
  #flushes: PendingWrite[] = [];
  #highWaterMark: number;
  #readTimeout: number;
  #paused = false;
  /** The error that ended the stream, raw; wrapped per phase when reported. */
  #failure: unknown = null;
  /** Set by close()/destroy(): reads and writes are refused from then on. */
  #closedLocally: string | null = null;
  #writeEnded = false;
  #streamClosed = false;
  #detached = false;
  /** Who waits for the stream to close (close(), closeWrite()); most sockets have one at most. */
  #onClosed: Array<() => void> | null = null;
  #tls: TlsSession | null;
  #upgrading = false;
  readonly #host: string | undefined;

  /** @internal Use `connect()` or `Server.accept()`. */
  constructor(stream: Duplex, init: SocketInit) {
    this.transport = init.transport;
    this.#url = init.url;
    this.#stream = stream as NetLike;
    this.#reader = new Reader(this);
    this.#highWaterMark = init.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#readTimeout = init.readTimeout ?? 0;
    this.#tls = init.tls ?? null;
    this.#host = init.host;
    this.#attach(stream);
  }

  // The stream's listeners are shared by every Socket (no closures per connection): Node calls
  // them with the stream as `this`, which points back to its Socket.
  static #dataListener(this: Owned, chunk: Buffer): void {
    this[OWNER]!.#onData(chunk);
  }

  static #endListener(this: Owned): void {
    this[OWNER]!.#onEnd();
  }

  static #errorListener(this: Owned, err: unknown): void {
    this[OWNER]!.#onError(err);
  }

  static #drainListener(this: Owned): void {
    this[OWNER]!.#onDrain();
  }

  static #closeListener(this: Owned): void {
    this[OWNER]!.#onClose();
  }

  #attach(stream: Duplex): void {
    this.#attaching = true;
    (stream as Owned)[OWNER] = this;
    stream.on("data", Socket.#dataListener);
    stream.on("end", Socket.#endListener);
    stream.on("error", Socket.#errorListener);
    stream.on("close", Socket.#closeListener);
    if (this.#writes.length > 0) stream.once("drain", Socket.#drainListener);
    this.#attaching = false;
  }

  #detach(stream: Duplex): void {
    stream.off("data", Socket.#dataListener);
    stream.off("end", Socket.#endListener);
    stream.off("error", Socket.#errorListener);
    stream.off("drain", Socket.#drainListener);
    stream.off("close", Socket.#closeListener);
  }

  #onData(chunk: Buffer): void {
    this.#reader.push(chunk);
    if (this.#reads.length > 0) this.#settleReads();
    else if (!this.#paused && this.#reader.length >= this.#highWaterMark) {
      this.#paused = true;
      this.#stream.pause();
    }
  }

  #onEnd(): void {
    this.#reader.end();
    this.#settleReads();
  }

  #onError(err: unknown): void {
    if (this.#failure === null) this.#failure = this.#tls !== null ? tlsAlertError(err, this.url) : err;
    this.#settleReads();
    this.#rejectWrites();
  }

  #onDrain(): void {
    const waiting = this.#writes;
    this.#writes = [];
    for (const w of waiting) w.resolve();
  }

  #onClose(): void {
    this.#streamClosed = true;
    // A stream that closes without 'end' or an error was cut off: report end of stream.
    if (this.#failure === null) this.#reader.end();
    this.#settleReads();
    this.#rejectWrites();
    const waiting = this.#onClosed;
    this.#onClosed = null;
    if (waiting !== null) for (const fn of waiting) fn();
  }

  // ---------------------------------------------------------------- identity

  /** The canonical URL of the peer: the target for clients, the client's address for accepted sockets. */
  get url(): string {
    if (typeof this.#url === "function") this.#url = this.#url();
    return this.#url;
  }

  /** The peer's address. */
  get remote(): Endpoint {
    return endpointOf(this.#stream, "remote", this.url);
  }

  /** This end's address. */
  get local(): Endpoint {
    return endpointOf(this.#stream, "local", this.url);
  }

  /** True when the bytes travel over TLS. */
  get encrypted(): boolean {
    return this.#tls !== null;
  }

  /** TLS details (protocol, cipher, ALPN, peer certificate and chain, session), or `null` on a plaintext socket. */
  get tls(): TlsInfo | null {
    const t = this.#tls;
    return t === null ? null : tlsInfoOf(t.stream, t.verdict, t.latestSession.current, t.negotiated);
  }

  /**
   * Upgrades this plaintext socket to TLS in place (STARTTLS): the same Socket continues
   * encrypted and `stream` becomes the TLS stream. Client side by default; `{ server: true,
   * cert, key }` for the server side. Refuses with ERR_STARTTLS_PENDING_DATA when any
   * plaintext byte is buffered unread (the command-injection class, CVE-2011-0411), and
   * ERR_TLS_ALREADY_ACTIVE on an encrypted socket. A failed handshake destroys the socket:
   * there is never a plaintext fallback.
   *
   * @example
   * ```ts
   * await socket.write("STARTTLS\r\n");
   * if ((await socket.readLine())?.startsWith("220")) await socket.startTls({ ca });
   * ```
   */
  async startTls(options: StartTlsOptions = {}): Promise<void> {
    const { server = false, ...rest } = options ?? {};
    const tlsOptions = validateTlsOptions(rest);
    if (this.#tls !== null || this.#upgrading) {
      throw socketError("ERR_TLS_ALREADY_ACTIVE", "starttls", this.url, "TLS is already active on this socket");
    }
    const refused = this.#refusal("read") ?? (this.#streamClosed ? this.#closedError("read", "the connection closed") : null);
    if (refused) throw refused;
    if (this.#reader.ended) {
      // The peer's close was already consumed: a handshake could only wait for its deadline.
      throw socketError("ERR_UNEXPECTED_EOF", "starttls", this.url, "the peer closed the connection before the TLS handshake");
    }
    if (this.#reads.length > 0) {
      throw socketError("ERR_INVALID_OPTION", "starttls", this.url, "startTls() while a read is pending; await the read first");
    }
    // A server may already hold the client's ClientHello (MySQL clients send it right behind
    // their SSL request): TLS records are the handshake itself, not injected plaintext.
    const handshakeAhead = server && this.#reader.length > 0 && this.#startsWithTlsHandshake();
    if (this.hasBufferedInput && !handshakeAhead) {
      throw socketError("ERR_STARTTLS_PENDING_DATA", "starttls", this.url,
        `${this.#reader.length + this.#stream.readableLength} plaintext bytes arrived before the TLS handshake and would be treated as encrypted data (CVE-2011-0411); refusing to upgrade`);
    }
    const url = this.url;
    const target = { host: tlsOptions.peerName ?? this.#host ?? hostOfUrl(url), transport: "tls", url };
    // Bad options fail here, with the plaintext socket untouched.
    const prepared = server ? prepareServer(tlsOptions, this.transport, url) : prepareClient(tlsOptions, target);
    const plain = this.#stream;
    this.#upgrading = true;
    this.#detach(plain);
    plain.pause();
    if (handshakeAhead) plain.unshift(this.#reader.takeExactly(this.#reader.length)!);
    // Errors on the plain stream during the handshake surface through the TLS stream.
    const swallow = () => {};
    plain.on("error", swallow);
    const timeout = tlsOptions.handshakeTimeout ?? 60_000;
    try {
      const handshake = server
        ? serverHandshake(plain, tlsOptions, this.transport, url, timeout, prepared as ReturnType<typeof prepareServer>)
        : clientHandshake(plain, tlsOptions, target, prepared as ReturnType<typeof prepareClient>);
      let timer: NodeJS.Timeout | undefined;
      const session = await (server ? handshake.promise : Promise.race([
        handshake.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            handshake.cancel();
            reject(socketError("ETIMEDOUT", "tls", url, `the TLS handshake did not finish within ${timeout} ms`));
          }, timeout);
        }),
      ]).finally(() => clearTimeout(timer)));
      this.#tls = session;
      this.#stream = session.stream as unknown as NetLike;
      this.#attach(session.stream);
      this.#paused = false;
      if (this.#reader.length >= this.#highWaterMark) {
        this.#paused = true;
        session.stream.pause();
      }
    } catch (err) {
      // Never fall back to plaintext: the connection is gone.
      this.#failure = err;
      plain.destroy();
      this.#onClose();
      throw err instanceof SocketError ? err : toSocketError(err, "tls", url);
    } finally {
      this.#upgrading = false;
    }
  }

  /**
   * The live Node `Duplex` (the TLS stream after an upgrade), for libraries that take one
   * (pg, nodemailer, mysql2). Reading it is harmless; once another reader attaches to it (a
   * 'data' or 'readable' listener, or pipe()), the connection is handed over: unread bytes go
   * back into the stream, and this Socket's read methods fail with ERR_SOCKET_CLOSED.
   *
   * @example
   * ```ts
   * const client = new pg.Client({ stream: () => socket.stream });
   * ```
   */
  get stream(): Duplex {
    const stream = this.#stream;
    if (!this.#detached && this.#handoverWatched !== stream) {
      this.#handoverWatched = stream;
      const onListener = (event: string | symbol) => {
        if ((event !== "data" && event !== "readable") || this.#stream !== stream || this.#attaching) return;
        stream.off("newListener", onListener);
        this.#handOver(stream);
      };
      stream.on("newListener", onListener);
    }
    return stream;
  }

  /** The stream whose new readers are watched (the plain one, then the TLS one after an upgrade). */
  #handoverWatched: Duplex | null = null;
  #attaching = false;

  #handOver(stream: Duplex): void {
    if (this.#detached) return;
    this.#detached = true;
    stream.off("data", Socket.#dataListener);
    stream.off("end", Socket.#endListener);
    if (this.#reader.length > 0) stream.unshift(this.#reader.takeExactly(this.#reader.length)!);
    // pause() would keep the taker's 'data' listener silent; resume once it is attached.
    stream.pause();
    this.#paused = true;
    process.nextTick(() => stream.resume());
    this.#failReads(this.#closedError("read", "the socket was handed over through .stream"));
  }

  /** Milliseconds a read may wait for data before it rejects with ETIMEDOUT; 0 waits forever. */
  get readTimeout(): number {
    return this.#readTimeout;
  }

  set readTimeout(ms: number) {
    this.#readTimeout = validateTimeout(ms, "readTimeout");
  }

  // ---------------------------------------------------------------- reads

  /**
   * The next bytes (at most `max`), or `null` at end of stream.
   *
   * @example
   * ```ts
   * const chunk = await socket.read(4096);
   * ```
   */
  read(max?: number): Promise<Buffer | null> {
    if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
      return Promise.reject(this.#optionError("read(max): max must be a positive integer"));
    }
    return this.#read(SOME, max ?? Infinity, null);
  }

  /**
   * Exactly `n` bytes; ERR_UNEXPECTED_EOF when the stream ends first (the bytes stay buffered).
   *
   * @example
   * ```ts
   * const header = await socket.readExactly(4);
   * const body = await socket.readExactly(header.readUInt32BE(0));
   * ```
   */
  readExactly(n: number): Promise<Buffer> {
    if (!(Number.isInteger(n) && n >= 0)) {
      return Promise.reject(this.#optionError("readExactly(n): n must be a non-negative integer"));
    }
    return this.#read(EXACTLY, n, null);
  }

  /**
   * The next line without its LF or CRLF (UTF-8), the unterminated tail at end of stream,
   * then `null`. Fails with ERR_LINE_TOO_LONG past `maxLength` (default 64 KiB).
   *
   * @example
   * ```ts
   * for (let line; (line = await socket.readLine()) !== null; ) console.log(line);
   * ```
   */
  readLine(options?: ReadLineOptions): Promise<string | null> {
    const max = this.#maxLength(options);
    if (max instanceof SocketError) return Promise.reject(max);
    return this.#read(LINE, max, null);
  }

  /**
   * Bytes up to the delimiter (which is consumed and not returned); `null` at a clean end
   * of stream, ERR_UNEXPECTED_EOF when it ends inside a record.
   *
   * @example
   * ```ts
   * const record = await socket.readUntil("\0");
   * ```
   */
  readUntil(delimiter: string | Uint8Array, options?: ReadLineOptions): Promise<Buffer | null> {
    const max = this.#maxLength(options);
    if (max instanceof SocketError) return Promise.reject(max);
    const needle = typeof delimiter === "string" || !Buffer.isBuffer(delimiter) ? Buffer.from(delimiter) : delimiter;
    if (needle.length === 0) return Promise.reject(this.#optionError("readUntil: the delimiter must not be empty"));
    return this.#read(UNTIL, max, needle);
  }

  /**
   * Chunks as they arrive, until end of stream.
   *
   * @example
   * ```ts
   * for await (const chunk of socket) process.stdout.write(chunk);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    // A plain iterator: an async generator would add a promise and a frame per chunk.
    return {
      next: () => this.read().then((chunk) => (chunk === null ? DONE : { value: chunk, done: false })),
      return: () => Promise.resolve(DONE),
    };
  }

  /** True when the buffered bytes begin with a TLS handshake record (content type 22, version 3.x). */
  #startsWithTlsHandshake(): boolean {
    const head = this.#reader.peek(3);
    return head.length === 3 && head[0] === 0x16 && head[1] === 0x03 && head[2]! <= 0x04;
  }

  /** True when no unread byte is buffered by sockurl or by Node (used before STARTTLS). */
  get hasBufferedInput(): boolean {
    return this.#reader.length > 0 || this.#stream.readableLength > 0;
  }

  /** One attempt at a read from the buffer: a value, or undefined while more bytes are needed. */
  #attempt(kind: ReadKind, n: number, needle: Buffer | null): unknown {
    const reader = this.#reader;
    switch (kind) {
      case SOME: return reader.take(n);
      case EXACTLY: return reader.takeExactly(n);
      case LINE: return reader.takeLine(n);
      case UNTIL: return reader.takeUntil(needle!, n);
    }
  }

  #read<T>(kind: ReadKind, n: number, needle: Buffer | null): Promise<T> {
    if (this.#reads.length === 0) {
      const refused = this.#refusal("read");
      if (refused) return Promise.reject(refused);
      let value: T | undefined;
      try {
        value = this.#attempt(kind, n, needle) as T | undefined;
      } catch (err) {
        return Promise.reject(err);
      }
      if (value !== undefined) {
        if (this.#paused && this.#reader.length < this.#highWaterMark) this.#resume();
        return Promise.resolve(value);
      }
      if (this.#failure !== null) return Promise.reject(toSocketError(this.#failure, "read", this.url));
    }
    return new Promise<T>((resolve, reject) => {
      const op: PendingRead = { kind, n, needle, resolve: resolve as (v: never) => void, reject, timer: undefined };
      if (this.#readTimeout > 0) {
        const ms = this.#readTimeout;
        op.timer = setTimeout(() => {
          const i = this.#reads.indexOf(op);
          if (i !== -1) this.#reads.splice(i, 1);
          reject(socketError("ETIMEDOUT", "read", this.url, `no data within readTimeout ${ms} ms`));
        }, ms);
      }
      this.#reads.push(op);
      if (this.#paused) this.#resume();
    });
  }

  /** Completes waiting reads in order, as far as the buffer allows. */
  #settleReads(): void {
    while (this.#reads.length > 0) {
      const op = this.#reads[0]!;
      let value: unknown;
      try {
        value = this.#attempt(op.kind, op.n, op.needle);
      } catch (err) {
        this.#reads.shift();
        clearTimeout(op.timer);
        op.reject(err as SocketError);
        continue;
      }
      if (value === undefined) {
        if (this.#failure === null && !this.#streamClosed) break;
        this.#reads.shift();
        clearTimeout(op.timer);
        op.reject(this.#failure !== null
          ? toSocketError(this.#failure, "read", this.url)
          : this.#closedError("read", "the connection closed"));
        continue;
      }
      this.#reads.shift();
      clearTimeout(op.timer);
      op.resolve(value as never);
    }
    if (this.#reads.length > 0 || this.#reader.length < this.#highWaterMark) {
      if (this.#paused) this.#resume();
    } else if (!this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
  }

  #resume(): void {
    if (this.#detached) return;
    this.#paused = false;
    this.#stream.resume();
  }

  #failReads(err: SocketError): void {
    for (const op of this.#reads.splice(0)) {
      clearTimeout(op.timer);
      op.reject(err);
    }
  }

  // ---------------------------------------------------------------- writes

  /**
   * Sends bytes (strings as UTF-8). Resolves at once while Node's write buffer is below its
   * high-water mark, otherwise when it drains: awaiting each write gives backpressure.
   *
   * A write need not be awaited where something else paces the sender, such as the reply a
   * request/response exchange awaits next: a write that fails because of the connection (a
   * reset, a close) rejects if awaited, and otherwise is never an unhandled rejection, since the
   * next read or write reports the same failure. (Data of the wrong type, or a write after
   * `closeWrite()`, rejects visibly either way: a bug in the caller should not pass unseen.)
   *
   * @example
   * ```ts
   * await socket.write("EHLO client.example\r\n");
   * void socket.write("PING\r\n"); // paced by the reply
   * const reply = await socket.readLine();
   * ```
   */
  write(data: string | Uint8Array): Promise<void> {
    const refused = this.#refusal("write");
    if (refused) return handled(Promise.reject(refused));
    // The caller's own mistakes reject visibly, awaited or not.
    if (this.#writeEnded) {
      return Promise.reject(this.#closedError("write", "the write side was closed with closeWrite(); close() ends the connection"));
    }
    if (typeof data !== "string" && !(data instanceof Uint8Array)) {
      return Promise.reject(this.#optionError("write(data): data must be a string or a Uint8Array", "write"));
    }
    if (this.#stream.write(data)) return RESOLVED;
    // Listen for 'drain' only while someone waits for it: most sockets never do.
    if (this.#writes.length === 0) this.#stream.once("drain", Socket.#drainListener);
    return handled(new Promise((resolve, reject) => this.#writes.push({ resolve, reject })));
  }

  /**
   * Bytes accepted by `write()` that Node has not yet handed to the kernel. A caller that
   * reuses one buffer for its writes may refill it once this is 0 (see `flush()`).
   *
   * @example
   * ```ts
   * socket.write(chunk);
   * if (socket.bufferedAmount > 0) await socket.flush();
   * ```
   */
  get bufferedAmount(): number {
    return this.#stream.writableLength;
  }

  /**
   * Resolves once every byte written so far has been handed to the kernel (`bufferedAmount`
   * is 0); rejects when the connection fails or closes first.
   *
   * @example
   * ```ts
   * await socket.write(header);
   * await socket.flush();
   * ```
   */
  flush(): Promise<void> {
    const refused = this.#refusal("write");
    if (refused) return Promise.reject(refused);
    const stream = this.#stream;
    if (stream.writableLength === 0) return RESOLVED;
    return new Promise((resolve, reject) => {
      const waiter: PendingWrite = { resolve, reject };
      this.#flushes.push(waiter);
      const done = (err?: Error | null): void => {
        const i = this.#flushes.indexOf(waiter);
        if (i === -1) return; // already settled by a failure or a close
        this.#flushes.splice(i, 1);
        if (err) reject(toSocketError(this.#failure ?? err, "write", this.url));
        else resolve();
      };
      // Writes complete in order: an empty one completes once every byte before it has. (Only
      // here, not on every write: a callback per write costs bulk and line traffic about 3 %.)
      if (stream.writableEnded) stream.once("finish", () => done());
      else stream.write(EMPTY, done);
    });
  }

  #rejectWrites(): void {
    if (this.#writes.length === 0 && this.#flushes.length === 0) return;
    const err = this.#failure !== null
      ? toSocketError(this.#failure, "write", this.url)
      : this.#closedError("write", "the connection closed");
    for (const w of this.#writes.splice(0)) w.reject(err);
    for (const f of this.#flushes.splice(0)) f.reject(err);
  }

  /**
   * Half-closes: sends end of stream (TCP FIN) once queued bytes are written; reads go on.
   *
   * @example
   * ```ts
   * await socket.write(request);
   * await socket.closeWrite();
   * const reply = await socket.readAll();
   * ```
   */
  closeWrite(): Promise<void> {
    const refused = this.#refusal("write");
    if (refused) return Promise.reject(refused);
    if (this.#writeEnded) return RESOLVED;
    this.#writeEnded = true;
    return new Promise((resolve) => {
      this.#stream.end(() => resolve());
      // end()'s callback does not run when the stream is destroyed first.
      this.#whenClosed(resolve);
    });
  }

  /** Reads everything until end of stream. */
  async readAll(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts);
  }

  // ---------------------------------------------------------------- lifecycle

  /** True once `close()` or `destroy()` was called or the connection ended. */
  get closed(): boolean {
    return this.#closedLocally !== null || this.#streamClosed || this.#failure !== null;
  }

  /**
   * Graceful close: queued bytes are flushed (for at most 10 s), end of stream is sent, then
   * the descriptor is released. Pending reads reject with ERR_SOCKET_CLOSED. Calling it twice is harmless.
   *
   * @example
   * ```ts
   * await socket.close();
   * ```
   */
  close(): Promise<void> {
    if (this.#closedLocally === null) {
      this.#closedLocally = "the socket was closed";
      if (this.#reads.length > 0) this.#failReads(this.#closedError("read", this.#closedLocally));
      const stream = this.#stream;
      if (!this.#streamClosed) {
        const release = () => stream.destroy();
        // Once the peer has ended and every byte we wrote is in the kernel, closing the
        // descriptor sends our FIN after them, as shutdown() would, without the extra system
        // call and stream round. (TLS goes through end(), which sends close_notify.)
        const nothingLeft = this.#tls === null && this.#reader.ended && stream.writableLength === 0;
        if (stream.writableFinished || (nothingLeft && !stream.writableEnded)) release();
        else if (stream.writableEnded) stream.once("finish", release);
        else stream.end(release);
        if (!stream.destroyed && stream.writableLength > 0) {
          // A peer that never reads would hold the flush forever; after the grace period, let go.
          const grace = setTimeout(release, CLOSE_FLUSH_GRACE);
          this.#whenClosed(() => clearTimeout(grace));
        }
      }
    }
    return this.#streamClosed ? RESOLVED : new Promise((resolve) => this.#whenClosed(resolve));
  }

  /**
   * Abrupt close: the descriptor is released at once and queued bytes are dropped.
   * Pending reads and writes reject with `err`, or ERR_SOCKET_CLOSED.
   *
   * @example
   * ```ts
   * socket.destroy();
   * ```
   */
  destroy(err?: Error): void {
    if (this.#closedLocally === null) this.#closedLocally = "the socket was destroyed";
    if (this.#reads.length > 0) {
      this.#failReads(err === undefined ? this.#closedError("read", this.#closedLocally) : toSocketError(err, "read", this.url));
    }
    if (this.#writes.length > 0 || this.#flushes.length > 0) {
      const reason = err === undefined ? this.#closedError("write", this.#closedLocally) : toSocketError(err, "write", this.url);
      for (const w of this.#writes.splice(0)) w.reject(reason);
      for (const f of this.#flushes.splice(0)) f.reject(reason);
    }
    this.#stream.destroy();
  }

  /** @internal Runs `fn` once the underlying stream has closed. */
  #whenClosed(fn: () => void): void {
    if (this.#streamClosed) fn();
    else (this.#onClosed ??= []).push(fn);
  }

  #refusal(phase: Phase): SocketError | null {
    if (this.#detached) return this.#closedError(phase, "the socket was handed over through .stream");
    if (this.#closedLocally !== null) return this.#closedError(phase, this.#closedLocally);
    if (phase === "write" && this.#failure !== null) return toSocketError(this.#failure, phase, this.url);
    if (phase === "write" && this.#streamClosed) return this.#closedError(phase, "the connection closed");
    return null;
  }

  #closedError(phase: Phase, why: string): SocketError {
    return socketError("ERR_SOCKET_CLOSED", phase, this.url, why);
  }

  #optionError(text: string, phase: Phase = "read"): SocketError {
    return socketError("ERR_INVALID_OPTION", phase, this.url, text);
  }

  #maxLength(options: ReadLineOptions | undefined): number | SocketError {
    const max = options?.maxLength ?? DEFAULT_MAX_LINE;
    if (!(Number.isInteger(max) && max > 0)) {
      return this.#optionError("maxLength must be a positive integer");
    }
    return max;
  }
}

/**
 * In TLS 1.3 a server checks the client's certificate after the client's handshake is done,
 * so its refusal arrives as an alert on a later read: report it as the handshake failure it is.
 */
function tlsAlertError(err: unknown, url: string): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string" || !code.startsWith("ERR_SSL_")) return err;
  const detail = code.replace(/^ERR_SSL_/, "").toLowerCase().replace(/_/g, " ");
  return socketError("ERR_TLS_HANDSHAKE", "tls", url, `the peer ended the TLS session: ${detail}`, { reason: code, cause: err });
}

function endpointOf(stream: NetLike, side: "remote" | "local", url: string): Endpoint {
  const host = side === "remote" ? stream.remoteAddress : stream.localAddress;
  if (host === undefined) {
    // unix sockets have no IP; name the path the URL carries.
    const path = url.replace(/^[a-z]+:\/\//, "");
    return { host: side === "remote" ? path : "", port: 0, family: "unix" };
  }
  const port = (side === "remote" ? stream.remotePort : stream.localPort) ?? 0;
  return { host, port, family: host.includes(":") ? "IPv6" : "IPv4" };
}
