/**
 * connect(): parse → validate → resolve → dial (Happy Eyeballs) → Socket, one path for
 * every transport, all inside one deadline.
 */
import net from "node:net";
import { isIP } from "node:net";
import {
  checkTransport, formatAddress, ioPath, isTlsTransport, parseAddress, toAddress,
  type Address, type DatagramTarget, type InetAddress,
} from "./address.js";
import { DatagramSocket } from "./datagram.js";
import { openUdp } from "./datagram-udp.js";
import { openUnixDatagram } from "./datagram-unix.js";
import { Deadline } from "./deadline.js";
import { SocketError, socketError, toSocketError } from "./errors.js";
import { validateConnectOptions, type ConnectOptions, type LookupAddress } from "./options.js";
import { DEFAULT_ATTEMPT_DELAY, happyEyeballs, literalAddress, resolveHost, type Attempt, type AttemptFailure } from "./resolve.js";
import { Socket, type Endpoint, type SocketInit } from "./socket.js";
import { clientHandshake, prepareClient, type PreparedClient } from "./tls-client.js";
import { negotiate, validateStartTlsOptions } from "./starttls/index.js";
import { checkTlsFiles, validateTlsOptions, type TlsOptions } from "./tls-options.js";
import type { StartTlsProtocol } from "./starttls/types.js";

/** Connect deadline when none is given: 60 s, PHP's default_socket_timeout. */
export const DEFAULT_CONNECT_TIMEOUT = 60_000;

/**
 * Opens a connection to a transport URL.
 *
 * Stream transports (`tcp://`, bare `host:port`, `unix://`) give a `Socket`; datagram
 * transports (`udp://`, `udg://`) give a connected `DatagramSocket`. Every failure rejects
 * with a `SocketError`; bad input does so before any I/O.
 *
 * @example
 * ```ts
 * import { connect } from "sockurl";
 * const socket = await connect("tcp://[::1]:8080", { timeout: 5000 });
 * const udp = await connect("udp://127.0.0.1:53");
 * ```
 */
export function connect(target: DatagramTarget, options?: ConnectOptions): Promise<DatagramSocket>;
export function connect(target: string | Address, options?: ConnectOptions): Promise<Socket>;
export function connect(target: string | Address, options?: ConnectOptions): Promise<Socket | DatagramSocket> {
  let plan: ConnectPlan;
  try {
    plan = planConnect(target, options);
  } catch (err) {
    return Promise.reject(err);
  }
  const { address, opts, url } = plan;
  // Created only once every check has passed: a deadline holds a timer until it is cleared.
  const deadline = new Deadline(opts.timeout ?? DEFAULT_CONNECT_TIMEOUT, opts.signal, url);
  // The common plaintext connect (an IP address or a unix path, nothing to negotiate) is one
  // promise, the dial's own: no async frame and no promise chained after it.
  if (deadline.expired === null && plan.startTls === undefined) {
    if (address.transport === "unix") {
      const made = (stream: net.Socket): Socket => new Socket(stream, streamInit(plan, null));
      return dialWithin(net.connect({ path: ioPath(address.path), allowHalfOpen: true }), deadline, url, made, FINAL);
    }
    const ip = address.transport === "tcp" && plan.bind === undefined ? isIP(address.host) : 0;
    const family = opts.family ?? 0;
    if (ip !== 0 && (family === 0 || family === ip)) {
      const to = { address: (address as InetAddress).host, family: ip as 4 | 6 };
      const port = (address as InetAddress).port;
      const made = (stream: net.Socket): Socket => new Socket(stream, streamInit(plan, dialledEndpoint(to, port)));
      return dialWithin(net.connect(tcpOptions(to, port, opts, undefined)), deadline, url, made, FINAL);
    }
  }
  return open(plan, deadline);
}

/** A connect request that passed every check, before any I/O. */
interface ConnectPlan {
  address: Address;
  url: string;
  opts: ConnectOptions;
  tls: TlsOptions;
  useTls: boolean;
  startTls: { protocol: string; options: Record<string, unknown> } | undefined;
  bind: { host: string; port: number } | undefined;
  /** The TLS handshake's settings, files read, for tls:// targets. */
  prepared: PreparedClient | undefined;
}

/** Parses and checks everything a connect needs; throws a SocketError for bad input. */
function planConnect(target: string | Address, options: ConnectOptions | undefined): ConnectPlan {
  const { address, url } = parseTarget(target);
  const opts = validateConnectOptions(options, url);
  checkTransport(address, url);
  const tls = validateTlsOptions(opts.tls, url);
  const useTls = isTlsTransport(address.transport);
  const startTls = opts.startTls === undefined ? undefined : splitStartTls(opts.startTls);
  if (startTls !== undefined) {
    if (address.transport !== "tcp" && address.transport !== "unix") {
      throw socketError("ERR_INVALID_OPTION", "address", url, `startTls needs a plaintext tcp:// or unix:// target, not ${address.transport}://`);
    }
    validateStartTlsOptions(startTls.protocol, startTls.options);
  } else if (opts.tls !== undefined && !useTls) {
    throw socketError("ERR_INVALID_OPTION", "address", url,
      `tls options were given for ${address.transport}://; use tls://, the startTls option, or socket.startTls()`);
  }
  if (!("path" in address) && address.port === 0) {
    throw socketError("ERR_INVALID_ADDRESS", "address", url,
      "port 0 is only valid for listen() and bindTo; give the port to connect to");
  }
  const bind = opts.bindTo === undefined || "path" in address ? undefined : parseBindTo(opts.bindTo, url);
  // Every TLS file (caFile, caPath, certFile, keyFile) is read here, before any socket exists:
  // an unreadable one is ERR_INVALID_OPTION with nothing to close. A tls:// connect keeps what
  // was read for its handshake; a STARTTLS connect only checks, since the upgrade prepares
  // its own once the dialogue is done (reading the files again, off the hot path).
  let prepared: PreparedClient | undefined;
  if (useTls) {
    prepared = prepareClient(tls, { host: (address as InetAddress).host, transport: address.transport, url });
  } else if (startTls !== undefined) {
    checkTlsFiles(tls, url);
  }
  return { address, url, opts, tls, useTls, startTls, bind, prepared };
}

/** A unix client's own end: unnamed. */
const UNNAMED: Endpoint = Object.freeze({ host: "", port: 0, family: "unix" });

/**
 * How a stream Socket is made for this plan (before any TLS session). `remote` is the address
 * the dial reached (tcp), null for a unix path: known here, so the Socket need not ask.
 */
function streamInit(plan: ConnectPlan, remote: Endpoint | null): SocketInit {
  const { address, url, opts } = plan;
  const host = "path" in address ? "localhost" : address.host;
  return {
    transport: address.transport, url, readTimeout: opts.readTimeout, writeTimeout: opts.writeTimeout,
    highWaterMark: opts.highWaterMark, host,
    ...("path" in address ? { remote: { host: address.path, port: 0, family: "unix" }, local: UNNAMED } : { remote: remote ?? undefined }),
  };
}

/** The Endpoint of an address a dial reached. */
function dialledEndpoint(to: LookupAddress, port: number): Endpoint {
  return { host: to.address, port, family: to.family === 6 ? "IPv6" : "IPv4" };
}

/** A connected stream and the address it reached. */
interface Dialled {
  stream: net.Socket;
  remote: Endpoint;
}

/** Every other connect: resolve, race, handshake or negotiate, as the plan asks, inside `deadline`. */
async function open(plan: ConnectPlan, deadline: Deadline): Promise<Socket | DatagramSocket> {
  const { address, url, opts, startTls, bind } = plan;
  try {
    if (deadline.expired) throw deadline.expired;
    if ("path" in address && address.transport === "udg") {
      const backend = await openUnixDatagram({ connect: address.path, bind: bindPath(opts.bindTo, url) }, url, "connect");
      return new DatagramSocket(backend, { transport: "udg", url, readTimeout: opts.readTimeout });
    }
    if ("path" in address) {
      const socket = await dialWithin(net.connect({ path: ioPath(address.path), allowHalfOpen: true }), deadline, url,
        (stream) => new Socket(stream, streamInit(plan, null)));
      return startTls === undefined ? socket : await upgrade(socket, startTls, plan.tls, "localhost", deadline);
    }
    deadline.phase = "resolve";
    let addresses = literalAddress(address.host, opts.family ?? 0, url)
      ?? await deadline.race(resolveHost(address.host, { family: opts.family, lookup: opts.lookup }, url));
    deadline.phase = "connect";
    if (bind) addresses = matchFamily(addresses, bind, url);
    if (address.transport === "udp") {
      const peer = addresses[0]!;
      const backend = await openUdp({
        family: peer.family, bind, connect: { host: peer.address, port: address.port },
        reuseAddr: opts.reuseAddr, ipv6Only: opts.ipv6Only, broadcast: opts.broadcast,
      }, url, "connect");
      return new DatagramSocket(backend, { transport: "udp", url, readTimeout: opts.readTimeout });
    }
    const { stream, remote } = await dialTcp(address, addresses, opts, bind, deadline, url);
    if (!plan.useTls) {
      const socket = new Socket(stream, streamInit(plan, remote));
      return startTls === undefined ? socket : await upgrade(socket, startTls, plan.tls, address.host, deadline);
    }
    deadline.phase = "tls";
    const handshake = clientHandshake(stream, plan.tls, { host: address.host, transport: address.transport, url }, plan.prepared);
    const session = await deadline.race(handshake.promise, handshake.cancel);
    return new Socket(session.stream, { ...streamInit(plan, remote), tls: session });
  } finally {
    deadline.clear();
  }
}

type StartTlsOption = NonNullable<ConnectOptions["startTls"]>;

function splitStartTls(option: StartTlsOption): { protocol: string; options: Record<string, unknown> } {
  if (typeof option === "string") return { protocol: option, options: {} };
  if (option === null || typeof option !== "object") return { protocol: String(option), options: {} };
  const { protocol, ...options } = option;
  return { protocol, options };
}

/** Negotiates STARTTLS inside the connect deadline (options checked by planConnect); the socket is destroyed on failure. */
async function upgrade(
  socket: Socket,
  startTls: { protocol: string; options: Record<string, unknown> },
  tls: TlsOptions,
  host: string,
  deadline: Deadline,
): Promise<Socket> {
  await negotiate(socket, startTls.protocol as StartTlsProtocol, { ...startTls.options, tls }, host, deadline);
  return socket;
}

/**
 * The Address and canonical URL of a target. (Not cached: parsing and formatting take about
 * half a microsecond, under 0.3 % of a loopback connect, below what the bench can see.)
 */
function parseTarget(target: string | Address): { address: Address; url: string } {
  const address = toAddress(target);
  return { address, url: formatAddress(address) };
}

function parseBindTo(bindTo: string, url: string): { host: string; port: number } {
  let a: Address;
  try {
    a = parseAddress(bindTo.includes("://") ? bindTo : `tcp://${bindTo}`);
  } catch (err) {
    throw socketError("ERR_INVALID_OPTION", "address", url,
      `bindTo must be "ip:port" (e.g. "127.0.0.1:0" or "[::1]:0"), got ${JSON.stringify(bindTo)}`, { cause: err });
  }
  if (!("host" in a) || isIP(a.host) === 0) {
    throw socketError("ERR_INVALID_OPTION", "address", url,
      `bindTo needs an IP address, not a name: got ${JSON.stringify(bindTo)}`);
  }
  return { host: a.host, port: a.port };
}

/** A udg client binds a path of its own, so that the server can answer it. */
function bindPath(bindTo: string | undefined, url: string): string | undefined {
  if (bindTo === undefined) return undefined;
  const path = bindTo.startsWith("udg://") ? bindTo.slice(6) : bindTo;
  if (!path.startsWith("/")) {
    throw socketError("ERR_INVALID_OPTION", "address", url,
      `bindTo for udg:// must be an absolute path (e.g. "/tmp/client.sock"), got ${JSON.stringify(bindTo)}`);
  }
  return path;
}

function matchFamily(addresses: LookupAddress[], bind: { host: string }, url: string): LookupAddress[] {
  const family = isIP(bind.host);
  const usable = addresses.filter((a) => a.family === family);
  if (usable.length === 0) {
    throw socketError("EAFNOSUPPORT", "connect", url,
      `bindTo ${bind.host} is IPv${family} but the target has no IPv${family} address`);
  }
  return usable;
}

/** Passed to dialWithin() when the dial is the whole connect: its end also ends the deadline. */
const FINAL = true;

/**
 * Resolves with `connected(socket)` once `socket` connects; rejects with a SocketError (and
 * destroys it) when it fails or the deadline passes. One promise for the common one-address
 * dial, where a race of attempts would only add layers. With `final`, the deadline is cleared
 * as the dial settles, either way.
 */
function dialWithin<T>(
  socket: net.Socket,
  deadline: Deadline,
  url: string,
  connected: (stream: net.Socket) => T,
  final = false,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const settle = (err: SocketError | null): void => {
      if (final) deadline.clear();
      else deadline.offExpire(settle);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      if (err === null) return resolve(connected(socket));
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => settle(null);
    const onError = (err: Error): void => settle(toSocketError(err, "connect", url));
    if (deadline.expired) return settle(deadline.expired);
    socket.on("connect", onConnect);
    socket.on("error", onError);
    deadline.onExpire(settle);
  });
}

/** Resolves when `socket` connects to `to`; rejects (and destroys it) when it fails. */
function dialAttempt(socket: net.Socket, to: LookupAddress, port: number): Promise<Dialled> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off("connect", onConnect);
      socket.destroy();
      reject(err);
    };
    const onConnect = () => {
      socket.off("error", onError);
      resolve({ stream: socket, remote: dialledEndpoint(to, port) });
    };
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

function dialTcp(
  address: InetAddress,
  addresses: LookupAddress[],
  opts: ConnectOptions,
  bind: { host: string; port: number } | undefined,
  deadline: Deadline,
  url: string,
): Promise<Dialled> {
  const port = address.port;
  // One address (an IP literal, say): no race to run.
  if (addresses.length === 1) {
    const to = addresses[0]!;
    return dialWithin(net.connect(tcpOptions(to, port, opts, bind)), deadline, url, (stream) => ({ stream, remote: dialledEndpoint(to, port) }));
  }
  const dial = (a: LookupAddress): Attempt<Dialled> => {
    const socket = net.connect(tcpOptions(a, port, opts, bind));
    return { promise: dialAttempt(socket, a, port), cancel: () => socket.destroy() };
  };
  const race = happyEyeballs(addresses, dial, opts.attemptDelay ?? DEFAULT_ATTEMPT_DELAY, (d) => d.stream.destroy());
  return deadline.race(race.promise, race.cancel).catch((err: unknown) => {
    if (err instanceof SocketError) {
      // The deadline passed: keep what the attempts so far learned.
      if (race.failures.length === 0) throw err;
      throw socketError(err.code, err.phase, url, err.detail, { cause: attemptErrors(race.failures) });
    }
    throw combineFailures(err as AttemptFailure[], url);
  });
}

/**
 * net.connect() options for one address: the few keys every connect needs, then those asked for.
 * (The host is always an IP address here, so Node needs no family and does no lookup.)
 */
function tcpOptions(
  a: LookupAddress,
  port: number,
  opts: ConnectOptions,
  bind: { host: string; port: number } | undefined,
): net.TcpNetConnectOpts {
  const options: net.TcpNetConnectOpts = { host: a.address, port, allowHalfOpen: true, noDelay: opts.noDelay ?? true };
  const keepAlive = opts.keepAlive ?? false;
  if (keepAlive !== false) {
    options.keepAlive = true;
    if (typeof keepAlive === "number") options.keepAliveInitialDelay = keepAlive;
  }
  if (bind) {
    options.localAddress = bind.host;
    options.localPort = bind.port;
  }
  return options;
}

function attemptErrors(failures: AttemptFailure[]): AggregateError {
  return new AggregateError(failures.map((f) => f.error),
    failures.map((f) => `${f.address.address}: ${(f.error as Error).message}`).join("; "));
}

/** One error for a connect whose every attempt failed, keeping each attempt's error. */
function combineFailures(failures: AttemptFailure[], url: string): SocketError {
  if (failures.length === 1) return toSocketError(failures[0]!.error, "connect", url);
  const first = toSocketError(failures[0]!.error, "connect", url);
  const each = failures.map((f) => {
    const e = toSocketError(f.error, "connect");
    return `${f.address.family === 6 ? `[${f.address.address}]` : f.address.address} ${e.code}`;
  });
  return socketError(first.code, "connect", url, `all ${failures.length} addresses failed: ${each.join(", ")}`,
    { errno: first.errno, cause: attemptErrors(failures) });
}

