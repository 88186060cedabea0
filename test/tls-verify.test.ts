/**
 * TLS verification end to end: a sockurl TLS server serving each certificate of the generated
 * world (test/fixtures/pki.ts) and a sockurl client, over real loopback sockets. Every refusal
 * asserts the exact `code` and `reason`; every case also shows the options that legitimately
 * accept it. Where the outcome is Node's/OpenSSL's to decide, the test pins what they report.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import net from "node:net";
import { connect, listen, SocketError, type ConnectOptions, type InetAddress, type Server, type Socket } from "../src/index.js";
import type { TlsOptions } from "../src/tls-options.js";
import type { TlsInfo } from "../src/tls-info.js";
import { makePki, type Issued } from "./fixtures/pki.js";
import { rawServer, rejectsWith, sleep, until } from "./helpers.js";

const pki = await makePki();

/* ------------------------------------------------------------------------------------------------ */
/* helpers                                                                                          */

/** Maps every name to 127.0.0.1, so that tests can use DNS names without a resolver. */
const toLoopback: NonNullable<ConnectOptions["lookup"]> = () => [{ address: "127.0.0.1", family: 4 }];

/** Serves `issued` (its chain and key) plus `extra` server options. */
function serving(issued: Issued, extra: TlsOptions = {}): TlsOptions {
  return { cert: issued.chain, key: issued.key, ...extra };
}

/** A sockurl TLS server for the duration of `fn`; closed (with every socket it accepted) afterwards. */
async function withServer<T>(
  tlsOptions: TlsOptions,
  fn: (server: Server, port: number, accepted: Socket[]) => Promise<T>,
  url = "tls://127.0.0.1:0",
): Promise<T> {
  const server = await listen(url, { tls: tlsOptions });
  const accepted: Socket[] = [];
  try {
    return await fn(server, (server.address as InetAddress).port, accepted);
  } finally {
    for (const s of accepted) s.destroy();
    await server.close();
  }
}

/** Connects, checks that the connection is encrypted and authorized, returns its TlsInfo, closes it. */
async function accepts(url: string, tls: TlsOptions, extra: Omit<ConnectOptions, "tls"> = {}): Promise<TlsInfo> {
  const socket = await connect(url, { timeout: 5000, ...extra, tls });
  try {
    assert.equal(socket.encrypted, true);
    const info = socket.tls;
    assert.ok(info, "socket.tls is set");
    assert.equal(info.authorized, true, `authorized (authorizationError ${info.authorizationError})`);
    return info;
  } finally {
    socket.destroy();
  }
}

/** Connects; the certificate is accepted without a CA verifying it (authorized false). */
async function acceptsUnauthorized(url: string, tls: TlsOptions): Promise<TlsInfo> {
  const socket = await connect(url, { timeout: 5000, tls });
  try {
    const info = socket.tls!;
    assert.equal(info.authorized, false);
    return info;
  } finally {
    socket.destroy();
  }
}

/** Connects and expects the handshake/verification to fail with `code` (and `reason`) in phase tls. */
function refuses(
  url: string,
  tls: TlsOptions,
  code: string,
  reason?: string,
  extra: Omit<ConnectOptions, "tls"> = {},
): Promise<SocketError> {
  return rejectsWith(connect(url, { timeout: 5000, ...extra, tls }), code, {
    phase: "tls",
    ...(reason === undefined ? {} : { reason }),
  });
}

const der = (pem: string): Buffer => new X509Certificate(pem).raw;
const digest = (algorithm: string, pem: string): string => createHash(algorithm).update(der(pem)).digest("hex");
const colons = (hex: string): string => hex.match(/../g)!.join(":");
const spkiPin = (pem: string): string =>
  createHash("sha256").update(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).digest("base64");

/** A closed port: anything that gets as far as I/O fails with ECONNREFUSED instead of the expected code. */
const NOWHERE = "127.0.0.1:1";

/* ------------------------------------------------------------------------------------------------ */

describe("tls verification: a valid certificate", () => {
  test("accepted by name (localhost), with full TlsInfo on both sides; SNI sent", async () => {
    await withServer(serving(pki.valid), async (server, port, accepted) => {
      const [client, peer] = await Promise.all([
        connect(`tls://localhost:${port}`, { family: 4, timeout: 5000, tls: { ca: pki.caBundle } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(peer, client);
      const info = client.tls!;
      assert.equal(info.protocol, "TLSv1.3");
      assert.match(info.cipher, /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
      assert.equal(info.alpn, null);
      assert.equal(info.servername, "localhost");
      assert.equal(info.authorized, true);
      assert.equal(info.authorizationError, null);
      assert.equal(info.sessionReused, false);
      assert.equal(peer.tls!.servername, "localhost", "the server saw the SNI");
      assert.equal(peer.tls!.protocol, "TLSv1.3");

      const leaf = new X509Certificate(pki.valid.cert);
      const cert = info.peerCertificate!;
      assert.equal(cert.subject, "CN=localhost");
      assert.match(cert.issuer, /CN=sockurl test intermediate CA/);
      assert.match(cert.issuer, /O=sockurl tests/);
      assert.deepEqual(cert.subjectAltNames, ["DNS:localhost", "DNS:sockurl.test", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"]);
      assert.ok(cert.validFrom instanceof Date && cert.validTo instanceof Date);
      assert.equal(cert.validFrom.getTime(), Date.parse(leaf.validFrom));
      assert.equal(cert.validTo.getTime(), Date.parse(leaf.validTo));
      assert.equal(cert.fingerprint256, colons(digest("sha256", pki.valid.cert)).toUpperCase());
      assert.equal(cert.spkiSha256, spkiPin(pki.valid.cert));
      assert.equal(cert.pem.trim(), pki.valid.cert.trim());
      assert.equal(info.peerChain[0]!.pem.trim(), pki.valid.cert.trim());
      assert.equal(info.peerChain[1]!.pem.trim(), pki.intermediate.cert.trim());
    });
  });

  test("peerChain is the chain the server presented: leaf + intermediate (the root is the client's own anchor)", async () => {
    await withServer(serving(pki.valid), async (_server, port) => {
      const info = await accepts(`tls://localhost:${port}`, { ca: pki.caBundle }, { family: 4 });
      assert.deepEqual(
        info.peerChain.map((c) => c.subject),
        ["CN=localhost", new X509Certificate(pki.intermediate.cert).subject.replace(/\n/g, ", ")],
        "peerChain is leaf + intermediate",
      );
    });
    // A self-signed leaf is a chain of one.
    await withServer(serving(pki.selfSigned), async (_server, port) => {
      const info = await accepts(`tls://127.0.0.1:${port}`, { ca: pki.selfSigned.cert });
      assert.equal(info.peerChain.length, 1);
    });
  });

  test("accepted by IP 127.0.0.1 (IP SAN): no SNI on either side", async () => {
    await withServer(serving(pki.valid), async (server, port, accepted) => {
      const [client, peer] = await Promise.all([
        connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(peer, client);
      assert.equal(client.tls!.authorized, true);
      assert.equal(client.tls!.servername, null, "no SNI for an IP target (RFC 6066)");
      assert.equal(peer.tls!.servername, null, "the server received no SNI");
    });
  });

  test("accepted by IP [::1] (IPv6 SAN)", async () => {
    await withServer(serving(pki.valid), async (server, port, accepted) => {
      const [client, peer] = await Promise.all([
        connect(`tls://[::1]:${port}`, { timeout: 5000, tls: { ca: pki.caBundle } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(peer, client);
      assert.equal(client.tls!.authorized, true);
      assert.equal(client.tls!.servername, null);
      assert.equal(peer.tls!.servername, null);
    }, "tls://[::1]:0");
  });

  test("verification is on by default: no ca (system roots) refuses the test root", async () => {
    await withServer(serving(pki.valid), async (_server, port) => {
      await refuses(`tls://127.0.0.1:${port}`, {}, "ERR_TLS_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    });
  });

  test("NODE_TLS_REJECT_UNAUTHORIZED=0 does not switch verification off", async () => {
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    try {
      await withServer(serving(pki.expired), async (_server, port) => {
        await refuses(`tls://127.0.0.1:${port}`, { ca: pki.caBundle }, "ERR_TLS_CERT", "CERT_HAS_EXPIRED");
      });
      await withServer(serving(pki.valid), async (_server, port) => {
        await refuses(`tls://127.0.0.1:${port}`, {}, "ERR_TLS_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
      });
      await withServer(serving(pki.wrongHost), async (_server, port) => {
        await refuses(`tls://localhost:${port}`, { ca: pki.caBundle }, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", { family: 4 });
      });
      await withServer(serving(pki.selfSigned), async (_server, port) => {
        await refuses(`tls://127.0.0.1:${port}`, {}, "ERR_TLS_CERT", "DEPTH_ZERO_SELF_SIGNED_CERT");
      });
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
    }
  });
});

describe("tls verification: each bad certificate, and what legitimately accepts it", () => {
  const ca = { ca: pki.caBundle };

  test("expired → CERT_HAS_EXPIRED, with a message that says so", async () => {
    await withServer(serving(pki.expired), async (_server, port) => {
      const err = await refuses(`tls://127.0.0.1:${port}`, ca, "ERR_TLS_CERT", "CERT_HAS_EXPIRED");
      assert.match(err.message, /expired/);
      assert.match(err.message, new RegExp(`tls://127\\.0\\.0\\.1:${port}`));
    });
  });

  test("notYetValid → CERT_NOT_YET_VALID", async () => {
    await withServer(serving(pki.notYetValid), async (_server, port) => {
      await refuses(`tls://127.0.0.1:${port}`, ca, "ERR_TLS_CERT", "CERT_NOT_YET_VALID");
    });
  });

  test("wrongHost → ERR_TLS_CERT_ALTNAME_INVALID; accepted with verifyPeerName: false or peerName other.example", async () => {
    await withServer(serving(pki.wrongHost), async (_server, port) => {
      const url = `tls://localhost:${port}`;
      const err = await refuses(url, ca, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", { family: 4 });
      assert.match(err.message, /not valid for localhost/);
      await refuses(`tls://127.0.0.1:${port}`, ca, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID");
      await accepts(url, { ...ca, verifyPeerName: false }, { family: 4 });
      const info = await accepts(url, { ...ca, peerName: "other.example" }, { family: 4 });
      assert.equal(info.servername, "other.example", "peerName is also the SNI");
      assert.equal(info.peerCertificate!.subject, "CN=other.example");
    });
  });

  test("selfSigned → DEPTH_ZERO_SELF_SIGNED_CERT; accepted with allowSelfSigned, ca = itself, or its sha256 fingerprint", async () => {
    await withServer(serving(pki.selfSigned), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      const err = await refuses(url, ca, "ERR_TLS_CERT", "DEPTH_ZERO_SELF_SIGNED_CERT");
      assert.match(err.message, /self-signed/);
      // Accepted, but not authorized: no CA verified it, and `trust` says what did.
      assert.equal((await acceptsUnauthorized(url, { ...ca, allowSelfSigned: true })).trust, "selfSigned");
      await accepts(url, { ca: pki.selfSigned.cert });
      assert.equal((await acceptsUnauthorized(url, { ...ca, fingerprint: digest("sha256", pki.selfSigned.cert) })).trust, "pin");
      // allowSelfSigned does not switch off the name check.
      await refuses(url, { ...ca, allowSelfSigned: true, peerName: "other.example" }, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID");
    });
  });

  test("untrusted (another root, not served) → UNABLE_TO_VERIFY_LEAF_SIGNATURE; accepted with ca: otherRoot", async () => {
    await withServer(serving(pki.untrusted), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      await refuses(url, ca, "ERR_TLS_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      await refuses(url, { ...ca, allowSelfSigned: true }, "ERR_TLS_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      await accepts(url, { ca: pki.otherRoot.cert });
    });
  });

  test("noIntermediate → UNABLE_TO_VERIFY_LEAF_SIGNATURE; accepted when ca holds root + intermediate, not the intermediate alone", async () => {
    await withServer(serving(pki.noIntermediate), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      await refuses(url, ca, "ERR_TLS_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      // The intermediate in the trust store completes the chain up to the trusted root.
      const info = await accepts(url, { ca: [pki.caBundle, pki.intermediate.cert] });
      assert.equal(info.peerCertificate!.subject, "CN=localhost");
      // Without X509_V_FLAG_PARTIAL_CHAIN a non-self-signed trust anchor is not enough for OpenSSL.
      await refuses(url, { ca: pki.intermediate.cert }, "ERR_TLS_CERT", "UNABLE_TO_GET_ISSUER_CERT");
    });
  });

  test("cnOnly → NO_SAN even though the chain verifies (RFC 9525: no CN fallback)", async () => {
    await withServer(serving(pki.cnOnly), async (_server, port) => {
      const err = await refuses(`tls://localhost:${port}`, ca, "ERR_TLS_CERT", "NO_SAN", { family: 4 });
      assert.match(err.message, /no subjectAltName/);
      await refuses(`tls://127.0.0.1:${port}`, ca, "ERR_TLS_CERT", "NO_SAN");
      await accepts(`tls://localhost:${port}`, { ...ca, verifyPeerName: false }, { family: 4 });
    });
  });

  test("rsa1024 → EE_KEY_TOO_SMALL at the default securityLevel 2; accepted with securityLevel: 1", async () => {
    // The server itself must be allowed to use its 1024-bit key.
    await withServer(serving(pki.rsa1024, { securityLevel: 1 }), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      const err = await refuses(url, ca, "ERR_TLS_CERT", "EE_KEY_TOO_SMALL");
      assert.match(err.message, /too weak for the security level/);
      const info = await accepts(url, { ...ca, securityLevel: 1 });
      assert.equal(info.peerCertificate!.keyType, "rsa");
      assert.equal(info.peerCertificate!.keyBits, 1024);
    });
  });

  test("rsa1024 at the server's default securityLevel 2: listen refuses the key (ERR_INVALID_OPTION, ee key too small)", async (t) => {
    const err = await rejectsWith(listen("tls://127.0.0.1:0", { tls: serving(pki.rsa1024) }), "ERR_INVALID_OPTION", {
      message: /ee key too small/,
    });
    t.diagnostic(`rsa1024 server at SECLEVEL=2: ${err.message}`);
  });

  test("revoked with crl: [crl, rootCrl] → CERT_REVOKED; valid with the same CRLs accepted; without CRLs accepted", async () => {
    const crl = [pki.crl, pki.rootCrl];
    await withServer(serving(pki.revoked), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      const err = await refuses(url, { ...ca, crl }, "ERR_TLS_CERT", "CERT_REVOKED");
      assert.match(err.message, /revoked/);
      await accepts(url, ca);
    });
    await withServer(serving(pki.valid), async (_server, port) => {
      await accepts(`tls://127.0.0.1:${port}`, { ...ca, crl });
    });
  });

  test("wildcard *.sockurl.test: a.sockurl.test accepted; a.b.sockurl.test and sockurl.test refused", async () => {
    await withServer(serving(pki.wildcard), async (_server, port) => {
      const info = await accepts(`tls://a.sockurl.test:${port}`, ca, { lookup: toLoopback });
      assert.equal(info.servername, "a.sockurl.test");
      for (const host of ["a.b.sockurl.test", "sockurl.test"]) {
        await refuses(`tls://${host}:${port}`, ca, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", { lookup: toLoopback });
      }
    });
  });

  test("ipOnly: accepted on 127.0.0.1 and [::1]; refused for localhost", async () => {
    await withServer(serving(pki.ipOnly), async (_server, port) => {
      await accepts(`tls://127.0.0.1:${port}`, ca);
      await refuses(`tls://localhost:${port}`, ca, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", { family: 4 });
    });
    await withServer(serving(pki.ipOnly), async (_server, port) => {
      await accepts(`tls://[::1]:${port}`, ca);
    }, "tls://[::1]:0");
  });

  test("clientAuthOnly served by a server → INVALID_PURPOSE", async () => {
    await withServer(serving(pki.clientAuthOnly), async (_server, port) => {
      const err = await refuses(`tls://127.0.0.1:${port}`, ca, "ERR_TLS_CERT", "INVALID_PURPOSE");
      assert.match(err.message, /not meant for this use/);
    });
  });
});

describe("tls verification: fingerprints and SPKI pins", () => {
  const sha256 = digest("sha256", pki.valid.cert);
  const sha1 = digest("sha1", pki.valid.cert);
  const md5 = digest("md5", pki.valid.cert);

  test("md5/sha1/sha256 hex in any case, colons optional, { sha256 } form, and arrays (all must match) are accepted", async () => {
    await withServer(serving(pki.valid), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      const forms = [
        md5, sha1, sha256,
        md5.toUpperCase(), sha1.toUpperCase(), sha256.toUpperCase(),
        colons(md5), colons(sha1).toUpperCase(), colons(sha256), colons(sha256).toUpperCase(),
      ];
      for (const fingerprint of forms) await accepts(url, { ca: pki.caBundle, fingerprint });
      await accepts(url, { ca: pki.caBundle, fingerprint: { sha256 } });
      await accepts(url, { ca: pki.caBundle, fingerprint: { sha256: colons(sha256).toUpperCase(), md5 } });
      await accepts(url, { ca: pki.caBundle, fingerprint: [sha256, sha1, colons(md5)] });
      // A matching pin accepts the certificate without any CA (not authorized: trust "pin").
      assert.equal((await acceptsUnauthorized(url, { fingerprint: sha256 })).trust, "pin");
    });
  });

  test("a mismatch is ERR_TLS_FINGERPRINT (alone, or one wrong entry among matching ones)", async () => {
    const other = digest("sha256", pki.wrongHost.cert);
    await withServer(serving(pki.valid), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      const err = await refuses(url, { ca: pki.caBundle, fingerprint: other }, "ERR_TLS_FINGERPRINT", "FINGERPRINT_MISMATCH");
      assert.match(err.message, new RegExp(other));
      await refuses(url, { ca: pki.caBundle, fingerprint: [sha256, other] }, "ERR_TLS_FINGERPRINT", "FINGERPRINT_MISMATCH");
      await refuses(url, { ca: pki.caBundle, fingerprint: { sha256, md5: digest("md5", pki.wrongHost.cert) } }, "ERR_TLS_FINGERPRINT");
      await refuses(url, { fingerprint: digest("sha1", pki.wrongHost.cert) }, "ERR_TLS_FINGERPRINT");
    });
  });

  test("a malformed fingerprint is ERR_INVALID_OPTION before any I/O", async () => {
    const bad: unknown[] = [
      "zz" + sha256.slice(2), sha256.slice(0, 62), "", [], {}, { sha512: sha256 }, { sha1: sha256 }, 42,
    ];
    for (const fingerprint of bad) {
      await rejectsWith(
        connect(`tls://${NOWHERE}`, { tls: { fingerprint } as TlsOptions }),
        "ERR_INVALID_OPTION",
        { phase: "address", message: /fingerprint/ },
      );
    }
  });

  test("spkiPins: a matching pin is accepted; a mismatch is ERR_TLS_FINGERPRINT reason SPKI_PIN_MISMATCH", async () => {
    const pin = spkiPin(pki.valid.cert);
    const otherPin = spkiPin(pki.wrongHost.cert);
    await withServer(serving(pki.valid), async (_server, port) => {
      const url = `tls://127.0.0.1:${port}`;
      const info = await accepts(url, { ca: pki.caBundle, spkiPins: [pin] });
      assert.equal(info.peerCertificate!.spkiSha256, pin);
      await accepts(url, { ca: pki.caBundle, spkiPins: [otherPin, pin] });
      const err = await refuses(url, { ca: pki.caBundle, spkiPins: [otherPin] }, "ERR_TLS_FINGERPRINT", "SPKI_PIN_MISMATCH");
      assert.match(err.message, /spkiPins/);
      // A pin is not trust: the chain must still verify.
      await refuses(url, { spkiPins: [pin] }, "ERR_TLS_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    });
    await rejectsWith(connect(`tls://${NOWHERE}`, { tls: { spkiPins: ["not base64"] } }), "ERR_INVALID_OPTION", { phase: "address" });
  });
});

describe("tls verification: session resumption", () => {
  /** Greets every client with a line, so that a client can wait for the handshake's aftermath. */
  function greeter(server: Server, accepted: Socket[]): void {
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
  }

  /** A full handshake to `url`; returns the session ticket it received. */
  async function firstSession(url: string): Promise<Buffer> {
    const first = await connect(url, { family: 4, timeout: 5000, tls: { ca: pki.caBundle } });
    try {
      assert.equal(await first.readLine(), "hello");
      assert.equal(first.tls!.sessionReused, false);
      // Observed: TLS 1.3 tickets can arrive just after the server's first line, so wait for one briefly.
      await until(() => first.tls!.session !== null, "a session ticket arrived", 10_000);
      const session = first.tls!.session;
      assert.ok(Buffer.isBuffer(session) && session.length > 0, "a session ticket arrived");
      return session;
    } finally {
      first.destroy();
    }
  }

  test("a session from socket.tls.session resumes: sessionReused, authorized, peer certificate known", async () => {
    await withServer(serving(pki.valid), async (server, port, accepted) => {
      greeter(server, accepted);
      const url = `tls://localhost:${port}`;
      const session = await firstSession(url);
      const second = await connect(url, { family: 4, timeout: 5000, tls: { ca: pki.caBundle, session } });
      try {
        assert.equal(await second.readLine(), "hello");
        const info = second.tls!;
        assert.equal(info.sessionReused, true);
        assert.equal(info.authorized, true);
        assert.equal(info.peerCertificate?.subject, "CN=localhost", "the peer certificate is known on a resumed session");
        assert.equal(info.peerCertificate?.spkiSha256, spkiPin(pki.valid.cert));
        assert.equal(accepted.at(-1)!.tls!.sessionReused, true, "the server resumed it too");
      } finally {
        second.destroy();
      }
    });
  });

  test("pins and names are checked on a resumed session too", async () => {
    await withServer(serving(pki.valid), async (server, port, accepted) => {
      greeter(server, accepted);
      const url = `tls://localhost:${port}`;
      const session = await firstSession(url);
      const base: TlsOptions = { ca: pki.caBundle, session };
      const family = { family: 4 } as const;
      await refuses(url, { ...base, fingerprint: digest("sha256", pki.wrongHost.cert) }, "ERR_TLS_FINGERPRINT", "FINGERPRINT_MISMATCH", family);
      await refuses(url, { ...base, spkiPins: [spkiPin(pki.wrongHost.cert)] }, "ERR_TLS_FINGERPRINT", "SPKI_PIN_MISMATCH", family);
      await refuses(url, { ...base, peerName: "other.example" }, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", family);
      // The same session, with pins that match, resumes: the refusals above were about the pins, not the session.
      const info = await accepts(url, { ...base, fingerprint: digest("sha256", pki.valid.cert), spkiPins: [spkiPin(pki.valid.cert)] }, family);
      assert.equal(info.sessionReused, true);
    });
  });
});

describe("tls verification: protocol versions", () => {
  test("tlsv1.2:// negotiates TLSv1.2 and tlsv1.3:// TLSv1.3 with a default server", async () => {
    await withServer(serving(pki.valid), async (_server, port) => {
      assert.equal((await accepts(`tlsv1.2://127.0.0.1:${port}`, { ca: pki.caBundle })).protocol, "TLSv1.2");
      assert.equal((await accepts(`tlsv1.3://127.0.0.1:${port}`, { ca: pki.caBundle })).protocol, "TLSv1.3");
      assert.equal((await accepts(`ssl://127.0.0.1:${port}`, { ca: pki.caBundle })).protocol, "TLSv1.3");
    });
  });

  test("a tlsv1.2:// server refuses a tlsv1.3:// client with ERR_TLS_HANDSHAKE and a clear message", async (t) => {
    await withServer(serving(pki.valid), async (server, port) => {
      const err = await refuses(`tlsv1.3://127.0.0.1:${port}`, { ca: pki.caBundle }, "ERR_TLS_HANDSHAKE");
      assert.match(err.message, /no TLS version in common/);
      t.diagnostic(`tlsv1.2 server vs tlsv1.3 client: ${err.message} (reason ${err.reason})`);
      assert.equal((await accepts(`tls://127.0.0.1:${port}`, { ca: pki.caBundle })).protocol, "TLSv1.2");
      assert.equal(server.handshakeFailures, 1);
    }, "tlsv1.2://127.0.0.1:0");
  });

  test("tlsv1.0:// without securityLevel: 0 is ERR_INVALID_OPTION before I/O, naming securityLevel", async () => {
    await rejectsWith(connect(`tlsv1.0://${NOWHERE}`), "ERR_INVALID_OPTION", { phase: "address", message: /securityLevel/ });
    await rejectsWith(connect(`tlsv1.1://${NOWHERE}`, { tls: { securityLevel: 1 } }), "ERR_INVALID_OPTION", { phase: "address", message: /securityLevel/ });
    await rejectsWith(connect(`tls://${NOWHERE}`, { tls: { minVersion: "TLSv1" } }), "ERR_INVALID_OPTION", { phase: "address", message: /securityLevel/ });
    await rejectsWith(listen("tlsv1.0://127.0.0.1:0", { tls: serving(pki.valid) }), "ERR_INVALID_OPTION", { message: /securityLevel/ });
  });

  test("sslv3:// and sslv2:// are ERR_UNSUPPORTED_TRANSPORT", async () => {
    await rejectsWith(connect(`sslv3://${NOWHERE}`), "ERR_UNSUPPORTED_TRANSPORT", { phase: "address", message: /RFC 7568/ });
    await rejectsWith(connect(`sslv2://${NOWHERE}`), "ERR_UNSUPPORTED_TRANSPORT", { phase: "address" });
    await rejectsWith(listen("sslv3://127.0.0.1:0", { tls: serving(pki.valid) }), "ERR_UNSUPPORTED_TRANSPORT");
  });

  test("minVersion above maxVersion is ERR_INVALID_OPTION", async () => {
    await rejectsWith(
      connect(`tls://${NOWHERE}`, { tls: { minVersion: "TLSv1.3", maxVersion: "TLSv1.2" } }),
      "ERR_INVALID_OPTION",
      { phase: "address", message: /minVersion TLSv1\.3 is above tls\.maxVersion TLSv1\.2/ },
    );
    await rejectsWith(connect(`tls://${NOWHERE}`, { tls: { minVersion: "TLSv1.4" as "TLSv1.3" } }), "ERR_INVALID_OPTION", { phase: "address" });
  });
});

describe("tls verification: ALPN", () => {
  test("server [h2, http/1.1], client [http/1.1] → http/1.1 on both sides", async () => {
    await withServer(serving(pki.valid, { alpn: ["h2", "http/1.1"] }), async (server, port, accepted) => {
      const [client, peer] = await Promise.all([
        connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle, alpn: ["http/1.1"] } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(client, peer);
      assert.equal(client.tls!.alpn, "http/1.1");
      assert.equal(peer.tls!.alpn, "http/1.1");
      // The server's preference wins when the client offers both.
      assert.equal((await accepts(`tls://127.0.0.1:${port}`, { ca: pki.caBundle, alpn: ["http/1.1", "h2"] })).alpn, "h2");
    });
  });

  test("no protocol in common → ERR_TLS_HANDSHAKE (the Node server sends no_application_protocol)", async (t) => {
    await withServer(serving(pki.valid, { alpn: ["h2", "http/1.1"] }), async (server, port) => {
      const err = await refuses(`tls://127.0.0.1:${port}`, { ca: pki.caBundle, alpn: ["smtp"] }, "ERR_TLS_HANDSHAKE");
      t.diagnostic(`ALPN without overlap: ${err.message} (reason ${err.reason})`);
      assert.equal(err.reason, "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
      assert.match(err.message, /no application protocol/i);
      // A client that offers no ALPN at all is still served.
      assert.equal((await accepts(`tls://127.0.0.1:${port}`, { ca: pki.caBundle })).alpn, null);
      assert.equal(server.handshakeFailures, 1);
    });
  });
});

describe("tls verification: mutual TLS", () => {
  const mtls = serving(pki.valid, { requestCert: true, ca: pki.caBundle });

  test("a client certificate from the trusted CA is accepted and visible to the server", async () => {
    await withServer(mtls, async (server, port, accepted) => {
      const [client, peer] = await Promise.all([
        connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle, cert: pki.client.chain, key: pki.client.key } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(client, peer);
      assert.equal(client.tls!.authorized, true);
      assert.equal(peer.tls!.authorized, true);
      assert.match(peer.tls!.peerCertificate!.subject, /sockurl client/);
      await client.write("ping\n");
      assert.equal(await peer.readLine(), "ping");
    });
  });

  test("a client without a certificate fails; the server counts it and keeps accepting", async (t) => {
    await withServer(mtls, async (server, port, accepted) => {
      let failure: unknown;
      try {
        const client = await connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle } });
        try {
          // TLS 1.3: the client finishes first; the server's alert arrives on the first read.
          await client.read();
        } finally {
          client.destroy();
        }
      } catch (err) {
        failure = err;
      }
      assert.ok(failure instanceof SocketError, `expected a SocketError, got ${String(failure)}`);
      t.diagnostic(`mTLS without a client certificate: ${failure.code} phase ${failure.phase} reason ${failure.reason}: ${failure.message}`);
      assert.ok(["ERR_TLS_HANDSHAKE", "ECONNRESET"].includes(failure.code), failure.message);
      await until(() => server.handshakeFailures > 0, "a handshake failure counted", 10_000);
      assert.equal(server.handshakeFailures, 1);

      const [good, peer] = await Promise.all([
        connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle, cert: pki.client.chain, key: pki.client.key } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(good, peer);
      assert.match(peer.tls!.peerCertificate!.subject, /sockurl client/);
    });
  });

  test("encryptedKey: the right passphrase serves; a wrong one is ERR_INVALID_OPTION at listen", async () => {
    const { cert, key, passphrase } = pki.encryptedKey;
    await withServer({ cert, key, passphrase }, async (_server, port) => {
      await accepts(`tls://127.0.0.1:${port}`, { ca: pki.caBundle });
    });
    await rejectsWith(listen("tls://127.0.0.1:0", { tls: { cert, key, passphrase: "wrong" } }), "ERR_INVALID_OPTION");
    await rejectsWith(listen("tls://127.0.0.1:0", { tls: { cert, key } }), "ERR_INVALID_OPTION");
  });
});

describe("tls verification: sniCertificates", () => {
  const sni = serving(pki.valid, {
    sniCertificates: {
      "other.example": { cert: pki.wrongHost.chain, key: pki.wrongHost.key },
      "*.sockurl.test": { cert: pki.wildcard.chain, key: pki.wildcard.key },
    },
  });

  test("exact name, one-label wildcard, and the default certificate for an unknown name", async () => {
    await withServer(sni, async (server, port, accepted) => {
      const [client, peer] = await Promise.all([
        connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle, peerName: "other.example" } }),
        server.accept({ timeout: 5000 }),
      ]);
      accepted.push(client, peer);
      assert.equal(client.tls!.peerCertificate!.subject, "CN=other.example");
      assert.equal(peer.tls!.servername, "other.example");

      const wild = await accepts(`tls://a.sockurl.test:${port}`, { ca: pki.caBundle }, { lookup: toLoopback });
      assert.equal(wild.peerCertificate!.subject, "CN=*.sockurl.test");

      const unknown = await accepts(`tls://localhost:${port}`, { ca: pki.caBundle }, { family: 4 });
      assert.equal(unknown.peerCertificate!.subject, "CN=localhost");
      const noSni = await accepts(`tls://127.0.0.1:${port}`, { ca: pki.caBundle });
      assert.equal(noSni.peerCertificate!.subject, "CN=localhost");
      // Two labels below the wildcard do not match it: the default certificate, which does not name them.
      await refuses(`tls://a.b.sockurl.test:${port}`, { ca: pki.caBundle }, "ERR_TLS_CERT", "ERR_TLS_CERT_ALTNAME_INVALID", { lookup: toLoopback });
    });
  });
});

describe("tls verification: stalled and broken handshakes", () => {

  test("a server that accepts and never speaks → ETIMEDOUT phase tls within the connect timeout", async () => {
    const raw = await rawServer(() => {});
    try {
      const started = performance.now();
      const err = await rejectsWith(
        connect(`tls://127.0.0.1:${raw.port}`, { timeout: 300, tls: { ca: pki.caBundle } }),
        "ETIMEDOUT",
        { phase: "tls" },
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 280 && elapsed < 5000, `took ${Math.round(elapsed)} ms`);
      assert.match(err.message, /tls:\/\/127\.0\.0\.1/);
    } finally {
      await raw.close();
    }
  });

  test("a server that answers with HTTP → ERR_TLS_HANDSHAKE", async (t) => {
    const raw = await rawServer((s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    try {
      const err = await refuses(`tls://127.0.0.1:${raw.port}`, { ca: pki.caBundle }, "ERR_TLS_HANDSHAKE");
      t.diagnostic(`plaintext HTTP reply: ${err.message} (reason ${err.reason})`);
    } finally {
      await raw.close();
    }
  });

  test("a sockurl TLS server keeps accepting after a garbage client and a stalled one", async () => {
    await withServer(serving(pki.valid, { handshakeTimeout: 200 }), async (server, port, accepted) => {
      const raws: net.Socket[] = [];
      try {
        // 1. Garbage instead of a ClientHello; 2. a client that connects and says nothing.
        const garbage = net.connect(port, "127.0.0.1");
        const stalled = net.connect(port, "127.0.0.1");
        for (const r of [garbage, stalled]) {
          raws.push(r);
          r.on("error", () => {});
        }
        garbage.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const pending = server.accept({ timeout: 3000 });
        pending.catch(() => {}); // awaited below; never unhandled
        await until(() => server.handshakeFailures >= 2, "two handshake failures counted", 10_000);
        assert.equal(server.handshakeFailures, 2, "the garbage and the stalled client are both counted");

        // 3. The next good client is what accept() returns.
        const good = await connect(`tls://127.0.0.1:${port}`, { timeout: 5000, tls: { ca: pki.caBundle } });
        accepted.push(good);
        const peer = await pending;
        accepted.push(peer);
        await good.write("hello\n");
        assert.equal(await peer.readLine(), "hello");
        assert.equal(peer.tls!.protocol, "TLSv1.3");
      } finally {
        for (const r of raws) r.destroy();
      }
    });
  });

  test("the server disconnects a client that stalls its handshake past handshakeTimeout, and one that sends garbage", async () => {
    await withServer(serving(pki.valid, { handshakeTimeout: 200 }), async (server, port) => {
      const closedWithin = (socket: net.Socket, ms: number): Promise<number | null> => {
        const started = performance.now();
        return new Promise((resolve) => {
          const timer = setTimeout(() => resolve(null), ms);
          socket.once("close", () => {
            clearTimeout(timer);
            resolve(performance.now() - started);
          });
        });
      };
      const garbage = net.connect(port, "127.0.0.1");
      const stalled = net.connect(port, "127.0.0.1");
      try {
        garbage.on("error", () => {});
        stalled.on("error", () => {});
        garbage.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const [garbageMs, stalledMs] = await Promise.all([closedWithin(garbage, 5000), closedWithin(stalled, 5000)]);
        assert.notEqual(garbageMs, null, "the garbage client was disconnected");
        assert.equal(server.handshakeFailures, 2);
        assert.notEqual(stalledMs, null, "the stalled client was still connected 5 s after it connected (handshakeTimeout 200 ms)");
        assert.ok(stalledMs! >= 150, `dropped after ${Math.round(stalledMs!)} ms`);
      } finally {
        garbage.destroy();
        stalled.destroy();
      }
    });
  });
});
