/**
 * TlsInfo: what a TLS connection negotiated and who the peer is, as plain objects.
 */
import { createHash, X509Certificate } from "node:crypto";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";

/** A certificate as plain data. */
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
  /** True when the peer's chain verified (a fingerprint pin also counts). */
  authorized: boolean;
  /** Why the chain did not verify, when `authorized` is false. */
  authorizationError: string | null;
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
 * On a resumed session Node has no peer certificate, so the leaf is read from the session.
 */
export function peerChainOf(socket: TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<string>();
  while (cert && "raw" in cert && cert.raw) {
    const key = cert.fingerprint256;
    if (seen.has(key)) break;
    seen.add(key);
    chain.push(cert.raw);
    cert = cert.issuerCertificate as DetailedPeerCertificate;
  }
  if (chain.length > 1) {
    const last = new X509Certificate(chain[chain.length - 1]!);
    if (last.ca && last.subject === last.issuer) chain.pop();
  }
  if (chain.length === 0 && socket.isSessionReused()) {
    const session = socket.getSession();
    const leaf = session === undefined ? undefined : peerCertificateOfSession(session);
    if (leaf !== undefined) chain.push(leaf);
  }
  return chain;
}

/** Reads one DER TLV at `at`: tag, where its content starts and ends. */
function tlv(der: Buffer, at: number): { tag: number; start: number; end: number } | undefined {
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
 * Reads a TlsInfo off a connected TLSSocket.
 *
 * @example
 * ```ts
 * const info = tlsInfoOf(tlsSocket, { authorized: true, error: null }, latestSession);
 * ```
 */
export function tlsInfoOf(
  socket: TLSSocket,
  verdict: { authorized: boolean; error: string | null },
  session: Buffer | null,
): TlsInfo {
  const chain = peerChainOf(socket).map(describeCertificate);
  const servername = (socket as TLSSocket & { servername?: string | false }).servername;
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: socket.getCipher()?.standardName ?? socket.getCipher()?.name ?? "unknown",
    alpn: socket.alpnProtocol || null,
    servername: typeof servername === "string" && servername !== "" ? servername : null,
    sessionReused: socket.isSessionReused(),
    authorized: verdict.authorized,
    authorizationError: verdict.error,
    peerCertificate: chain[0] ?? null,
    peerChain: chain,
    session,
  };
}
