/**
 * The server side of TLS: the secure-context options `listen("tls://…")` and server-side
 * `startTls` share (certificate, SNI table, client certificates), and the STARTTLS server
 * handshake over a connected stream.
 */
import { constants as cryptoConstants } from "node:crypto";
import type { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { detailOf, invalidOption, type SocketError } from "./errors.js";
import { handshakeError, type TlsSession } from "./tls-handshake.js";
import { negotiatedOf, type TlsVerdict } from "./tls-info.js";
import { bareName, cipherList, withTls13Suites, loadCa, loadCertificate, versionRange, type CertificateAndKey, type TlsOptions } from "./tls-options.js";
import { verifyPeer } from "./tls-verify.js";

/**
 * The verdict of a server that asked for no certificate and pins nothing.
 *
 * @example
 * ```ts
 * const verdict = serverChecksNothing(o) ? noPeerCertificate() : verifyPeer(secure, o, null, peerUrl, "server");
 * ```
 */
export function noPeerCertificate(): TlsVerdict {
  return { authorized: false, error: "NO_PEER_CERTIFICATE", chain: [] };
}

/**
 * True when a server's verifyPeer could only ever answer NO_PEER_CERTIFICATE: it requests
 * no client certificate (so none is sent) and pins nothing. The accept path then skips it.
 *
 * @example
 * ```ts
 * serverChecksNothing({ cert, key }); // true
 * serverChecksNothing({ cert, key, requestCert: true, ca }); // false
 * ```
 */
export function serverChecksNothing(o: TlsOptions): boolean {
  return !o.requestCert && o.verifyPeer !== true && o.fingerprint === undefined && !(o.spkiPins !== undefined && o.spkiPins.length > 0);
}

/**
 * TLS 1.2 suites a server offers by default, in the order of Mozilla's "intermediate" profile
 * (without its DHE suites, which Node cannot use without DH parameters this API does not take):
 * ECDHE key exchange only, so every session has forward secrecy (no static-RSA key exchange),
 * and AEAD ciphers only (AES-GCM, ChaCha20-Poly1305), so no CBC (Lucky13, BEAST-era padding
 * oracles) and no CCM8 (an 8-byte tag). Node's own default adds static RSA, CBC and CCM8
 * through `HIGH`; setting `tls.ciphers` replaces this list (e.g. with node:tls's
 * `DEFAULT_CIPHERS` for clients that predate AEAD).
 *
 * @example
 * ```ts
 * await listen("tls://127.0.0.1:0", { tls: { cert, key, ciphers: `${SERVER_TLS12_CIPHERS}:ECDHE-RSA-AES128-SHA` } });
 * ```
 */
export const SERVER_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * TLS 1.3 suites a server offers by default: OpenSSL's own three, named so that no build's
 * default can add TLS_AES_128_CCM_8_SHA256. `tls.cipherSuites` replaces them.
 *
 * @example
 * ```ts
 * await listen("tls://127.0.0.1:0", { tls: { cert, key, cipherSuites: "TLS_AES_256_GCM_SHA384" } });
 * ```
 */
export const SERVER_TLS13_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

/**
 * The `ciphers` string a server context gets: TLS 1.3 suites and the TLS 1.2 list in one string
 * (see withTls13Suites), with the security level appended.
 *
 * @example
 * ```ts
 * serverCiphers({}); // "TLS_AES_256_GCM_SHA384:…:ECDHE-ECDSA-AES128-GCM-SHA256:…:@SECLEVEL=2"
 * ```
 */
export function serverCiphers(o: TlsOptions): string {
  const tls12 = o.ciphers ?? SERVER_TLS12_CIPHERS;
  // A caller's `ciphers` that names TLS 1.3 suites itself keeps them, unless cipherSuites is given.
  const ciphers = o.cipherSuites !== undefined ? withTls13Suites(o.cipherSuites, tls12)
    : /(^|:)TLS_/.test(tls12) ? tls12 : withTls13Suites(SERVER_TLS13_SUITES, tls12);
  return cipherList({ ...o, ciphers }, "");
}

/**
 * OpenSSL options every server context sets. No renegotiation: Node allows a client to
 * renegotiate (3 times in 10 minutes) where OpenSSL 3 alone refuses, and a renegotiation costs
 * the server a full handshake per request (a CPU exhaustion lever, CVE-2011-1473), and no
 * TLS 1.2 client today needs it. TLS 1.3 has no renegotiation at all.
 *
 * @example
 * ```ts
 * serverSecureOptions({ noTicket: true }) & crypto.constants.SSL_OP_NO_TICKET; // non-zero
 * ```
 */
export function serverSecureOptions(o: TlsOptions): number {
  return cryptoConstants.SSL_OP_NO_RENEGOTIATION | (o.noTicket ? cryptoConstants.SSL_OP_NO_TICKET : 0);
}

/**
 * Secure-context options shared by `listen("tls://…")` and server-side `startTls`: the
 * caller's certificate and options over the stricter server defaults (see
 * SERVER_TLS12_CIPHERS, SERVER_TLS13_SUITES, serverSecureOptions; server cipher order).
 *
 * @example
 * ```ts
 * const server = tls.createServer(serverContextOptions({ cert, key }, "tls", "tls://127.0.0.1:0"));
 * ```
 */
export function serverContextOptions(o: TlsOptions, transport: string, url: string): tls.TlsOptions {
  const own = loadCertificate(o, url);
  if (own.cert === undefined || own.key === undefined) {
    throw invalidOption("a TLS server needs tls.cert and tls.key (or tls.certFile and tls.keyFile)", { url });
  }
  const ca = loadCa(o, url);
  const range = versionRange(transport, o, url);
  if ((range.maxVersion === "TLSv1" || range.maxVersion === "TLSv1.1") && o.ciphers === undefined) {
    // TLS 1.0 and 1.1 have no AEAD suite: the default list could never complete a handshake.
    throw invalidOption(`a ${range.maxVersion} server needs tls.ciphers: the default server suites are AEAD-only, which ${range.maxVersion} lacks`
      + ` (e.g. tls.ciphers: "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA")`, { url });
  }
  const contexts = sniContexts(o, url);
  return {
    ...(own as object),
    ...(ca === undefined ? {} : { ca }),
    ...(o.crl === undefined ? {} : { crl: o.crl as string | Buffer | Array<string | Buffer> }),
    ...range,
    ciphers: serverCiphers(o),
    ...(o.alpn === undefined ? {} : { ALPNProtocols: [...o.alpn] }),
    honorCipherOrder: o.honorCipherOrder ?? true,
    requestCert: o.requestCert ?? false,
    rejectUnauthorized: (o.requestCert ?? false) && (o.verifyPeer ?? true),
    secureOptions: serverSecureOptions(o),
    ...(contexts === null ? {} : {
      SNICallback: (name: string, done: (err: Error | null, ctx?: tls.SecureContext) => void) => done(null, pickSni(contexts, name)),
    }),
  } as tls.TlsOptions;
}

type SniTable = { exact: Map<string, tls.SecureContext>; wildcard: Map<string, tls.SecureContext> };

function sniContexts(o: TlsOptions, url: string): SniTable | null {
  if (o.sniCertificates === undefined) return null;
  const table: SniTable = { exact: new Map(), wildcard: new Map() };
  for (const [name, entry] of Object.entries(o.sniCertificates)) {
    const own = loadCertificate(entry as CertificateAndKey, url, `sniCertificates["${name}"].`);
    let context: tls.SecureContext;
    try {
      // The same suites and options as the default context: SNI must not widen them.
      context = tls.createSecureContext({
        ...(own as object), ciphers: serverCiphers(o), secureOptions: serverSecureOptions(o),
      } as tls.SecureContextOptions);
    } catch (err) {
      throw invalidOption(`tls.sniCertificates["${name}"]: ${detailOf(err)}`, { url, cause: err });
    }
    const key = bareName(name.toLowerCase());
    if (key.startsWith("*.")) table.wildcard.set(key.slice(2), context);
    else table.exact.set(key, context);
  }
  return table;
}

function pickSni(table: SniTable, name: string): tls.SecureContext | undefined {
  const key = bareName(name.toLowerCase());
  const exact = table.exact.get(key);
  if (exact) return exact;
  const dot = key.indexOf(".");
  return dot === -1 ? undefined : table.wildcard.get(key.slice(dot + 1));
}

/**
 * Server handshake settings, checked and loaded before any socket is touched.
 *
 * @example
 * ```ts
 * const { secureContext }: PreparedServer = prepareServer({ cert, key }, "tcp", url);
 * ```
 */
export interface PreparedServer {
  contextOptions: tls.TlsOptions;
  secureContext: tls.SecureContext;
}

/**
 * Checks and loads a server certificate, key and options for a STARTTLS server handshake.
 *
 * @example
 * ```ts
 * const prepared = prepareServer({ cert, key }, "tcp", url);
 * ```
 */
export function prepareServer(o: TlsOptions, transport: string, url: string): PreparedServer {
  const contextOptions = serverContextOptions(o, transport === "tcp" || transport === "unix" ? "tls" : transport, url);
  try {
    return { contextOptions, secureContext: tls.createSecureContext(contextOptions as tls.SecureContextOptions) };
  } catch (err) {
    throw serverOptionError(err, url);
  }
}

/**
 * Runs the server side of a handshake over a connected stream (STARTTLS servers). It has no
 * clock of its own: the caller races `promise` against its deadline and calls `cancel`.
 *
 * @example
 * ```ts
 * const handshake = serverHandshake(plain, { cert, key }, "tcp", url);
 * const session = await deadline.race(handshake.promise, handshake.cancel);
 * ```
 */
export function serverHandshake(
  plain: Duplex,
  o: TlsOptions,
  transport: string,
  url: string,
  prepared: PreparedServer = prepareServer(o, transport, url),
): { promise: Promise<TlsSession>; cancel: () => void } {
  const socket = new tls.TLSSocket(plain as NetSocket, {
    ...prepared.contextOptions,
    isServer: true,
    secureContext: prepared.secureContext,
  } as tls.TLSSocketOptions);
  const latestSession = { current: null as Buffer | null };
  const promise = new Promise<TlsSession>((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off("close", onClose);
      socket.off("end", onClose);
      socket.destroy();
      reject(handshakeError(err, url));
    };
    const onClose = () => onError(Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.once("end", onClose);
    socket.once("secure", () => {
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("end", onClose);
      socket.on("error", () => {});
      try {
        const verdict = verifyPeer(socket, o, null, url, "server");
        resolve({ stream: socket, verdict, negotiated: negotiatedOf(socket), latestSession });
      } catch (err) {
        socket.destroy();
        reject(err);
      }
    });
  });
  return { promise, cancel: () => socket.destroy() };
}

/**
 * A certificate, key or passphrase that OpenSSL refused, with a hint where one helps.
 *
 * @example
 * ```ts
 * server.on("error", (err) => reject(serverOptionError(err, "tls://127.0.0.1:0")));
 * ```
 */
export function serverOptionError(err: unknown, url: string): SocketError {
  const text = detailOf(err);
  const hint = /key too small|too weak|md too weak/i.test(text)
    ? " — the certificate is too weak for tls.securityLevel (default 2); use a stronger key, or lower securityLevel"
    : /bad decrypt|bad password/i.test(text) ? " — check tls.passphrase" : "";
  return invalidOption(`TLS server options: ${text}${hint}`, { url, cause: err });
}
