/**
 * The client side of TLS: settings checked and loaded before any socket is touched, a shared
 * secure context per identical set of them, and the handshake over a connected stream,
 * verified by verifyPeer.
 */
import { createHash, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import tls, { type TLSSocket } from "node:tls";
import { detailOf, invalidOption, SocketError, toSocketError } from "./errors.js";
import { handshakeError, type TlsSession, type VersionRange } from "./tls-handshake.js";
import { negotiatedOf, type TlsVerdict } from "./tls-info.js";
import { bareName, cipherList, withTls13Suites, loadCa, loadCertificate, versionRange, type TlsOptions } from "./tls-options.js";
import { verifyPeer } from "./tls-verify.js";

/**
 * What the client verifies against.
 *
 * @example
 * ```ts
 * const target: TlsTarget = { host: "localhost", transport: "tls", url: "tls://localhost:8443" };
 * ```
 */
export interface TlsTarget {
  /** The URL host (a DNS name or an IP literal). */
  host: string;
  transport: string;
  url: string;
}

/**
 * Client handshake settings, checked and loaded before any socket is touched.
 *
 * @example
 * ```ts
 * const prepared: PreparedClient = prepareClient({ ca }, target);
 * prepared.peerName; // "localhost"
 * ```
 */
export interface PreparedClient {
  connectOptions: tls.ConnectionOptions;
  peerName: string;
  /** Digest of what the chain is verified against (CAs, CRLs, security level, own certificate). */
  trustKey: string;
  /** Where the offered `tls.session` came from, when it is offered at all. */
  resumes: SessionOrigin | undefined;
}

/**
 * How a session sockurl handed out (`socket.tls.session`) was verified: against which trust
 * settings (`trustKey`), with what verdict (null until the handshake's checks pass).
 */
interface SessionOrigin {
  trustKey: string;
  verdict: TlsVerdict | null;
  /** The earliest notAfter of the verified chain, in ms; read on the first resumption, then kept. */
  notAfter?: number;
}

/**
 * Each session Buffer a client handshake received, by identity. OpenSSL does not verify a
 * resumed session's certificates again (it replays the first handshake's verdict), so a session
 * is offered only with the trust settings that verified it, within its chain's validity: after
 * a CRL, a CA or the security level changed, the client makes a full handshake instead, which
 * verifies afresh. A session Buffer sockurl did not hand out in this process (read back from a
 * file, say) cannot be checked that way and is not offered either.
 */
const SESSION_ORIGINS = new WeakMap<Buffer, SessionOrigin>();

/** The origin of `session` when it may be resumed under `trustKey` now. */
function resumable(session: Buffer, trustKey: string): SessionOrigin | undefined {
  const origin = SESSION_ORIGINS.get(session);
  if (origin === undefined || origin.verdict === null || origin.trustKey !== trustKey) return undefined;
  origin.notAfter ??= Math.min(...origin.verdict.chain.map((der) => Date.parse(new X509Certificate(der).validTo)));
  return Date.now() < origin.notAfter ? origin : undefined;
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
  const ca = loadCa(o, target.url);
  const own = loadCertificate(o, target.url);
  const servername = o.sni !== false && isIP(peerName) === 0 ? peerName : undefined;
  const contextOptions = {
    ...(ca === undefined ? {} : { ca }),
    ...(o.crl === undefined ? {} : { crl: o.crl as string | Buffer | Array<string | Buffer> }),
    ...(own as object),
    ...range,
    ciphers: cipherList(o.cipherSuites === undefined ? o
      : { ...o, ciphers: withTls13Suites(o.cipherSuites, o.ciphers ?? tls.DEFAULT_CIPHERS) }, tls.DEFAULT_CIPHERS),
  } as tls.SecureContextOptions;
  const trustKey = contextKey(contextOptions);
  const secureContext = clientContext(contextOptions, trustKey);
  const resumes = o.session === undefined ? undefined : resumable(o.session, trustKey);
  return {
    peerName,
    trustKey,
    resumes,
    connectOptions: {
      ...(servername === undefined ? {} : { servername }),
      // A context OpenSSL refused is left to tls.connect, which fails as it always did.
      ...(secureContext === undefined ? contextOptions : { secureContext }),
      // Kept for handshakeError's message; the context already holds them.
      ...range,
      ...(o.alpn === undefined ? {} : { ALPNProtocols: [...o.alpn] }),
      ...(resumes === undefined ? {} : { session: o.session }),
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
const CONTEXT_KEYS = ["ca", "crl", "cert", "key", "passphrase", "ciphers", "minVersion", "maxVersion"] as const;

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
function clientContext(options: tls.SecureContextOptions, key: string): tls.SecureContext | undefined {
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
  preparedBefore?: PreparedClient,
): { promise: Promise<TlsSession>; cancel: () => void } {
  let prepared: PreparedClient;
  try {
    prepared = preparedBefore ?? prepareClient(o, target);
  } catch (err) {
    // An unreadable file or a bad version: the stream handed over is this call's to close.
    plain.destroy();
    return { promise: Promise.reject(err), cancel: () => {} };
  }
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
    const failed = invalidOption(`TLS client options: ${detailOf(err)}`, { url: target.url, phase: "tls", cause: err });
    return { promise: Promise.reject(failed), cancel: () => {} };
  }
  const latestSession = { current: null as Buffer | null };
  const origin: SessionOrigin = { trustKey: prepared.trustKey, verdict: null };
  socket.on("session", (s: Buffer) => {
    latestSession.current = s;
    SESSION_ORIGINS.set(s, origin);
  });
  const promise = new Promise<TlsSession>((resolve, reject) => {
    const onError = (err: Error) => {
      socket.destroy();
      reject(handshakeError(err, target.url, prepared.connectOptions as VersionRange));
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
        // A resumed session brings no chain: the one its first handshake verified stands in.
        const resumed = prepared.resumes !== undefined && socket.isSessionReused() ? prepared.resumes.verdict!.chain : undefined;
        const verdict = verifyPeer(socket, o, peerName, target.url, "client", detailed, resumed);
        origin.verdict = verdict;
        resolve({ stream: socket, verdict, negotiated: negotiatedOf(socket), latestSession });
      } catch (err) {
        socket.destroy();
        reject(err instanceof SocketError ? err : toSocketError(err, "tls", target.url));
      }
    });
  });
  return { promise, cancel: () => socket.destroy() };
}
