/**
 * Option types and their validation. Every option is checked here, before any I/O,
 * and a bad one is an ERR_INVALID_OPTION that names the option and what it accepts.
 */
import { invalidOption } from "./errors.js";
import type { TlsOptions } from "./tls-options.js";
import type { StartTlsNegotiationOptions, StartTlsProtocol } from "./starttls/types.js";

/**
 * One address a resolver returns.
 *
 * @example
 * ```ts
 * const address: LookupAddress = { address: "::1", family: 6 };
 * ```
 */
export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

/**
 * A resolver: given a host name, the addresses to try, in preference order.
 *
 * @example
 * ```ts
 * const lookup: Lookup = async () => [{ address: "127.0.0.1", family: 4 }];
 * await connect("tcp://db.internal:5432", { lookup });
 * ```
 */
export type Lookup = (
  hostname: string,
  options: { family: 0 | 4 | 6 },
) => Promise<readonly LookupAddress[]> | readonly LookupAddress[];

/**
 * Options of `connect()`.
 *
 * @example
 * ```ts
 * await connect("tls://example.com:443", { timeout: 5000, tls: { alpn: ["http/1.1"] } });
 * ```
 */
export interface ConnectOptions {
  /** Deadline in ms for the whole connect (resolve, dial, handshakes); default 60 000; 0 = none. */
  timeout?: number;
  /** Aborts the connect. */
  signal?: AbortSignal;
  /** Local `ip:port` to bind before connecting (`"127.0.0.1:0"`, `"[::1]:0"`); for udg://, a path. */
  bindTo?: string;
  /** Disable Nagle's algorithm (default true). */
  noDelay?: boolean;
  /** TCP keep-alive: `true`, or the initial delay in ms. */
  keepAlive?: boolean | number;
  /** Restrict name resolution to IPv4 (4) or IPv6 (6); 0 = both (default). */
  family?: 0 | 4 | 6;
  /** A custom resolver, instead of the system's. */
  lookup?: Lookup;
  /** Happy Eyeballs: ms between starting attempts to successive addresses (RFC 8305; default 250). */
  attemptDelay?: number;
  /** Default deadline in ms of each read on the socket (0 = none); a call's own `timeout` overrides it. */
  readTimeout?: number;
  /** Default deadline in ms of each write, flush and close on the socket (0 = none; close: 10 s); a call's own `timeout` overrides it. */
  writeTimeout?: number;
  /** Bytes read ahead before the socket pauses (default 64 KiB). */
  highWaterMark?: number;
  /** UDP: allow sending to broadcast addresses. */
  broadcast?: boolean;
  /** UDP: SO_REUSEADDR on the local socket. */
  reuseAddr?: boolean;
  /** UDP over IPv6: IPV6_V6ONLY on the local socket. */
  ipv6Only?: boolean;
  /** TLS options for tls://, ssl:// and tlsv1.x:// targets, and for the `startTls` upgrade. */
  tls?: TlsOptions;
  /** Connect in plaintext, negotiate STARTTLS for this protocol, and upgrade before resolving. */
  startTls?: StartTlsProtocol | ({ protocol: StartTlsProtocol } & Omit<StartTlsNegotiationOptions, "tls" | "timeout">);
}

/**
 * Options of `listen()`.
 *
 * @example
 * ```ts
 * await listen("tcp://127.0.0.1:0", { backlog: 128, noDelay: true });
 * ```
 */
export interface ListenOptions {
  /** Length of the queue of pending connections (default 511). */
  backlog?: number;
  /** SO_REUSEPORT, so several processes can share the port (Linux). */
  reusePort?: boolean;
  /** IPV6_V6ONLY: an IPv6 listener does not also take IPv4. */
  ipv6Only?: boolean;
  /** UDP: SO_REUSEADDR. */
  reuseAddr?: boolean;
  /** UDP: allow sending to broadcast addresses. */
  broadcast?: boolean;
  /** Options given to every accepted socket. */
  noDelay?: boolean;
  keepAlive?: boolean | number;
  /** Default read deadline of accepted sockets (and of `receive()` on a datagram socket). */
  readTimeout?: number;
  /** Default write deadline of accepted sockets. */
  writeTimeout?: number;
  highWaterMark?: number;
  /** Accepted sockets waiting for `accept()` before the listener stops taking more (default 128). */
  acceptQueue?: number;
  /** UDP: datagrams queued for `receive()` before new ones are dropped (default 1024). */
  receiveQueue?: number;
  signal?: AbortSignal;
  /** TLS options for tls://, ssl:// and tlsv1.x:// listeners: at least `cert` and `key`. */
  tls?: TlsOptions;
}

/** What `connect(url)` without options gets: shared, so never written to. */
const NO_CONNECT_OPTIONS: ConnectOptions = Object.freeze({});

const CONNECT_KEYS = new Set<string>([
  "timeout", "signal", "bindTo", "noDelay", "keepAlive", "family", "lookup", "attemptDelay",
  "readTimeout", "writeTimeout", "highWaterMark", "broadcast", "reuseAddr", "ipv6Only", "tls", "startTls",
]);
const LISTEN_KEYS = new Set<string>([
  "backlog", "reusePort", "ipv6Only", "reuseAddr", "broadcast", "noDelay", "keepAlive",
  "readTimeout", "writeTimeout", "highWaterMark", "acceptQueue", "receiveQueue", "signal", "tls",
]);


/**
 * A non-negative finite number of milliseconds (0 means "no deadline").
 *
 * @example
 * ```ts
 * validateTimeout(5000, "timeout"); // 5000
 * validateTimeout(-1, "timeout", "tcp://127.0.0.1:80"); // throws "address tcp://127.0.0.1:80: timeout must be …"
 * ```
 */
export function validateTimeout(value: unknown, name: string, url?: string): number {
  const problem = timeoutProblem(value, name);
  if (problem !== null) throw invalidOption(problem, { url });
  return value as number;
}

/**
 * What is wrong with a timeout value, or null when it is a valid number of milliseconds.
 *
 * @example
 * ```ts
 * timeoutProblem(-1, "timeout"); // "timeout must be a number of milliseconds from 0 to 2147483647, got -1"
 * ```
 */
export function timeoutProblem(value: unknown, name: string): string | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 2 ** 31 - 1) {
    return `${name} must be a number of milliseconds from 0 to 2147483647, got ${show(value)}`;
  }
  return null;
}

function checkBoolean(o: Record<string, unknown>, key: string, url: string | undefined): void {
  if (o[key] !== undefined && typeof o[key] !== "boolean") {
    throw invalidOption(`${key} must be true or false, got ${show(o[key])}`, { url });
  }
}

function checkPositiveInt(o: Record<string, unknown>, key: string, url: string | undefined, max = 2 ** 31 - 1): void {
  const v = o[key];
  if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v > 0 && v <= max)) {
    throw invalidOption(`${key} must be an integer from 1 to ${max}, got ${show(v)}`, { url });
  }
}

function checkObject(options: unknown, what: string, known: Set<string>, url: string | undefined): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw invalidOption(`${what} options must be an object, got ${show(options)}`, { url });
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw invalidOption(`unknown ${what} option "${key}"; known: ${[...known].join(", ")}`, { url });
  }
  return options as Record<string, unknown>;
}

function checkSignal(o: Record<string, unknown>, url: string | undefined): void {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidOption(`signal must be an AbortSignal, got ${show(o.signal)}`, { url });
  }
}

function checkKeepAlive(o: Record<string, unknown>, url: string | undefined): void {
  const v = o.keepAlive;
  if (v !== undefined && typeof v !== "boolean" && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) {
    throw invalidOption(`keepAlive must be true, false or an initial delay in ms, got ${show(v)}`, { url });
  }
}

/**
 * Checks connect() options before any I/O; returns them unchanged (never mutated).
 * With `url` (the target, as formatted) every message names it.
 *
 * @example
 * ```ts
 * validateConnectOptions({ timeout: -1 }, "tcp://127.0.0.1:80");
 * // throws "address tcp://127.0.0.1:80: timeout must be a number of milliseconds … (ERR_INVALID_OPTION)"
 * ```
 */
export function validateConnectOptions(options: unknown, url?: string): ConnectOptions {
  if (options === undefined) return NO_CONNECT_OPTIONS;
  const o = checkObject(options, "connect", CONNECT_KEYS, url);
  if (o.timeout !== undefined) validateTimeout(o.timeout, "timeout", url);
  if (o.readTimeout !== undefined) validateTimeout(o.readTimeout, "readTimeout", url);
  if (o.writeTimeout !== undefined) validateTimeout(o.writeTimeout, "writeTimeout", url);
  if (o.attemptDelay !== undefined) validateTimeout(o.attemptDelay, "attemptDelay", url);
  checkSignal(o, url);
  for (const key of ["noDelay", "broadcast", "reuseAddr", "ipv6Only"]) checkBoolean(o, key, url);
  checkKeepAlive(o, url);
  checkPositiveInt(o, "highWaterMark", url);
  if (o.family !== undefined && o.family !== 0 && o.family !== 4 && o.family !== 6) {
    throw invalidOption(`family must be 0, 4 or 6, got ${show(o.family)}`, { url });
  }
  if (o.lookup !== undefined && typeof o.lookup !== "function") {
    throw invalidOption(`lookup must be a function (hostname, { family }) => addresses, got ${show(o.lookup)}`, { url });
  }
  if (o.bindTo !== undefined && typeof o.bindTo !== "string") {
    throw invalidOption(`bindTo must be a string "ip:port", got ${show(o.bindTo)}`, { url });
  }
  return o as ConnectOptions;
}

/**
 * Checks listen() options before any I/O; returns them unchanged. With `url` every message names it.
 *
 * @example
 * ```ts
 * validateListenOptions({ backlog: 0 }, "tcp://127.0.0.1:0");
 * // throws "address tcp://127.0.0.1:0: backlog must be an integer from 1 to 65535, got 0 (ERR_INVALID_OPTION)"
 * ```
 */
export function validateListenOptions(options: unknown, url?: string): ListenOptions {
  const o = checkObject(options, "listen", LISTEN_KEYS, url);
  for (const key of ["reusePort", "ipv6Only", "reuseAddr", "broadcast", "noDelay"]) checkBoolean(o, key, url);
  checkKeepAlive(o, url);
  checkSignal(o, url);
  checkPositiveInt(o, "backlog", url, 65535);
  checkPositiveInt(o, "highWaterMark", url);
  checkPositiveInt(o, "acceptQueue", url);
  checkPositiveInt(o, "receiveQueue", url);
  if (o.readTimeout !== undefined) validateTimeout(o.readTimeout, "readTimeout", url);
  if (o.writeTimeout !== undefined) validateTimeout(o.writeTimeout, "writeTimeout", url);
  return o as ListenOptions;
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "function") return "a function";
  if (v === null) return "null";
  if (typeof v === "object") return Array.isArray(v) ? "an array" : "an object";
  return String(v);
}
