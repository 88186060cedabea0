/**
 * PHP's reading of a socket target (`[transport://]host:port`), quirks included: a scheme of one
 * character is not a scheme, transport names are case-sensitive, the host is everything before the
 * first colon, and the port goes through atoi() and is cut to 16 bits.
 */

/** The transports PHP 8.2 registers (with OpenSSL without SSLv3), in its order. */
export const PHP_TRANSPORTS = ["tcp", "udp", "unix", "udg", "ssl", "tls", "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"] as const;
export type PhpTransport = (typeof PHP_TRANSPORTS)[number];

/** A target split into transport and the rest, or PHP's errstr. */
export type SplitTarget = { transport: PhpTransport; address: string } | { error: string };

/**
 * Splits off the transport: a run of `[A-Za-z0-9+.-]` longer than one character followed by `://`.
 *
 * @example
 * ```ts
 * splitTarget("x://h:1");   // { transport: "tcp", address: "x://h:1" }
 * splitTarget("TCP://h:1"); // { error: 'Unable to find the socket transport "TCP" - …' }
 * ```
 */
export function splitTarget(target: string): SplitTarget {
  const m = /^[A-Za-z0-9+.-]*/.exec(target)![0];
  if (m.length > 1 && target.startsWith("://", m.length)) {
    if (!(PHP_TRANSPORTS as readonly string[]).includes(m)) {
      return { error: `Unable to find the socket transport "${m.slice(0, 31)}" - did you forget to enable it when you configured PHP?` };
    }
    return { transport: m as PhpTransport, address: target.slice(m.length + 3) };
  }
  return { transport: "tcp", address: target };
}

/** `host` and `port` of an inet address, or PHP's errstr. */
export type HostPort = { host: string; port: number } | { error: string };

/**
 * PHP's parse_ip_address: `[v6]:port` or `host:port`, where the host ends at the first colon.
 *
 * @example
 * ```ts
 * parseHostPort("127.0.0.1:80/x"); // { host: "127.0.0.1", port: 80 }
 * parseHostPort("::1:80");         // { host: "", port: 0 }  (getaddrinfo then fails)
 * parseHostPort("127.0.0.1");      // { error: 'Failed to parse address "127.0.0.1"' }
 * ```
 */
export function parseHostPort(address: string): HostPort {
  if (address.startsWith("[") && address.length > 1) {
    const close = address.slice(1, address.length - 1).indexOf("]");
    if (close < 0 || address[close + 2] !== ":") return { error: `Failed to parse IPv6 address "${address}"` };
    return { host: address.slice(1, close + 1), port: atoiPort(address.slice(close + 3)) };
  }
  const colon = address.slice(0, Math.max(address.length - 1, 0)).indexOf(":");
  if (colon < 0) return { error: `Failed to parse address "${address}"` };
  return { host: address.slice(0, colon), port: atoiPort(address.slice(colon + 1)) };
}

/**
 * C's atoi() (strtol saturating to 64 bits, then cut to int), then cut to an unsigned 16-bit port.
 *
 * @example
 * ```ts
 * atoiPort("80/foo"); // 80
 * atoiPort("99999");  // 34463
 * atoiPort("-1");     // 65535
 * ```
 */
export function atoiPort(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(text);
  if (!m) return 0;
  let n = BigInt(m[2]!);
  const max = (1n << 63n) - 1n;
  if (n > max) n = m[1] === "-" ? max + 1n : max;
  if (m[1] === "-") n = -n;
  return Number(BigInt.asUintN(16, n));
}

/** An IP literal or host as a URL host (IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
