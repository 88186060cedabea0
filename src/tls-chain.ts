/**
 * What the certificates themselves say, for the verification paths OpenSSL leaves vague: the
 * reason behind Node's `UNSPECIFIED` (a SHA-1 signature, a CA:FALSE issuer, a name constraint),
 * the checks a pinned certificate still has to pass, and RFC 9525's rule on wildcards. Only
 * failures and pinned certificates come here: a good handshake parses nothing more.
 */
import { X509Certificate } from "node:crypto";
import { tlv } from "./tls-info.js";


/** The children of the constructed TLV `parent`. */
function children(der: Uint8Array, parent: { start: number; end: number }): Array<{ tag: number; start: number; end: number }> {
  const out = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = tlv(der, at);
    if (child === undefined) break;
    out.push(child);
    at = child.end;
  }
  return out;
}

const hex = (der: Uint8Array, t: { start: number; end: number }): string => Buffer.from(der.subarray(t.start, t.end)).toString("hex");

/** Signature algorithms with a digest below 80 bits of security (MD2, MD5, SHA-1), by OID content. */
const WEAK_SIGNATURES: Record<string, string> = {
  "2a864886f70d010102": "md2WithRSAEncryption",
  "2a864886f70d010104": "md5WithRSAEncryption",
  "2a864886f70d010105": "sha1WithRSAEncryption",
  "2a8648ce3d0401": "ecdsa-with-SHA1",
  "2a8648ce380403": "dsa-with-SHA1",
};

/** The weak signature algorithm a certificate was signed with, or undefined. */
function weakSignatureOf(der: Buffer): string | undefined {
  const cert = tlv(der, 0);
  if (cert === undefined) return undefined;
  const algorithm = children(der, cert)[1];
  const oid = algorithm === undefined ? undefined : children(der, algorithm)[0];
  return oid === undefined || oid.tag !== 0x06 ? undefined : WEAK_SIGNATURES[hex(der, oid)];
}

/** A certificate's name constraints: permitted and excluded DNS names and IP ranges. */
interface NameConstraints {
  permittedDns: string[];
  excludedDns: string[];
  permittedIp: Array<{ net: Buffer; mask: Buffer }>;
  excludedIp: Array<{ net: Buffer; mask: Buffer }>;
}

const NAME_CONSTRAINTS_OID = "551d1e"; // 2.5.29.30

/** The NameConstraints extension (RFC 5280 4.2.1.10) of a certificate, if it has one. */
function nameConstraintsOf(der: Buffer): NameConstraints | undefined {
  const cert = tlv(der, 0);
  const tbs = cert === undefined ? undefined : children(der, cert)[0];
  if (tbs === undefined) return undefined;
  const extensions = children(der, tbs).find((t) => t.tag === 0xa3);
  const list = extensions === undefined ? undefined : children(der, extensions)[0];
  if (list === undefined) return undefined;
  for (const extension of children(der, list)) {
    const parts = children(der, extension);
    if (parts[0]?.tag !== 0x06 || hex(der, parts[0]) !== NAME_CONSTRAINTS_OID) continue;
    const value = parts.at(-1)!;
    const body = tlv(der, value.start);
    if (body === undefined) return undefined;
    const out: NameConstraints = { permittedDns: [], excludedDns: [], permittedIp: [], excludedIp: [] };
    for (const subtrees of children(der, body)) {
      const permitted = subtrees.tag === 0xa0;
      for (const subtree of children(der, subtrees)) {
        const name = children(der, subtree)[0];
        if (name === undefined) continue;
        const bytes = Buffer.from(der.subarray(name.start, name.end));
        if (name.tag === 0x82) (permitted ? out.permittedDns : out.excludedDns).push(bytes.toString("latin1").toLowerCase());
        if (name.tag === 0x87 && (bytes.length === 8 || bytes.length === 32)) {
          const half = bytes.length / 2;
          (permitted ? out.permittedIp : out.excludedIp).push({ net: bytes.subarray(0, half), mask: bytes.subarray(half) });
        }
      }
    }
    return out;
  }
  return undefined;
}

/** RFC 5280 4.2.1.10: a DNS name is within `base` when it is `base` or ends in `.base`. */
function dnsWithin(name: string, base: string): boolean {
  if (base === "") return true;
  const b = base.startsWith(".") ? base.slice(1) : base;
  return name === b || name.endsWith(`.${b}`);
}

function ipBytes(text: string): Buffer | undefined {
  if (text.includes(".")) {
    const parts = text.split(".").map(Number);
    return parts.length === 4 && parts.every((p) => p >= 0 && p <= 255) ? Buffer.from(parts) : undefined;
  }
  // Node prints IPv6 SAN entries fully expanded (0:0:0:0:0:0:0:1).
  const groups = text.split(":");
  if (groups.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}

function ipWithin(ip: Buffer, range: { net: Buffer; mask: Buffer }): boolean {
  if (ip.length !== range.net.length) return false;
  for (let i = 0; i < ip.length; i++) if ((ip[i]! & range.mask[i]!) !== (range.net[i]! & range.mask[i]!)) return false;
  return true;
}

/** The DNS and IP names of a certificate's subjectAltName. */
function namesOf(x: X509Certificate): { dns: string[]; ip: Buffer[] } {
  const dns: string[] = [];
  const ip: Buffer[] = [];
  for (const entry of splitAltNames(x.subjectAltName ?? "")) {
    if (entry.startsWith("DNS:")) dns.push(entry.slice(4).toLowerCase());
    else if (entry.startsWith("IP Address:")) {
      const bytes = ipBytes(entry.slice(11));
      if (bytes !== undefined) ip.push(bytes);
    }
  }
  return { dns, ip };
}

/** The name constraints `names` break, as PERMITTED_VIOLATION or EXCLUDED_VIOLATION with the name. */
function constraintViolation(names: { dns: string[]; ip: Buffer[] }, c: NameConstraints): { reason: string; name: string } | undefined {
  for (const name of names.dns) {
    if (c.excludedDns.some((base) => dnsWithin(name, base))) return { reason: "EXCLUDED_VIOLATION", name };
    if (c.permittedDns.length > 0 && !c.permittedDns.some((base) => dnsWithin(name, base))) return { reason: "PERMITTED_VIOLATION", name };
  }
  for (const ip of names.ip) {
    const shown = ip.length === 4 ? [...ip].join(".") : ip.toString("hex").replace(/(.{4})(?!$)/g, "$1:");
    if (c.excludedIp.some((r) => ipWithin(ip, r))) return { reason: "EXCLUDED_VIOLATION", name: shown };
    const sameFamily = c.permittedIp.filter((r) => r.net.length === ip.length);
    if (sameFamily.length > 0 && !sameFamily.some((r) => ipWithin(ip, r))) return { reason: "PERMITTED_VIOLATION", name: shown };
  }
  return undefined;
}

/**
 * A chain problem, read off the certificates: `reason` (an OpenSSL verify code name) and what it
 * means in words.
 *
 * @example
 * ```ts
 * const problem: ChainProblem = { reason: "CA_MD_TOO_WEAK", text: "CN=leaf is signed with sha1WithRSAEncryption" };
 * ```
 */
export interface ChainProblem {
  reason: string;
  text: string;
}

/** Minimum RSA/DSA modulus per OpenSSL security level (SSL_CTX_set_security_level(3)). */
const MIN_RSA_BITS = [0, 1024, 2048, 3072, 7680, 15360];
/** Minimum EC key size per level: 160, 224, 256, 384, 512 bits of curve for 80…256-bit security. */
const MIN_EC_BITS = [0, 160, 224, 256, 384, 512];

function curveBits(x: X509Certificate): number | undefined {
  const curve = x.publicKey.asymmetricKeyDetails?.namedCurve;
  if (curve === undefined) return undefined;
  return curve === "prime256v1" ? 256 : Number(/(\d{3})/.exec(curve)?.[1]) || undefined;
}

/**
 * True when a key is below OpenSSL's minimum for `level` (RSA, DSA and EC sizes).
 *
 * @example
 * ```ts
 * keyTooSmall(new X509Certificate(rsa1024Pem), 2); // true
 * ```
 */
export function keyTooSmall(x: X509Certificate, level: number): boolean {
  const type = x.publicKey.asymmetricKeyType;
  if (type === "rsa" || type === "rsa-pss" || type === "dsa") {
    const bits = x.publicKey.asymmetricKeyDetails?.modulusLength;
    return bits !== undefined && bits < (MIN_RSA_BITS[level] ?? 2048);
  }
  if (type === "ec") {
    const bits = curveBits(x);
    return bits !== undefined && bits < (MIN_EC_BITS[level] ?? 224);
  }
  return false;
}

const oneLine = (dn: string): string => dn.split("\n").join(", ");

/** Which checks `chainProblem` runs: all of them, or all but the ones a pin's `allow` waives. */
export interface ChainChecks {
  expiry?: boolean;
  keySize?: boolean;
  signatures?: boolean;
  structure?: boolean;
}

/**
 * The first problem the certificates of `chain` (DER, leaf first, as presented, plus any
 * trusted anchors in `anchors` that issued its last one) show by themselves, in OpenSSL's order:
 * an issuer that is not a CA (INVALID_CA), a key below the security level (EE_KEY_TOO_SMALL,
 * CA_KEY_TOO_SMALL), a name outside a CA's name constraints (PERMITTED_VIOLATION,
 * EXCLUDED_VIOLATION), a signature with a digest below it (CA_MD_TOO_WEAK), a certificate
 * outside its validity (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID). Self-issued anchors' own
 * signatures are not judged, as OpenSSL does not judge them.
 *
 * @example
 * ```ts
 * chainProblem([leafDer, intermediateDer], [], 2)?.reason; // "CA_MD_TOO_WEAK"
 * ```
 */
export function chainProblem(
  chain: readonly Buffer[],
  anchors: readonly X509Certificate[],
  level: number,
  checks: ChainChecks = {},
  now = Date.now(),
): ChainProblem | undefined {
  const { expiry = true, keySize = true, signatures = true, structure = true } = checks;
  const certs = chain.map((der) => new X509Certificate(der));
  const last = certs.at(-1);
  if (last !== undefined && last.issuer !== last.subject) {
    const anchor = anchors.find((a) => a.subject === last.issuer && last.checkIssued(a));
    if (anchor !== undefined) certs.push(anchor);
  }
  const ders = certs.map((x) => x.raw);
  if (structure) {
    for (let i = 1; i < certs.length; i++) {
      if (!certs[i]!.ca) {
        return { reason: "INVALID_CA", text: `the issuer ${oneLine(certs[i]!.subject)} is not a CA (basicConstraints CA:FALSE), yet it signed ${oneLine(certs[i - 1]!.subject)}` };
      }
    }
  }
  if (keySize && level > 0) {
    for (let i = 0; i < certs.length; i++) {
      if (keyTooSmall(certs[i]!, level)) {
        return i === 0
          ? { reason: "EE_KEY_TOO_SMALL", text: "the certificate key is too weak for the security level" }
          : { reason: "CA_KEY_TOO_SMALL", text: `the key of the CA ${oneLine(certs[i]!.subject)} is too weak for the security level` };
      }
    }
  }
  if (structure) {
    for (let i = 1; i < certs.length; i++) {
      const constraints = nameConstraintsOf(ders[i]!);
      if (constraints === undefined) continue;
      for (let j = 0; j < i; j++) {
        const broken = constraintViolation(namesOf(certs[j]!), constraints);
        if (broken !== undefined) {
          const kind = broken.reason === "PERMITTED_VIOLATION" ? "outside the names it permits" : "among the names it excludes";
          return { reason: broken.reason, text: `the CA ${oneLine(certs[i]!.subject)} constrains its names, and ${broken.name} is ${kind}` };
        }
      }
    }
  }
  if (signatures && level > 0) {
    for (let i = 0; i < certs.length; i++) {
      if (i === certs.length - 1 && certs[i]!.issuer === certs[i]!.subject) continue; // a self-signature proves nothing
      const weak = weakSignatureOf(ders[i]!);
      if (weak !== undefined) {
        return { reason: "CA_MD_TOO_WEAK", text: `${oneLine(certs[i]!.subject)} is signed with ${weak}, a digest too weak for the security level` };
      }
    }
  }
  if (expiry) {
    for (const x of certs) {
      if (Date.parse(x.validTo) < now) return { reason: "CERT_HAS_EXPIRED", text: `the certificate ${oneLine(x.subject)} has expired (${x.validTo})` };
      if (Date.parse(x.validFrom) > now) return { reason: "CERT_NOT_YET_VALID", text: `the certificate ${oneLine(x.subject)} is not yet valid (${x.validFrom})` };
    }
  }
  return undefined;
}

/**
 * The problem behind an unnamed verify code (Node's UNSPECIFIED) when the presented chain stops
 * below its issuer: OpenSSL found the issuer the server sent but could not use it as a CA (it is
 * CA:FALSE, or its keyUsage lacks keyCertSign, X509_check_ca's two refusals), and Node's chain
 * linking, which asks the same question, dropped it. A chain that ends at a self-issued
 * certificate, or at one a trusted anchor issued, has no such gap.
 *
 * @example
 * ```ts
 * unusableIssuer([leafDer], [rootCa])?.reason; // "INVALID_CA"
 * ```
 */
export function unusableIssuer(chain: readonly Buffer[], anchors: readonly X509Certificate[]): ChainProblem | undefined {
  const der = chain.at(-1);
  if (der === undefined) return undefined;
  const last = new X509Certificate(der);
  if (last.issuer === last.subject || anchors.some((a) => a.subject === last.issuer && last.checkIssued(a))) return undefined;
  return {
    reason: "INVALID_CA",
    text: `the issuer ${oneLine(last.issuer)} of ${oneLine(last.subject)} cannot act as a CA (it is not a CA, or its keyUsage lacks keyCertSign)`,
  };
}

/**
 * Splits Node's subjectAltName text (`DNS:a, DNS:b, IP Address:…`) into entries; an entry Node
 * quoted (JSON, for names with commas or quotes) is unquoted.
 *
 * @example
 * ```ts
 * splitAltNames("DNS:a.example, IP Address:127.0.0.1"); // ["DNS:a.example", "IP Address:127.0.0.1"]
 * ```
 */
export function splitAltNames(san: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < san.length) {
    const colon = san.indexOf(":", at);
    if (colon === -1) break;
    const type = san.slice(at, colon + 1);
    if (san[colon + 1] === "\"") {
      let end = colon + 2;
      while (end < san.length && san[end] !== "\"") end += san[end] === "\\" ? 2 : 1;
      let value: string;
      try {
        value = JSON.parse(san.slice(colon + 1, end + 1)) as string;
      } catch {
        value = san.slice(colon + 2, end);
      }
      out.push(type + value);
      at = end + 1;
    } else {
      const comma = san.indexOf(", ", colon);
      out.push(san.slice(at, comma === -1 ? san.length : comma));
      at = comma === -1 ? san.length : comma;
    }
    if (san.startsWith(", ", at)) at += 2;
  }
  return out;
}

/**
 * RFC 9525 6.3: a wildcard matches only as the whole left-most label (`*.example.com`). Returns
 * the subjectAltName without the DNS entries that break that rule (`f*.example.com`,
 * `*oo.example.com`, `a.*.example.com`), and those entries; `san` itself when it has no `*`.
 *
 * @example
 * ```ts
 * withoutPartialWildcards("DNS:f*.example.com, DNS:a.example"); // { san: "DNS:a.example", dropped: ["f*.example.com"] }
 * ```
 */
export function withoutPartialWildcards(san: string): { san: string; dropped: string[] } {
  if (!san.includes("*")) return { san, dropped: [] };
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const entry of splitAltNames(san)) {
    if (entry.startsWith("DNS:") && entry.includes("*")) {
      const name = entry.slice(4);
      const labels = name.split(".");
      if (labels[0] !== "*" || labels.slice(1).some((l) => l.includes("*"))) {
        dropped.push(name);
        continue;
      }
    }
    // Re-quoted when Node had quoted it, so that checkServerIdentity reads it as before.
    kept.push(/[,"\\]/.test(entry) ? entry.slice(0, entry.indexOf(":") + 1) + JSON.stringify(entry.slice(entry.indexOf(":") + 1)) : entry);
  }
  return { san: kept.join(", "), dropped };
}
