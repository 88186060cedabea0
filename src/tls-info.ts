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

/** The peer chain as Node reports it, leaf first, without repeating the self-signed root. */
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
  return chain;
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
