/**
 * What a datagram socket checks before it sends: where to (a URL, an Address or an Endpoint of
 * the socket's own transport) and what (bytes that fit in one datagram). Pure, no I/O.
 */
import { checkLocalPath, formatAddress, parseAddress, type Address } from "./address.js";
import type { Destination } from "./datagram-backend.js";
import { socketError } from "./errors.js";
import type { Endpoint } from "./socket.js";

/** The largest UDP payloads IPv4 and IPv6 can carry (65535 minus the headers). */
const MAX_UDP4_PAYLOAD = 65507;
const MAX_UDP6_PAYLOAD = 65527;

/**
 * The destination a `udp` or `udg` socket sends `target` to; ERR_INVALID_ADDRESS for another
 * transport's address or a unix path the system cannot hold.
 *
 * @example
 * ```ts
 * destinationOf("127.0.0.1:53", "udp", "udp://0.0.0.0:40000"); // { host: "127.0.0.1", port: 53 }
 * ```
 */
export function destinationOf(target: string | Address | Endpoint, transport: "udp" | "udg", url: string): Destination {
  if (typeof target === "object" && target !== null && "family" in target) {
    if (target.family !== "unix") return { host: target.host, port: target.port };
    checkLocalPath("udg", target.host, url);
    return { path: target.host };
  }
  let address: Address;
  if (typeof target === "string" && transport === "udg" && !target.includes("://")) {
    address = { transport: "udg", path: target };
  } else {
    address = typeof target === "string"
      ? parseAddress(target.includes("://") ? target : `${transport}://${target}`)
      : target;
  }
  if (address.transport !== transport) {
    throw socketError("ERR_INVALID_ADDRESS", "write", formatAddress(address),
      `a ${transport}:// socket cannot send to a ${address.transport}:// address`);
  }
  if (!("path" in address)) return { host: address.host, port: address.port };
  // The addon would cut a long path and send to whatever socket the shorter one names.
  checkLocalPath("udg", address.path, formatAddress(address));
  return { path: address.path };
}

/**
 * The bytes of one datagram, checked against what the protocol can carry (`family`: the
 * socket's own, for a connected send).
 *
 * @example
 * ```ts
 * payloadOf("ping", "udp", null, 4, url); // <Buffer 70 69 6e 67>
 * ```
 */
export function payloadOf(data: string | Uint8Array, transport: "udp" | "udg", to: Destination, family: 4 | 6, url: string): Buffer {
  const buf = typeof data === "string" ? Buffer.from(data)
    : Buffer.isBuffer(data) ? data
    : data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : null;
  if (buf === null) throw socketError("ERR_INVALID_OPTION", "write", url, "data must be a string or a Uint8Array");
  if (buf.length > MAX_UDP4_PAYLOAD && transport === "udp") {
    const ipFamily = to !== null && "host" in to ? (to.host.includes(":") ? 6 : 4) : family;
    const max = ipFamily === 6 ? MAX_UDP6_PAYLOAD : MAX_UDP4_PAYLOAD;
    if (buf.length > max) {
      throw socketError("ERR_DATAGRAM_TOO_LARGE", "write", url,
        `${buf.length} bytes exceed the largest UDP/IPv${ipFamily} payload of ${max} bytes`);
    }
  }
  return buf;
}
