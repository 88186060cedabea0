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
import { bareName, cipherList, loadCa, loadCertificate, versionRange, type CertificateAndKey, type TlsOptions } from "./tls-options.js";
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
 * Secure-context options shared by `listen("tls://…")` and server-side `startTls`.
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
  const contexts = sniContexts(o, url);
  return {
    ...(own as object),
    ...(ca === undefined ? {} : { ca }),
    ...(o.crl === undefined ? {} : { crl: o.crl as string | Buffer | Array<string | Buffer> }),
    ...range,
    ciphers: cipherList(o, tls.DEFAULT_CIPHERS),
    ...(o.cipherSuites === undefined ? {} : { ciphersuites: o.cipherSuites }),
    ...(o.alpn === undefined ? {} : { ALPNProtocols: [...o.alpn] }),
    honorCipherOrder: o.honorCipherOrder ?? true,
    requestCert: o.requestCert ?? false,
    rejectUnauthorized: (o.requestCert ?? false) && (o.verifyPeer ?? true),
    ...(o.noTicket ? { secureOptions: cryptoConstants.SSL_OP_NO_TICKET } : {}),
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
      context = tls.createSecureContext({ ...(own as object), ciphers: cipherList(o, tls.DEFAULT_CIPHERS) } as tls.SecureContextOptions);
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
