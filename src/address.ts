/**
 * Transport URL grammar (DESIGN §1). What PHP accepts sloppily is refused with a message that
 * shows the fix. Every step is one pass (indexOf, regexes without nested quantifiers): linear.
 * Decisions: a DNS name's trailing dot is kept (`example.com.` is absolute: no search list);
 * local paths are verbatim (`unix://sock` is the relative path `sock`; spaces allowed, control
 * characters not); IPv6 hosts are stored in RFC 5952 form so equal addresses compare equal.
 */
import { isIPv4, isIPv6, SocketAddress } from "node:net";
import { domainToASCII } from "node:url";
import { socketError, type SocketError } from "./errors.js";

/** Transports that take `host:port`. @example INET_TRANSPORTS.includes("tls") // true */
export const INET_TRANSPORTS = [
  "tcp", "udp", "ssl", "tls", "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3", "sslv2", "sslv3",
] as const;
/** Transports that take a filesystem path. @example LOCAL_TRANSPORTS.includes("udg") // true */
export const LOCAL_TRANSPORTS = ["unix", "udg"] as const;

/** @example const t: InetTransport = "tlsv1.3"; */
export type InetTransport = (typeof INET_TRANSPORTS)[number];
/** @example const t: LocalTransport = "unix"; */
export type LocalTransport = (typeof LOCAL_TRANSPORTS)[number];
/** @example const t: Transport = "udp"; */
export type Transport = InetTransport | LocalTransport;

/** `tcp://host:port` and friends. `host` has no brackets; an IPv6 zone stays in it.
 * @example const a: InetAddress = { transport: "tcp", host: "fe80::1%eth0", port: 80 }; */
export interface InetAddress {
  transport: InetTransport;
  host: string;
  port: number;
}
/** `unix:///path` or `udg:///path`. @example const a: LocalAddress = { transport: "unix", path: "/tmp/app.sock" }; */
export interface LocalAddress {
  transport: LocalTransport;
  path: string;
}
/** @example const a: Address = parseAddress("udp://[::1]:53"); */
export type Address = InetAddress | LocalAddress;

/**
 * A datagram target: `udp://…` or `udg://…`. A string of this type makes `connect()` and
 * `listen()` pick their DatagramSocket overload, and `DatagramSocket.url` has it.
 *
 * @example
 * ```ts
 * const target: DatagramTarget = "udp://127.0.0.1:53";
 * const udp = await connect(target); // DatagramSocket
 * ```
 */
export type DatagramTarget = `udp://${string}` | `udg://${string}` | `UDP://${string}` | `UDG://${string}`;

/** @example parseAddress("www.example.com", { port: 80 }); */
export interface ParseAddressOptions {
  /** The fsockopen form: the port given separately; the target then carries none. */
  port?: number;
}

const KNOWN = [...INET_TRANSPORTS, ...LOCAL_TRANSPORTS].join(", ");
const isInet = (t: string): t is InetTransport => (INET_TRANSPORTS as readonly string[]).includes(t);
const isLocal = (t: string): t is LocalTransport => (LOCAL_TRANSPORTS as readonly string[]).includes(t);
type Bad = (text: string) => SocketError;

/**
 * Parses a transport URL into an {@link Address}; throws `SocketError` (`ERR_INVALID_ADDRESS`,
 * `ERR_UNKNOWN_TRANSPORT`, `ERR_INVALID_OPTION`) for anything else, never another error.
 * With `options.port` (PHP's fsockopen form) the target carries no port and a bare IPv6
 * address needs no brackets.
 *
 * @example
 * ```ts
 * parseAddress("tcp://[fe80::1]:80");             // { transport: "tcp", host: "fe80::1", port: 80 }
 * parseAddress("fe80::1", { port: 80 });          // { transport: "tcp", host: "fe80::1", port: 80 }
 * parseAddress("TLS://Bücher.example:443");      // { transport: "tls", host: "xn--bcher-kva.example", port: 443 }
 * parseAddress("unix:///tmp/app.sock");           // { transport: "unix", path: "/tmp/app.sock" }
 * ```
 */
export function parseAddress(target: string, options: ParseAddressOptions = {}): Address {
  if (typeof target !== "string") throw socketError("ERR_INVALID_ADDRESS", "address", undefined,
    `the target must be a string such as "tcp://example.com:80", got ${describe(target)}`);
  const bad: Bad = (text) => socketError("ERR_INVALID_ADDRESS", "address", target, text);
  const port = portOption(options, target);
  if (target === "") throw bad("empty target: expected [transport://]host:port, e.g. tcp://example.com:80");
  // NUL and friends would be cut or rejected later by the OS; lone surrogates would be mangled.
  checkChars(target, /[\p{Cc}\p{Cs}]/u, 0, "control character", bad);
  let transport: Transport = "tcp", rest = target;
  const sep = target.indexOf("://");
  const name = target.slice(0, Math.max(sep, 0));
  if (sep === 0) throw bad(`missing transport before "://": e.g. tcp${target}`);
  if (sep > 0 && /^[A-Za-z][\w+.-]*$/.test(name)) {
    const lower = name.toLowerCase();
    if (!isInet(lower) && !isLocal(lower)) {
      const guess = lower === "https" || lower === "wss" ? "tls" : "tcp";
      throw socketError("ERR_UNKNOWN_TRANSPORT", "address", target,
        `unknown transport "${name}": use one of ${KNOWN}, e.g. ${guess}://${target.slice(sep + 3)}`);
    }
    transport = lower;
    rest = target.slice(sep + 3);
  } else {
    // "tcp:host:80" or "unix:/tmp/x" is a mistyped scheme, but "tcp:80" is the host "tcp".
    const m = /^([A-Za-z][\w.]*):/.exec(target);
    const after = m ? target.slice(m[0].length) : "";
    const lower = m ? m[1]!.toLowerCase() : "";
    if (m && (isInet(lower) || isLocal(lower)) && !/^\d+$/.test(after)) {
      const fixed = isLocal(lower) ? after : after.replace(/^\/+/, "") || "HOST:PORT";
      throw bad(`transport "${m[1]}" must be followed by "://": ${lower}://${fixed}`);
    }
  }
  if (isLocal(transport)) {
    if (port !== undefined) throw socketError("ERR_INVALID_OPTION", "address", target,
      `${transport} sockets have no port: drop options.port, e.g. parseAddress("${transport}:///tmp/app.sock")`);
    if (rest === "") throw bad(`empty path: write ${transport}:///path/to/socket, e.g. ${transport}:///tmp/app.sock`);
    return { transport, path: rest };
  }
  // Invisible characters in a host name would connect somewhere other than what the user sees.
  checkChars(rest, /[\s\p{Cf}]/u, target.length - rest.length, "whitespace or invisible character", bad);
  return parseInet(transport, rest, port, bad);
}

function parseInet(transport: InetTransport, rest: string, option: number | undefined, bad: Bad): InetAddress {
  const url = `${transport}://`;
  const tail = /[/?#]/.exec(rest);
  if (tail) throw bad(`no path, query or fragment allowed ("${rest.slice(tail.index)}"): use ${url}${rest.slice(0, tail.index)}`);
  const at = rest.lastIndexOf("@");
  if (at >= 0) throw bad(`user info "${rest.slice(0, at + 1)}" is not allowed in a socket address: use ${url}${rest.slice(at + 1)}`);
  let host: string, portText: string | undefined;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw bad(`unterminated "[": close the IPv6 address with "]", e.g. ${url}[::1]:80`);
    const inner = rest.slice(1, close);
    const after = rest.slice(close + 1);
    const v6 = ipv6(inner, bad);
    if (v6 === undefined) {
      if (inner !== "" && !inner.includes(":")) throw bad(`brackets are only for IPv6 addresses: ${url}${inner}${after || ":80"}`);
      throw bad(`"${inner}" is not a valid IPv6 address: write ${url}[IPV6]:PORT, e.g. ${url}[::1]:80`);
    }
    host = v6;
    if (after.startsWith(":")) portText = after.slice(1);
    else if (after !== "") throw bad(`unexpected "${after}" after "]": write ${url}[${inner}]:PORT, e.g. ${url}[${inner}]:80`);
  } else {
    const bare = option === undefined ? undefined : ipv6(rest, bad);
    const colon = rest.lastIndexOf(":");
    if (bare !== undefined) host = bare;
    else if (colon < 0) host = hostName(rest, url, bad);
    else {
      const name = rest.slice(0, colon);
      portText = rest.slice(colon + 1);
      if (name.includes(":")) {
        // "fe80::1:80" is itself valid IPv6, but host + port is the likelier intent.
        const [v6, p] = /^\d+$/.test(portText) && ipv6(name, bad) !== undefined ? [name, portText] : [rest, "80"];
        if (ipv6(v6, bad) !== undefined) throw bad(`IPv6 addresses must be enclosed in brackets: ${url}[${v6}]:${p}`);
        throw bad(`too many ":" in "${rest}": write ${url}HOST:PORT, with an IPv6 address in brackets: ${url}[::1]:80`);
      }
      host = hostName(name, url, bad);
    }
  }
  const shown = `${url}${urlHost(host)}`;
  if (portText === undefined) {
    if (option === undefined) throw bad(`missing port: ${shown}:PORT, e.g. ${shown}:80`);
    return { transport, host, port: option };
  }
  if (option !== undefined) throw bad(`port given twice (target and options.port): use parseAddress("${shown}", { port: ${option} })`);
  return { transport, host, port: parsePort(portText, shown, bad) };
}

function parsePort(text: string, shown: string, bad: Bad): number {
  if (/^\d{1,5}$/.test(text) && Number(text) <= 65535) return Number(text);
  if (text === "") throw bad(`missing port after ":": ${shown}:PORT, e.g. ${shown}:80`);
  const range = `ports are 0-65535, e.g. ${shown}:80`;
  if (/^\d+$/.test(text)) throw bad(`port ${text} is out of range: ${range}`);
  if (/^-\d+$/.test(text)) throw bad(`port ${text} is negative: ${range}`);
  throw bad(`port "${text}" is not a number: write decimal digits, e.g. ${shown}:80`);
}

/** Validates an IPv4 address or DNS name (IDN → A-labels, lower case). */
function hostName(text: string, url: string, bad: Bad): string {
  if (text === "") throw bad(`empty host: write ${url}HOST:PORT, e.g. ${url}localhost:80`);
  if (isIPv4(text)) return text;
  const notIPv4 = `"${text}" is not a valid IPv4 address: write four decimal numbers 0-255 without leading zeros, e.g. ${url}127.0.0.1:80`;
  // getaddrinfo and WHATWG read "127.1", "0x7f.1" or "2130706433" as IPv4: refuse, don't guess.
  const looksNumeric = (name: string): boolean => /(?:^|\.)(?:\d+|0x[\da-f]*)\.?$/i.test(name);
  if (looksNumeric(text)) throw bad(notIPv4);
  const odd = /[^\w.\u0080-\uffff-]/.exec(text);
  if (odd) throw bad(`invalid character "${odd[0]}" in host "${text}": host names use letters, digits, "-", "_" and "."`);
  // Punycode is superlinear in label length, so bound its input; a real host name is at most
  // 253 characters, and 1024 leaves room for IDNA mappings that drop characters.
  const ascii = text.length > 1024 ? "" : domainToASCII(text);
  if (ascii === "") throw bad(`"${text}" is not a valid host name: use letters, digits, "-", "_", "." or a valid IDN`);
  const name = ascii.endsWith(".") ? ascii.slice(0, -1) : ascii;
  if (looksNumeric(name)) throw bad(notIPv4);
  if (name.length > 253) throw bad(`host name "${text}" is longer than 253 characters`);
  for (const label of name.split(".")) {
    if (label === "") throw bad(`empty label in host "${text}": remove the extra "."`);
    if (label.length > 63) throw bad(`label "${label}" in host "${text}" is longer than 63 characters`);
    if (!/^[\w-]+$/.test(label)) throw bad(`invalid label "${label}" in host "${text}"`);
  }
  return ascii;
}

/** The RFC 5952 form of an IPv6 address with optional zone, or undefined when it is not one. */
function ipv6(text: string, bad: Bad): string | undefined {
  const pct = text.indexOf("%");
  const addr = pct < 0 ? text : text.slice(0, pct);
  if (!isIPv6(addr)) return undefined;
  let canonical = new SocketAddress({ address: addr, family: "ipv6" }).address;
  // libuv prints the deprecated IPv4-compatible form ("::1:80" as "::0.1.0.128"); RFC 5952 wants hex.
  const v4 = /^::(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(canonical)?.slice(1).map(Number);
  if (v4) canonical = `::${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  if (pct < 0) return canonical;
  let zone = text.slice(pct + 1);
  // RFC 6874 writes the "%" as "%25" inside URLs; a lone "25" is interface index 25.
  if (zone.startsWith("25") && zone.length > 2) zone = zone.slice(2);
  if (!/^[\w.~-]+$/.test(zone)) throw bad(`invalid IPv6 zone "${text.slice(pct)}": use an interface name or index, e.g. [fe80::1%eth0]`);
  return `${canonical}%${zone}`;
}

/** Brackets an IPv6 host; a zone starting with "25" is escaped so it is not read as RFC 6874 "%25". */
function urlHost(host: string): string {
  if (!host.includes(":")) return host;
  const pct = host.indexOf("%");
  if (pct < 0) return `[${host}]`;
  const zone = host.slice(pct + 1);
  return `[${host.slice(0, pct)}%${zone.startsWith("25") ? "25" : ""}${zone}]`;
}

function checkChars(text: string, re: RegExp, offset: number, what: string, bad: Bad): void {
  const m = re.exec(text);
  if (!m) return;
  const code = `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  throw bad(`${what} ${code} at index ${offset + m.index} is not allowed: remove it, e.g. tcp://example.com:80`);
}

function portOption(options: unknown, target: string): number | undefined {
  const invalid = (text: string) => socketError("ERR_INVALID_OPTION", "address", target, text);
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") throw invalid(`options must be an object like { port: 80 }, got ${describe(options)}`);
  const port: unknown = (options as { port?: unknown }).port;
  if (port === undefined) return undefined;
  // Math.abs turns -0 into 0, which would otherwise not survive a format/parse round trip.
  if (typeof port === "number" && Number.isInteger(port) && port >= 0 && port <= 65535) return Math.abs(port);
  throw invalid(`options.port must be an integer 0-65535, got ${describe(port)}`);
}

function describe(value: unknown): string {
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return value === null ? "null" : typeof value;
}

/**
 * The canonical URL of an address, the exact inverse of {@link parseAddress}: always with the
 * transport, IPv6 hosts in brackets.
 * @example
 * ```ts
 * formatAddress({ transport: "tcp", host: "fe80::1%eth0", port: 80 }); // "tcp://[fe80::1%eth0]:80"
 * formatAddress(parseAddress("Example.COM:80"));                      // "tcp://example.com:80"
 * formatAddress({ transport: "unix", path: "/tmp/x.sock" });         // "unix:///tmp/x.sock"
 * ```
 */
export function formatAddress(address: Address): string {
  if ("path" in address) return `${address.transport}://${address.path}`;
  return `${address.transport}://${urlHost(address.host)}:${address.port}`;
}

/** True for transports carried over TLS. @example isTlsTransport("tlsv1.3") // true */
export function isTlsTransport(t: Transport): boolean {
  return t === "ssl" || t === "tls" || t.startsWith("tlsv") || t === "sslv2" || t === "sslv3";
}

/** True for datagram transports (udp, udg). @example isDatagramTransport("udp") // true */
export function isDatagramTransport(t: Transport): t is "udp" | "udg" {
  return t === "udp" || t === "udg";
}

/**
 * The host of a canonical URL, or "localhost" for unix and udg paths (the name a TLS peer
 * on a local socket is checked against by default).
 *
 * @example
 * ```ts
 * hostOfUrl("tcp://[::1]:25"); // "::1"
 * ```
 */
export function hostOfUrl(url: string): string {
  try {
    const address = parseAddress(url);
    return "host" in address ? address.host : "localhost";
  } catch {
    return "localhost";
  }
}

/**
 * Parses a string target, or checks an Address object by round-tripping it through its URL.
 *
 * @example
 * ```ts
 * toAddress({ transport: "tcp", host: "::1", port: 80 }); // the same address, checked
 * toAddress("127.0.0.1:80");                             // { transport: "tcp", host: "127.0.0.1", port: 80 }
 * ```
 */
export function toAddress(target: string | Address): Address {
  if (typeof target === "string") return parseAddress(target);
  if (target === null || typeof target !== "object") {
    throw socketError("ERR_INVALID_ADDRESS", "address", undefined,
      `the target must be a URL string like "tcp://127.0.0.1:80" or an Address object, got ${String(target)}`);
  }
  return parseAddress(formatAddress(target));
}

/**
 * Refuses, before any I/O, what parses but cannot be used here: SSL 2.0/3.0, and local paths
 * the system cannot hold (see {@link checkLocalPath}). connect() and listen() both call it.
 *
 * @example
 * ```ts
 * checkTransport(parseAddress("sslv3://example.com:443"), "sslv3://example.com:443"); // throws ERR_UNSUPPORTED_TRANSPORT
 * ```
 */
export function checkTransport(address: Address, url: string): void {
  const t = address.transport;
  if (t === "sslv2" || t === "sslv3") {
    throw socketError("ERR_UNSUPPORTED_TRANSPORT", "address", url,
      `${t === "sslv2" ? "SSL 2.0" : "SSL 3.0"} is prohibited (${t === "sslv2" ? "RFC 6176" : "RFC 7568"}) and absent from the TLS stack; use tls:// instead`);
  }
  if ("path" in address) checkLocalPath(address.transport, address.path, url);
}

/**
 * Room in `sockaddr_un.sun_path` (108 bytes on Linux, 104 on the BSDs and macOS). A path needs
 * its terminating NUL inside it; an abstract name starts with a NUL instead.
 */
const SUN_PATH = process.platform === "linux" ? 108 : 104;

/**
 * Checks a unix or udg path against what the system can bind or connect to. The OS (and the
 * unix-dgram addon) would silently cut a longer path, and talk to some other socket, so it
 * is refused: ERR_INVALID_ADDRESS. `@name` is a Linux abstract socket name; elsewhere, and for
 * udg:// (whose addon copies paths as C strings, so every abstract name would become the same
 * empty one), it is refused too: write `./@name` for a file of that name.
 *
 * @example
 * ```ts
 * checkLocalPath("unix", "/tmp/" + "x".repeat(200), "unix:///tmp/xxx…"); // throws ERR_INVALID_ADDRESS
 * checkLocalPath("unix", "@app", "unix://@app");                        // fine on Linux
 * ```
 */
export function checkLocalPath(transport: LocalTransport, path: string, url: string): void {
  const bad = (text: string): SocketError => socketError("ERR_INVALID_ADDRESS", "address", url, text);
  const bytes = Buffer.byteLength(path);
  if (isAbstractPath(path)) {
    if (process.platform !== "linux") {
      throw bad(`abstract socket names ("@name") exist only on Linux; for a file named "${path}" write ${transport}://./${path}`);
    }
    if (transport === "udg") {
      throw bad(`udg:// does not support abstract socket names ("@name"): the unix-dgram addon cannot pass them; use a filesystem path such as udg:///tmp/app.sock, or unix://${path} for a stream socket`);
    }
    // "@" stands for the leading NUL, so the name may fill the whole of sun_path.
    if (bytes > SUN_PATH) throw bad(`abstract socket name "${path}" is ${bytes - 1} bytes; the system allows at most ${SUN_PATH - 1}`);
    return;
  }
  if (bytes > SUN_PATH - 1) {
    throw bad(`${transport} socket path is ${bytes} bytes; the system allows at most ${SUN_PATH - 1} (sun_path): use a shorter path, e.g. a relative one (${transport}://app.sock) from a nearby working directory`);
  }
}

/** True for a Linux abstract socket name, written `@name` (a leading NUL to the kernel). */
function isAbstractPath(path: string): boolean {
  return path.length > 1 && path.charCodeAt(0) === 0x40; // "@"
}

/**
 * The path as Node's net module takes it: `@name` becomes `\0name` (the abstract namespace),
 * anything else is unchanged. The Address keeps `@name` so that URLs stay printable.
 *
 * @example
 * ```ts
 * net.connect({ path: ioPath("@app") }); // the abstract socket "app"
 * ```
 */
export function ioPath(path: string): string {
  return isAbstractPath(path) ? `\0${path.slice(1)}` : path;
}
