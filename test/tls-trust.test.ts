/**
 * Client verification: a fingerprint pin narrows trust and never widens it
 * (with `tls.allow` naming each exception, and `authorized`/`trust` telling the truth); resumed
 * sessions re-checked against the current trust settings; partial wildcards refused (RFC 9525);
 * SHA-1 signatures, CA:FALSE issuers and name-constraint violations with reasons of their own.
 * A sockurl TLS server serves each fixture certificate (test/fixtures/pki.ts) on loopback.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { connect, listen, type ConnectOptions, type InetAddress, type Server, type Socket } from "../src/index.js";
import type { TlsOptions } from "../src/tls-options.js";
import type { TlsInfo } from "../src/tls-info.js";
import { makePki, type Issued } from "./fixtures/pki.js";
import { rejectsWith, until } from "./helpers.js";

const pki = await makePki();
const ca = { ca: pki.caBundle };
const crl = [pki.crl, pki.rootCrl];
const toLoopback: NonNullable<ConnectOptions["lookup"]> = () => [{ address: "127.0.0.1", family: 4 }];
const sha256 = (pem: string): string => createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
const NOWHERE = "tls://127.0.0.1:1";

/** A sockurl TLS server serving `issued` that greets every client with a line; closed after `fn`. */
async function serving<T>(issued: Issued, fn: (url: string) => Promise<T>, extra: TlsOptions = {}): Promise<T> {
  const server: Server = await listen("tls://127.0.0.1:0", { tls: { cert: issued.chain, key: issued.key, ...extra } });
  const accepted: Socket[] = [];
  void (async () => {
    for (;;) {
      let s: Socket;
      try {
        s = await server.accept();
      } catch {
        return;
      }
      accepted.push(s);
      s.write("hello\n").catch(() => {});
    }
  })();
  try {
    return await fn(`tls://127.0.0.1:${(server.address as InetAddress).port}`);
  } finally {
    for (const s of accepted) s.destroy();
    await server.close();
  }
}

async function info(url: string, tls: TlsOptions, extra: Omit<ConnectOptions, "tls"> = {}): Promise<TlsInfo> {
  const socket = await connect(url, { timeout: 5000, ...extra, tls });
  try {
    return socket.tls!;
  } finally {
    socket.destroy();
  }
}

function refuses(url: string, tls: TlsOptions, reason: string, extra: Omit<ConnectOptions, "tls"> = {}) {
  return rejectsWith(connect(url, { timeout: 5000, ...extra, tls }), "ERR_TLS_CERT", { phase: "tls", reason });
}

describe("a fingerprint pin narrows trust, never widens it", () => {
  test("expired + matching pin → CERT_HAS_EXPIRED; accepted only with allow: [\"expired\"], then authorized false, trust pin", async () => {
    await serving(pki.expired, async (url) => {
      const fingerprint = sha256(pki.expired.cert);
      const err = await refuses(url, { ...ca, fingerprint }, "CERT_HAS_EXPIRED");
      assert.match(err.message, /a fingerprint pin does not waive that \(tls\.allow: \["expired"\] would\)/);
      const t = await info(url, { ...ca, fingerprint, allow: ["expired"] });
      assert.equal(t.authorized, false);
      assert.equal(t.authorizationError, "CERT_HAS_EXPIRED");
      assert.equal(t.trust, "pin");
      // Another exception does not cover it.
      await refuses(url, { ...ca, fingerprint, allow: ["weakKey"] }, "CERT_HAS_EXPIRED");
    });
  });

  test("revoked + crl + matching pin → CERT_REVOKED; accepted only with allow: [\"revoked\"]", async () => {
    await serving(pki.revoked, async (url) => {
      const fingerprint = sha256(pki.revoked.cert);
      await refuses(url, { ...ca, crl, fingerprint }, "CERT_REVOKED");
      const t = await info(url, { ...ca, crl, fingerprint, allow: ["revoked"] });
      assert.deepEqual([t.authorized, t.trust, t.authorizationError], [false, "pin", "CERT_REVOKED"]);
    });
  });

  test("RSA-1024 + matching pin → EE_KEY_TOO_SMALL; accepted only with allow: [\"weakKey\"]", async () => {
    await serving(pki.rsa1024, async (url) => {
      const fingerprint = sha256(pki.rsa1024.cert);
      await refuses(url, { ...ca, fingerprint }, "EE_KEY_TOO_SMALL");
      const t = await info(url, { ...ca, fingerprint, allow: ["weakKey"] });
      assert.deepEqual([t.authorized, t.trust], [false, "pin"]);
    }, { securityLevel: 1 });
  });

  test("a pinned self-signed certificate is accepted, authorized false, trust pin; with a CRL given, UNABLE_TO_GET_CRL stands", async () => {
    await serving(pki.selfSigned, async (url) => {
      const fingerprint = sha256(pki.selfSigned.cert);
      const t = await info(url, { fingerprint });
      assert.equal(t.authorized, false, "no CA verified it");
      assert.equal(t.authorizationError, "DEPTH_ZERO_SELF_SIGNED_CERT");
      assert.equal(t.trust, "pin");
      await refuses(url, { fingerprint, crl: [pki.crl] }, "UNABLE_TO_GET_CRL");
      const allowed = await info(url, { fingerprint, crl: [pki.crl], allow: ["revoked"] });
      assert.equal(allowed.trust, "pin");
      // allowSelfSigned accepts it too, and does not call it authorized either.
      const self = await info(url, { allowSelfSigned: true });
      assert.deepEqual([self.authorized, self.trust], [false, "selfSigned"]);
    });
  });

  test("a CA-verified certificate that also matches its pin: authorized true, trust ca", async () => {
    await serving(pki.valid, async (url) => {
      const t = await info(url, { ...ca, fingerprint: sha256(pki.valid.cert) });
      assert.deepEqual([t.authorized, t.trust, t.authorizationError], [true, "ca", null]);
      const off = await info(url, { verifyPeer: false, verifyPeerName: false });
      assert.deepEqual([off.authorized, off.trust], [false, "none"]);
    });
  });

  test("spkiPins agree: a key pin never stands in for the CA, nor waives expiry", async () => {
    const spki = (pem: string) => createHash("sha256").update(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).digest("base64");
    await serving(pki.expired, async (url) => {
      await refuses(url, { ...ca, spkiPins: [spki(pki.expired.cert)] }, "CERT_HAS_EXPIRED");
    });
  });

  test("tls.allow is checked before any I/O: known names only, and only with tls.fingerprint", async () => {
    await rejectsWith(connect(NOWHERE, { tls: { allow: ["expired"] } }), "ERR_INVALID_OPTION", { phase: "address", message: /tls\.allow waives checks only for the certificate pinned by tls\.fingerprint/ });
    await rejectsWith(connect(NOWHERE, { tls: { fingerprint: sha256(pki.valid.cert), allow: ["everything"] } as unknown as TlsOptions }), "ERR_INVALID_OPTION", { phase: "address", message: /tls\.allow must be an array of "expired", "revoked", "weakKey", "weakSignature"/ });
    await rejectsWith(connect(NOWHERE, { tls: { fingerprint: sha256(pki.valid.cert), allow: "expired" } as unknown as TlsOptions }), "ERR_INVALID_OPTION", { phase: "address" });
  });
});

describe("resumed sessions are re-checked against the current trust settings", () => {
  async function firstSession(url: string, tls: TlsOptions): Promise<Buffer> {
    const first = await connect(url, { timeout: 5000, tls });
    try {
      assert.equal(await first.readLine(), "hello");
      await until(() => first.tls!.session !== null, "a session ticket arrived");
      return first.tls!.session!;
    } finally {
      first.destroy();
    }
  }

  test("unchanged options resume (sessionReused, authorized, full chain known)", async () => {
    await serving(pki.revoked, async (url) => {
      const session = await firstSession(url, ca);
      const t = await info(url, { ...ca, session });
      assert.equal(t.sessionReused, true);
      assert.deepEqual([t.authorized, t.trust], [true, "ca"]);
      assert.equal(t.peerChain.length, 2, "the chain the first handshake verified");
    });
  });

  test("a certificate revoked since the first handshake (a new CRL lists it) is refused on resumption", async () => {
    await serving(pki.revoked, async (url) => {
      const session = await firstSession(url, { ...ca, crl: [pki.crlEmpty, pki.rootCrl] });
      await refuses(url, { ...ca, crl, session }, "CERT_REVOKED");
      // The old CRL still resumes: the refusal is about the new one.
      const t = await info(url, { ...ca, crl: [pki.crlEmpty, pki.rootCrl], session });
      assert.equal(t.sessionReused, true);
    });
  });

  test("a CA removed since the first handshake is refused on resumption", async () => {
    await serving(pki.valid, async (url) => {
      const session = await firstSession(url, { ca: [pki.caBundle, pki.otherRoot.cert] });
      await refuses(url, { ca: pki.otherRoot.cert, session }, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    });
  });
});

describe("partial wildcards are refused (RFC 9525 6.3)", () => {
  test("DNS:f*.sockurl.test does not match foo.sockurl.test; the message names the partial wildcard", async () => {
    await serving(pki.partialWildcard, async (url) => {
      const port = new URL(url.replace("tls:", "http:")).port;
      const err = await refuses(`tls://foo.sockurl.test:${port}`, ca, "ERR_TLS_CERT_ALTNAME_INVALID", { lookup: toLoopback });
      assert.match(err.message, /f\*\.sockurl\.test is a partial wildcard, which RFC 9525 forbids/);
      await refuses(`tls://f.sockurl.test:${port}`, ca, "ERR_TLS_CERT_ALTNAME_INVALID", { lookup: toLoopback });
    });
    // A whole-label wildcard still matches.
    await serving(pki.wildcard, async (url) => {
      const port = new URL(url.replace("tls:", "http:")).port;
      assert.equal((await info(`tls://foo.sockurl.test:${port}`, ca, { lookup: toLoopback })).authorized, true);
    });
  });
});

describe("each chain failure has its own reason, read off the certificates", () => {
  test("a SHA-1 signature → CA_MD_TOO_WEAK; accepted at securityLevel 0", async () => {
    await serving(pki.sha1Signed, async (url) => {
      const err = await refuses(url, ca, "CA_MD_TOO_WEAK");
      assert.match(err.message, /signed with ecdsa-with-SHA1/);
      assert.equal((await info(url, { ...ca, securityLevel: 0 })).authorized, true);
    }, { securityLevel: 0 });
  });

  test("an issuer that is not a CA (CA:FALSE) → INVALID_CA", async () => {
    await serving(pki.issuedByLeaf, async (url) => {
      const err = await refuses(url, ca, "INVALID_CA");
      assert.match(err.message, /CN=sockurl not-a-CA, O=sockurl tests is not a CA \(basicConstraints CA:FALSE\)/);
    });
  });

  test("an issuer that may not sign certificates (CA:FALSE, no keyCertSign) → INVALID_CA", async () => {
    await serving(pki.issuedByNonSigner, async (url) => {
      const err = await refuses(url, ca, "INVALID_CA");
      assert.match(err.message, /the issuer CN=sockurl non-signer, O=sockurl tests of CN=localhost cannot act as a CA/);
    });
  });

  test("a name outside the issuing CA's name constraints → PERMITTED_VIOLATION", async () => {
    await serving(pki.nameConstrained, async (url) => {
      const err = await refuses(url, ca, "PERMITTED_VIOLATION");
      assert.match(err.message, /localhost is outside the names it permits/);
    });
  });
});
