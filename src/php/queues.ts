/**
 * What a datagram socket or a listener has received but nobody has taken yet: receives and
 * accepts run with a deadline (or an abort signal), and what they bring lands in a queue, so a
 * stream_select probe that loses its race loses nothing.
 */
import { SocketError, type Datagram, type DatagramSocket, type Server, type Socket } from "../index.js";

const now = () => performance.now();

function isReadTimeout(err: unknown): boolean {
  return err instanceof SocketError && err.code === "ETIMEDOUT" && err.phase === "read";
}

const clampMs = (ms: number) => Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(ms)));

/** Datagrams received ahead of the caller, and the socket's pending error. */
export class DatagramQueue {
  readonly socket: DatagramSocket;
  #datagrams: Datagram[] = [];
  #error: unknown = null;
  #receiving: Promise<void> | null = null;

  constructor(socket: DatagramSocket) {
    this.socket = socket;
  }

  get ready(): boolean {
    return this.#datagrams.length > 0 || this.#error !== null;
  }

  get error(): unknown {
    return this.#error;
  }

  /** Starts one receive of at most `ms` (Infinity: no deadline); returns it. */
  start(ms: number): Promise<void> | null {
    if (this.#receiving === null && this.#error === null) {
      this.socket.readTimeout = ms === Infinity ? 0 : clampMs(ms);
      this.#receiving = this.socket.receive().then(
        (datagram) => {
          this.#datagrams.push(datagram);
        },
        (err: unknown) => {
          if (!isReadTimeout(err)) this.#error = err;
        },
      ).finally(() => {
        this.#receiving = null;
      });
    }
    return this.#receiving;
  }

  /**
   * The next datagram (removed unless `peek`), "timeout" at the deadline (a datagram sockurl
   * already holds is still taken), "error" once for an error the socket reported (ICMP unreachable).
   */
  async next(deadline: number, peek: boolean): Promise<Datagram | "timeout" | "error"> {
    let triedNow = false;
    for (;;) {
      const first = this.#datagrams[0];
      if (first !== undefined) {
        if (!peek) this.#datagrams.shift();
        return first;
      }
      if (this.#error !== null) {
        this.#error = null;
        return "error";
      }
      const remaining = deadline - now();
      if (remaining <= 0) {
        if (triedNow) return "timeout";
        triedNow = true;
      }
      const receiving = this.start(Math.max(remaining, 1));
      if (receiving === null) return "timeout";
      await receiving;
    }
  }
}

/** Connections accepted ahead of the caller. */
export class AcceptQueue {
  server: Server | null;
  #accepted: Socket[] = [];
  #accepting: { promise: Promise<void>; abort: AbortController } | null = null;
  #closed = false;

  constructor(server: Server) {
    this.server = server;
  }

  get ready(): boolean {
    return this.#accepted.length > 0;
  }

  /** Starts one accept of at most `ms` (Infinity: until stopped); returns it. */
  start(ms: number): Promise<void> | null {
    const server = this.server;
    if (this.#accepting === null && server !== null) {
      const abort = new AbortController();
      const options = ms === Infinity ? { signal: abort.signal } : { signal: abort.signal, timeout: clampMs(ms) };
      const promise = server.accept(options).then(
        (socket) => {
          if (this.#closed) socket.destroy();
          else this.#accepted.push(socket);
        },
        (err: unknown) => {
          // A closed server ends every wait; timeouts and aborts just end this one.
          if (err instanceof SocketError && err.code === "ERR_SOCKET_CLOSED") this.server = null;
        },
      ).finally(() => {
        this.#accepting = null;
      });
      this.#accepting = { promise, abort };
    }
    return this.#accepting?.promise ?? null;
  }

  /**
   * The next connection; null at the deadline; "failed" when a TLS client failed its handshake
   * meanwhile (sockurl drops such clients; PHP reports them at stream_socket_accept).
   */
  async next(deadline: number, tls: boolean): Promise<Socket | null | "failed"> {
    const baseline = this.server?.handshakeFailures ?? 0;
    for (;;) {
      const first = this.#accepted.shift();
      if (first !== undefined) return first;
      const server = this.server;
      if (this.#closed || server === null) return null;
      if (tls && server.handshakeFailures > baseline) return "failed";
      const remaining = deadline - now();
      if (remaining <= 0) {
        // A connection may already be queued by sockurl: take it without waiting.
        await this.start(1);
        return this.#accepted.shift() ?? null;
      }
      const accepting = this.start(remaining);
      if (!tls) await accepting;
      else {
        // Watch sockurl's count of failed handshakes while waiting.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([accepting, new Promise((r) => { timer = setTimeout(r, Math.min(remaining, 25)); })]);
        clearTimeout(timer);
      }
    }
  }

  /** Aborts a background accept. */
  stop(): void {
    this.#accepting?.abort.abort();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.stop();
    for (const s of this.#accepted.splice(0)) s.destroy();
    await this.server?.close();
  }
}
