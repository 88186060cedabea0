/**
 * stream_socket_server and stream_socket_accept on top of sockurl's listen() and Server.
 */
import { isIP } from "node:net";
import { listen, SocketError, type ListenOptions } from "../index.js";
import { STREAM_SERVER_BIND, STREAM_SERVER_LISTEN } from "./constants.js";
import { PhpContext } from "./context.js";
import { osError } from "./errno.js";
import { resolve } from "./resolve.js";
import { streamTypeOf, timeoutMs } from "./client.js";
import { DEFAULT_SOCKET_TIMEOUT, PhpStream, streamArg } from "./stream.js";
import { parseHostPort, splitTarget, urlHost } from "./target.js";
import { checkPeer, prepareTls } from "./tls.js";
import { stream_select } from "./select.js";
import { warn, type Ref } from "./warnings.js";

const truthy = (v: unknown) => v !== undefined && v !== null && v !== false && v !== 0 && v !== "" && v !== "0";
const now = () => performance.now();

/**
 * Opens a listening socket (PHP's `stream_socket_server`). `udp://` and `udg://` need
 * `STREAM_SERVER_BIND` alone, as in PHP. Bind errors give errno 0 and the system's text.
 *
 * @example
 * ```ts
 * const server = await stream_socket_server("tcp://127.0.0.1:0", errno, errstr);
 * const name = stream_socket_get_name(server, false); // "127.0.0.1:41234"
 * ```
 */
export async function stream_socket_server(
  address: string,
  error_code: Ref<number> | null = null,
  error_message: Ref<string> | null = null,
  flags = STREAM_SERVER_BIND | STREAM_SERVER_LISTEN,
  context: PhpContext | null = null,
): Promise<PhpStream | false> {
  const fn = "stream_socket_server";
  if (error_code) error_code.value = 0;
  if (error_message) error_message.value = "";
  const ctx = context ?? new PhpContext();
  const fail = (errstr: string): false => {
    if (error_message) error_message.value = errstr;
    warn(fn, `Unable to connect to ${address} (${errstr === "" ? "Unknown error" : errstr})`);
    return false;
  };
  const split = splitTarget(String(address));
  if ("error" in split) return fail(split.error);
  const { transport } = split;
  const dgram = transport === "udp" || transport === "udg";
  if (dgram && (flags & STREAM_SERVER_LISTEN) !== 0) return fail("");
  const socketOpts = (ctx.options.socket ?? {}) as Record<string, unknown>;
  const backlog = socketOpts.backlog !== undefined ? Math.max(1, Math.trunc(Number(socketOpts.backlog)) || 1) : 32;
  if (transport === "unix" || transport === "udg") {
    try {
      const bound = await listen(`${transport}://${split.address}`, transport === "unix" ? { backlog } : {});
      return transport === "udg"
        ? new PhpStream({ kind: "dgram", context: ctx, streamType: "udg_socket", transport, datagram: bound as never })
        : new PhpStream({ kind: "server", context: ctx, streamType: "unix_socket", transport, server: bound });
    } catch (err) {
      // PHP reports a unix path in use without a text.
      const os = osError(err);
      return fail(os === null || os.code === "EADDRINUSE" ? "" : os.text);
    }
  }
  const hp = parseHostPort(split.address);
  if ("error" in hp) return fail(hp.error);
  const found = await resolve(hp.host);
  if ("error" in found) {
    warn(fn, found.error);
    return fail(found.error);
  }
  const ip = found.addresses[0]!;
  const options: ListenOptions = {};
  if (transport === "udp") {
    options.reuseAddr = true;
    if (truthy(socketOpts.so_broadcast)) options.broadcast = true;
  } else {
    options.backlog = backlog;
    options.noDelay = truthy(socketOpts.tcp_nodelay);
  }
  if (isIP(ip) === 6 && socketOpts.ipv6_v6only !== undefined) options.ipv6Only = truthy(socketOpts.ipv6_v6only);
  if (truthy(socketOpts.so_reuseport) && transport !== "udp" && supportsReusePort()) options.reusePort = true;
  const isTls = transport !== "tcp" && transport !== "udp";
  if (isTls) {
    const tls = prepareTls(ctx, "server", transport, hp.host);
    if ("fail" in tls) {
      for (const w of tls.fail) warn(fn, w.text, undefined, w.raw);
      return fail("");
    }
    if (tls.options.certFile === undefined && tls.options.sniCertificates === undefined) {
      // PHP opens the listener and fails each handshake at accept: listen in plaintext and do so.
      try {
        const bound = await listen(`tcp://${urlHost(ip)}:${hp.port}`, options);
        const stream = new PhpStream({ kind: "server", context: ctx, streamType: streamTypeOf(transport), transport, server: bound });
        stream.noCertificate = true;
        return stream;
      } catch (err) {
        return fail(osError(err)?.text ?? "");
      }
    }
    options.tls = { ...tls.options, handshakeTimeout: DEFAULT_SOCKET_TIMEOUT };
  }
  const url = `${isTls ? "tls" : transport}://${urlHost(ip)}:${hp.port}`;
  try {
    const bound = await listen(url, options);
    if (transport === "udp") {
      return new PhpStream({ kind: "dgram", context: ctx, streamType: "udp_socket", transport, datagram: bound as never });
    }
    return new PhpStream({ kind: "server", context: ctx, streamType: streamTypeOf(transport), transport, server: bound });
  } catch (err) {
    if (err instanceof SocketError && err.code === "ERR_INVALID_OPTION" && isTls) {
      warn(fn, `Unable to set private key file \`${String((ctx.options.ssl ?? {}).local_pk ?? (ctx.options.ssl ?? {}).local_cert)}'`);
      return fail("");
    }
    return fail(osError(err)?.text ?? "");
  }
}

function supportsReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** `ip:port`, `[v6]:port`, or "" for unix sockets, as PHP names a peer. */
export function endpointName(e: { host: string; port: number; family: string }): string {
  if (e.family === "unix") return e.host;
  return `${urlHost(e.host)}:${e.port}`;
}

/**
 * Accepts a connection (PHP's `stream_socket_accept`): waits up to `timeout` seconds
 * (default 60; -1 forever), else warns `Accept failed: Connection timed out` and gives false.
 * On tls:// servers the handshake has already happened: clients that fail it never show up.
 *
 * @example
 * ```ts
 * const peer = ref<string | null>(null);
 * const conn = await stream_socket_accept(server, 5, peer);
 * ```
 */
export async function stream_socket_accept(
  socket: PhpStream,
  timeout: number | null = null,
  peer_name: Ref<string | null> | null = null,
): Promise<PhpStream | false> {
  const fn = "stream_socket_accept";
  const server = streamArg(fn, socket);
  const ms = timeoutMs(timeout);
  if (server.kind !== "server") {
    // accept() on a connected socket: PHP polls it first, so it waits unless data is there.
    const ready = server.readReady || (await stream_select({ value: [server] }, null, null, ms === Infinity ? null : Math.floor(ms / 1000), ms === Infinity ? null : Math.round((ms % 1000) * 1000))) !== 0;
    warn(fn, ready ? "Accept failed: Invalid argument" : "Accept failed: Connection timed out");
    return false;
  }
  const accepted = await server.connectionAt(ms === Infinity ? Infinity : now() + ms);
  if (accepted === null) {
    warn(fn, "Accept failed: Connection timed out");
    return false;
  }
  const tlsFailure = (first: string): false => {
    warn(fn, first);
    warn(fn, "Failed to enable crypto");
    warn(fn, "Accept failed: Success");
    return false;
  };
  if (accepted === "failed") {
    // sockurl dropped a client that failed its handshake; it does not say why.
    const ssl = (server.context.options.ssl ?? {}) as Record<string, unknown>;
    return tlsFailure(truthy(ssl.verify_peer) ? "Could not get peer certificate" : "SSL: Handshake timed out");
  }
  if (server.noCertificate) {
    accepted.destroy();
    return tlsFailure("SSL_R_NO_SHARED_CIPHER: no suitable shared cipher could be used.  This could be because the server is missing an SSL certificate (local_cert context option)");
  }
  if (accepted.encrypted) {
    const refused = checkPeer(accepted, server.context, { verifyName: false, peerName: "" });
    if (refused !== null) {
      accepted.destroy();
      return tlsFailure(refused[0]!);
    }
  }
  const stream = new PhpStream({
    kind: "socket", context: server.context, streamType: server.streamType, transport: server.transport, socket: accepted,
  });
  stream.accepted = true;
  if (peer_name) peer_name.value = accepted.remote.family === "unix" ? "" : endpointName(accepted.remote);
  return stream;
}
