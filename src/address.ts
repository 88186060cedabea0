/**
 * Transport URL grammar (DESIGN §1). STUB: the implementation is being written.
 */
import { socketError } from "./errors.js";

/** Transports that take `host:port`. */
export const INET_TRANSPORTS = [
  "tcp", "udp", "ssl", "tls", "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3", "sslv2", "sslv3",
] as const;
/** Transports that take a filesystem path. */
export const LOCAL_TRANSPORTS = ["unix", "udg"] as const;

export type InetTransport = (typeof INET_TRANSPORTS)[number];
export type LocalTransport = (typeof LOCAL_TRANSPORTS)[number];
export type Transport = InetTransport | LocalTransport;

/** `tcp://host:port` and friends. `host` has no brackets; an IPv6 zone stays in it (`fe80::1%eth0`). */
export interface InetAddress {
  transport: InetTransport;
  host: string;
  port: number;
}
/** `unix:///path` or `udg:///path`. */
export interface LocalAddress {
  transport: LocalTransport;
  path: string;
}
export type Address = InetAddress | LocalAddress;

export interface ParseAddressOptions {
  /** The fsockopen form: the port given separately; the target then carries none. */
  port?: number;
}

export function parseAddress(target: string, options: ParseAddressOptions = {}): Address {
  void options;
  throw socketError("ERR_INVALID_ADDRESS", "address", target, "not implemented");
}

export function formatAddress(address: Address): string {
  if ("path" in address) return `${address.transport}://${address.path}`;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${address.transport}://${host}:${address.port}`;
}

/** True for transports carried over TLS. */
export function isTlsTransport(t: Transport): boolean {
  return t === "ssl" || t === "tls" || t.startsWith("tlsv") || t === "sslv2" || t === "sslv3";
}

/** True for datagram transports (udp, udg). */
export function isDatagramTransport(t: Transport): t is "udp" | "udg" {
  return t === "udp" || t === "udg";
}
