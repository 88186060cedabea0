/**
 * TlsInfo: what a TLS connection negotiated and who the peer is, as plain objects.
 */
import { createHash, X509Certificate } from "node:crypto";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";

/**
 * A certificate as plain data.
 *
 * @example
 * ```ts
 * const cert: CertificateInfo | null = socket.tls!.peerCertificate;
 * console.log(cert?.subject, cert?.validTo, cert?.subjectAltNames);
 * ```
 */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** `DNS:name` and `IP Address:addr` entries, as the certificate lists them. */
  subjectAltNames: string[];
  validFrom: Date;
  validTo: Date;
  serialNumber: string;
  /** Upper-case hex with colons, as Node and openssl print it. */
  fingerprint256: string;
  /** Base64 SHA-256 of the SubjectPublicKeyInfo (for `spkiPins`). */
  spkiSha256: string;
  /** `rsa`, `ec`, `ed25519`, … and the key size in bits (curve size for EC). */
  keyType: string;
  keyBits: number | undefined;
  isCA: boolean;
  pem: string;
}

/**
 * Why a peer certificate was accepted:
 * - `"ca"`: its chain verified against the trusted CAs (`authorized` is true);
 * - `"pin"`: it matched `tls.fingerprint`, which stands in for the CA (a self-signed or privately
 *   issued certificate), or a check waived by `tls.allow` failed; `authorized` is false;
 * - `"selfSigned"`: a self-signed leaf accepted by `tls.allowSelfSigned`; `authorized` is false;
 * - `"none"`: nothing vouched for it (`verifyPeer: false`, or a server that asked for no certificate).
 *
 * @example
 * ```ts
 * if (socket.tls!.trust === "pin") console.log("accepted by its pinned fingerprint, not by a CA");
 * ```
 */
export type TlsTrust = "ca" | "pin" | "selfSigned" | "none";

/**
 * What a TLS connection negotiated.
 *
 * @example
 * ```ts
 * const { protocol, cipher, alpn, peerCertificate } = socket.tls!;
 * console.log(protocol, cipher, peerCertificate?.subjectAltNames);
 * ```
 */
export interface TlsInfo {
  protocol: string;
  cipher: string;
  alpn: string | null;
  /** The SNI name sent (client) or received (server); null when none. */
  servername: string | null;
  sessionReused: boolean;
  /**
   * True only when the peer's chain verified against the trusted CAs. A certificate accepted by
   * its fingerprint pin or by `allowSelfSigned` is not authorized: `trust` says why it was accepted.
   */
  authorized: boolean;
  /** Why the chain did not verify, when `authorized` is false (e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`). */
  authorizationError: string | null;
  /** What vouched for the peer: the CAs, a fingerprint pin, allowSelfSigned, or nothing. */
  trust: TlsTrust;
  peerCertificate: CertificateInfo | null;
  /** The peer's chain, leaf first, as it was verified or presented. */
  peerChain: CertificateInfo[];
  /** The latest session ticket, to resume with `tls: { session }`; null until the server sends one. */
  session: Buffer | null;
}

/**
 * Describes one DER certificate.
 *
 * @example
 * ```ts
 * describeCertificate(tlsSocket.getPeerCertificate().raw).subjectAltNames;
 * ```
 */
export function describeCertificate(der: Buffer): CertificateInfo {
  const x = new X509Certificate(der);
  const spki = x.publicKey.export({ type: "spki", format: "der" });
  const details = x.publicKey.asymmetricKeyDetails ?? {};
  const keyType = x.publicKey.asymmetricKeyType ?? "unknown";
  const bits = details.modulusLength ?? curveBits(details.namedCurve) ?? (keyType === "ed25519" ? 256 : keyType === "ed448" ? 456 : undefined);
  return {
    subject: x.subject.replace(/\n/g, ", "),
    issuer: x.issuer.replace(/\n/g, ", "),
    subjectAltNames: x.subjectAltName ? x.subjectAltName.split(", ") : [],
    validFrom: new Date(x.validFrom),
    validTo: new Date(x.validTo),
    serialNumber: x.serialNumber,
    fingerprint256: x.fingerprint256,
    spkiSha256: createHash("sha256").update(spki).digest("base64"),
    keyType,
    keyBits: bits,
    isCA: x.ca,
    pem: x.toString(),
  };
}

function curveBits(curve: string | undefined): number | undefined {
  if (curve === undefined) return undefined;
  const m = /(\d{3})/.exec(curve);
  return m ? Number(m[1]) : undefined;
}

/**
 * The peer chain as presented, leaf first. Node appends the trust anchor from the local
 * store; it is dropped so that the list shows what the peer sent (PHP's capture_peer_cert_chain).
 * On a resumed session Node has no peer certificate, so the leaf is read from the session
 * (`resumedLeaf` when the caller already has it, else the socket's session).
 *
 * `detailed` is the certificate Node already built for this handshake (the one handed to
 * `checkServerIdentity`); without it the socket is asked again.
 *
 * @example
 * ```ts
 * const chain = peerChainOf(tlsSocket); // [leafDer, intermediateDer]
 * ```
 */
export function peerChainOf(
  socket: TLSSocket,
  detailed?: DetailedPeerCertificate | Record<string, never>,
  resumedLeaf?: () => Buffer | undefined,
): Buffer[] {
  const chain: Buffer[] = [];
  let cert = detailed ?? (socket.getPeerCertificate(true) as DetailedPeerCertificate | Record<string, never>);
  const seen = new Set<string>();
  let last: DetailedPeerCertificate | undefined;
  while (cert && "raw" in cert && cert.raw) {
    const key = cert.fingerprint256;
    if (seen.has(key)) break;
    seen.add(key);
    chain.push(cert.raw);
    last = cert as DetailedPeerCertificate;
    cert = cert.issuerCertificate as DetailedPeerCertificate;
  }
  if (chain.length > 1 && last !== undefined && isTrailingRoot(last)) chain.pop();
  if (chain.length === 0 && socket.isSessionReused()) {
    let leaf: Buffer | undefined;
    if (resumedLeaf !== undefined) {
      leaf = resumedLeaf();
    } else {
      const session = socket.getSession();
      leaf = session === undefined ? undefined : peerCertificateOfSession(session);
    }
    if (leaf !== undefined) chain.push(leaf);
  }
  return chain;
}

/**
 * A self-signed CA at the end of Node's chain (the local trust anchor). Node links a
 * self-issued certificate to itself, so no parsing is needed; an object without the
 * `ca` flag is parsed as before.
 */
function isTrailingRoot(last: DetailedPeerCertificate): boolean {
  const ca = (last as { ca?: unknown }).ca;
  if (typeof ca === "boolean") {
    const issuer = last.issuerCertificate as DetailedPeerCertificate | undefined;
    return ca && issuer !== undefined && (issuer === last || issuer.fingerprint256 === last.fingerprint256);
  }
  const x = new X509Certificate(last.raw);
  return x.ca && x.subject === x.issuer;
}

/**
 * Reads one DER TLV at `at`: tag, where its content starts and ends; undefined when malformed.
 *
 * @example
 * ```ts
 * const outer = tlv(der, 0); // the certificate's SEQUENCE
 * ```
 */
export function tlv(der: Uint8Array, at: number): { tag: number; start: number; end: number } | undefined {
  if (at + 2 > der.length) return undefined;
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const bytes = len & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length) return undefined;
    len = 0;
    for (let i = 0; i < bytes; i++) len = len * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + len;
  return end <= der.length ? { tag, start, end } : undefined;
}

/**
 * The peer certificate inside OpenSSL's serialized SSL_SESSION: the `[3]` field of its
 * top-level SEQUENCE (ssl/ssl_asn1.c), which holds the certificate's DER.
 *
 * @example
 * ```ts
 * const leafDer = peerCertificateOfSession(socket.tls!.session!); // resumed sessions carry only the leaf
 * ```
 */
export function peerCertificateOfSession(session: Buffer): Buffer | undefined {
  const outer = tlv(session, 0);
  if (outer === undefined || outer.tag !== 0x30) return undefined;
  for (let at = outer.start; at < outer.end; ) {
    const field = tlv(session, at);
    if (field === undefined) return undefined;
    if (field.tag === 0xa3) {
      const cert = tlv(session, field.start);
      return cert !== undefined && cert.tag === 0x30 ? session.subarray(field.start, cert.end) : undefined;
    }
    at = field.end;
  }
  return undefined;
}

/**
 * What the handshake negotiated, recorded when it ends (it stays readable after close).
 *
 * @example
 * ```ts
 * const { protocol, alpn }: Negotiated = negotiatedOf(tlsSocket);
 * ```
 */
export interface Negotiated {
  protocol: string;
  cipher: string;
  alpn: string | null;
  servername: string | null;
  sessionReused: boolean;
}

/**
 * Reads what a finished handshake negotiated off the socket.
 *
 * @example
 * ```ts
 * const negotiated = negotiatedOf(tlsSocket); // at 'secureConnect'
 * ```
 */
export function negotiatedOf(socket: TLSSocket): Negotiated {
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  const cipher = socket.getCipher();
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
    alpn: socket.alpnProtocol || null,
    servername: typeof servername === "string" && servername !== "" ? servername : null,
    sessionReused: socket.isSessionReused(),
  };
}

/**
 * What verification decided about a peer, kept for TlsInfo: `authorized`, why not (`error`, an
 * OpenSSL code such as `CERT_HAS_EXPIRED`, or `NO_PEER_CERTIFICATE`) and the chain it checked
 * (DER, leaf first). verifyPeer (tls-verify.ts) makes it; tlsInfoOf reads it.
 *
 * @example
 * ```ts
 * const verdict: TlsVerdict = { authorized: true, error: null, chain: [leafDer, intermediateDer] };
 * ```
 */
export interface TlsVerdict {
  authorized: boolean;
  error: string | null;
  chain: Buffer[];
  /** Absent: "ca" when authorized, else "none". */
  trust?: TlsTrust;
}

/** Described chains, per verdict: each certificate is parsed once per connection. */
const DESCRIBED = new WeakMap<TlsVerdict, CertificateInfo[]>();

/**
 * Reads a TlsInfo off a connected TLSSocket. `peerCertificate` and `peerChain` are
 * described on first read (from the verdict's chain) and kept.
 * With `negotiated` (recorded at the end of the handshake) the socket is not asked again.
 *
 * @example
 * ```ts
 * const info = tlsInfoOf(tlsSocket, { authorized: true, error: null, chain }, latestSession);
 * ```
 */
export function tlsInfoOf(
  socket: TLSSocket,
  verdict: TlsVerdict,
  session: Buffer | null,
  negotiated: Negotiated = negotiatedOf(socket),
): TlsInfo {
  const described = (): CertificateInfo[] => {
    let chain = DESCRIBED.get(verdict);
    if (chain === undefined) {
      chain = verdict.chain.map(describeCertificate);
      DESCRIBED.set(verdict, chain);
    }
    return chain;
  };
  const info: TlsInfo = {
    protocol: negotiated.protocol,
    cipher: negotiated.cipher,
    alpn: negotiated.alpn,
    servername: negotiated.servername,
    sessionReused: negotiated.sessionReused,
    authorized: verdict.authorized,
    authorizationError: verdict.error,
    trust: verdict.trust ?? (verdict.authorized ? "ca" : "none"),
    peerCertificate: null, // replaced by getters below, in the same place
    peerChain: [],
    session,
  };
  Object.defineProperty(info, "peerCertificate", {
    enumerable: true, configurable: true, get: () => described()[0] ?? null,
  });
  Object.defineProperty(info, "peerChain", { enumerable: true, configurable: true, get: described });
  return info;
}
