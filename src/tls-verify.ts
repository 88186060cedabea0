/**
 * Peer verification: the checks sockurl runs itself on every finished handshake, resumed ones
 * included — chain (unless pinned), fingerprint and SPKI pins, depth, purpose, a subjectAltName
 * (RFC 9525) and the name. Node's `rejectUnauthorized` is never relied upon, so
 * NODE_TLS_REJECT_UNAUTHORIZED cannot switch verification off.
 */
import { createHash, X509Certificate } from "node:crypto";
import tls, { type TLSSocket } from "node:tls";
import { socketError, type SocketError } from "./errors.js";
import { chainProblem, unusableIssuer, withoutPartialWildcards } from "./tls-chain.js";
import { peerCertificateOfSession, peerChainOf, type TlsTrust, type TlsVerdict } from "./tls-info.js";
import { loadCa, normaliseFingerprints, type TlsAllowance, type TlsOptions } from "./tls-options.js";

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

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EKU = "2.5.29.37.0";
const DEFAULT_VERIFY_DEPTH = 9;

/** ERR_TLS_CERT: the message says what is wrong in words, `reason` carries OpenSSL's code. */
function certError(url: string, reason: string, text: string, cause?: unknown): SocketError {
  return socketError("ERR_TLS_CERT", "tls", url, text, { reason, ...(cause === undefined ? {} : { cause }) });
}

/**
 * What each verification reason means, in words. The reason itself is `err.reason`, so it is
 * not repeated in the message, which ends in the one code, `(ERR_TLS_CERT)`.
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE has no entry: its wording depends on the certificates
 * (unverifiedLeafText).
 */
const CERT_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: "the certificate has expired",
  CERT_NOT_YET_VALID: "the certificate is not yet valid",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the certificate is self-signed (allow with tls.allowSelfSigned, or pin it with tls.fingerprint)",
  SELF_SIGNED_CERT_IN_CHAIN: "the chain ends in an untrusted self-signed root (add it to tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the issuer is not trusted (add its CA to tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT: "the issuer certificate is missing",
  CERT_REVOKED: "the certificate is revoked",
  UNABLE_TO_GET_CRL: "no CRL covers this certificate (tls.crl needs one per CA of the chain)",
  CERT_SIGNATURE_FAILURE: "the certificate signature is invalid",
  INVALID_PURPOSE: "the certificate is not meant for this use (extended key usage)",
  EE_KEY_TOO_SMALL: "the certificate key is too weak for the security level",
  CA_KEY_TOO_SMALL: "a CA key is too weak for the security level",
  CA_MD_TOO_WEAK: "a signature digest is too weak for the security level",
};

/**
 * Runs the checks sockurl promises on a finished handshake; throws ERR_TLS_CERT or
 * ERR_TLS_FINGERPRINT (with the finer `reason`), or returns the verdict.
 *
 * @example
 * ```ts
 * socket.once("secureConnect", () => {
 *   const verdict = verifyPeer(socket, { ca }, "localhost", "tls://localhost:443", "client");
 * });
 * ```
 */
export function verifyPeer(
  socket: TLSSocket,
  o: TlsOptions,
  peerName: string | null,
  peerUrl: string | (() => string),
  side: "client" | "server",
  detailed?: tls.DetailedPeerCertificate,
  resumedChain?: Buffer[],
): TlsVerdict {
  // Servers pass a function: the peer's URL costs a syscall and only errors need it.
  const url = typeof peerUrl === "string" ? () => peerUrl : peerUrl;
  const verifyChain = o.verifyPeer ?? (side === "client" || o.requestCert === true);
  // Node hands checkServerIdentity the chain it built; without it (a chain failure, a
  // resumption, the server side) the socket is asked once.
  const peer = detailed ?? (socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | Record<string, never>);
  // A resumed client session carries only the leaf; read it from the offered session, once.
  const offered = side === "client" && o.session !== undefined ? sessionLeaf(o.session) : undefined;
  const chain = resumedChain ?? peerChainOf(socket, peer, offered === undefined ? undefined : () => offered.der);
  const leafDer = chain[0];
  if (leafDer === undefined) {
    if (verifyChain && (side === "client" || o.requestCert)) {
      throw certError(url(), "NO_PEER_CERTIFICATE", "the peer sent no certificate");
    }
    return { authorized: false, error: "NO_PEER_CERTIFICATE", chain };
  }
  // The leaf is parsed only when a check needs more than Node's certificate object.
  const fromNode = "raw" in peer && peer.raw === leafDer ? peer : undefined;
  // The same leaf as the offered session's (by bytes, when the chain is the first handshake's): its parse is shared.
  const fromSession = offered !== undefined && offered.der !== undefined && (offered.der === leafDer || offered.der.equals(leafDer)) ? offered : undefined;
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
  // `authorized` is OpenSSL's verdict on the chain against the trusted CAs, and nothing else:
  // a pin or allowSelfSigned may accept a certificate, but `trust` says which did.
  const authorized = socket.authorized;
  const raw = socket.authorizationError as unknown;
  let error: string | null = authorized ? null : typeof raw === "string" ? raw : (raw as { code?: string } | null)?.code ?? String(raw);
  let trust: TlsTrust = authorized ? "ca" : "none";
  if (verifyChain && !authorized) {
    let reason = error ?? "UNKNOWN";
    let text: string | undefined;
    if (reason === "UNSPECIFIED" || reason === "INVALID_PURPOSE" || reason === "PATH_LENGTH_EXCEEDED") {
      // Node names only some of OpenSSL's verify codes (UNSPECIFIED for the rest), and OpenSSL
      // reports the last failure it found: a CA:FALSE issuer ends as INVALID_PURPOSE (it fails the
      // CA purpose too). The certificates tell which it was; an unnamed code takes any finding.
      const anchors = trustedCas(o);
      const problem = chainProblem(chain, anchors, o.securityLevel ?? 2, reason === "UNSPECIFIED" ? {} : { expiry: false, keySize: false, signatures: false })
        ?? (reason === "UNSPECIFIED" ? unusableIssuer(chain, anchors) : undefined);
      if (problem !== undefined && (reason === "UNSPECIFIED" || problem.reason === "INVALID_CA")) ({ reason, text } = problem);
    }
    error = reason;
    if (o.allowSelfSigned && reason === "DEPTH_ZERO_SELF_SIGNED_CERT") {
      trust = "selfSigned";
    } else {
      const refusal = pinned ? pinRefusal(reason, chain, o) : { reason, text };
      if (refusal === null) {
        trust = "pin";
      } else {
        const why = refusal.reason;
        throw certError(url(), why, refusal.text ?? (why === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" ? unverifiedLeafText(leaf(), o)
          : CERT_TEXT[why] ?? `the certificate did not verify: OpenSSL reports ${why}`));
      }
    }
  }
  if (verifyChain) {
    const depth = o.verifyDepth ?? DEFAULT_VERIFY_DEPTH;
    if (chain.length - 1 > depth) {
      throw certError(url(), "CERT_CHAIN_TOO_LONG",
        `the chain has ${chain.length - 1} certificates above the leaf, more than tls.verifyDepth allows: ${depth}`);
    }
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
      throw certError(url(), "NO_SAN", `the certificate has no subjectAltName; names in the CN are not accepted (RFC 9525): ${oneLine(leaf().subject)}`);
    }
    // Node's check accepts partial wildcards (f*.example.com); RFC 9525 does not: they are dropped.
    const { san: usable, dropped } = withoutPartialWildcards(san);
    const mismatch = tls.checkServerIdentity(peerName, { subject: {}, subjectaltname: usable } as tls.PeerCertificate);
    if (mismatch) {
      const partial = dropped.length === 0 ? ""
        : `; ${dropped.join(", ")} ${dropped.length === 1 ? "is a partial wildcard" : "are partial wildcards"}, which RFC 9525 forbids (a wildcard must be the whole left-most label, *.example.com)`;
      throw certError(url(), (mismatch as { code?: string }).code ?? "ERR_TLS_CERT_ALTNAME_INVALID",
        `the certificate is not valid for ${peerName}: it names ${san}${partial}`, mismatch);
    }
  }
  return { authorized, error, chain, trust };
}

/**
 * OpenSSL's verify codes that only say no trusted CA vouches for the chain: a matching
 * fingerprint pin stands in for that CA. OpenSSL finds them while building the chain, its first
 * step; with Node's callback it goes on and reports the last failure, so one of these means
 * every later check (key size, revocation, signatures, validity) passed.
 */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
]);

/** The verify codes each `tls.allow` entry waives. */
const WAIVES: Record<TlsAllowance, readonly string[]> = {
  expired: ["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"],
  revoked: ["CERT_REVOKED", "UNABLE_TO_GET_CRL"],
  weakKey: ["EE_KEY_TOO_SMALL", "CA_KEY_TOO_SMALL"],
  weakSignature: ["CA_MD_TOO_WEAK"],
};

/**
 * Whether a certificate that matched its fingerprint pin is still refused, and why (null: the
 * pin accepts it). A pin only replaces the CA: every other failure stands unless `tls.allow`
 * names it. OpenSSL reports one failure, the last it found, so when an allowed one is reported
 * the earlier checks are run here on the certificates themselves; revocation, which they cannot
 * show, is refused outright when a CRL was given and OpenSSL checked it before the reported failure.
 */
function pinRefusal(reason: string, chain: readonly Buffer[], o: TlsOptions): { reason: string; text?: string } | null {
  const allow = o.allow ?? [];
  const waived = (name: TlsAllowance) => allow.includes(name);
  const allowance = (Object.keys(WAIVES) as TlsAllowance[]).find((name) => WAIVES[name].includes(reason));
  if (!UNTRUSTED.has(reason) && (allowance === undefined || !waived(allowance))) {
    return { reason, text: `${CERT_TEXT[reason] ?? `the certificate did not verify: OpenSSL reports ${reason}`}, and a fingerprint pin does not waive that`
      + (allowance === undefined ? "" : ` (tls.allow: ["${allowance}"] would)`) };
  }
  const problem = chainProblem(chain, [], o.securityLevel ?? 2, {
    expiry: !waived("expired"), keySize: !waived("weakKey"), signatures: !waived("weakSignature"),
  });
  if (problem !== undefined) return problem;
  if ((allowance === "expired" || allowance === "weakSignature") && o.crl !== undefined && !waived("revoked")) {
    return { reason, text: `${CERT_TEXT[reason]}; tls.allow waives it, but OpenSSL reports one failure per chain, so a revocation behind it cannot be ruled out with tls.crl given` };
  }
  return null;
}

/** A distinguished name as Node prints it (one attribute a line), on one line. */
function oneLine(dn: string): string {
  return dn.split("\n").join(", ");
}

/**
 * Why OpenSSL's UNABLE_TO_VERIFY_LEAF_SIGNATURE happened, in words. OpenSSL reports it whenever
 * the chain it could build is the leaf alone: the leaf's issuer is neither among the certificates
 * the server sent nor among the trusted CAs. That has two common causes with opposite fixes — the
 * server did not send its intermediate (fix the server), or the issuing CA is not trusted (fix
 * tls.ca) — and a rarer one. The certificates tell them apart:
 * - the leaf names itself as issuer: it is self-issued, but another key signed it;
 * - a trusted CA has the issuer's name: the trust store holds a different CA of that name
 *   (a re-keyed or re-issued CA), since OpenSSL would have found the right one by name;
 * - the leaf carries an Authority Information Access caIssuers URL: its issuer is published for
 *   download, which CAs do for the intermediates that servers must send (RFC 5280 4.2.2.1);
 * - otherwise the issuer is simply not trusted.
 * Only runs on this failure, so reading the trust store (files, the bundled roots) costs nothing
 * on a good handshake.
 */
function unverifiedLeafText(leaf: X509Certificate, o: TlsOptions): string {
  const issuer = oneLine(leaf.issuer);
  if (leaf.issuer === leaf.subject) {
    return `the certificate names itself, ${issuer}, as its issuer, but its own key did not sign it`;
  }
  const given = o.ca !== undefined || o.caFile !== undefined || o.caPath !== undefined;
  const store = given ? "tls.ca" : "the system's trusted CAs (no tls.ca, tls.caFile or tls.caPath was given)";
  if (trustedCas(o).some((ca) => ca.subject === leaf.issuer)) {
    return `${store} holds a CA named ${issuer}, but not the one that signed this certificate: its key differs (a re-issued CA?)`;
  }
  const published = caIssuersOf(leaf);
  if (published !== undefined) {
    return `the server did not send the intermediate CA that issued its certificate, ${issuer} (published at ${published}): `
      + "configure the server to send its full chain, or add that intermediate to tls.ca with its root";
  }
  return `the certificate's issuer, ${issuer}, is not a trusted CA: it is not among ${store} — add the CA that issued it to tls.ca`;
}

/** The trusted CA certificates: the ones given (ca, caFile, caPath), else Node's bundled roots. */
function trustedCas(o: TlsOptions): X509Certificate[] {
  let given: Array<string | Buffer> | undefined;
  try {
    given = loadCa(o);
  } catch {
    return []; // the files were readable for the handshake; a change since then only costs the hint
  }
  const out: X509Certificate[] = [];
  for (const item of given ?? tls.rootCertificates) {
    // PEM text and PEM Buffers may hold a bundle; a Buffer without PEM markers is one DER certificate.
    const text = typeof item === "string" ? item : item.includes("-----BEGIN") ? item.toString("latin1") : undefined;
    const parts = text === undefined ? [item] : text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    for (const part of parts) {
      try {
        out.push(new X509Certificate(part));
      } catch {
        // not a certificate OpenSSL would have used either
      }
    }
  }
  return out;
}

/** The first caIssuers URI of the leaf's Authority Information Access extension, if any. */
function caIssuersOf(leaf: X509Certificate): string | undefined {
  // Node prints the extension as lines such as "CA Issuers - URI:http://…".
  for (const line of (leaf.infoAccess ?? "").split("\n")) {
    const at = line.indexOf("CA Issuers - URI:");
    if (at !== -1) return line.slice(at + "CA Issuers - URI:".length).trim();
  }
  return undefined;
}
