/**
 * DatagramSocket: UDP (`udp://`) and unix datagram (`udg://`) sockets, connected or bound,
 * with a bounded receive queue that counts what it had to drop. The OS side lives in the
 * backends (datagram-udp.ts, datagram-unix.ts) behind datagram-backend.ts.
 */
import type { Address } from "./address.js";
import type { DatagramBackend, Destination } from "./datagram-backend.js";
import { destinationOf, payloadOf } from "./datagram-send.js";
import { checkCallOptions, callDeadline, type CallOptions, type Deadline } from "./deadline.js";
import "./dispose.js";
import { SocketError, socketError, toSocketError } from "./errors.js";
import { DONE, untilClosed } from "./iterate.js";
import { validateTimeout } from "./options.js";
import type { Endpoint } from "./socket.js";

/**
 * One received datagram and who sent it.
 *
 * @example
 * ```ts
 * const { data, remote }: Datagram = await server.receive();
 * ```
 */
export interface Datagram {
  data: Buffer;
  /** The sender; for unbound unix datagram senders `host` is "". */
  remote: Endpoint;
}

const DEFAULT_RECEIVE_QUEUE = 1024;

/**
 * The canonical URL of a datagram socket. Typed as a datagram template so that
 * `connect(socket.url)` picks the DatagramSocket overload.
 *
 * @example
 * ```ts
 * const server = await listen("udp://127.0.0.1:0");
 * const client = await connect(server.url); // DatagramSocket, no cast
 * ```
 */
export type DatagramUrl = `udp://${string}` | `udg://${string}`;

/** A pending `receive()` (resolves a Datagram) or iterator `next()` (resolves an IteratorResult). */
interface Waiter {
  resolve: (d: Datagram | IteratorResult<Datagram, undefined>) => void;
  reject: (e: SocketError) => void;
  /** The call's time limit and signal; null when nothing limits it (iteration, or no timeout). */
  deadline: Deadline | null;
  iterating: boolean;
}

/**
 * A UDP or unix datagram socket. From `connect("udp://…")` it is connected (use `send`);
 * from `listen("udp://…")` it is bound (use `receive` and `sendTo`).
 *
 * Deadlines are per call, as in Go: `receive()` and `receiveMany()` wait up to their own
 * `{ timeout }`, else the socket's `readTimeout`. Iteration (`for await`, `batches()`) ignores
 * `readTimeout` and waits until the socket is closed (or fails), as Deno's iteration does: an
 * idle socket is not an error to a loop that serves it. `await using` closes it.
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
export class DatagramSocket implements AsyncIterable<Datagram>, AsyncDisposable {
  readonly transport: "udp" | "udg";
  /** The peer's URL when connected, else this socket's own bound URL (with the real port). */
  readonly url: DatagramUrl;
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
    // Every URL given here is canonical: formatAddress of a udp:// or udg:// address.
    this.url = init.url as DatagramUrl;
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

  /**
   * The local port this socket is bound to (the real one after `udp://…:0`), connected or
   * not: a connected socket's peer port is `remote.port`. Always 0 for udg://, which has paths.
   *
   * @example
   * ```ts
   * const udp = await listen("udp://127.0.0.1:0");
   * console.log(udp.port); // 40123
   * ```
   */
  get port(): number {
    return this.#backend.local().port;
  }

  /**
   * Keeps the process alive while the socket is open (the default). See `unref()`.
   *
   * @example
   * ```ts
   * udp.ref();
   * ```
   */
  ref(): void {
    this.#backend.setRef(true);
  }

  /**
   * Lets the process exit while the socket is open and idle, like Node's `dgram` `unref()`.
   * udg:// sockets cannot: the unix-dgram addon's handle always holds the event loop, so
   * this throws ERR_UNSUPPORTED_TRANSPORT for them rather than silently doing nothing.
   *
   * @example
   * ```ts
   * const stats = await listen("udp://127.0.0.1:0");
   * stats.unref(); // the process may exit while it waits
   * ```
   */
  unref(): void {
    this.#backend.setRef(false);
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
      if (w.deadline !== null) w.deadline.clear();
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
      w.deadline?.clear();
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
    return destinationOf(target, this.transport, this.url);
  }

  #payload(data: string | Uint8Array, to: Destination): Buffer {
    return payloadOf(data, this.transport, to, this.#family, this.url);
  }

  #sendError(err: unknown, buf: Buffer): SocketError {
    const e = toSocketError(err, "write", this.url);
    return e.code === "EMSGSIZE"
      ? socketError("ERR_DATAGRAM_TOO_LARGE", "write", this.url, `${buf.length} bytes are more than the socket can send`, { cause: err })
      : e;
  }

  /**
   * The next datagram, waiting up to `options.timeout` ms, else `readTimeout` (0: forever).
   * A timeout rejects ETIMEDOUT (phase read), the signal ERR_ABORTED; either way no datagram
   * is lost: one that arrives later waits for the next call.
   *
   * @example
   * ```ts
   * const { data, remote } = await server.receive({ timeout: 1000 });
   * ```
   */
  receive(options?: CallOptions): Promise<Datagram> {
    return this.#next(false, options, this.#readTimeout) as Promise<Datagram>;
  }

  /**
   * The datagrams that arrive in one turn of the event loop, at least one (waiting for it as
   * `receive(options)` does) and at most `max` (like `recvmmsg(2)`): one promise for a burst,
   * where `receive()` needs one per datagram.
   *
   * @example
   * ```ts
   * const datagrams = await server.receiveMany(64, { timeout: 1000 });
   * for (const { data, remote } of datagrams) console.log(remote.host, data.length);
   * ```
   */
  receiveMany(max = Infinity, options?: CallOptions): Promise<Datagram[]> {
    return this.#receiveMany(max, options, this.#readTimeout);
  }

  #receiveMany(max: number, options: CallOptions | undefined, fallback: number): Promise<Datagram[]> {
    if (!(max >= 1 && (max === Infinity || Number.isInteger(max)))) {
      return Promise.reject(socketError("ERR_INVALID_OPTION", "read", this.url,
        `receiveMany(max): max must be a positive integer, got ${String(max)}`));
    }
    if (this.#queue.length > 0) {
      if (options !== undefined) {
        try {
          checkCallOptions(options, this.url, "read");
        } catch (err) {
          return Promise.reject(err);
        }
      }
      return Promise.resolve(this.#queue.splice(0, max));
    }
    const first = this.#next(false, options, fallback) as Promise<Datagram>;
    return first.then((one) => max === 1 ? [one] : new Promise((resolve) => {
      // The first datagram woke us; those that came with it are delivered before setImmediate runs.
      setImmediate(() => {
        const burst = this.#queue.splice(0, max - 1);
        burst.unshift(one);
        resolve(burst);
      });
    }));
  }

  /**
   * Bursts of datagrams (see `receiveMany`) until the socket is closed. Like `for await`, it
   * ignores `readTimeout`: an idle socket just waits.
   *
   * @example
   * ```ts
   * for await (const datagrams of server.batches()) count += datagrams.length;
   * ```
   */
  batches(max = Infinity): AsyncIterable<Datagram[]> {
    return { [Symbol.asyncIterator]: () => untilClosed(() => this.#receiveMany(max, undefined, 0)) };
  }

  /**
   * Datagrams until the socket is closed. `readTimeout` does not apply: the loop waits for
   * as long as the socket is idle (it limits `receive()` calls only), and ends at `close()`.
   *
   * @example
   * ```ts
   * for await (const { data, remote } of server) await server.sendTo(data, remote);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<Datagram, undefined> {
    return {
      next: () => this.#next(true, undefined, 0) as Promise<IteratorResult<Datagram, undefined>>,
      return: () => Promise.resolve(DONE),
    };
  }

  /**
   * The next datagram, as itself (`receive()`) or as an iterator result (`for await`, which
   * ends at close instead of rejecting). One promise per datagram, resolved by `#deliver`;
   * a Deadline only when the call has a time limit or a signal.
   */
  #next(iterating: boolean, options: CallOptions | undefined, fallback: number): Promise<Datagram | IteratorResult<Datagram, undefined>> {
    if (options !== undefined) {
      try {
        checkCallOptions(options, this.url, "read");
      } catch (err) {
        return Promise.reject(err);
      }
    }
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
    const deadline = callDeadline(options, fallback, this.url, "read", "no datagram arrived");
    if (deadline === null) {
      return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject, deadline, iterating }));
    }
    const expired = deadline.expired;
    if (expired !== null) {
      deadline.clear();
      return Promise.reject(expired);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, deadline, iterating };
      // Runs only while the waiter is queued: #deliver, #fail and close() clear the deadline
      // as they take it, so a datagram is never handed to a call that already gave up.
      deadline.onExpire((err) => {
        deadline.clear();
        const i = this.#waiters.indexOf(w);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(err);
      });
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
      w.deadline?.clear();
      if (w.iterating) w.resolve(DONE);
      else w.reject(err);
    }
    this.#queue = [];
    this.#backend.close();
    return Promise.resolve();
  }

  /**
   * `await using` support: closes the socket.
   *
   * @example
   * ```ts
   * await using udp = await listen("udp://127.0.0.1:0");
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
