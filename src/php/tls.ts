/**
 * The `ssl` context in PHP's terms on top of sockurl's TlsOptions: crypto_method masks as version
 * ranges, PHP's peer_fingerprint rules, PHP's name check (subjectAltName DNS entries first, the CN
 * when there are none) and PHP's warning texts for failed handshakes.
 *
 * sockurl verifies the chain (with allow_self_signed, verify_depth and the certificate purpose);
 * the fingerprint and the name are checked here, after the handshake, because PHP's rules differ
 * from sockurl's: sockurl refuses certificates without subjectAltName (RFC 9525), PHP falls back
 * to the CN; sockurl lets a matching fingerprint replace the chain check, PHP checks both.
 */
import { createHash, X509Certificate } from "node:crypto";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { isIP } from "node:net";
import type { SecureVersion } from "node:tls";
import { SocketError, type Socket, type TlsOptions } from "../index.js";
import { strerror, osError } from "./errno.js";
import type { PhpContext } from "./context.js";

const VERSION_BITS: Array<[number, SecureVersion]> = [[8, "TLSv1"], [16, "TLSv1.1"], [32, "TLSv1.2"], [64, "TLSv1.3"]];
const PINNED: Record<string, SecureVersion> = { "tlsv1.0": "TLSv1", "tlsv1.1": "TLSv1.1", "tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3" };
const NO_PROTOCOLS = "SSL operation failed with code 1. OpenSSL Error messages:\nerror:0A0000BF:SSL routines::no protocols available";
/** PHP's text for a chain that did not verify. */
export const VERIFY_FAILED = "SSL operation failed with code 1. OpenSSL Error messages:\nerror:0A000086:SSL routines::certificate verify failed";

/** One warning: `fn(): text`, or the bare text (`raw`) for the few PHP prints without a function. */
export interface TlsWarning {
  text: string;
  raw?: boolean;
}

/** TLS options for sockurl, or the warnings with which PHP would fail before any byte is sent. */
export type PreparedTls = { options: TlsOptions; verifyName: boolean; peerName: string } | { fail: TlsWarning[] };

const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== false && v !== 0 && v !== "" && v !== "0";

/** The version range of a crypto_method mask; null when it names no TLS version. */
export function methodRange(method: number): { min: SecureVersion; max: SecureVersion } | null {
  const on = VERSION_BITS.filter(([bit]) => (method & bit) !== 0).map(([, v]) => v);
  return on.length === 0 ? null : { min: on[0]!, max: on[on.length - 1]! };
}

function readableDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readable(path: string): boolean {
  try {
    accessSync(path, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Translates the context's `ssl` options for a handshake on `transport` (`method` overrides
 * `crypto_method`, as stream_socket_enable_crypto's argument does).
 */
export function prepareTls(ctx: PhpContext, side: "client" | "server", transport: string, host: string, method?: number | null): PreparedTls {
  const ssl = (ctx.options.ssl ?? {}) as Record<string, unknown>;
  const o: TlsOptions = {};
  const isClient = side === "client";
  o.verifyPeer = ssl.verify_peer === undefined ? isClient : truthy(ssl.verify_peer);
  o.verifyPeerName = false;
  if (!isClient && o.verifyPeer) o.requestCert = true;
  if (truthy(ssl.allow_self_signed)) o.allowSelfSigned = true;
  if (typeof ssl.cafile === "string") {
    if (!readable(ssl.cafile)) return { fail: [{ text: `failed loading cafile stream: \`${ssl.cafile}'`, raw: true }] };
    o.caFile = ssl.cafile;
  }
  // A capath OpenSSL cannot read is no error for PHP: it just trusts nothing from it.
  if (typeof ssl.capath === "string" && readableDir(ssl.capath)) o.caPath = ssl.capath;
  if (typeof ssl.local_cert === "string") {
    if (!readable(ssl.local_cert)) {
      return { fail: [{ text: `Unable to set local cert chain file \`${ssl.local_cert}'; Check that your cafile/capath settings include details of your certificate and its issuer` }] };
    }
    o.certFile = ssl.local_cert;
    if (typeof ssl.local_pk === "string") {
      if (!readable(ssl.local_pk)) return { fail: [{ text: `Unable to set private key file \`${ssl.local_pk}'` }] };
      o.keyFile = ssl.local_pk;
    }
    if (typeof ssl.passphrase === "string") o.passphrase = ssl.passphrase;
  }
  // OpenSSL's depth counts the trust anchor; sockurl counts the chain the peer sent (no root).
  if (ssl.verify_depth !== undefined) o.verifyDepth = Math.max(0, (Math.trunc(Number(ssl.verify_depth)) || 0) - 1);
  if (typeof ssl.ciphers === "string") o.ciphers = ssl.ciphers;
  if (ssl.security_level !== undefined) o.securityLevel = Math.min(5, Math.max(0, Math.trunc(Number(ssl.security_level)) || 0));
  if (ssl.SNI_enabled !== undefined && !truthy(ssl.SNI_enabled)) o.sni = false;
  if (typeof ssl.alpn_protocols === "string" && ssl.alpn_protocols !== "") o.alpn = ssl.alpn_protocols.split(",").filter((p) => p !== "");
  if (!isClient) {
    if (ssl.honor_cipher_order !== undefined) o.honorCipherOrder = truthy(ssl.honor_cipher_order);
    if (truthy(ssl.no_ticket)) o.noTicket = true;
    const sni = ssl.SNI_server_certs;
    if (sni !== null && typeof sni === "object") {
      const table: Record<string, { certFile: string; keyFile?: string }> = {};
      for (const [name, entry] of Object.entries(sni as Record<string, unknown>)) {
        if (typeof entry === "string") table[name] = { certFile: entry };
        else if (entry !== null && typeof entry === "object") {
          const e = entry as Record<string, unknown>;
          if (typeof e.local_cert === "string") table[name] = typeof e.local_pk === "string" ? { certFile: e.local_cert, keyFile: e.local_pk } : { certFile: e.local_cert };
        }
      }
      o.sniCertificates = table;
    }
  }
  // Versions: tlsv1.x:// pins one; otherwise the method argument, then crypto_method, then any.
  const pinned = PINNED[transport];
  let range: { min: SecureVersion; max: SecureVersion } | null;
  if (pinned !== undefined) range = { min: pinned, max: pinned };
  else {
    const m = method ?? (ssl.crypto_method !== undefined ? Number(ssl.crypto_method) : null);
    // A mask without any TLS bit (SSLv2/SSLv3 only) restricts nothing in PHP.
    range = (m === null || !Number.isFinite(m) ? null : methodRange(m)) ?? { min: "TLSv1", max: "TLSv1.3" };
  }
  const order: SecureVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
  if (o.securityLevel !== 0) {
    if (order.indexOf(range.max) < 2) {
      // Only TLS 1.0/1.1: PHP still sends such a hello (and a modern peer refuses it); OpenSSL
      // needs security level 0 for that.
      if (o.securityLevel !== undefined) return { fail: [{ text: NO_PROTOCOLS }] };
      o.securityLevel = 0;
    } else if (order.indexOf(range.min) < 2) {
      // Any range reaching TLS 1.2: OpenSSL at the default security level offers 1.2 and up.
      range = { min: "TLSv1.2", max: range.max };
    }
  }
  o.minVersion = range.min;
  o.maxVersion = range.max;
  const peerName = typeof ssl.peer_name === "string" ? ssl.peer_name : host;
  if (isClient) o.peerName = peerName;
  const verifyName = ssl.verify_peer_name === undefined ? isClient : truthy(ssl.verify_peer_name);
  return { options: o, verifyName, peerName };
}

/** PHP's warning for a handshake that failed (sockurl's error in, PHP's text out). */
export function handshakeWarning(err: unknown): string {
  if (err instanceof SocketError) {
    if (err.code === "ERR_TLS_CERT" && err.reason === "NO_PEER_CERTIFICATE") return "Could not get peer certificate";
    if (err.code === "ERR_TLS_CERT" || err.code === "ERR_TLS_FINGERPRINT") return VERIFY_FAILED;
    if (err.code === "ETIMEDOUT") return "SSL: Handshake timed out";
    if (err.code === "ERR_TLS_HANDSHAKE" && (err.reason === "ECONNRESET" || err.reason === "EPIPE")) return "SSL: Connection reset by peer";
  }
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const message = (e as { message?: unknown }).message;
    if (typeof message !== "string") continue;
    const m = /error:([0-9A-F]{8}):SSL routines:[^:]*:([^:\n]+)/.exec(message);
    if (m) return `SSL operation failed with code 1. OpenSSL Error messages:\nerror:${m[1]}:SSL routines::${m[2]!.trim()}`;
    if (/no protocols available|unsupported protocol/i.test(message)) return NO_PROTOCOLS;
  }
  const os = osError(err);
  if (os !== null) return `SSL: ${os.text}`;
  if (err instanceof SocketError && err.code === "ERR_INVALID_OPTION") return "Unable to set private key file";
  return `SSL: ${strerror("ECONNRESET")}`;
}

// ------------------------------------------------------------------ after the handshake

function leafOf(socket: Socket): X509Certificate | null {
  const pem = socket.tls?.peerCertificate?.pem;
  return pem === undefined ? null : new X509Certificate(pem);
}

/** PHP's peer_fingerprint check; the warnings when it fails, else null. */
function checkFingerprint(leaf: X509Certificate, expected: unknown): string[] | null {
  const der = leaf.raw;
  const digest = (algorithm: string): string | null => {
    try {
      return createHash(algorithm).update(der).digest("hex");
    } catch {
      return null;
    }
  };
  if (typeof expected === "string") {
    const algorithm = expected.length === 32 ? "md5" : expected.length === 40 ? "sha1" : null;
    if (algorithm === null || digest(algorithm) !== expected.toLowerCase()) return ["peer_fingerprint match failure"];
    return null;
  }
  if (expected === null || typeof expected !== "object") return ["Expected peer fingerprint must be a string or an array"];
  const entries = Array.isArray(expected) ? expected.map((v, i) => [String(i), v] as const) : Object.entries(expected as Record<string, unknown>);
  const invalid = ["Invalid peer_fingerprint array; [algo => fingerprint] form required", "peer_fingerprint match failure"];
  if (entries.length === 0) return invalid;
  for (const [algorithm, value] of entries) {
    if (Array.isArray(expected) || /^\d+$/.test(algorithm) || typeof value !== "string") return invalid;
    const actual = digest(algorithm);
    if (actual === null) return ["Unknown digest algorithm", "peer_fingerprint match failure"];
    if (actual !== value.toLowerCase()) return ["peer_fingerprint match failure"];
  }
  return null;
}

/** A certificate name (possibly `*.rest`) against a host name, as PHP matches them. */
export function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p === n) return true;
  const star = p.indexOf("*");
  const firstDot = p.indexOf(".");
  if (star < 0 || firstDot < 0 || star > firstDot || p.indexOf(".", firstDot + 1) < 0) return false;
  const prefix = p.slice(0, star);
  const suffix = p.slice(star + 1);
  if (n.length < prefix.length + suffix.length || !n.startsWith(prefix) || !n.endsWith(suffix)) return false;
  // The wildcard covers part of one label only.
  return !n.slice(prefix.length, n.length - suffix.length).includes(".");
}

function sameIp(a: string, b: string): boolean {
  const norm = (ip: string) => {
    if (isIP(ip) === 6) {
      const parts = ip.split("::");
      const head = parts[0] ? parts[0].split(":") : [];
      const tail = parts.length > 1 && parts[1] ? parts[1].split(":") : [];
      const fill = parts.length > 1 ? Array(8 - head.length - tail.length).fill("0") : [];
      return [...head, ...fill, ...tail].map((x) => parseInt(x, 16)).join(":");
    }
    return ip;
  };
  return isIP(a) !== 0 && isIP(a) === isIP(b) && norm(a) === norm(b);
}

/** PHP's name check: DNS subjectAltNames when the certificate has any, else the CN. */
function checkName(leaf: X509Certificate, peerName: string): string | null {
  const sans = (leaf.subjectAltName ?? "").split(/,\s*/).filter((s) => s !== "");
  const dns = sans.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
  const ips = sans.filter((s) => s.startsWith("IP Address:")).map((s) => s.slice(11));
  if (dns.some((d) => nameMatches(d, peerName))) return null;
  if (isIP(peerName) !== 0 && ips.some((ip) => sameIp(ip, peerName))) return null;
  if (dns.length > 0) return `Peer certificate subjectAltName did not match expected name \`${peerName}'`;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
  if (cn === undefined) return "Unable to locate peer certificate CN";
  if (nameMatches(cn, peerName)) return null;
  return `Peer certificate CN=\`${cn}' did not match expected CN=\`${peerName}'`;
}

/**
 * PHP's checks after the handshake (fingerprint, then name), and capture_peer_cert(_chain):
 * the warnings when the peer is refused, else null.
 */
export function checkPeer(socket: Socket, ctx: PhpContext, prepared: { verifyName: boolean; peerName: string }): string[] | null {
  const leaf = leafOf(socket);
  const ssl = (ctx.options.ssl ?? {}) as Record<string, unknown>;
  const wantsFingerprint = ssl.peer_fingerprint !== undefined && ssl.peer_fingerprint !== null && ssl.peer_fingerprint !== false;
  if ((wantsFingerprint || prepared.verifyName) && leaf === null) return ["Could not get peer certificate"];
  if (leaf !== null && wantsFingerprint) {
    const failed = checkFingerprint(leaf, ssl.peer_fingerprint);
    if (failed !== null) return failed;
  }
  if (leaf !== null && prepared.verifyName) {
    const failed = checkName(leaf, prepared.peerName);
    if (failed !== null) return [failed];
  }
  if (truthy(ssl.capture_peer_cert) && leaf !== null) ctx.set("ssl", "peer_certificate", leaf);
  if (truthy(ssl.capture_peer_cert_chain)) {
    ctx.set("ssl", "peer_certificate_chain", (socket.tls?.peerChain ?? []).map((c) => new X509Certificate(c.pem)));
  }
  return null;
}

/** PHP's `crypto` metadata of an encrypted socket. */
export function cryptoMeta(socket: Socket): Record<string, unknown> | null {
  const info = socket.tls;
  if (info === null) return null;
  const tlsSocket = socket.stream as unknown as { getCipher?: () => { name: string; version: string } };
  const cipher = tlsSocket.getCipher?.() ?? { name: info.cipher, version: info.protocol };
  const bits = /AES_?128/.test(cipher.name) ? 128 : /AES_?256|CHACHA20/.test(cipher.name) ? 256 : /3DES|DES-CBC3/.test(cipher.name) ? 112 : 0;
  const meta: Record<string, unknown> = {
    protocol: info.protocol,
    cipher_name: cipher.name,
    cipher_bits: bits,
    cipher_version: cipher.version === "TLSv1/SSLv3" ? "TLSv1.0" : cipher.version,
  };
  if (info.alpn !== null) meta.alpn_protocol = info.alpn;
  return meta;
}
