/**
 * Standard input → socket for `sockurl connect`. A pipe or socket on descriptor 0 is read into
 * one reused buffer and refilled only once the socket has handed its bytes to the kernel, so a
 * bulk upload allocates nothing per chunk (a fresh 64 KiB Buffer per read cost more CPU than the
 * copy itself). A terminal or a file goes through process.stdin.
 */
import { fstatSync } from "node:fs";
import net from "node:net";
import type { Socket } from "../index.js";

/** Bytes read from a pipe at once: the Linux pipe's default capacity. */
const CHUNK = 64 * 1024;

/** A running upload: `done` settles when input ends (or fails); `stop()` abandons it. */
export interface Upload {
  done: Promise<void>;
  stop: () => void;
}

/**
 * Copies standard input to `socket` until input ends, through `convert` when given.
 *
 * @example
 * ```ts
 * const upload = uploadStdin(socket, null);
 * await upload.done;
 * await socket.closeWrite();
 * ```
 */
export function uploadStdin(socket: Socket, convert: ((chunk: Buffer) => Buffer) | null): Upload {
  return isPipeOrSocket(0) ? fromDescriptor(socket, convert) : fromStdin(socket, convert);
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

function fromDescriptor(socket: Socket, convert: ((chunk: Buffer) => Buffer) | null): Upload {
  let input: net.Socket | null = null;
  const done = new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      input?.destroy();
      reject(err);
    };
    const resume = (): void => {
      if (!failed) input?.resume();
    };
    const options: DescriptorOptions = {
      fd: 0,
      readable: true,
      writable: false,
      onread: {
        buffer: Buffer.allocUnsafe(CHUNK),
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          if (failed) return false;
          const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, bytes);
          socket.write(convert ? convert(chunk) : chunk).catch(fail);
          if (socket.bufferedAmount === 0) return true;
          // Node still holds part of the buffer: read again only once it is in the kernel.
          socket.flush().then(resume, fail);
          return false;
        },
      },
    };
    input = new net.Socket(options);
    input.on("error", fail);
    input.on("end", () => {
      input?.destroy();
      resolve();
    });
  });
  return { done, stop: () => input?.destroy() };
}

function fromStdin(socket: Socket, convert: ((chunk: Buffer) => Buffer) | null): Upload {
  const stdin = process.stdin;
  const done = (async () => {
    for await (const chunk of stdin as AsyncIterable<Buffer>) await socket.write(convert ? convert(chunk) : chunk);
  })();
  return { done, stop: () => stdin.destroy() };
}
