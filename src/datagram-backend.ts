/**
 * What differs between UDP and unix datagram sockets: the one interface the DatagramSocket
 * class drives and both backends implement. Its own file so that datagram.ts,
 * datagram-udp.ts and datagram-unix.ts can all import it without importing each other.
 */
import type { Endpoint } from "./socket.js";

/**
 * Where one datagram goes: a host and port (udp), a path (udg), or null on a connected socket.
 *
 * @example
 * ```ts
 * const to: Destination = { host: "127.0.0.1", port: 53 };
 * ```
 */
export type Destination = { host: string; port: number } | { path: string } | null;

/**
 * A datagram socket as the OS sees it (internal). The DatagramSocket class keeps the queue,
 * the waiters and the checks; a backend only moves bytes.
 *
 * @example
 * ```ts
 * const backend: DatagramBackend = await openUdp({ family: 4 }, "udp://0.0.0.0:0", "listen");
 * backend.onMessage = (data, remote) => console.log(remote.port, data.length);
 * ```
 */
export interface DatagramBackend {
  /** Sends one datagram; `to` is null on a connected socket. `done` gets null or nothing on success. */
  send(data: Buffer, to: Destination, done: (err?: unknown) => void): void;
  local(): Endpoint;
  remote(): Endpoint | null;
  close(): void;
  /**
   * Lets the process exit while this socket is open (false), or keeps it alive (true); throws
   * a SocketError where the backend cannot (the unix-dgram addon's handle always holds the loop).
   */
  setRef(on: boolean): void;
  /** Called by the backend for each datagram and for asynchronous errors. */
  onMessage: (data: Buffer, remote: Endpoint) => void;
  onError: (err: unknown) => void;
}
