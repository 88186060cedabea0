/**
 * Standard input → socket for `sockurl connect`. A pipe or socket on descriptor 0 is read into
 * one reused buffer and refilled only once the socket has handed its bytes to the kernel, so a
 * bulk upload allocates nothing per chunk (a fresh 64 KiB Buffer per read cost more CPU than the
 * copy itself). Reading starts as soon as the command knows it will upload: what arrives while
 * the library loads and the connection opens is kept (up to PREFETCH_LIMIT bytes) and sent first,
 * so a producer like `head -c 1G /dev/zero |` is not held up by our start-up. A terminal or a
 * file goes through process.stdin, and only once the socket is there.
 */
import { fstatSync } from "node:fs";
import net from "node:net";
import type { Socket } from "../socket.js";

/** Bytes read from a pipe at once: the Linux pipe's default capacity. */
const CHUNK = 64 * 1024;
/** What may be read ahead before the socket exists; then reading pauses. */
const PREFETCH_LIMIT = 32 * 1024 * 1024;

/** A running upload: `done` settles when input ends (or fails); `stop()` abandons it. */
export interface Upload {
  done: Promise<void>;
  stop: () => void;
}

/** Standard input, opened before the connection; `pipeTo` starts the upload. */
export interface StdinSource {
  pipeTo(socket: Socket, convert: ((chunk: Buffer) => Buffer) | null): Upload;
  /** Stops reading (the command ends before any upload). */
  close(): void;
}

/**
 * Opens standard input for an upload; a pipe or socket starts being read at once.
 *
 * @example
 * ```ts
 * const stdin = openStdin();
 * const socket = await connect(url);
 * const upload = stdin.pipeTo(socket, null);
 * await upload.done;
 * await socket.closeWrite();
 * ```
 */
export function openStdin(): StdinSource {
  return isPipeOrSocket(0) ? new DescriptorSource() : processStdinSource();
}

function isPipeOrSocket(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false; // closed (sockurl connect <&-): process.stdin reports it
  }
}

/** Node's constructor takes `onread` (documented there since Node 22); Node 20's types list it for connect() only. */
type DescriptorOptions = net.SocketConstructorOpts & { onread: net.OnReadOpts };

/** Descriptor 0 read with `onread` into one buffer: copied while there is no socket, then zero-copy. */
class DescriptorSource implements StdinSource {
  readonly #input: net.Socket;
  #early: Buffer[] = [];
  #earlyBytes = 0;
  /** Set by pipeTo(): takes each chunk; returns false to pause reading. */
  #take: ((chunk: Buffer) => boolean) | null = null;
  #ended = false;
  #failure: unknown = null;
  #settle: { resolve: () => void; reject: (err: unknown) => void } | null = null;

  constructor() {
    const options: DescriptorOptions = {
      fd: 0,
      readable: true,
      writable: false,
      onread: {
        buffer: Buffer.allocUnsafe(CHUNK),
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, bytes);
          if (this.#take !== null) return this.#take(chunk);
          // No socket yet: keep a copy, for the buffer is read into again.
          this.#early.push(Buffer.from(chunk));
          this.#earlyBytes += bytes;
          return this.#earlyBytes < PREFETCH_LIMIT;
        },
      },
    };
    this.#input = new net.Socket(options);
    this.#input.on("error", (err) => {
      this.#failure = err;
      this.#settle?.reject(err);
    });
    this.#input.on("end", () => {
      this.#ended = true;
      this.#input.destroy();
      this.#settle?.resolve();
    });
  }

  pipeTo(socket: Socket, convert: ((chunk: Buffer) => Buffer) | null): Upload {
    const done = new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        this.#input.destroy();
        reject(err);
      };
      const send = (chunk: Buffer): void => {
        socket.write(convert ? convert(chunk) : chunk).catch(fail);
      };
      for (const chunk of this.#early.splice(0)) send(chunk);
      this.#earlyBytes = 0;
      if (this.#failure !== null) return fail(this.#failure);
      if (this.#ended) return resolve();
      this.#settle = { resolve, reject: fail };
      const resume = (): void => {
        if (!failed) this.#input.resume();
      };
      this.#take = (chunk) => {
        if (failed) return false;
        send(chunk);
        if (socket.bufferedAmount === 0) return true;
        // Node still holds part of the buffer: read again only once it is in the kernel.
        socket.flush().then(resume, fail);
        return false;
      };
      if (socket.bufferedAmount === 0) resume();
      else socket.flush().then(resume, fail);
    });
    return { done, stop: () => this.close() };
  }

  close(): void {
    this.#input.destroy();
  }
}

/** A terminal or a file: process.stdin, read only once there is a socket to write to. */
function processStdinSource(): StdinSource {
  const stdin = process.stdin;
  return {
    pipeTo(socket, convert) {
      const done = (async () => {
        for await (const chunk of stdin as AsyncIterable<Buffer>) await socket.write(convert ? convert(chunk) : chunk);
      })();
      return { done, stop: () => stdin.destroy() };
    },
    close: () => stdin.destroy(),
  };
}
