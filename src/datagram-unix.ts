/**
 * The unix datagram (udg://) backend of DatagramSocket, over the unix-dgram native addon, and
 * the mapping of the addon's bare errno numbers to the OS error codes the rest of sockurl uses.
 */
import { rmSync } from "node:fs";
import { constants as osConstants } from "node:os";
import type unixDgramModule from "unix-dgram";
import { checkLocalPath } from "./address.js";
import type { DatagramBackend } from "./datagram-backend.js";
import { socketError, toSocketError } from "./errors.js";

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, n]) => [n, name]),
);

/**
 * The addon reports `-errno` as both `code` and `errno` (and 1 for a full receiver): give such
 * an error the OS code name (`ECONNREFUSED`) so toSocketError treats it like Node's own.
 *
 * @example
 * ```ts
 * unixError(Object.assign(new Error("send -111"), { errno: -111, syscall: "send" })).code; // "ECONNREFUSED"
 * ```
 */
export function unixError(err: Error & { code?: unknown; errno?: unknown; syscall?: string }): Error {
  const n = typeof err.errno === "number" ? Math.abs(err.errno) : NaN;
  const name = ERRNO_NAMES.get(n);
  if (err.code === 1) return Object.assign(new Error("the receiver's queue is full"), { code: "EAGAIN", errno: 11 });
  return name ? Object.assign(new Error(`${err.syscall ?? "unix datagram"} ${name}`), { code: name, errno: n }) : err;
}

/**
 * Opens a unix datagram socket, bound to `bind` and/or connected to `connect`. Paths the
 * system cannot hold are refused before the addon (which would cut them) sees them.
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
  if (o.bind !== undefined) checkLocalPath("udg", o.bind, url);
  if (o.connect !== undefined) checkLocalPath("udg", o.connect, url);
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
      setRef(on) {
        // The addon polls its descriptor with a libuv handle it never unrefs, and exposes none.
        if (!on) {
          throw socketError("ERR_UNSUPPORTED_TRANSPORT", phase, url,
            "unref() is not available for udg:// sockets: the unix-dgram addon's handle always keeps the process alive; close() the socket instead");
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
