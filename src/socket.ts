/**
 * Socket: a byte stream over TCP, unix or TLS, with one read buffer shared by every
 * kind of read, promise-based writes with backpressure, a deadline on every call that
 * waits, and a lifecycle that never leaves an error unhandled.
 */
import type { Duplex } from "node:stream";
import { hostOfUrl, type Transport } from "./address.js";
import { checkCallOptions, callDeadline, Deadline, type CallOptions } from "./deadline.js";
import { SocketError, socketError, toSocketError, type Phase } from "./errors.js";
import { DONE } from "./iterate.js";
import { ALL, attempt, EXACTLY, INTO, LINE, ReadQueue, SOME, UNTIL, type ReadKind } from "./read-queue.js";
import { DEFAULT_MAX_LINE, Reader } from "./reader.js";
import { validateTimeout } from "./options.js";
import type { TlsSession } from "./tls-handshake.js";
import { tlsInfoOf, type TlsInfo } from "./tls-info.js";
import { validateTlsOptions, type TlsOptions } from "./tls-options.js";
import { Waiters } from "./waiters.js";
import { prepareUpgrade } from "./tls-upgrade.js";

/** One end of a connection. For unix sockets `host` is the path and `port` is 0. */
export interface Endpoint {
  host: string;
  port: number;
  family: "IPv4" | "IPv6" | "unix";
}

/** Options of `readLine` and `readUntil`: a length limit, and the call's deadline. */
export interface ReadLineOptions extends CallOptions {
  /** Longest record accepted, in bytes, without its terminator (default 8 KiB, `DEFAULT_MAX_LINE`). */
  maxLength?: number;
}

/** How a Socket is made from a connected Node stream (internal). */
export interface SocketInit {
  transport: Transport;
  /** The URL, or a function that works it out when first asked. */
  url: string | (() => string);
  readTimeout?: number | undefined;
  writeTimeout?: number | undefined;
  /** Bytes read ahead before the socket is paused (default 64 KiB). */
  highWaterMark?: number | undefined;
  /** The finished handshake, for sockets that start out encrypted. */
  tls?: TlsSession | undefined;
  /** The host the client dialled: the default peer name for startTls(). */
  host?: string | undefined;
  /** The peer and this end, when the caller knows them without asking the system. */
  remote?: Endpoint | undefined;
  local?: Endpoint | undefined;
}

/** Options of `startTls()`: TLS options, which side this end plays, and the call's deadline. */
export interface StartTlsOptions extends TlsOptions, CallOptions {
  /** Play the server side of the handshake (needs `cert` and `key`). Default: client. */
  server?: boolean;
}

/** What `write()` takes: bytes, a string (UTF-8), or several of them sent together. */
export type WriteData = string | Uint8Array | ReadonlyArray<string | Uint8Array>;

type NetLike = Duplex & {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
  ref?: () => unknown;
  unref?: () => unknown;
  cork(): void;
  uncork(): void;
};

/**
 * @internal The upgrade behind `startTls()`, for callers that have checked the options already.
 *
 * @example
 * ```ts
 * await socket[UPGRADE](checkedTlsOptions, false, { timeout: 5000 });
 * ```
 */
export const UPGRADE = Symbol("sockurl.upgrade");

/** On a stream a Socket listens to: that Socket. */
const OWNER = Symbol("sockurl.Socket");
type Owned = Duplex & { [OWNER]?: Socket };

const RESOLVED = Promise.resolve();
const EMPTY = Buffer.alloc(0);
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** How long close() waits for queued bytes to reach the kernel when no write deadline is set. */
const CLOSE_FLUSH_GRACE = 10_000;
/** How long startTls() waits for the handshake when no deadline is given. */
const DEFAULT_HANDSHAKE_TIMEOUT = 60_000;

const ignore = (): void => {};
/** The empty list every Socket starts with (never added to: a Socket makes its own first). */
const NO_WAITERS = new Waiters();

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
 * Every call that waits takes a last `{ timeout, signal }`.
 *
 * @example
 * ```ts
 * import { connect } from "sockurl";
 * const socket = await connect("tcp://127.0.0.1:25");
 * const greeting = await socket.readLine({ timeout: 5000 });
 * await socket.write("QUIT\r\n");
 * await socket.close();
 * ```
 */
export class Socket implements AsyncIterable<Buffer>, AsyncDisposable {
  /** The transport this socket was made with (`tcp`, `unix`, `tls`, …). */
  readonly transport: Transport;
  #url: string | (() => string);
  /** The peer's and this end's addresses, taken once the socket is made. */
  readonly #remote: Endpoint;
  readonly #local: Endpoint;

  #stream: NetLike;
  #reader: Reader;
  #reads: ReadQueue;
  /** Writes waiting for Node's buffer to drain, and flushes waiting for the kernel to take the bytes. */
  // Most sockets never wait for either: they share one empty list until the first waiter comes.
  #writes = NO_WAITERS;
  #flushes = NO_WAITERS;
  #highWaterMark: number;
  #readTimeout: number;
  #writeTimeout: number;
  #paused = false;
  #refed = true;
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
    this.#reads = new ReadQueue(this.#reader);
    this.#highWaterMark = init.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#readTimeout = init.readTimeout ?? 0;
    this.#writeTimeout = init.writeTimeout ?? 0;
    this.#tls = init.tls ?? null;
    this.#host = init.host;
    // Taken now: Node forgets them once the connection is gone. Each one the caller did not
    // know costs a system call.
    this.#remote = init.remote ?? endpointOf(this.#stream, "remote", init.url);
    this.#local = init.local ?? endpointOf(this.#stream, "local", init.url);
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
    this.#writes.resolveAll();
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

  /** The peer's address, as it was when the connection was made (still true after close). */
  get remote(): Endpoint {
    return this.#remote;
  }

  /** This end's address, as it was when the connection was made (still true after close). */
  get local(): Endpoint {
    return this.#local;
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
   * ERR_TLS_ALREADY_ACTIVE on an encrypted socket. The handshake must finish within
   * `timeout` (default: the TLS option `handshakeTimeout`, else 60 s; ETIMEDOUT, phase tls).
   * A failed, timed-out or aborted handshake destroys the socket: there is never a plaintext
   * fallback.
   *
   * @example
   * ```ts
   * await socket.write("STARTTLS\r\n");
   * if ((await socket.readLine())?.startsWith("220")) await socket.startTls({ ca, timeout: 10_000 });
   * ```
   */
  async startTls(options: StartTlsOptions = {}): Promise<void> {
    const { server = false, timeout, signal, ...rest } = options ?? {};
    const call = { timeout, signal };
    checkCallOptions(call, this.url, "tls");
    return this[UPGRADE](validateTlsOptions(rest, this.url), server, call);
  }

  /**
   * @internal startTls() with options already checked (negotiateStartTls checks them once);
   * `call` may be the caller's own Deadline, which is then left for the caller to clear.
   */
  async [UPGRADE](tlsOptions: TlsOptions, server: boolean, call: CallOptions | Deadline): Promise<void> {
    const url = this.url;
    if (this.#tls !== null || this.#upgrading) {
      throw socketError("ERR_TLS_ALREADY_ACTIVE", "starttls", url, "TLS is already active on this socket");
    }
    const refused = this.#refusal("read") ?? (this.#streamClosed ? this.#closedError("read", "the connection closed") : null);
    if (refused) throw refused;
    if (this.#reader.ended) {
      // The peer's close was already consumed: a handshake could only wait for its deadline.
      throw socketError("ERR_UNEXPECTED_EOF", "starttls", url, "the peer closed the connection before the TLS handshake");
    }
    if (this.#reads.length > 0) {
      throw socketError("ERR_INVALID_OPTION", "starttls", url, "startTls() while a read is pending; await the read first");
    }
    // A server may already hold the client's ClientHello (MySQL clients send it right behind
    // their SSL request): TLS records are the handshake itself, not injected plaintext.
    const handshakeAhead = server && this.#reader.length > 0 && this.#startsWithTlsHandshake();
    if (this.hasBufferedInput && !handshakeAhead) {
      throw socketError("ERR_STARTTLS_PENDING_DATA", "starttls", url,
        `${this.#reader.length + this.#stream.readableLength} plaintext bytes arrived before the TLS handshake and would be treated as encrypted data (CVE-2011-0411); refusing to upgrade`);
    }
    // Bad options fail here, with the plaintext socket untouched.
    const upgrade = prepareUpgrade(server, tlsOptions, this.transport, url, this.#host ?? hostOfUrl(url));
    const owned = !(call instanceof Deadline);
    const deadline = call instanceof Deadline ? call
      : callDeadline(call, tlsOptions.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, url, "tls", "the TLS handshake did not finish");
    const plain = this.#stream;
    this.#upgrading = true;
    this.#detach(plain);
    plain.pause();
    if (handshakeAhead) plain.unshift(this.#reader.takeExactly(this.#reader.length)!);
    // Errors on the plain stream during the handshake surface through the TLS stream.
    plain.on("error", ignore);
    try {
      const session = await upgrade.run(plain, deadline);
      this.#tls = session;
      this.#stream = session.stream as unknown as NetLike;
      this.#attach(session.stream);
      if (!this.#refed) this.#stream.unref?.();
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
      throw toSocketError(err, "tls", url);
    } finally {
      if (owned) deadline?.clear();
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
    this.#reads.failAll(this.#closedError("read", "the socket was handed over through .stream"));
  }

  /** Milliseconds a read may wait for data before it rejects with ETIMEDOUT; 0 waits forever. A call's own `timeout` overrides it. */
  get readTimeout(): number {
    return this.#readTimeout;
  }

  set readTimeout(ms: number) {
    this.#readTimeout = validateTimeout(ms, "readTimeout");
  }

  /**
   * Milliseconds `write()`, `flush()` and `closeWrite()` may wait for the peer to take the bytes
   * before they reject with ETIMEDOUT, and `close()` waits before it drops them; 0 waits
   * forever (close(): 10 s). A call's own `timeout` overrides it.
   */
  get writeTimeout(): number {
    return this.#writeTimeout;
  }

  set writeTimeout(ms: number) {
    this.#writeTimeout = validateTimeout(ms, "writeTimeout");
  }

  // ---------------------------------------------------------------- reads

  /**
   * The next bytes (at most `max`), or `null` at end of stream.
   *
   * @example
   * ```ts
   * const chunk = await socket.read(4096, { timeout: 5000 });
   * ```
   */
  read(max?: number, options?: CallOptions): Promise<Buffer | null> {
    if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
      return Promise.reject(this.#optionError("read(max): max must be a positive integer"));
    }
    return this.#read(SOME, max ?? Infinity, null, options);
  }

  /**
   * Exactly `n` bytes. `null` when the stream ends cleanly before the first byte of them (the
   * end between two frames, Go's io.EOF); ERR_UNEXPECTED_EOF when it ends inside them (the
   * bytes stay buffered).
   *
   * @example
   * ```ts
   * for (let header; (header = await socket.readExactly(4)) !== null; ) {
   *   const body = await socket.readExactly(header.readUInt32BE(0));
   * }
   * ```
   */
  readExactly(n: number, options?: CallOptions): Promise<Buffer | null> {
    if (!(Number.isInteger(n) && n >= 0)) {
      return Promise.reject(this.#optionError("readExactly(n): n must be a non-negative integer"));
    }
    return this.#read(EXACTLY, n, null, options);
  }

  /**
   * Reads into the caller's buffer: resolves with the number of bytes copied (at least 1, at
   * most `buffer.length`), or `null` at end of stream.
   *
   * @example
   * ```ts
   * const buffer = new Uint8Array(16 * 1024);
   * for (let n; (n = await socket.readInto(buffer)) !== null; ) sink(buffer.subarray(0, n));
   * ```
   */
  readInto(buffer: Uint8Array, options?: CallOptions): Promise<number | null> {
    if (!(buffer instanceof Uint8Array) || buffer.length === 0) {
      return Promise.reject(this.#optionError("readInto(buffer): buffer must be a non-empty Uint8Array"));
    }
    return this.#read(INTO, 0, buffer, options);
  }

  /**
   * The next line without its LF or CRLF (UTF-8), the unterminated tail at end of stream,
   * then `null`. Fails with ERR_LINE_TOO_LONG past `maxLength` (default 8 KiB).
   *
   * @example
   * ```ts
   * for (let line; (line = await socket.readLine({ timeout: 30_000 })) !== null; ) console.log(line);
   * ```
   */
  readLine(options?: ReadLineOptions): Promise<string | null> {
    const max = this.#maxLength(options);
    if (max instanceof SocketError) return Promise.reject(max);
    return this.#read(LINE, max, null, options);
  }

  /**
   * Bytes up to the delimiter (which is consumed and not returned); `null` at a clean end
   * of stream, ERR_UNEXPECTED_EOF when it ends inside a record.
   *
   * @example
   * ```ts
   * const record = await socket.readUntil("\0", { maxLength: 1024 });
   * ```
   */
  readUntil(delimiter: string | Uint8Array, options?: ReadLineOptions): Promise<Buffer | null> {
    const max = this.#maxLength(options);
    if (max instanceof SocketError) return Promise.reject(max);
    const needle = typeof delimiter === "string" || !Buffer.isBuffer(delimiter) ? Buffer.from(delimiter) : delimiter;
    if (needle.length === 0) return Promise.reject(this.#optionError("readUntil: the delimiter must not be empty"));
    return this.#read(UNTIL, max, needle, options);
  }

  /**
   * Everything until end of stream, in one Buffer. The `timeout` covers the whole call; when it
   * passes, nothing is consumed.
   *
   * @example
   * ```ts
   * await socket.closeWrite();
   * const reply = await socket.readAll({ timeout: 10_000 });
   * ```
   */
  readAll(options?: CallOptions): Promise<Buffer> {
    return this.#read(ALL, 0, null, options);
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

  #read<T>(kind: ReadKind, n: number, arg: Uint8Array | null, options: CallOptions | undefined): Promise<T> {
    try {
      if (options !== undefined) {
        checkCallOptions(options, this.url, "read");
        // An aborted call takes nothing, even what is already buffered.
        if (options.signal?.aborted) return Promise.reject(this.#abortError("read", options.signal));
      }
      if (this.#reads.length === 0) {
        const refused = this.#refusal("read");
        if (refused) return Promise.reject(refused);
        const value = attempt(this.#reader, kind, n, arg) as T | undefined;
        if (value !== undefined) {
          if (this.#paused && this.#reader.length < this.#highWaterMark) this.#resume();
          return Promise.resolve(value);
        }
        if (this.#failure !== null) return Promise.reject(toSocketError(this.#failure, "read", this.url));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const deadline = options === undefined && this.#readTimeout === 0 ? null
      : callDeadline(options, this.#readTimeout, this.url, "read", "no data arrived");
    const waiting = this.#reads.wait<T>(kind, n, arg, deadline);
    if (this.#paused) this.#resume();
    return waiting;
  }

  /** Completes waiting reads in order, as far as the buffer allows, then paces the stream. */
  #settleReads(): void {
    if (this.#reads.length > 0) {
      const over = this.#failure !== null || this.#streamClosed;
      this.#reads.settle(over ? this.#endOfReads() : null);
    }
    if (this.#reads.length > 0 || this.#reader.length < this.#highWaterMark) {
      if (this.#paused) this.#resume();
    } else if (!this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
  }

  /** Why a read that needs more bytes can never get them. */
  #endOfReads(): SocketError {
    return this.#failure !== null ? toSocketError(this.#failure, "read", this.url) : this.#closedError("read", "the connection closed");
  }

  #resume(): void {
    if (this.#detached) return;
    this.#paused = false;
    this.#stream.resume();
  }

  // ---------------------------------------------------------------- writes

  /**
   * Sends bytes (strings as UTF-8); an array is sent together, in one system call where the
   * stream allows (`writev`), e.g. a header and its body. Resolves at once while Node's write
   * buffer is below its high-water mark, otherwise when it drains: awaiting each write gives
   * backpressure. Waiting is bounded by `timeout` (default `writeTimeout`): past it the write
   * rejects with ETIMEDOUT and its bytes stay queued.
   *
   * A write need not be awaited where something else paces the sender, such as the reply a
   * request/response exchange awaits next: a write that fails because of the connection (a
   * reset, a close, a deadline) rejects if awaited, and otherwise is never an unhandled
   * rejection, since the next read or write reports the failure. (Data of the wrong type, or a
   * write after `closeWrite()`, rejects visibly either way: a bug in the caller should not pass
   * unseen.)
   *
   * @example
   * ```ts
   * await socket.write("EHLO client.example\r\n", { timeout: 5000 });
   * await socket.write([header, body]);
   * void socket.write("PING\r\n"); // paced by the reply
   * const reply = await socket.readLine();
   * ```
   */
  write(data: WriteData, options?: CallOptions): Promise<void> {
    const refused = this.#refusal("write");
    if (refused) return handled(Promise.reject(refused));
    // The caller's own mistakes reject visibly, awaited or not.
    if (this.#writeEnded) {
      return Promise.reject(this.#closedError("write", "the write side was closed with closeWrite(); close() ends the connection"));
    }
    if (options !== undefined) {
      try {
        checkCallOptions(options, this.url, "write");
      } catch (err) {
        return Promise.reject(err);
      }
      if (options.signal?.aborted) return handled(Promise.reject(this.#abortError("write", options.signal)));
    }
    let accepted: boolean;
    if (typeof data === "string" || data instanceof Uint8Array) {
      accepted = this.#stream.write(data);
    } else if (Array.isArray(data) && data.every(isChunk)) {
      accepted = this.#writeAll(data);
    } else {
      return Promise.reject(this.#optionError("write(data): data must be a string, a Uint8Array or an array of them", "write"));
    }
    if (accepted) return RESOLVED;
    // Listen for 'drain' only while someone waits for it: most sockets never do.
    if (this.#writes.length === 0) this.#stream.once("drain", Socket.#drainListener);
    const deadline = options === undefined && this.#writeTimeout === 0 ? null
      : callDeadline(options, this.#writeTimeout, this.url, "write", "the peer did not take the data");
    if (this.#writes === NO_WAITERS) this.#writes = new Waiters();
    return handled(this.#writes.wait(deadline));
  }

  /** Writes several chunks as one: corked, so Node hands them to the kernel together. */
  #writeAll(chunks: ReadonlyArray<string | Uint8Array>): boolean {
    const stream = this.#stream;
    stream.cork();
    let accepted = true;
    for (const chunk of chunks) accepted = stream.write(chunk);
    stream.uncork();
    return accepted;
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
   * is 0); rejects when the connection fails or closes first, or with ETIMEDOUT once
   * `timeout` (default `writeTimeout`) passes.
   *
   * @example
   * ```ts
   * await socket.write(header);
   * await socket.flush({ timeout: 5000 });
   * ```
   */
  flush(options?: CallOptions): Promise<void> {
    const refused = this.#refusal("write");
    if (refused) return Promise.reject(refused);
    let deadline: Deadline | null;
    try {
      deadline = this.#writeDeadline(options, "the peer did not take the data");
    } catch (err) {
      return Promise.reject(err);
    }
    const stream = this.#stream;
    if (stream.writableLength === 0) {
      deadline?.clear();
      return RESOLVED;
    }
    return new Promise((resolve, reject) => {
      if (this.#flushes === NO_WAITERS) this.#flushes = new Waiters();
      const waiter = this.#flushes.add(deadline, resolve, reject);
      if (waiter === null) return;
      // A no-op when the waiter was settled already by a failure, a close or its deadline.
      const done = (err?: Error | null): void =>
        this.#flushes.settle(waiter, err ? toSocketError(this.#failure ?? err, "write", this.url) : undefined);
      // Writes complete in order: an empty one completes once every byte before it has. (Only
      // here, not on every write: a callback per write costs bulk and line traffic about 3 %.)
      if (stream.writableEnded) stream.once("finish", () => done());
      else stream.write(EMPTY, done);
    });
  }

  #writeDeadline(options: CallOptions | undefined, what: string): Deadline | null {
    if (options !== undefined) checkCallOptions(options, this.url, "write");
    return callDeadline(options, this.#writeTimeout, this.url, "write", what);
  }

  #rejectWrites(): void {
    if (this.#writes.length === 0 && this.#flushes.length === 0) return;
    const err = this.#failure !== null
      ? toSocketError(this.#failure, "write", this.url)
      : this.#closedError("write", "the connection closed");
    this.#writes.rejectAll(err);
    this.#flushes.rejectAll(err);
  }

  /**
   * Half-closes: sends end of stream (TCP FIN) once queued bytes are written; reads go on.
   * Rejects with ETIMEDOUT when the queued bytes are not taken within `timeout` (default
   * `writeTimeout`).
   *
   * @example
   * ```ts
   * await socket.write(request);
   * await socket.closeWrite();
   * const reply = await socket.readAll();
   * ```
   */
  closeWrite(options?: CallOptions): Promise<void> {
    const refused = this.#refusal("write");
    if (refused) return Promise.reject(refused);
    let deadline: Deadline | null;
    try {
      deadline = this.#writeDeadline(options, "the peer did not take the data before end of stream");
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#writeEnded) {
      deadline?.clear();
      return RESOLVED;
    }
    this.#writeEnded = true;
    return new Promise((resolve, reject) => {
      const finished = (): void => {
        deadline?.clear();
        resolve();
      };
      deadline?.onExpire(reject);
      this.#stream.end(finished);
      // end()'s callback does not run when the stream is destroyed first.
      this.#whenClosed(finished);
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /** True once `close()` or `destroy()` was called or the connection ended. */
  get closed(): boolean {
    return this.#closedLocally !== null || this.#streamClosed || this.#failure !== null;
  }

  /**
   * Graceful close: queued bytes are flushed, end of stream is sent, then the descriptor is
   * released. Pending reads reject with ERR_SOCKET_CLOSED. When the peer does not take the
   * queued bytes within `timeout` (default `writeTimeout`, else 10 s), or `signal` aborts, the
   * descriptor is released at once, the bytes are dropped, and close() rejects (ETIMEDOUT or
   * ERR_ABORTED, phase write). Calling it twice is harmless.
   *
   * @example
   * ```ts
   * await socket.close({ timeout: 2000 });
   * ```
   */
  close(options?: CallOptions): Promise<void> {
    if (this.#closedLocally === null) {
      let deadline: Deadline | null = null;
      if (options !== undefined || this.#writeTimeout > 0) {
        try {
          deadline = this.#writeDeadline(options, "the peer did not take the queued data before close");
        } catch (err) {
          return Promise.reject(err);
        }
      }
      this.#closedLocally = "the socket was closed";
      if (this.#reads.length > 0) this.#reads.failAll(this.#closedError("read", this.#closedLocally));
      const stream = this.#stream;
      if (!this.#streamClosed) return this.#release(stream, deadline);
      deadline?.clear();
    }
    return this.#streamClosed ? RESOLVED : new Promise((resolve) => this.#whenClosed(resolve));
  }

  /** Ends the stream once queued bytes are written, or at once when `deadline` passes first. */
  #release(stream: NetLike, deadline: Deadline | null): Promise<void> {
    const release = (): void => {
      stream.destroy();
    };
    // Once the peer has ended and every byte we wrote is in the kernel, closing the
    // descriptor sends our FIN after them, as shutdown() would, without the extra system
    // call and stream round. (TLS goes through end(), which sends close_notify.)
    const nothingLeft = this.#tls === null && this.#reader.ended && stream.writableLength === 0;
    if (stream.writableFinished || (nothingLeft && !stream.writableEnded)) release();
    else if (stream.writableEnded) stream.once("finish", release);
    else stream.end(release);
    if (stream.destroyed || stream.writableLength === 0) {
      deadline?.clear();
      return this.#streamClosed ? RESOLVED : new Promise((resolve) => this.#whenClosed(resolve));
    }
    // A peer that never reads would hold the flush forever: the deadline lets go.
    const limit = deadline ?? callDeadline(undefined, CLOSE_FLUSH_GRACE, this.url, "write",
      "the peer did not take the queued data before close")!;
    // Awaited, close() says the bytes were dropped; left alone (`void socket.close()`), that is
    // not an unhandled rejection: the descriptor is released either way.
    return handled(new Promise((resolve, reject) => {
      let dropped: SocketError | null = null;
      limit.onExpire((err) => {
        dropped = err;
        release();
      });
      this.#whenClosed(() => {
        limit.clear();
        if (dropped === null) resolve();
        else reject(dropped);
      });
    }));
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
      this.#reads.failAll(err === undefined ? this.#closedError("read", this.#closedLocally) : toSocketError(err, "read", this.url));
    }
    if (this.#writes.length > 0 || this.#flushes.length > 0) {
      const reason = err === undefined ? this.#closedError("write", this.#closedLocally) : toSocketError(err, "write", this.url);
      this.#writes.rejectAll(reason);
      this.#flushes.rejectAll(reason);
    }
    this.#stream.destroy();
  }

  /**
   * Closes the socket at the end of an `await using` block.
   *
   * @example
   * ```ts
   * await using socket = await connect("tcp://127.0.0.1:7");
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Lets the process exit while this socket is open (`unref()`), or keeps it alive again
   * (`ref()`, the default). Both return the socket.
   *
   * @example
   * ```ts
   * const monitor = (await connect("tcp://127.0.0.1:9000")).unref();
   * ```
   */
  unref(): this {
    this.#refed = false;
    this.#stream.unref?.();
    return this;
  }

  /**
   * Keeps the process alive while this socket is open (undoes `unref()`).
   *
   * @example
   * ```ts
   * socket.ref();
   * ```
   */
  ref(): this {
    this.#refed = true;
    this.#stream.ref?.();
    return this;
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

  #abortError(phase: Phase, signal: AbortSignal): SocketError {
    return socketError("ERR_ABORTED", phase, this.url, "aborted by the caller's signal", { cause: signal.reason });
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

function isChunk(chunk: unknown): chunk is string | Uint8Array {
  return typeof chunk === "string" || chunk instanceof Uint8Array;
}

/**
 * In TLS 1.3 a server checks the client's certificate after the client's handshake is done,
 * so its refusal arrives as an alert on a later read: report it as the handshake failure it is.
 */
function tlsAlertError(err: unknown, url: string): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string" || !code.startsWith("ERR_SSL_")) return err;
  const detail = code.slice("ERR_SSL_".length).toLowerCase().replaceAll("_", " ");
  return socketError("ERR_TLS_HANDSHAKE", "tls", url, `the peer ended the TLS session: ${detail}`, { reason: code, cause: err });
}

/** An endpoint of `stream`, read once; a unix socket has no IP, so the URL's path names it. */
function endpointOf(stream: NetLike, side: "remote" | "local", url: string | (() => string)): Endpoint {
  const host = side === "remote" ? stream.remoteAddress : stream.localAddress;
  if (host === undefined) {
    if (side === "local") return { host: "", port: 0, family: "unix" };
    const href = typeof url === "function" ? url() : url;
    return { host: href.slice(href.indexOf("://") + 3), port: 0, family: "unix" };
  }
  const port = (side === "remote" ? stream.remotePort : stream.localPort) ?? 0;
  return { host, port, family: host.includes(":") ? "IPv6" : "IPv4" };
}
