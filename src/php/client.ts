/**
 * fsockopen, pfsockopen and stream_socket_client: PHP's target parsing and errors on top of
 * sockurl's connect(), one address after another within one timeout, as PHP tries them.
 */
import { isIP } from "node:net";
import { connect, listen, SocketError, type ConnectOptions, type DatagramSocket, type Socket } from "../index.js";
import { STREAM_CLIENT_ASYNC_CONNECT, STREAM_CLIENT_CONNECT, STREAM_CLIENT_PERSISTENT } from "./constants.js";
import { PhpContext } from "./context.js";
import { codeOf, osError, strerror } from "./errno.js";
import { parseBindTo, resolve } from "./resolve.js";
import { DEFAULT_SOCKET_TIMEOUT, PhpStream } from "./stream.js";
import { parseHostPort, splitTarget, urlHost, type PhpTransport } from "./target.js";
import { checkPeer, handshakeWarning, prepareTls } from "./tls.js";
import { warn, type Ref } from "./warnings.js";

const persistent = new Map<string, PhpStream>();
const now = () => performance.now();

/** @internal A failure: the refs are set and the warning is reported by the caller. */
class ConnectFailure {
  constructor(
    readonly errno: number,
    readonly errstr: string,
    readonly warnings: Array<{ text: string; raw?: boolean }> = [],
    /** A TLS failure: fsockopen() then leaves `$errstr` unwritten, as PHP does. */
    readonly tls = false,
  ) {}

  /** As an error a stream can carry (asynchronous connects). */
  toError(): Error {
    return Object.assign(new Error(this.errstr), { code: codeOf(this.errno) ?? "ECONNABORTED", errno: this.errno });
  }
}

/** Seconds (PHP float) → ms; null means default_socket_timeout, negative means no deadline. */
export function timeoutMs(seconds: number | null | undefined): number {
  if (seconds === null || seconds === undefined) return DEFAULT_SOCKET_TIMEOUT;
  if (!Number.isFinite(seconds) || seconds < 0) return Infinity;
  return seconds * 1000;
}

const truthy = (v: unknown) => v !== undefined && v !== null && v !== false && v !== 0 && v !== "" && v !== "0";

export function streamTypeOf(transport: PhpTransport): string {
  return transport === "udp" ? "udp_socket" : transport === "unix" ? "unix_socket" : transport === "udg" ? "udg_socket" : "tcp_socket/ssl";
}

/** Connects; throws ConnectFailure with PHP's errno/errstr/warnings. */
async function dial(fn: string, target: string, ms: number, ctx: PhpContext): Promise<PhpStream> {
  const split = splitTarget(target);
  if ("error" in split) throw new ConnectFailure(0, split.error);
  const { transport, address } = split;
  const timeout = ms === Infinity ? 0 : Math.max(ms, 100);
  if (transport === "unix" || transport === "udg") {
    try {
      const s = await connect(`${transport}://${address}`, { timeout });
      return transport === "udg"
        ? new PhpStream({ kind: "dgram", context: ctx, streamType: "udg_socket", transport, datagram: s as unknown as DatagramSocket })
        : new PhpStream({ kind: "socket", context: ctx, streamType: "unix_socket", transport, host: "localhost", socket: s });
    } catch (err) {
      throw osFailure(err);
    }
  }
  const hp = parseHostPort(address);
  if ("error" in hp) throw new ConnectFailure(0, hp.error);
  const found = await resolve(hp.host);
  if ("error" in found) {
    warn(fn, found.error);
    throw new ConnectFailure(0, found.error);
  }
  if (hp.port === 0) throw new ConnectFailure(111, strerror("ECONNREFUSED"));
  const deadline = ms === Infinity ? Infinity : now() + Math.max(ms, 100);
  const socketOpts = (ctx.options.socket ?? {}) as Record<string, unknown>;
  let bind = parseBindTo(socketOpts.bindto, ctx.has("socket", "bindto"));
  if (bind !== null && "error" in bind) throw new ConnectFailure(0, bind.error);
  if (bind !== null && "warning" in bind) {
    warn(fn, bind.warning);
    bind = null;
  }
  const isTls = transport !== "tcp" && transport !== "udp";
  const tls = isTls ? prepareTls(ctx, "client", transport, hp.host) : null;
  if (tls !== null && "fail" in tls) throw new ConnectFailure(0, "", [...tls.fail, { text: "Failed to enable crypto" }], true);
  if (transport === "udp" && found.addresses[0] === "255.255.255.255") {
    // The limited broadcast address: connect() needs SO_BROADCAST first, which sockurl sets only
    // after connecting; a bound socket that sends there stands in for the connected one.
    if (!truthy(socketOpts.so_broadcast)) throw new ConnectFailure(13, strerror("EACCES"));
    const bound = await listen(`udp://${bind !== null && "host" in bind ? `${urlHost(bind.host)}:${bind.port}` : "0.0.0.0:0"}`, { broadcast: true });
    const stream = new PhpStream({ kind: "dgram", context: ctx, streamType: "udp_socket", transport, host: hp.host, datagram: bound as DatagramSocket });
    stream.defaultPeer = `udp://255.255.255.255:${hp.port}`;
    return stream;
  }
  let last: ConnectFailure = new ConnectFailure(110, strerror("ETIMEDOUT"));
  for (const ip of found.addresses) {
    const remaining = deadline - now();
    if (remaining <= 0) break;
    const family = isIP(ip);
    const bindTo = bind !== null && "host" in bind && isIP(bind.host) === family ? `${urlHost(bind.host)}:${bind.port}` : undefined;
    const options: ConnectOptions = {
      timeout: remaining === Infinity ? 0 : Math.ceil(remaining),
      ...(bindTo === undefined ? {} : { bindTo }),
      ...(transport === "udp" ? (truthy(socketOpts.so_broadcast) ? { broadcast: true } : {}) : { noDelay: truthy(socketOpts.tcp_nodelay) }),
      ...(tls !== null && "options" in tls ? { tls: tls.options } : {}),
    };
    const url = `${isTls ? "tls" : transport}://${urlHost(ip)}:${hp.port}`;
    let s: Socket | DatagramSocket;
    try {
      s = await connectOnce(fn, url, options, bindTo);
    } catch (err) {
      if (err instanceof SocketError && err.code !== "ERR_INVALID_OPTION" && (err.phase === "tls" || err.code.startsWith("ERR_TLS"))) {
        throw new ConnectFailure(0, "", [{ text: handshakeWarning(err) }, { text: "Failed to enable crypto" }], true);
      }
      const code = (err as { code?: unknown }).code;
      if (isTls && typeof code === "string" && (code === "ERR_INVALID_OPTION" || code.startsWith("ERR_OSSL"))) {
        // A key that does not match the certificate, or a wrong passphrase.
        const ssl = (ctx.options.ssl ?? {}) as Record<string, unknown>;
        const key = String(ssl.local_pk ?? ssl.local_cert ?? "");
        throw new ConnectFailure(0, "", [{ text: `Unable to set private key file \`${key}'` }, { text: "Failed to enable crypto" }], true);
      }
      if (err instanceof SocketError && err.code === "ETIMEDOUT") {
        last = new ConnectFailure(110, strerror("ETIMEDOUT"));
        break;
      }
      last = osFailure(err);
      continue;
    }
    if (transport === "udp") {
      return new PhpStream({ kind: "dgram", context: ctx, streamType: "udp_socket", transport, host: hp.host, datagram: s as DatagramSocket });
    }
    const socket = s as Socket;
    if (tls !== null && "options" in tls) {
      const refused = checkPeer(socket, ctx, tls);
      if (refused !== null) {
        socket.destroy();
        throw new ConnectFailure(0, "", [...refused.map((text) => ({ text })), { text: "Failed to enable crypto" }], true);
      }
    }
    return new PhpStream({ kind: "socket", context: ctx, streamType: streamTypeOf(transport), transport, host: hp.host, socket });
  }
  throw last;
}

/** One connect; a failed bind is PHP's warning and a second try without it. */
async function connectOnce(fn: string, url: string, options: ConnectOptions, bindTo: string | undefined): Promise<Socket | DatagramSocket> {
  try {
    return await connect(url, options);
  } catch (err) {
    const cause = err instanceof SocketError ? (err.cause as { syscall?: string } | undefined) : undefined;
    if (bindTo === undefined || cause?.syscall !== "bind") throw err;
    warn(fn, `Failed to bind to '${bindTo}', system said: ${osError(err)?.text ?? "Unknown error"}`);
    const { bindTo: _dropped, ...rest } = options;
    return connect(url, rest);
  }
}

function osFailure(err: unknown): ConnectFailure {
  const os = osError(err);
  if (os !== null) return new ConnectFailure(os.errno, os.text);
  return new ConnectFailure(0, "");
}

async function open(
  fn: string, target: string, shown: string,
  errnoRef: Ref<number> | null | undefined, errstrRef: Ref<string> | null | undefined,
  ms: number, flags: number, context: PhpContext | null | undefined, persistKey: string | null,
): Promise<PhpStream | false> {
  if (errnoRef) errnoRef.value = 0;
  if (errstrRef && fn === "stream_socket_client") errstrRef.value = "";
  if (context !== null && context !== undefined && !(context instanceof PhpContext)) {
    throw new TypeError(`${fn}(): Argument #6 ($context) must be a valid stream context`);
  }
  if (persistKey !== null) {
    const existing = persistent.get(persistKey);
    if (existing !== undefined && !existing.closed && !existing.atEof) return existing;
    persistent.delete(persistKey);
  }
  const ctx = context ?? new PhpContext();
  const fail = (f: ConnectFailure): false => {
    for (const w of f.warnings) warn(fn, w.text, undefined, w.raw);
    if (errnoRef) errnoRef.value = f.errno;
    if (errstrRef && !(f.tls && fn !== "stream_socket_client")) errstrRef.value = f.errstr;
    warn(fn, `Unable to connect to ${shown} (${f.errstr === "" ? "Unknown error" : f.errstr})`);
    return false;
  };
  if ((flags & (STREAM_CLIENT_ASYNC_CONNECT | STREAM_CLIENT_CONNECT)) === 0) {
    // Without STREAM_CLIENT_CONNECT PHP makes the socket and never connects it.
    const split = splitTarget(target);
    if ("error" in split) return fail(new ConnectFailure(0, split.error));
    const stream = new PhpStream({ kind: "socket", context: ctx, streamType: streamTypeOf(split.transport), transport: split.transport });
    stream.unconnected = true;
    return stream;
  }
  if ((flags & STREAM_CLIENT_ASYNC_CONNECT) !== 0) {
    // Parse errors are reported now; the connect itself goes on in the background.
    const split = splitTarget(target);
    if ("error" in split) return fail(new ConnectFailure(0, split.error));
    if (split.transport !== "unix" && split.transport !== "udg") {
      const hp = parseHostPort(split.address);
      if ("error" in hp) return fail(new ConnectFailure(0, hp.error));
    }
    const dgram = split.transport === "udp" || split.transport === "udg";
    const stream = new PhpStream({ kind: dgram ? "dgram" : "socket", context: ctx, streamType: streamTypeOf(split.transport), transport: split.transport });
    const pending = dial(fn, target, ms, ctx).then(
      (inner) => {
        stream.host = inner.host;
        return (inner.socket ?? inner.datagram)!;
      },
      (err: unknown) => {
        throw err instanceof ConnectFailure ? err.toError() : err;
      },
    );
    stream.connectInBackground(pending);
    pending.catch(() => {});
    return remember(stream, persistKey);
  }
  try {
    const stream = await dial(fn, target, ms, ctx);
    if (errstrRef) errstrRef.value = "";
    return remember(stream, persistKey);
  } catch (err) {
    if (err instanceof ConnectFailure) return fail(err);
    throw err;
  }
}

function remember(stream: PhpStream, key: string | null): PhpStream {
  if (key !== null) {
    stream.persistentKey = key;
    persistent.set(key, stream);
    stream.onClose.push(() => {
      if (persistent.get(key) === stream) persistent.delete(key);
    });
  }
  return stream;
}

/**
 * Opens a connection (PHP's `stream_socket_client`). Resolves to the stream, or `false` with
 * `errno`/`errstr` set and a warning.
 *
 * @example
 * ```ts
 * const errno = ref(0), errstr = ref("");
 * const fp = await stream_socket_client("tcp://127.0.0.1:25", errno, errstr, 5);
 * if (fp === false) throw new Error(`${errstr.value} (${errno.value})`);
 * ```
 */
export function stream_socket_client(
  address: string,
  error_code: Ref<number> | null = null,
  error_message: Ref<string> | null = null,
  timeout: number | null = null,
  flags = 4,
  context: PhpContext | null = null,
): Promise<PhpStream | false> {
  const key = (flags & STREAM_CLIENT_PERSISTENT) !== 0 ? `stream_socket_client__${address}` : null;
  return open("stream_socket_client", String(address), String(address), error_code, error_message, timeoutMs(timeout), flags, context, key);
}

/**
 * Opens a connection to `hostname` and `port` (PHP's `fsockopen`); `port` ≤ 0 uses the host
 * string as the whole target (`"unix:///run/x.sock"`, `"127.0.0.1:80"`).
 *
 * @example
 * ```ts
 * const fp = await fsockopen("udp://127.0.0.1", 53, errno, errstr, 2);
 * ```
 */
export function fsockopen(
  hostname: string,
  port = -1,
  error_code: Ref<number> | null = null,
  error_message: Ref<string> | null = null,
  timeout: number | null = null,
): Promise<PhpStream | false> {
  return openHostPort("fsockopen", hostname, port, error_code, error_message, timeout);
}

/**
 * fsockopen() whose connection is kept and handed out again to the same `host:port` while it
 * is open (PHP's `pfsockopen`; here: for the life of the process).
 *
 * @example
 * ```ts
 * const fp = await pfsockopen("127.0.0.1", 6379);
 * ```
 */
export function pfsockopen(
  hostname: string,
  port = -1,
  error_code: Ref<number> | null = null,
  error_message: Ref<string> | null = null,
  timeout: number | null = null,
): Promise<PhpStream | false> {
  return openHostPort("pfsockopen", hostname, port, error_code, error_message, timeout);
}

/** fsockopen and pfsockopen: `port` > 0 is appended to the host; pfsockopen keeps the stream by `host:port`. */
function openHostPort(
  fn: "fsockopen" | "pfsockopen",
  hostname: string,
  port: number,
  error_code: Ref<number> | null,
  error_message: Ref<string> | null,
  timeout: number | null,
): Promise<PhpStream | false> {
  const p = Math.trunc(Number(port));
  const target = p > 0 ? `${hostname}:${p}` : String(hostname);
  const key = fn === "pfsockopen" ? `pfsockopen__${hostname}:${p}` : null;
  return open(fn, target, `${hostname}:${p}`, error_code, error_message, timeoutMs(timeout), 4, null, key);
}
