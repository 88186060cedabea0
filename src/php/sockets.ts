/**
 * stream_socket_recvfrom, stream_socket_sendto, stream_socket_shutdown, stream_socket_get_name,
 * stream_socket_pair and stream_get_transports.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, listen, type DatagramSocket, type Socket } from "../index.js";
import { bytesOf } from "./bytes.js";
import { STREAM_OOB, STREAM_PEEK, STREAM_PF_INET, STREAM_PF_INET6, STREAM_PF_UNIX, STREAM_SHUT_RD, STREAM_SHUT_RDWR, STREAM_SHUT_WR, STREAM_SOCK_DGRAM, STREAM_SOCK_STREAM } from "./constants.js";
import { PhpContext } from "./context.js";
import { errnoOf, strerror } from "./errno.js";
import { resolve } from "./resolve.js";
import { endpointName } from "./server.js";
import { PhpStream, streamArg } from "./stream.js";
import { PHP_TRANSPORTS, parseHostPort, urlHost } from "./target.js";
import { ValueError, warn, type Ref } from "./warnings.js";

const now = () => performance.now();

/**
 * Receives up to `length` bytes (PHP's `stream_socket_recvfrom`), bypassing PHP's read buffer.
 * On datagram sockets: one datagram (the rest of a longer one is lost), `address` gets the
 * sender. `STREAM_PEEK` leaves the data to be read again. Like PHP, a blocking call waits
 * without the stream timeout; a non-blocking one gives false when nothing is there.
 *
 * @example
 * ```ts
 * const from = ref<string | null>(null);
 * const packet = await stream_socket_recvfrom(server, 1500, 0, from);
 * ```
 */
export async function stream_socket_recvfrom(
  socket: PhpStream,
  length: number,
  flags = 0,
  address: Ref<string | null> | null = null,
): Promise<string | false> {
  const fn = "stream_socket_recvfrom";
  const s = streamArg(fn, socket);
  const n = Math.trunc(Number(length));
  if (!(n > 0)) throw new ValueError(`${fn}(): Argument #2 ($length) must be greater than 0`);
  if (address) address.value = null;
  if ((flags & STREAM_OOB) !== 0 || s.kind === "server") return false;
  const peek = (flags & STREAM_PEEK) !== 0;
  const deadline = s.blocking ? Infinity : now();
  if (s.kind === "dgram") {
    const d = await s.datagramAt(deadline, peek);
    if (d === "timeout" || d === "error") return false;
    if (address) address.value = d.remote.family === "unix" ? d.remote.host : endpointName(d.remote);
    return d.data.subarray(0, n).toString("latin1");
  }
  await s.ready();
  if (!(await s.waitKernel(deadline)) && s.kernel.length === 0) return false;
  if (address) address.value = "";
  const bytes = peek ? s.kernel.peek(n) : s.kernel.take(n);
  if (!peek) s.position += bytes.length;
  return bytes.toString("latin1");
}

/**
 * Sends `data` (PHP's `stream_socket_sendto`), to `address` on unconnected datagram sockets.
 * Resolves to the bytes sent; false (with PHP's warning) for an address it cannot parse.
 *
 * @example
 * ```ts
 * await stream_socket_sendto(server, "pong", 0, from.value!);
 * ```
 */
export async function stream_socket_sendto(socket: PhpStream, data: string | Uint8Array, flags = 0, address = ""): Promise<number | false> {
  const fn = "stream_socket_sendto";
  const s = streamArg(fn, socket);
  const bytes = bytesOf(fn, "Argument #2 ($data)", data);
  const failed = (code: string): number => {
    warn(fn, `${strerror(code)}\n`);
    return -1;
  };
  if ((flags & STREAM_OOB) !== 0) return failed("EOPNOTSUPP");
  await s.ready();
  if (s.kind === "server") return failed("ENOTCONN");
  if (s.kind === "socket") {
    const sock = s.socket;
    if (sock === null || s.writeShut) return failed("EPIPE");
    try {
      await sock.write(bytes);
    } catch {
      return failed("EPIPE");
    }
    return bytes.length;
  }
  const d = s.datagram;
  if (d === null) return failed("ENOTCONN");
  let to: string | null = null;
  if (address !== "" && address !== null && address !== undefined) {
    // Always an inet address, as PHP parses it (a udg path cannot be given here).
    const bad = (): false => {
      warn(fn, `Failed to parse \`${address}' into a valid network address`);
      return false;
    };
    const hp = parseHostPort(address);
    if ("error" in hp) return bad();
    const found = await resolve(hp.host);
    if ("error" in found) {
      warn(fn, found.error);
      warn(fn, `Failed to resolve \`${hp.host}': ${found.error}`);
      return bad();
    }
    if (s.transport === "udg") return bad();
    to = `udp://${urlHost(found.addresses[0]!)}:${hp.port}`;
  }
  try {
    // A connected socket sends to its peer (Node refuses a destination on a connected socket).
    if (d.remote !== null) await d.send(bytes);
    else if (to !== null) await d.sendTo(bytes, to);
    else if (s.defaultPeer !== null) await d.sendTo(bytes, s.defaultPeer);
    else return failed("EDESTADDRREQ");
  } catch (err) {
    const code = (err as { code?: string }).code;
    return failed(code !== undefined && errnoOf(code) > 0 ? code : "EMSGSIZE");
  }
  return bytes.length;
}

/**
 * Shuts down one or both directions (PHP's `stream_socket_shutdown`). STREAM_SHUT_WR sends end
 * of stream (the peer's reads then give "" and feof() is true); STREAM_SHUT_RD makes further reads
 * end once what has arrived is read.
 *
 * @example
 * ```ts
 * await stream_socket_shutdown(fp, STREAM_SHUT_WR);
 * const reply = await stream_get_contents(fp);
 * ```
 */
export async function stream_socket_shutdown(stream: PhpStream, mode: number): Promise<boolean> {
  const fn = "stream_socket_shutdown";
  const s = streamArg(fn, stream);
  if (mode !== STREAM_SHUT_RD && mode !== STREAM_SHUT_WR && mode !== STREAM_SHUT_RDWR) {
    throw new ValueError(`${fn}(): Argument #2 ($mode) must be one of STREAM_SHUT_RD, STREAM_SHUT_WR, or STREAM_SHUT_RDWR`);
  }
  await s.ready();
  if (s.kind === "server") return true;
  if (s.kind === "dgram") return s.datagram !== null && s.datagram.remote !== null;
  const sock = s.socket;
  if (sock === null) return false;
  if (mode !== STREAM_SHUT_WR) s.readShut = true;
  if (mode !== STREAM_SHUT_RD && !s.writeShut) {
    s.writeShut = true;
    try {
      await sock.closeWrite();
    } catch {
      // Already closed: nothing left to shut.
    }
  }
  return true;
}

/**
 * The local or remote name (PHP's `stream_socket_get_name`): `"127.0.0.1:8080"`, `"[::1]:8080"`,
 * a unix path; false when there is none (listeners' peers, unbound or paired sockets).
 *
 * @example
 * ```ts
 * stream_socket_get_name(fp, true); // "127.0.0.1:25"
 * ```
 */
export function stream_socket_get_name(socket: PhpStream, remote: boolean): string | false {
  const s = streamArg("stream_socket_get_name", socket);
  if (s.pair) return false;
  if (s.kind === "server") {
    if (remote) return false;
    const a = s.server!.address;
    return "path" in a ? a.path : `${urlHost(a.host)}:${a.port}`;
  }
  if (s.kind === "dgram") {
    const d = s.datagram;
    if (d === null) return false;
    const e = remote ? d.remote : d.local;
    if (e === null) return false;
    if (e.family === "unix") return e.host === "" ? false : e.host;
    return endpointName(e);
  }
  const sock = s.socket;
  if (sock === null) return false;
  if (s.transport === "unix") {
    // The path names the listening end: the client's peer, the accepted socket's own side.
    const path = sock.url.replace(/^unix:\/\//, "");
    return (remote ? !s.accepted : s.accepted) ? path : false;
  }
  try {
    return endpointName(remote ? sock.remote : sock.local);
  } catch {
    return false;
  }
}

/**
 * Two connected sockets (PHP's `stream_socket_pair`): STREAM_PF_UNIX with STREAM_SOCK_STREAM or
 * STREAM_SOCK_DGRAM. Made from a listener on a temporary unix path (removed at once for
 * streams, at close for datagrams), since Node has no socketpair().
 *
 * @example
 * ```ts
 * const [a, b] = (await stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, 0)) as [PhpStream, PhpStream];
 * ```
 */
export async function stream_socket_pair(domain: number, type: number, protocol: number): Promise<[PhpStream, PhpStream] | false> {
  const fn = "stream_socket_pair";
  void protocol;
  const fail = (code: string): false => {
    warn(fn, `Failed to create sockets: [${errnoOf(code)}]: ${strerror(code)}`);
    return false;
  };
  if (domain !== STREAM_PF_UNIX) return fail(domain === STREAM_PF_INET || domain === STREAM_PF_INET6 ? "EOPNOTSUPP" : "EAFNOSUPPORT");
  if (type !== STREAM_SOCK_STREAM && type !== STREAM_SOCK_DGRAM) return fail("ESOCKTNOSUPPORT");
  const dir = mkdtempSync(join(tmpdir(), "sockurl-pair-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (type === STREAM_SOCK_STREAM) {
      const server = await listen(`unix://${join(dir, "s")}`);
      let pair: [Socket, Socket];
      try {
        pair = await Promise.all([connect(server.url), server.accept()]);
      } finally {
        await server.close();
        cleanup();
      }
      return pair.map((socket) => {
        const s = new PhpStream({ kind: "socket", context: new PhpContext(), streamType: "generic_socket", transport: "unix", socket });
        s.pair = true;
        return s;
      }) as [PhpStream, PhpStream];
    }
    const a = join(dir, "a"), b = join(dir, "b");
    const first = (await listen(`udg://${a}`)) as DatagramSocket;
    const second = await connect(`udg://${a}`, { bindTo: b });
    const streams = [first, second].map((datagram) => {
      const s = new PhpStream({ kind: "dgram", context: new PhpContext(), streamType: "generic_socket", transport: "udg", datagram });
      s.pair = true;
      return s;
    }) as [PhpStream, PhpStream];
    streams[0].defaultPeer = b;
    let open = 2;
    for (const s of streams) s.onClose.push(() => { if (--open === 0) cleanup(); });
    return streams;
  } catch (err) {
    cleanup();
    return fail((err as { code?: string }).code ?? "EMFILE");
  }
}

/**
 * PHP's registered socket transports (PHP's `stream_get_transports`).
 *
 * @example
 * ```ts
 * stream_get_transports(); // ["tcp", "udp", "unix", "udg", "ssl", "tls", "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"]
 * ```
 */
export function stream_get_transports(): string[] {
  return [...PHP_TRANSPORTS];
}
