/**
 * TLS handshakes for clients, servers and STARTTLS upgrades, with sockurl's own
 * verification: chain (unless pinned), subjectAltName required (RFC 9525), name, purpose,
 * depth, fingerprint and SPKI pins — run on every handshake, resumed ones included.
 * Node's `rejectUnauthorized` is never relied upon, so NODE_TLS_REJECT_UNAUTHORIZED
 * cannot switch verification off.
 */
import { constants as cryptoConstants, createHash, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import tls, { type TLSSocket } from "node:tls";
import { SocketError, socketError, toSocketError } from "./errors.js";
import {
  cipherList, loadCa, loadCertificate, normaliseFingerprints, versionRange,
  type CertificateAndKey, type TlsOptions,
} from "./tls-options.js";
import { negotiatedOf, peerCertificateOfSession, peerChainOf, type Negotiated } from "./tls-info.js";

/** What verifyPeer decided, with the chain it checked (DER, leaf first). */
export interface TlsVerdict {
  authorized: boolean;
  error: string | null;
  chain: Buffer[];
}

/** How a TLS handshake ended well (internal). */
export interface TlsSession {
  stream: TLSSocket;
  verdict: TlsVerdict;
  /** What the handshake negotiated, recorded when it ended. */
  negotiated: Negotiated;
  /** Updated as the server sends tickets. */
  latestSession: { current: Buffer | null };
}

/** The verdict of a server that asked for no certificate and pins nothing. */
export function noPeerCertificate(): TlsVerdict {
  return { authorized: false, error: "NO_PEER_CERTIFICATE", chain: [] };
}

/**
 * True when a server's verifyPeer could only ever answer NO_PEER_CERTIFICATE: it requests
 * no client certificate (so none is sent) and pins nothing.
 */
export function serverChecksNothing(o: TlsOptions): boolean {
  return !o.requestCert && o.verifyPeer !== true && o.fingerprint === undefined && !(o.spkiPins !== undefined && o.spkiPins.length > 0);
}

/**
 * The peer leaf inside an offered session, parsed once per session Buffer: resuming
 * with the same `tls.session` does not re-read or re-parse it.
 */
const SESSION_LEAF = new WeakMap<Buffer, { der: Buffer | undefined; x?: X509Certificate }>();

function sessionLeaf(session: Buffer): { der: Buffer | undefined; x?: X509Certificate } {
  let entry = SESSION_LEAF.get(session);
  if (entry === undefined) {
    entry = { der: peerCertificateOfSession(session) };
    SESSION_LEAF.set(session, entry);
  }
  return entry;
}

/** What the client verifies against. */
export interface TlsTarget {
  /** The URL host (a DNS name or an IP literal). */
  host: string;
  transport: string;
  url: string;
}

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EKU = "2.5.29.37.0";
const DEFAULT_VERIFY_DEPTH = 9;

function certError(url: string, reason: string, text: string, cause?: unknown): SocketError {
  return socketError("ERR_TLS_CERT", "tls", url, text, { reason, ...(cause === undefined ? {} : { cause }) });
}

const CERT_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: "the certificate has expired",
  CERT_NOT_YET_VALID: "the certificate is not yet valid",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the certificate is self-signed (allow with tls.allowSelfSigned, or pin it with tls.fingerprint)",
  SELF_SIGNED_CERT_IN_CHAIN: "the chain ends in an untrusted self-signed root (add it to tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the issuer is not trusted (add its CA to tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT: "the issuer certificate is missing",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the chain is incomplete: the server did not send its intermediate, or the CA is not trusted",
  CERT_REVOKED: "the certificate is revoked",
  UNABLE_TO_GET_CRL: "no CRL covers this certificate (tls.crl needs one per CA of the chain)",
  CERT_SIGNATURE_FAILURE: "the certificate signature is invalid",
  INVALID_PURPOSE: "the certificate is not meant for this use (extended key usage)",
  CERT_CHAIN_TOO_LONG: "the chain is longer than tls.verifyDepth",
  EE_KEY_TOO_SMALL: "the certificate key is too weak for the security level",
  CA_KEY_TOO_SMALL: "a CA key is too weak for the security level",
  CA_MD_TOO_WEAK: "a signature digest is too weak for the security level",
};

/**
 * Runs the checks sockurl promises on a finished handshake; throws ERR_TLS_CERT or
 * ERR_TLS_FINGERPRINT, or returns the verdict.
 */
export function verifyPeer(
  socket: TLSSocket,
  o: TlsOptions,
  peerName: string | null,
  peerUrl: string | (() => string),
  side: "client" | "server",
  detailed?: tls.DetailedPeerCertificate,
): TlsVerdict {
  // Servers pass a function: the peer's URL costs a syscall and only errors need it.
  const url = typeof peerUrl === "string" ? () => peerUrl : peerUrl;
  const verifyChain = o.verifyPeer ?? (side === "client" || o.requestCert === true);
  // Node hands checkServerIdentity the chain it built; without it (a chain failure, a
  // resumption, the server side) the socket is asked once.
  const peer = detailed ?? (socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | Record<string, never>);
  // A resumed client session carries only the leaf; read it from the offered session, once.
  const offered = side === "client" && o.session !== undefined ? sessionLeaf(o.session) : undefined;
  const chain = peerChainOf(socket, peer, offered === undefined ? undefined : () => offered.der);
  const leafDer = chain[0];
  if (leafDer === undefined) {
    if (verifyChain && (side === "client" || o.requestCert)) {
      throw certError(url(), "NO_PEER_CERTIFICATE", "the peer sent no certificate");
    }
    return { authorized: false, error: "NO_PEER_CERTIFICATE", chain };
  }
  // The leaf is parsed only when a check needs more than Node's certificate object.
  const fromNode = "raw" in peer && peer.raw === leafDer ? peer : undefined;
  const fromSession = offered !== undefined && offered.der === leafDer ? offered : undefined;
  let parsed: X509Certificate | undefined;
  const leaf = (): X509Certificate => {
    if (parsed !== undefined) return parsed;
    if (fromSession !== undefined) return (parsed = fromSession.x ??= new X509Certificate(leafDer));
    return (parsed = new X509Certificate(leafDer));
  };
  let pinned = false;
  if (o.fingerprint !== undefined) {
    for (const { algorithm, hex } of normaliseFingerprints(o.fingerprint)) {
      const actual = createHash(algorithm).update(leafDer).digest("hex");
      if (actual !== hex) {
        throw socketError("ERR_TLS_FINGERPRINT", "tls", url(),
          `the certificate's ${algorithm} fingerprint ${actual} does not match the pinned ${hex}`, { reason: "FINGERPRINT_MISMATCH" });
      }
    }
    pinned = true;
  }
  if (o.spkiPins !== undefined && o.spkiPins.length > 0) {
    const spki = createHash("sha256").update(leaf().publicKey.export({ type: "spki", format: "der" })).digest("base64");
    if (!o.spkiPins.includes(spki)) {
      throw socketError("ERR_TLS_FINGERPRINT", "tls", url(),
        `the certificate's key (SPKI sha256 ${spki}) matches none of tls.spkiPins`, { reason: "SPKI_PIN_MISMATCH" });
    }
  }
  let authorized = socket.authorized || pinned;
  const raw = socket.authorizationError as unknown;
  let error: string | null = socket.authorized ? null : typeof raw === "string" ? raw : (raw as { code?: string } | null)?.code ?? String(raw);
  if (verifyChain && !authorized) {
    if (error === "UNSPECIFIED" && weakKey(leaf(), o.securityLevel ?? 2)) error = "EE_KEY_TOO_SMALL";
    if (o.allowSelfSigned && error === "DEPTH_ZERO_SELF_SIGNED_CERT") {
      authorized = true;
    } else {
      const reason = error ?? "UNKNOWN";
      throw certError(url(), reason, `${CERT_TEXT[reason] ?? "the certificate did not verify"} (${reason})`);
    }
  }
  if (verifyChain) {
    const depth = o.verifyDepth ?? DEFAULT_VERIFY_DEPTH;
    if (chain.length - 1 > depth) throw certError(url(), "CERT_CHAIN_TOO_LONG", `${CERT_TEXT.CERT_CHAIN_TOO_LONG} (${depth})`);
    const purposes = fromNode !== undefined ? fromNode.ext_key_usage : leaf().keyUsage;
    const wanted = side === "client" ? SERVER_AUTH : CLIENT_AUTH;
    if (Array.isArray(purposes) && purposes.length > 0 && !purposes.includes(wanted) && !purposes.includes(ANY_EKU)) {
      throw certError(url(), "INVALID_PURPOSE", `${CERT_TEXT.INVALID_PURPOSE}: it allows ${purposes.join(", ")}, not ${side === "client" ? "serverAuth" : "clientAuth"}`);
    }
  }
  const checkName = o.verifyPeerName ?? side === "client";
  if (checkName && peerName !== null) {
    const san = fromNode !== undefined ? fromNode.subjectaltname : leaf().subjectAltName;
    if (!san) {
      throw certError(url(), "NO_SAN", `the certificate has no subjectAltName; names in the CN are not accepted (RFC 9525): ${leaf().subject.replace(/\n/g, ", ")}`);
    }
    const mismatch = tls.checkServerIdentity(peerName, { subject: {}, subjectaltname: san } as tls.PeerCertificate);
    if (mismatch) {
      throw certError(url(), (mismatch as { code?: string }).code ?? "ERR_TLS_CERT_ALTNAME_INVALID",
        `the certificate is not valid for ${peerName}: it names ${san}`, mismatch);
    }
  }
  return { authorized, error, chain };
}

/** OpenSSL reports a leaf key below the security level without a name Node knows. */
function weakKey(leaf: X509Certificate, level: number): boolean {
  const minRsaBits = [0, 1024, 2048, 3072, 7680, 15360][level] ?? 2048;
  const type = leaf.publicKey.asymmetricKeyType;
  const bits = leaf.publicKey.asymmetricKeyDetails?.modulusLength;
  return (type === "rsa" || type === "rsa-pss" || type === "dsa") && bits !== undefined && bits < minRsaBits;
}

/** Wraps a handshake error (alert, reset, bad record) as a SocketError in phase tls. */
export function handshakeError(err: unknown, url: string, range?: { minVersion: string; maxVersion: string }): SocketError {
  if (err instanceof SocketError) return err;
  const e = err as { code?: string; message?: string; reason?: string };
  const reason = e.code ?? "UNKNOWN";
  const detail = (e.reason ?? e.message ?? String(err)).replace(/^.*routines:+/, "");
  if (reason === "ECONNRESET" || reason === "EPIPE") {
    return socketError("ERR_TLS_HANDSHAKE", "tls", url, `the peer closed the connection during the TLS handshake (${reason})`, { reason, cause: err });
  }
  if (reason === "ERR_SSL_NO_PROTOCOLS_AVAILABLE" || /unsupported protocol|protocol version|no protocols available/i.test(detail)) {
    const allowed = range === undefined ? ""
      : range.minVersion === range.maxVersion ? `; this end allows only ${range.minVersion}`
      : `; this end allows ${range.minVersion} to ${range.maxVersion}`;
    const legacy = range !== undefined && range.minVersion !== "TLSv1" && range.minVersion !== "TLSv1.1" && range.maxVersion !== "TLSv1.3"
      ? " (TLS 1.0/1.1 need tls.securityLevel: 0 and tls.minVersion)" : "";
    return socketError("ERR_TLS_HANDSHAKE", "tls", url,
      `no TLS version in common with the peer (${detail})${allowed}${legacy}`, { reason, cause: err });
  }
  return socketError("ERR_TLS_HANDSHAKE", "tls", url, `TLS handshake failed: ${detail}`, { reason, cause: err });
}

/** Strips the trailing dot of an absolute DNS name: SNI and name checks never carry it. */
function bareName(host: string): string {
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

/** Client handshake settings, checked and loaded before any socket is touched. */
export interface PreparedClient {
  connectOptions: tls.ConnectionOptions;
  peerName: string;
}

/**
 * Checks and loads everything a client handshake needs (versions, CA and certificate files),
 * so that errors surface before the connection is touched.
 *
 * @example
 * ```ts
 * const prepared = prepareClient({ ca }, { host: "localhost", transport: "tls", url });
 * ```
 */
export function prepareClient(o: TlsOptions, target: TlsTarget): PreparedClient {
  const peerName = bareName(o.peerName ?? target.host);
  const range = versionRange(target.transport, o, target.url);
  const ca = loadCa(o);
  const own = loadCertificate(o);
  const servername = o.sni !== false && isIP(peerName) === 0 ? peerName : undefined;
  const contextOptions = {
    ...(ca === undefined ? {} : { ca }),
    ...(o.crl === undefined ? {} : { crl: o.crl as string | Buffer | Array<string | Buffer> }),
    ...(own as object),
    ...range,
    ciphers: cipherList(o, tls.DEFAULT_CIPHERS),
    ...(o.cipherSuites === undefined ? {} : { ciphersuites: o.cipherSuites }),
  } as tls.SecureContextOptions;
  const secureContext = clientContext(contextOptions);
  return {
    peerName,
    connectOptions: {
      ...(servername === undefined ? {} : { servername }),
      // A context OpenSSL refused is left to tls.connect, which fails as it always did.
      ...(secureContext === undefined ? contextOptions : { secureContext }),
      // Kept for handshakeError's message; the context already holds them.
      ...range,
      ...(o.alpn === undefined ? {} : { ALPNProtocols: [...o.alpn] }),
      ...(o.session === undefined ? {} : { session: o.session }),
      // sockurl verifies itself (verifyPeer); Node's check would obey NODE_TLS_REJECT_UNAUTHORIZED.
      // clientHandshake adds a checkServerIdentity that only records Node's certificate.
      rejectUnauthorized: false,
    } as tls.ConnectionOptions,
  };
}

/**
 * Client secure contexts, one per identical set of context options (CA, CRL, certificate,
 * key, passphrase, ciphers, versions), least recently used dropped past CLIENT_CONTEXTS_MAX.
 * The key is a digest of the values themselves (the bytes of every PEM string and Buffer),
 * never of the objects holding them, so different CA sets cannot share a context even when
 * an options object or Buffer is reused after a change. Sessions are per connection
 * (`session` in tls.connect), so a shared context resumes as before.
 */
const CLIENT_CONTEXTS = new Map<string, tls.SecureContext>();
const CLIENT_CONTEXTS_MAX = 32;
const CONTEXT_KEYS = ["ca", "crl", "cert", "key", "passphrase", "ciphers", "ciphersuites", "minVersion", "maxVersion"] as const;

function contextKey(options: tls.SecureContextOptions): string {
  const hash = createHash("sha256");
  const length = Buffer.alloc(4);
  const add = (tag: string, bytes: Buffer) => {
    length.writeUInt32BE(bytes.length);
    hash.update(tag).update(length).update(bytes);
  };
  for (const name of CONTEXT_KEYS) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    add(`${name}[${list.length}]`, Buffer.alloc(0));
    for (const item of list) {
      // A key may be { pem, passphrase }; anything else is a string or a Buffer.
      if (typeof item === "string") add("s", Buffer.from(item, "utf8"));
      else if (Buffer.isBuffer(item)) add("b", item);
      else add("j", Buffer.from(JSON.stringify(item), "utf8")); // Buffers serialise as their bytes
    }
  }
  return hash.digest("base64");
}

/** The shared context for these options, or undefined when OpenSSL refuses them. */
function clientContext(options: tls.SecureContextOptions): tls.SecureContext | undefined {
  const key = contextKey(options);
  let context = CLIENT_CONTEXTS.get(key);
  if (context !== undefined) {
    CLIENT_CONTEXTS.delete(key); // re-inserted last: most recently used
  } else {
    try {
      context = tls.createSecureContext(options);
    } catch {
      return undefined;
    }
    if (CLIENT_CONTEXTS.size >= CLIENT_CONTEXTS_MAX) CLIENT_CONTEXTS.delete(CLIENT_CONTEXTS.keys().next().value!);
  }
  CLIENT_CONTEXTS.set(key, context);
  return context;
}

/**
 * Starts a client handshake over a connected stream. `cancel` destroys it.
 *
 * @example
 * ```ts
 * const target = { host: "localhost", transport: "tls", url };
 * const { promise } = clientHandshake(tcpSocket, { ca }, target);
 * const session = await promise;
 * ```
 */
export function clientHandshake(
  plain: Duplex,
  o: TlsOptions,
  target: TlsTarget,
  prepared: PreparedClient = prepareClient(o, target),
): { promise: Promise<TlsSession>; cancel: () => void } {
  const { peerName } = prepared;
  // Node calls checkServerIdentity with the chain it has built (not on a chain failure or a
  // resumption): keep it so verifyPeer does not ask for it again. The check itself is verifyPeer's.
  let detailed: tls.DetailedPeerCertificate | undefined;
  const checkServerIdentity = (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    detailed = cert as tls.DetailedPeerCertificate;
    return undefined;
  };
  let socket: TLSSocket;
  try {
    socket = tls.connect({ ...prepared.connectOptions, checkServerIdentity, socket: plain } as tls.ConnectionOptions);
  } catch (err) {
    // OpenSSL refused this end's own options: a key that does not match, a wrong passphrase.
    plain.destroy();
    const text = (err as Error).message.replace(/^error:[0-9A-F]+:[^:]*routines?::?/i, "");
    const failed = socketError("ERR_INVALID_OPTION", "tls", target.url, `TLS client options: ${text}`, { cause: err });
    return { promise: Promise.reject(failed), cancel: () => {} };
  }
  const latestSession = { current: null as Buffer | null };
  socket.on("session", (s: Buffer) => {
    latestSession.current = s;
  });
  const promise = new Promise<TlsSession>((resolve, reject) => {
    const onError = (err: Error) => {
      socket.destroy();
      reject(handshakeError(err, target.url, prepared.connectOptions as { minVersion: string; maxVersion: string }));
    };
    // With allowHalfOpen, a peer's FIN is 'end' without 'close': both end the handshake.
    const onClose = () => onError(Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.once("end", onClose);
    socket.once("secureConnect", () => {
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("end", onClose);
      socket.on("error", () => {}); // replaced by the Socket's own listener at once
      try {
        socket.disableRenegotiation();
        const verdict = verifyPeer(socket, o, peerName, target.url, "client", detailed);
        resolve({ stream: socket, verdict, negotiated: negotiatedOf(socket), latestSession });
      } catch (err) {
        socket.destroy();
        reject(err instanceof SocketError ? err : toSocketError(err, "tls", target.url));
      }
    });
  });
  return { promise, cancel: () => socket.destroy() };
}

/** Secure-context options shared by `listen("tls://…")` and server-side `startTls`. */
export function serverContextOptions(o: TlsOptions, transport: string, url: string): tls.TlsOptions {
  const own = loadCertificate(o);
  if (own.cert === undefined || own.key === undefined) {
    throw socketError("ERR_INVALID_OPTION", "address", url, "a TLS server needs tls.cert and tls.key (or tls.certFile and tls.keyFile)");
  }
  const ca = loadCa(o);
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
    let context: tls.SecureContext;
    try {
      context = tls.createSecureContext({ ...(loadCertificate(entry as CertificateAndKey) as object), ciphers: cipherList(o, tls.DEFAULT_CIPHERS) } as tls.SecureContextOptions);
    } catch (err) {
      throw socketError("ERR_INVALID_OPTION", "address", url, `tls.sniCertificates["${name}"]: ${(err as Error).message}`, { cause: err });
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

/** Server handshake settings, checked and loaded before any socket is touched. */
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
 * Runs the server side of a handshake over a connected stream (STARTTLS servers).
 *
 * @example
 * ```ts
 * const session = await serverHandshake(plain, { cert, key }, "tcp", url, 10_000).promise;
 * ```
 */
export function serverHandshake(
  plain: Duplex,
  o: TlsOptions,
  transport: string,
  url: string,
  timeoutMs: number,
  prepared: PreparedServer = prepareServer(o, transport, url),
): { promise: Promise<TlsSession>; cancel: () => void } {
  const socket = new tls.TLSSocket(plain as import("node:net").Socket, {
    ...prepared.contextOptions,
    isServer: true,
    secureContext: prepared.secureContext,
  } as tls.TLSSocketOptions);
  const latestSession = { current: null as Buffer | null };
  const promise = new Promise<TlsSession>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(socketError("ETIMEDOUT", "tls", url, `the TLS handshake did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
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
      clearTimeout(timer);
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

/** A certificate, key or passphrase that OpenSSL refused, with a hint where one helps. */
export function serverOptionError(err: unknown, url: string): SocketError {
  const text = (err as Error).message.replace(/^error:[0-9A-F]+:[^:]*routines?::?/i, "");
  const hint = /key too small|too weak|md too weak/i.test(text)
    ? " — the certificate is too weak for tls.securityLevel (default 2); use a stronger key, or lower securityLevel"
    : /bad decrypt|bad password/i.test(text) ? " — check tls.passphrase" : "";
  return socketError("ERR_INVALID_OPTION", "address", url, `TLS server options: ${text}${hint}`, { cause: err });
}
