/**
 * sockurl: TCP, UDP, TLS and unix sockets addressed by transport URLs.
 *
 * @example
 * ```ts
 * import { connect, listen } from "sockurl";
 * const server = await listen("tcp://127.0.0.1:0");
 * const client = await connect(server.url);
 * ```
 */
export { connect } from "./connect.js";
export { listen, Server } from "./server.js";
export { Socket, type Endpoint, type ReadLineOptions, type WriteData } from "./socket.js";
export { DEFAULT_MAX_LINE } from "./reader.js";
export { DatagramSocket, type Datagram, type DatagramUrl } from "./datagram.js";
export type { CallOptions } from "./deadline.js";
export {
  parseAddress, formatAddress, INET_TRANSPORTS, LOCAL_TRANSPORTS,
  type Address, type InetAddress, type LocalAddress, type Transport, type InetTransport,
  type LocalTransport, type ParseAddressOptions, type DatagramTarget,
} from "./address.js";
export { SocketError, ERROR_CODES, type ErrorCode, type Phase } from "./errors.js";
export type { ConnectOptions, ListenOptions, Lookup, LookupAddress } from "./options.js";
export type { TlsOptions, Fingerprint, PemInput, CertificateAndKey, TlsAllowance } from "./tls-options.js";
export type { TlsInfo, CertificateInfo, TlsTrust } from "./tls-info.js";
export type { StartTlsOptions } from "./socket.js";
export { negotiateStartTls } from "./starttls/index.js";
export {
  STARTTLS_PROTOCOLS, type StartTlsProtocol, type StartTlsNegotiationOptions, type StartTlsResult,
} from "./starttls/types.js";
export type { TranscriptEntry } from "./starttls/types.js";
