/**
 * TLS options (PHP's `ssl` stream context in camelCase, with the same or safer defaults),
 * their validation before any I/O, and their translation into Node's `tls` options.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { SecureVersion } from "node:tls";
import { invalidOption, osWords } from "./errors.js";

/**
 * PEM text or DER/PEM bytes, or a list of them.
 *
 * @example
 * ```ts
 * const ca: PemInput = [readFileSync("root.pem"), intermediatePemText];
 * ```
 */
export type PemInput = string | Buffer | ReadonlyArray<string | Buffer>;

/**
 * A certificate fingerprint: hex (any case, colons optional) of md5, sha1 or sha256, or per algorithm.
 *
 * @example
 * ```ts
 * await connect("tls://127.0.0.1:8443", { tls: { fingerprint: { sha256: "AB:CD:…" } } });
 * ```
 */
export type Fingerprint = string | readonly string[] | { md5?: string; sha1?: string; sha256?: string };

/**
 * A check that `tls.allow` waives for the certificate pinned by `tls.fingerprint`:
 * - `"expired"`: CERT_HAS_EXPIRED, CERT_NOT_YET_VALID;
 * - `"revoked"`: CERT_REVOKED, and UNABLE_TO_GET_CRL (no CRL covers a self-signed certificate);
 * - `"weakKey"`: EE_KEY_TOO_SMALL, CA_KEY_TOO_SMALL (a key below `securityLevel`);
 * - `"weakSignature"`: CA_MD_TOO_WEAK (an MD5 or SHA-1 signature).
 *
 * @example
 * ```ts
 * await connect("tls://legacy.lan:443", { tls: { fingerprint, allow: ["expired"] } });
 * ```
 */
export type TlsAllowance = "expired" | "revoked" | "weakKey" | "weakSignature";

/** Every TlsAllowance, for validation and messages. */
export const TLS_ALLOWANCES: readonly TlsAllowance[] = ["expired", "revoked", "weakKey", "weakSignature"];

/**
 * A certificate and key for one server name (`sniCertificates`).
 *
 * @example
 * ```ts
 * const entry: CertificateAndKey = { certFile: "mail.crt", keyFile: "mail.key" };
 * await listen("tls://0.0.0.0:993", { tls: { cert, key, sniCertificates: { "mail.example": entry } } });
 * ```
 */
export interface CertificateAndKey {
  cert?: PemInput;
  key?: PemInput;
  certFile?: string;
  keyFile?: string;
  passphrase?: string;
}

/**
 * TLS options for `connect()`, `listen()` and `startTls()`.
 *
 * @example
 * ```ts
 * await connect("tls://127.0.0.1:8443", { tls: { ca: caPem, peerName: "localhost", alpn: ["h2"] } });
 * ```
 */
export interface TlsOptions extends CertificateAndKey {
  /** Verify the peer's chain (default true for clients; for servers, when `requestCert`). */
  verifyPeer?: boolean;
  /** Verify that the certificate names `peerName` (default true for clients). */
  verifyPeerName?: boolean;
  /** Accept a self-signed leaf (depth 0 only), as PHP's allow_self_signed. */
  allowSelfSigned?: boolean;
  /** The name to verify and send as SNI; defaults to the URL host. */
  peerName?: string;
  /** Send SNI (default true; only ever for DNS names, RFC 6066). */
  sni?: boolean;
  /** Trusted CA certificates; replaces the system store. */
  ca?: PemInput;
  caFile?: string;
  /** A directory of PEM CA files (any name; every certificate in it is trusted). */
  caPath?: string;
  /** Certificate revocation lists (PEM); every certificate of the chain must be covered. */
  crl?: PemInput;
  /** OpenSSL cipher list (TLS 1.2 and below). */
  ciphers?: string;
  /** TLS 1.3 cipher suites. */
  cipherSuites?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** ALPN protocols, most preferred first. */
  alpn?: readonly string[];
  /**
   * Pin the peer certificate; a mismatch is ERR_TLS_FINGERPRINT. A pin narrows trust and never
   * widens it: a match stands in for the CA (so a self-signed certificate can be pinned), but
   * expiry, revocation (with `crl`), key size and signature digest still apply unless `allow`
   * names the exception. A certificate accepted by its pin alone has `authorized: false`,
   * `trust: "pin"`.
   */
  fingerprint?: Fingerprint;
  /**
   * Checks waived for the certificate pinned by `fingerprint` (requires it), each named:
   * `"expired"`, `"revoked"`, `"weakKey"`, `"weakSignature"`. Nothing is waived by default.
   */
  allow?: readonly TlsAllowance[];
  /**
   * Pin the peer key: base64 SHA-256 of its SubjectPublicKeyInfo (any one must match). A key pin
   * only narrows: the chain must verify against the CAs as well.
   */
  spkiPins?: readonly string[];
  /** OpenSSL security level (default 2: at least 112-bit security, so RSA-1024 is refused). */
  securityLevel?: number;
  /** Longest chain accepted (PHP's verify_depth; default 9). */
  verifyDepth?: number;
  /** A session from `socket.tls.session` to resume. */
  session?: Buffer;
  // Server side
  /** Certificates per server name: exact (`mail.example`) or one-label wildcard (`*.example`). */
  sniCertificates?: Readonly<Record<string, CertificateAndKey>>;
  /** Ask the client for a certificate (mutual TLS); it is verified against `ca` unless `verifyPeer: false`. */
  requestCert?: boolean;
  /** Milliseconds a server gives a client to finish its handshake (default 10 000). */
  handshakeTimeout?: number;
  /** Prefer the server's cipher order (default true). */
  honorCipherOrder?: boolean;
  /** Disable session tickets (PHP's no_ticket). */
  noTicket?: boolean;
}

/** What a call without TLS options gets: shared, so never written to. */
const NO_TLS_OPTIONS: TlsOptions = Object.freeze({});

const TLS_KEYS = new Set<string>([
  "verifyPeer", "verifyPeerName", "allowSelfSigned", "peerName", "sni", "ca", "caFile", "caPath",
  "crl", "ciphers", "cipherSuites", "minVersion", "maxVersion", "alpn", "fingerprint", "allow", "spkiPins",
  "securityLevel", "verifyDepth", "session", "sniCertificates", "requestCert", "handshakeTimeout",
  "honorCipherOrder", "noTicket", "cert", "key", "certFile", "keyFile", "passphrase",
]);
const VERSIONS: readonly SecureVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/** An option error about `tls.<text>`; `url` names the target when the caller has one. */
function invalid(text: string, url: string | undefined, cause?: unknown) {
  return invalidOption(`tls.${text}`, cause === undefined ? { url } : { url, cause });
}

function isPem(v: unknown): boolean {
  const one = (x: unknown) => typeof x === "string" || Buffer.isBuffer(x);
  return one(v) || (Array.isArray(v) && v.every(one));
}

/**
 * Checks TLS options before any I/O and returns them unchanged. With `url` every message names it.
 *
 * @example
 * ```ts
 * validateTlsOptions({ minVersion: "TLSv1.4" }, "tls://127.0.0.1:443");
 * // throws "address tls://127.0.0.1:443: tls.minVersion must be one of TLSv1, … (ERR_INVALID_OPTION)"
 * ```
 */
export function validateTlsOptions(options: unknown, url?: string): TlsOptions {
  if (options === undefined) return NO_TLS_OPTIONS;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw invalid("options must be an object", url);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!TLS_KEYS.has(key)) throw invalid(`${key} is not a TLS option; known: ${[...TLS_KEYS].join(", ")}`, url);
  }
  for (const key of ["verifyPeer", "verifyPeerName", "allowSelfSigned", "sni", "requestCert", "honorCipherOrder", "noTicket"]) {
    if (o[key] !== undefined && typeof o[key] !== "boolean") throw invalid(`${key} must be true or false`, url);
  }
  for (const key of ["peerName", "caFile", "caPath", "ciphers", "cipherSuites", "certFile", "keyFile", "passphrase"]) {
    if (o[key] !== undefined && typeof o[key] !== "string") throw invalid(`${key} must be a string`, url);
  }
  for (const key of ["ca", "crl", "cert", "key"]) {
    if (o[key] !== undefined && !isPem(o[key])) throw invalid(`${key} must be PEM text, a Buffer, or an array of them`, url);
  }
  for (const key of ["minVersion", "maxVersion"]) {
    if (o[key] !== undefined && !VERSIONS.includes(o[key] as SecureVersion)) {
      throw invalid(`${key} must be one of ${VERSIONS.join(", ")}`, url);
    }
  }
  if (o.securityLevel !== undefined && !(Number.isInteger(o.securityLevel) && (o.securityLevel as number) >= 0 && (o.securityLevel as number) <= 5)) {
    throw invalid("securityLevel must be an integer from 0 to 5", url);
  }
  if (o.verifyDepth !== undefined && !(Number.isInteger(o.verifyDepth) && (o.verifyDepth as number) >= 0)) {
    throw invalid("verifyDepth must be a non-negative integer", url);
  }
  if (o.handshakeTimeout !== undefined && !(typeof o.handshakeTimeout === "number" && o.handshakeTimeout > 0 && Number.isFinite(o.handshakeTimeout))) {
    throw invalid("handshakeTimeout must be a positive number of milliseconds", url);
  }
  if (o.alpn !== undefined && !(Array.isArray(o.alpn) && o.alpn.every((p) => typeof p === "string" && p.length > 0 && p.length < 256))) {
    throw invalid("alpn must be an array of protocol names, e.g. [\"h2\", \"http/1.1\"]", url);
  }
  if (o.session !== undefined && !Buffer.isBuffer(o.session)) throw invalid("session must be a Buffer from socket.tls.session", url);
  if (o.spkiPins !== undefined && !(Array.isArray(o.spkiPins) && o.spkiPins.every((p) => typeof p === "string" && /^[A-Za-z0-9+/]{43}=$/.test(p)))) {
    throw invalid("spkiPins must be base64 SHA-256 digests (44 characters ending in '=')", url);
  }
  if (o.fingerprint !== undefined) normaliseFingerprints(o.fingerprint as Fingerprint, url);
  if (o.allow !== undefined) {
    if (!(Array.isArray(o.allow) && o.allow.every((a) => (TLS_ALLOWANCES as readonly unknown[]).includes(a)))) {
      throw invalid(`allow must be an array of ${TLS_ALLOWANCES.map((a) => `"${a}"`).join(", ")}`, url);
    }
    // An exception without a pin would accept what no one vouched for.
    if (o.allow.length > 0 && o.fingerprint === undefined) {
      throw invalid("allow waives checks only for the certificate pinned by tls.fingerprint; give tls.fingerprint too", url);
    }
  }
  if (o.sniCertificates !== undefined) {
    if (o.sniCertificates === null || typeof o.sniCertificates !== "object") throw invalid("sniCertificates must map server names to { cert, key }", url);
    for (const [name, entry] of Object.entries(o.sniCertificates)) {
      if (!/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(name)) throw invalid(`sniCertificates: "${name}" is not a server name or one-label wildcard`, url);
      if (entry === null || typeof entry !== "object") throw invalid(`sniCertificates["${name}"] must be { cert, key } or { certFile, keyFile }`, url);
    }
  }
  return o as TlsOptions;
}

const DIGEST_LENGTHS: Record<number, "md5" | "sha1" | "sha256"> = { 32: "md5", 40: "sha1", 64: "sha256" };

/**
 * Fingerprints as `{ algorithm, hex }` pairs with lower-case hex and no colons; all must match.
 *
 * @example
 * ```ts
 * normaliseFingerprints("AB:CD:…"); // [{ algorithm: "sha256", hex: "abcd…" }]
 * ```
 */
export function normaliseFingerprints(fp: Fingerprint, url?: string): Array<{ algorithm: "md5" | "sha1" | "sha256"; hex: string }> {
  const one = (value: unknown, algorithm?: string) => {
    if (typeof value !== "string") throw invalid("fingerprint must be a hex string, an array of them, or { md5, sha1, sha256 }", url);
    const hex = value.replace(/:/g, "").toLowerCase();
    const byLength = DIGEST_LENGTHS[hex.length];
    if (!/^[0-9a-f]+$/.test(hex) || byLength === undefined) {
      throw invalid(`fingerprint ${JSON.stringify(value)} is not md5 (32), sha1 (40) or sha256 (64) hex digits`, url);
    }
    if (algorithm !== undefined && algorithm !== byLength) throw invalid(`fingerprint for ${algorithm} has the length of ${byLength}`, url);
    return { algorithm: byLength, hex };
  };
  if (typeof fp === "string") return [one(fp)];
  if (Array.isArray(fp)) {
    if (fp.length === 0) throw invalid("fingerprint list is empty", url);
    return fp.map((v) => one(v));
  }
  if (fp !== null && typeof fp === "object") {
    const entries = Object.entries(fp);
    if (entries.length === 0) throw invalid("fingerprint object is empty", url);
    return entries.map(([algorithm, v]) => {
      if (!["md5", "sha1", "sha256"].includes(algorithm)) throw invalid(`fingerprint algorithm "${algorithm}" is not md5, sha1 or sha256`, url);
      return one(v, algorithm);
    });
  }
  throw invalid("fingerprint must be a hex string, an array of them, or { md5, sha1, sha256 }", url);
}

function readOption(path: string, what: string, url: string | undefined): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw invalid(`${what}: cannot read ${path}: ${osWords((err as NodeJS.ErrnoException).code ?? "EIO")}`, url, err);
  }
}

/**
 * The CA certificates to trust: `ca`, `caFile` and every file in `caPath`, or undefined (system store).
 *
 * @example
 * ```ts
 * const ca = loadCa({ caFile: "/etc/ssl/private-ca.pem" }, "tls://db.internal:5432");
 * ```
 */
export function loadCa(o: TlsOptions, url?: string): Array<string | Buffer> | undefined {
  const out: Array<string | Buffer> = [];
  if (o.ca !== undefined) out.push(...(Array.isArray(o.ca) ? o.ca : [o.ca as string | Buffer]));
  if (o.caFile !== undefined) out.push(readOption(o.caFile, "caFile", url));
  if (o.caPath !== undefined) {
    let names: string[];
    try {
      names = readdirSync(o.caPath);
    } catch (err) {
      throw invalid(`caPath: cannot read directory ${o.caPath}: ${osWords((err as NodeJS.ErrnoException).code ?? "EIO")}`, url, err);
    }
    for (const name of names) {
      const file = join(o.caPath, name);
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, "latin1");
      if (text.includes("-----BEGIN CERTIFICATE-----")) out.push(text);
    }
  }
  return out.length > 0 ? out : undefined;
}

/**
 * Reads every file the options name (`caFile`, each file of `caPath`, `certFile`, `keyFile`)
 * and throws ERR_INVALID_OPTION for the first that cannot be read: for callers that check
 * before any I/O and load again later (a STARTTLS upgrade prepares once its dialogue is done).
 *
 * @example
 * ```ts
 * checkTlsFiles({ caFile: "/nonexistent/ca.pem" }, "tcp://mail.example:25");
 * // throws "address tcp://mail.example:25: tls.caFile: cannot read /nonexistent/ca.pem: no such file or directory (ERR_INVALID_OPTION)"
 * ```
 */
export function checkTlsFiles(o: TlsOptions, url?: string): void {
  if (o.caFile !== undefined || o.caPath !== undefined) loadCa(o, url);
  if (o.certFile !== undefined || o.keyFile !== undefined) loadCertificate(o, url);
}

/**
 * The certificate and key, from PEM or files. `where` prefixes the option names in errors
 * (`sniCertificates["a.example"].`) when the certificate is not the top-level one.
 *
 * @example
 * ```ts
 * const { cert, key } = loadCertificate({ certFile: "server.crt", keyFile: "server.key" }, "tls://0.0.0.0:443");
 * ```
 */
export function loadCertificate(
  o: CertificateAndKey,
  url?: string,
  where = "",
): { cert?: PemInput; key?: PemInput; passphrase?: string } {
  const cert = o.certFile !== undefined ? readOption(o.certFile, `${where}certFile`, url) : o.cert;
  const key = o.keyFile !== undefined ? readOption(o.keyFile, `${where}keyFile`, url) : o.key ?? (o.certFile !== undefined && o.keyFile === undefined && o.cert === undefined ? cert : undefined);
  return {
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(o.passphrase === undefined ? {} : { passphrase: o.passphrase }),
  };
}

/**
 * The version range a transport and the options allow.
 *
 * @example
 * ```ts
 * versionRange("tlsv1.3", {}, "tlsv1.3://127.0.0.1:443"); // { minVersion: "TLSv1.3", maxVersion: "TLSv1.3" }
 * ```
 */
export function versionRange(transport: string, o: TlsOptions, url: string): { minVersion: SecureVersion; maxVersion: SecureVersion } {
  const pinned: Record<string, SecureVersion> = {
    "tlsv1.0": "TLSv1", "tlsv1.1": "TLSv1.1", "tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3",
  };
  const pin = pinned[transport];
  if (pin !== undefined) {
    if ((pin === "TLSv1" || pin === "TLSv1.1") && (o.securityLevel ?? 2) > 0) {
      throw invalidOption(
        `${transport}:// needs tls.securityLevel: 0 — TLS 1.0 and 1.1 are deprecated (RFC 8996) and OpenSSL refuses them at security level 1 and above`, { url });
    }
    return { minVersion: pin, maxVersion: pin };
  }
  const minVersion = o.minVersion ?? "TLSv1.2";
  const maxVersion = o.maxVersion ?? "TLSv1.3";
  if (VERSIONS.indexOf(minVersion) > VERSIONS.indexOf(maxVersion)) {
    throw invalid(`minVersion ${minVersion} is above tls.maxVersion ${maxVersion}`, url);
  }
  if (VERSIONS.indexOf(minVersion) < 2 && (o.securityLevel ?? 2) > 0) {
    throw invalid(`minVersion ${minVersion} needs tls.securityLevel: 0 — OpenSSL refuses TLS 1.0/1.1 at security level 1 and above`, url);
  }
  return { minVersion, maxVersion };
}

/**
 * The cipher list with the security level appended (`…:@SECLEVEL=2`).
 *
 * @example
 * ```ts
 * cipherList({ securityLevel: 1 }, tls.DEFAULT_CIPHERS); // "…:@SECLEVEL=1"
 * ```
 */
export function cipherList(o: TlsOptions, defaults: string): string {
  // A level inside the caller's list would fight the one securityLevel sets: it is dropped.
  const base = (o.ciphers ?? defaults).replace(/:?@SECLEVEL=\d/gi, "");
  return `${base}:@SECLEVEL=${o.securityLevel ?? 2}`;
}

/**
 * One `ciphers` string holding TLS 1.3 `suites` and a TLS ≤ 1.2 list: Node reads TLS 1.3 suites
 * only from `ciphers`, by their `TLS_` prefix (a `ciphersuites` key is ignored), so any `TLS_`
 * entries of `list` give way to `suites`.
 *
 * @example
 * ```ts
 * withTls13Suites("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES128-GCM-SHA256");
 * // "TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256"
 * ```
 */
export function withTls13Suites(suites: string, list: string): string {
  const tls12 = list.split(":").filter((name) => name !== "" && !name.startsWith("TLS_")).join(":");
  return [suites, tls12].filter((part) => part !== "").join(":");
}

/**
 * A DNS name without the trailing dot of its absolute form: SNI and name checks never carry it.
 *
 * @example
 * ```ts
 * bareName("example.com."); // "example.com"
 * ```
 */
export function bareName(host: string): string {
  return host.endsWith(".") ? host.slice(0, -1) : host;
}
