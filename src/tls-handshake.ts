/**
 * What every TLS handshake shares, client or server side: the session a good one yields and
 * the one error a failed one becomes.
 */
import type { TLSSocket } from "node:tls";
import { detailOf, SocketError, socketError } from "./errors.js";
import type { Negotiated, TlsVerdict } from "./tls-info.js";

/**
 * How a TLS handshake ended well: the encrypted stream, the verdict and what was negotiated.
 *
 * @example
 * ```ts
 * const session: TlsSession = await clientHandshake(plain, { ca }, target).promise;
 * session.verdict.authorized; // true
 * ```
 */
export interface TlsSession {
  stream: TLSSocket;
  verdict: TlsVerdict;
  /** What the handshake negotiated, recorded when it ended. */
  negotiated: Negotiated;
  /** Updated as the server sends tickets. */
  latestSession: { current: Buffer | null };
}

/**
 * The version range a side allowed, for the "no version in common" message.
 *
 * @example
 * ```ts
 * const range: VersionRange = { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" };
 * ```
 */
export interface VersionRange {
  minVersion: string;
  maxVersion: string;
}

/**
 * Wraps a handshake error (alert, reset, bad record) as ERR_TLS_HANDSHAKE in phase tls. The
 * underlying code goes in `reason`, never into the message, which ends in the one code.
 *
 * @example
 * ```ts
 * socket.once("error", (err) => reject(handshakeError(err, "tls://127.0.0.1:443", { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" })));
 * ```
 */
export function handshakeError(err: unknown, url: string, range?: VersionRange): SocketError {
  if (err instanceof SocketError) return err;
  const reason = (err as { code?: unknown } | null)?.code;
  const code = typeof reason === "string" && reason !== "" ? reason : "UNKNOWN";
  const detail = detailOf(err);
  if (code === "ECONNRESET" || code === "EPIPE") {
    return socketError("ERR_TLS_HANDSHAKE", "tls", url, "the peer closed the connection during the TLS handshake", { reason: code, cause: err });
  }
  if (code === "ERR_SSL_NO_PROTOCOLS_AVAILABLE" || /unsupported protocol|protocol version|no protocols available/i.test(detail)) {
    const allowed = range === undefined ? ""
      : range.minVersion === range.maxVersion ? `; this end allows only ${range.minVersion}`
      : `; this end allows ${range.minVersion} to ${range.maxVersion}`;
    // Why a legacy peer fails even with a wide range: OpenSSL refuses TLS 1.0/1.1 above level 0.
    const legacy = range !== undefined && range.minVersion !== "TLSv1" && range.minVersion !== "TLSv1.1" && range.maxVersion !== "TLSv1.3"
      ? " — TLS 1.0/1.1 need tls.securityLevel: 0 and tls.minVersion" : "";
    return socketError("ERR_TLS_HANDSHAKE", "tls", url,
      `no TLS version in common with the peer: ${detail}${allowed}${legacy}`, { reason: code, cause: err });
  }
  return socketError("ERR_TLS_HANDSHAKE", "tls", url, `TLS handshake failed: ${detail}`, { reason: code, cause: err });
}
