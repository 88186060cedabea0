/**
 * The UDP backend of DatagramSocket: a node:dgram socket, bound and optionally connected.
 */
import dgram from "node:dgram";
import type { DatagramBackend } from "./datagram-backend.js";
import { socketError, toSocketError } from "./errors.js";
import type { Endpoint } from "./socket.js";

/**
 * Options for opening a UDP socket (internal).
 *
 * @example
 * ```ts
 * const o: UdpOpenOptions = { family: 6, bind: { host: "::1", port: 0 }, ipv6Only: true };
 * ```
 */
export interface UdpOpenOptions {
  family: 4 | 6;
  bind?: { host: string; port: number } | undefined;
  connect?: { host: string; port: number } | undefined;
  reuseAddr?: boolean | undefined;
  ipv6Only?: boolean | undefined;
  broadcast?: boolean | undefined;
}

/**
 * Opens, binds and optionally connects a UDP socket; rejects with the OS error.
 *
 * @example
 * ```ts
 * const backend = await openUdp({ family: 4, connect: { host: "127.0.0.1", port: 53 } }, "udp://127.0.0.1:53", "connect");
 * ```
 */
export function openUdp(o: UdpOpenOptions, url: string, phase: "connect" | "listen"): Promise<DatagramBackend> {
  const socket = dgram.createSocket({
    type: o.family === 6 ? "udp6" : "udp4",
    reuseAddr: o.reuseAddr ?? false,
    ...(o.ipv6Only === undefined ? {} : { ipv6Only: o.ipv6Only }),
  });
  let local: Endpoint | null = null;
  let remote: Endpoint | null = null;
  const backend: DatagramBackend = {
    send(data, to, done) {
      if (to === null) socket.send(data, done);
      else if ("host" in to) socket.send(data, to.port, to.host, done);
      else done(socketError("ERR_INVALID_ADDRESS", "write", url, "a udp:// socket cannot send to a path"));
    },
    local() {
      if (local === null) {
        const a = socket.address();
        local = { host: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
      }
      return local;
    },
    remote() {
      return remote;
    },
    close() {
      socket.close();
    },
    setRef(on) {
      if (on) socket.ref();
      else socket.unref();
    },
    onMessage: () => {},
    onError: () => {},
  };
  socket.on("message", (msg, rinfo) =>
    backend.onMessage(msg, { host: rinfo.address, port: rinfo.port, family: rinfo.family === "IPv6" ? "IPv6" : "IPv4" }));
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => {
      socket.close();
      reject(toSocketError(err, phase, url));
    };
    socket.once("error", fail);
    const ready = () => {
      socket.off("error", fail);
      socket.on("error", (err) => backend.onError(err));
      backend.local();
      if (o.connect !== undefined) {
        // Asked once here: remoteAddress() is a syscall, and send() needs to know.
        const a = socket.remoteAddress();
        remote = { host: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
      }
      resolve(backend);
    };
    socket.bind({ address: o.bind?.host ?? (o.family === 6 ? "::" : "0.0.0.0"), port: o.bind?.port ?? 0 }, () => {
      // Broadcast must be allowed before connecting to a broadcast address.
      if (o.broadcast) socket.setBroadcast(true);
      if (o.connect === undefined) return ready();
      socket.connect(o.connect.port, o.connect.host, (err?: Error) => (err ? fail(err) : ready()));
    });
  });
}
