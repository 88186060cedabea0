/**
 * Throwaway certificates, made in memory with @peculiar/x509 (loaded on first use, after the
 * reflect-metadata polyfill it needs): a self-signed server certificate for `sockurl listen
 * tls://…`, and a root CA with a leaf for the demo. ECDSA P-256 keys, SHA-256 signatures.
 */
import { KeyObject, webcrypto, X509Certificate } from "node:crypto";
import type * as X509 from "@peculiar/x509";

/** A PEM certificate and its unencrypted PKCS#8 PEM key. */
export interface CertAndKey {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, upper-case hex with colons. */
  fingerprint256: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const EC_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
/** Names every throwaway server certificate carries. */
export const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"] as const;

let loaded: Promise<typeof X509> | undefined;

function x509(): Promise<typeof X509> {
  loaded ??= (async () => {
    await import("reflect-metadata");
    const m = await import("@peculiar/x509");
    m.cryptoProvider.set(webcrypto as unknown as Parameters<typeof m.cryptoProvider.set>[0]);
    return m;
  })();
  return loaded;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) || 1;
  return Buffer.from(bytes).toString("hex");
}

const keys = () => webcrypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>;
const keyPem = (key: webcrypto.CryptoKey) => KeyObject.from(key).export({ type: "pkcs8", format: "pem" }) as string;

function finish(cert: X509.X509Certificate, key: webcrypto.CryptoKey): CertAndKey {
  const pem = cert.toString("pem").trim() + "\n";
  return { cert: pem, key: keyPem(key), fingerprint256: new X509Certificate(pem).fingerprint256 };
}

async function leafExtensions(m: typeof X509, pair: webcrypto.CryptoKeyPair, names: readonly string[], issuerKeyId?: string): Promise<X509.Extension[]> {
  const ski = await m.SubjectKeyIdentifierExtension.create(pair.publicKey);
  return [
    new m.BasicConstraintsExtension(false, undefined, true),
    new m.KeyUsagesExtension(m.KeyUsageFlags.digitalSignature, true),
    new m.ExtendedKeyUsageExtension([m.ExtendedKeyUsage.serverAuth]),
    new m.SubjectAlternativeNameExtension(names.map((value) => ({ type: /^[\d.]+$|:/.test(value) ? "ip" as const : "dns" as const, value }))),
    ski,
    new m.AuthorityKeyIdentifierExtension(issuerKeyId ?? ski.keyId),
  ];
}

/**
 * A self-signed server certificate for `names` (default localhost, 127.0.0.1, ::1), valid
 * from an hour ago for `days` days.
 *
 * @example
 * ```ts
 * const { cert, key, fingerprint256 } = await selfSigned();
 * ```
 */
export async function selfSigned(names: readonly string[] = LOOPBACK_NAMES, days = 30): Promise<CertAndKey> {
  const m = await x509();
  const pair = await keys();
  const now = Date.now();
  const cert = await m.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${names[0] ?? "localhost"}, O=sockurl throwaway`,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + days * DAY),
    signingAlgorithm: EC_SIGN,
    keys: pair,
    extensions: await leafExtensions(m, pair, names),
  });
  return finish(cert, pair.privateKey);
}

/**
 * A throwaway root CA and a leaf for `names` signed by it: clients trust `ca`, the server
 * presents `leaf`.
 *
 * @example
 * ```ts
 * const { ca, leaf } = await throwawayCa();
 * await listen("tls://127.0.0.1:0", { tls: leaf });
 * ```
 */
export async function throwawayCa(names: readonly string[] = LOOPBACK_NAMES): Promise<{ ca: string; leaf: CertAndKey }> {
  const m = await x509();
  const [rootPair, leafPair] = await Promise.all([keys(), keys()]);
  const now = Date.now();
  const rootSki = await m.SubjectKeyIdentifierExtension.create(rootPair.publicKey);
  const root = await m.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=sockurl throwaway root CA, O=sockurl demo",
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + DAY),
    signingAlgorithm: EC_SIGN,
    keys: rootPair,
    extensions: [
      new m.BasicConstraintsExtension(true, 0, true),
      new m.KeyUsagesExtension(m.KeyUsageFlags.keyCertSign | m.KeyUsageFlags.cRLSign, true),
      rootSki,
      new m.AuthorityKeyIdentifierExtension(rootSki.keyId),
    ],
  });
  const leaf = await m.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names[0] ?? "localhost"}, O=sockurl demo`,
    issuer: root.subjectName,
    publicKey: leafPair.publicKey,
    signingKey: rootPair.privateKey,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + DAY),
    signingAlgorithm: EC_SIGN,
    extensions: await leafExtensions(m, leafPair, names, rootSki.keyId),
  });
  return { ca: root.toString("pem").trim() + "\n", leaf: finish(leaf, leafPair.privateKey) };
}
