/**
 * The generated certificate world (test/fixtures/pki.ts), checked against what Node's `tls` really
 * reports: each case does a real handshake on 127.0.0.1 with `rejectUnauthorized: false` and asserts
 * the exact `authorizationError`, so the fixture's meaning ("expired", "revoked", ...) is proven
 * rather than assumed. Where Node's answer is not the obvious one, the test says so.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { promisify } from "node:util";
import { issuedNames, makePki, NO_INTERMEDIATE_CA_ISSUERS, writePki, type Issued, type Pki } from "./fixtures/pki.js";
import { tempDir } from "./helpers.js";

interface Outcome {
  /** Set when the client finished the handshake. */
  authorized?: boolean;
  /** The string Node puts in `socket.authorizationError` (typed as Error by @types/node, but a code string). */
  authorizationError?: string | null;
  peer?: tls.PeerCertificate;
  protocol?: string | null;
  cipher?: string;
  /** Set when the client socket failed instead (e.g. with rejectUnauthorized: true). */
  error?: { code: string | undefined; message: string };
  /** What the server saw of the client (mutual TLS). */
  server?: { authorized: boolean; authorizationError: string | null; peerCn: string | undefined };
}

/** One real handshake: a tls server with `serverOptions` on 127.0.0.1:0, one client with `clientOptions`. */
async function handshake(serverOptions: tls.TlsOptions, clientOptions: tls.ConnectionOptions): Promise<Outcome> {
  const outcome: Outcome = {};
  const accepted = new Set<tls.TLSSocket>();
  const server = tls.createServer(serverOptions, (socket) => {
    accepted.add(socket);
    socket.on("error", () => {});
    const peerCn = socket.getPeerCertificate().subject?.CN;
    outcome.server = {
      authorized: socket.authorized,
      authorizationError: (socket.authorizationError as unknown as string | undefined) ?? null,
      peerCn: Array.isArray(peerCn) ? peerCn.join(",") : peerCn,
    };
    socket.end("bye");
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await new Promise<void>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...clientOptions });
      const timer = setTimeout(() => {
        outcome.error = { code: "TEST_TIMEOUT", message: "handshake did not finish in 5 s" };
        socket.destroy();
        resolve();
      }, 5000);
      socket.once("secureConnect", () => {
        outcome.authorized = socket.authorized;
        outcome.authorizationError = (socket.authorizationError as unknown as string | undefined) ?? null;
        outcome.peer = socket.getPeerCertificate();
        outcome.protocol = socket.getProtocol();
        outcome.cipher = socket.getCipher().name;
        socket.resume();
        // Wait for the server's "bye" so that the server side of mutual TLS has been recorded.
        socket.once("end", () => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        });
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        if (outcome.authorized === undefined) outcome.error = { code: err.code, message: err.message };
        clearTimeout(timer);
        socket.destroy();
        resolve();
      });
    });
  } finally {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return outcome;
}

/** Serve `issued` (its chain) and connect trusting `pki.caBundle`; `servername` null for an IP connection. */
function serve(
  pki: Pki,
  issued: Issued,
  servername: string | null = "localhost",
  extra: tls.ConnectionOptions = {},
): Promise<Outcome> {
  return handshake(
    { cert: issued.chain, key: issued.key },
    { ca: pki.caBundle, ...(servername === null ? {} : { servername }), ...extra },
  );
}

function assertRejected(outcome: Outcome, code: string): void {
  assert.equal(outcome.error, undefined, `handshake failed: ${JSON.stringify(outcome.error)}`);
  assert.equal(outcome.authorized, false);
  assert.equal(outcome.authorizationError, code);
}

function assertAuthorized(outcome: Outcome): void {
  assert.equal(outcome.error, undefined, `handshake failed: ${JSON.stringify(outcome.error)}`);
  assert.equal(outcome.authorizationError, null);
  assert.equal(outcome.authorized, true);
}

const SAN_LOCAL = "DNS:localhost, IP Address:127.0.0.1";

describe("pki fixture: generation", () => {
  test("generates the world quickly, once per process", async (t) => {
    const pki = await makePki();
    t.diagnostic(`pki generation took ${pki.generatedInMs} ms`);
    // A few hundred ms on an idle machine; the bound only catches a generator gone slow by an order of magnitude.
    assert.ok(pki.generatedInMs < 30_000, `generation took ${pki.generatedInMs} ms`);
    assert.equal(await makePki(), pki, "memoised");
    const fresh = await makePki({ fresh: true });
    assert.notEqual(fresh, pki);
    assert.notEqual(fresh.valid.cert, pki.valid.cert);
    assert.equal(await makePki(), pki, "a fresh world does not replace the memoised one");
  });

  test("every item is PEM, keys are unencrypted PKCS#8 and match their certificates", async () => {
    const pki = await makePki();
    for (const name of ["rootCa", "intermediate", "otherRoot", ...issuedNames] as const) {
      const item = pki[name];
      assert.match(item.cert, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/, name);
      assert.match(item.key, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/, name);
      assert.equal(item.cert.match(/BEGIN CERTIFICATE/g)?.length, 1, `${name}.cert is one certificate`);
      assert.ok(new X509Certificate(item.cert).checkPrivateKey(createPrivateKey(item.key)), `${name}: key matches cert`);
    }
    assert.match(pki.crl, /^-----BEGIN X509 CRL-----\n/);
    assert.match(pki.rootCrl, /^-----BEGIN X509 CRL-----\n/);
    assert.match(pki.encryptedKey.key, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.equal(pki.caBundle, pki.rootCa.cert);
    const serials = new Set(
      [pki.rootCa, pki.intermediate, pki.otherRoot, ...issuedNames.map((n) => pki[n])].map(
        (i) => new X509Certificate(i.cert).serialNumber,
      ),
    );
    assert.equal(serials.size, 3 + issuedNames.length, "serial numbers are distinct");
  });

  test("the CAs, chains and leaf extensions are as described", async () => {
    const pki = await makePki();
    const root = new X509Certificate(pki.rootCa.cert);
    const intermediate = new X509Certificate(pki.intermediate.cert);
    const otherRoot = new X509Certificate(pki.otherRoot.cert);
    assert.ok(root.ca && intermediate.ca && otherRoot.ca);
    assert.ok(root.checkIssued(root) && root.verify(root.publicKey));
    assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey));

    const issuerOf: Partial<Record<(typeof issuedNames)[number], X509Certificate>> = {
      untrusted: otherRoot,
    };
    for (const name of issuedNames) {
      const leaf = new X509Certificate(pki[name].cert);
      assert.equal(leaf.ca, false, `${name} is not a CA`);
      const issuer = name === "selfSigned" ? leaf : (issuerOf[name] ?? intermediate);
      // checkIssued() also wants keyCertSign in the issuer's keyUsage, which the self-signed leaf lacks.
      const issued = name === "selfSigned" ? leaf.issuer === leaf.subject : leaf.checkIssued(issuer);
      assert.ok(issued && leaf.verify(issuer.publicKey), `${name} is issued by ${issuer.subject}`);
      const served = pki[name].chain.match(/BEGIN CERTIFICATE/g)?.length;
      const expectServed = issuer === intermediate && name !== "noIntermediate" ? 2 : 1;
      assert.equal(served, expectServed, `${name}.chain holds ${expectServed} certificate(s)`);
      assert.ok(pki[name].chain.startsWith(pki[name].cert), `${name}.chain starts with the leaf`);
    }

    const san = (name: (typeof issuedNames)[number]): string | undefined => new X509Certificate(pki[name].cert).subjectAltName;
    assert.equal(san("valid"), "DNS:localhost, DNS:sockurl.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    assert.equal(san("wrongHost"), "DNS:other.example");
    assert.equal(san("cnOnly"), undefined, "cnOnly has no subjectAltName extension");
    assert.equal(san("wildcard"), "DNS:*.sockurl.test");
    assert.equal(san("ipOnly"), "IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    for (const name of ["selfSigned", "untrusted", "noIntermediate", "rsa1024", "rsa2048", "revoked", "clientAuthOnly"] as const) {
      assert.equal(san(name), SAN_LOCAL, name);
    }
    assert.equal(new X509Certificate(pki.noIntermediate.cert).infoAccess?.trim(), `CA Issuers - URI:${NO_INTERMEDIATE_CA_ISSUERS}`);
    assert.equal(new X509Certificate(pki.untrusted.cert).infoAccess, undefined, "only noIntermediate names its issuer's URL");
    assert.equal(new X509Certificate(pki.client.cert).subject, "CN=sockurl client");
    assert.deepEqual(new X509Certificate(pki.valid.cert).keyUsage, ["1.3.6.1.5.5.7.3.1"], "EKU serverAuth");
    assert.deepEqual(new X509Certificate(pki.clientAuthOnly.cert).keyUsage, ["1.3.6.1.5.5.7.3.2"], "EKU clientAuth");
    assert.deepEqual(new X509Certificate(pki.client.cert).keyUsage, ["1.3.6.1.5.5.7.3.2"], "EKU clientAuth");

    const bits = (name: "rsa1024" | "rsa2048"): number | undefined =>
      new X509Certificate(pki[name].cert).publicKey.asymmetricKeyDetails?.modulusLength;
    assert.equal(bits("rsa1024"), 1024);
    assert.equal(bits("rsa2048"), 2048);
    assert.equal(new X509Certificate(pki.valid.cert).publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");

    const now = Date.now();
    const expired = new X509Certificate(pki.expired.cert);
    assert.ok(Date.parse(expired.validTo) < now - 23 * 3600e3 && Date.parse(expired.validFrom) < now - 29 * 24 * 3600e3);
    assert.ok(Date.parse(new X509Certificate(pki.notYetValid.cert).validFrom) > now + 23 * 3600e3);
  });
});

describe("pki fixture: Node's tls verdict per certificate (observed authorizationError)", () => {
  test("valid: authorized, by name and by IP (v4 SAN); ::1 is in the SAN too", async () => {
    const pki = await makePki();
    const byName = await serve(pki, pki.valid);
    assertAuthorized(byName);
    assertAuthorized(await serve(pki, pki.valid, "sockurl.test"));
    assertAuthorized(await serve(pki, pki.valid, null));
    assert.equal(tls.checkServerIdentity("::1", byName.peer!), undefined);
  });

  test("expired → CERT_HAS_EXPIRED", async () => {
    const pki = await makePki();
    assertRejected(await serve(pki, pki.expired), "CERT_HAS_EXPIRED");
  });

  test("notYetValid → CERT_NOT_YET_VALID", async () => {
    const pki = await makePki();
    assertRejected(await serve(pki, pki.notYetValid), "CERT_NOT_YET_VALID");
  });

  test("selfSigned → DEPTH_ZERO_SELF_SIGNED_CERT", async () => {
    const pki = await makePki();
    assertRejected(await serve(pki, pki.selfSigned), "DEPTH_ZERO_SELF_SIGNED_CERT");
  });

  test("untrusted (leaf of another root, root not served) → UNABLE_TO_VERIFY_LEAF_SIGNATURE", async () => {
    const pki = await makePki();
    // Not UNABLE_TO_GET_ISSUER_CERT_LOCALLY: with a lone non-self-signed leaf OpenSSL reports error 21.
    assertRejected(await serve(pki, pki.untrusted), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    // When the server also sends the foreign root, the verdict becomes SELF_SIGNED_CERT_IN_CHAIN.
    const withRoot = await handshake(
      { cert: pki.untrusted.chain + pki.otherRoot.cert, key: pki.untrusted.key },
      { ca: pki.caBundle, servername: "localhost" },
    );
    assertRejected(withRoot, "SELF_SIGNED_CERT_IN_CHAIN");
  });

  test("noIntermediate → UNABLE_TO_VERIFY_LEAF_SIGNATURE ('unable to verify the first certificate')", async () => {
    const pki = await makePki();
    assertRejected(await serve(pki, pki.noIntermediate), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  test("without ca (Node's bundled roots) → UNABLE_TO_GET_ISSUER_CERT_LOCALLY", async () => {
    const pki = await makePki();
    const outcome = await handshake({ cert: pki.valid.chain, key: pki.valid.key }, { servername: "localhost" });
    assertRejected(outcome, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
  });

  test("revoked: accepted without a CRL; CERT_REVOKED with crl: [crl, rootCrl]; UNABLE_TO_GET_CRL without the root's", async () => {
    const pki = await makePki();
    assertAuthorized(await serve(pki, pki.revoked)); // Node checks no revocation unless given CRLs
    assertRejected(await serve(pki, pki.revoked, "localhost", { crl: [pki.crl, pki.rootCrl] }), "CERT_REVOKED");
    assertAuthorized(await serve(pki, pki.valid, "localhost", { crl: [pki.crl, pki.rootCrl] }));
    // Node's `crl` option turns on CRL_CHECK_ALL: every CA in the chain needs a CRL, even for a good leaf.
    assertRejected(await serve(pki, pki.valid, "localhost", { crl: pki.crl }), "UNABLE_TO_GET_CRL");
    assertRejected(await serve(pki, pki.revoked, "localhost", { crl: pki.crl }), "UNABLE_TO_GET_CRL");
  });

  test("clientAuthOnly → INVALID_PURPOSE (OpenSSL checks the server purpose; so does `client` served as a server)", async () => {
    const pki = await makePki();
    assertRejected(await serve(pki, pki.clientAuthOnly), "INVALID_PURPOSE");
    const client = await handshake({ cert: pki.client.chain, key: pki.client.key }, { ca: pki.caBundle, servername: "sockurl client" });
    assertRejected(client, "INVALID_PURPOSE");
  });

  test("rsa1024: accepted at the default security level; at SECLEVEL=2 the handshake completes but the verdict is UNSPECIFIED", async () => {
    const pki = await makePki();
    // Node 20's bundled OpenSSL 3.0 defaults to security level 1, where RSA 1024 (80 bits) passes.
    const plain = await serve(pki, pki.rsa1024);
    assertAuthorized(plain);
    // At level 2 OpenSSL fails verification with X509_V_ERR_EE_KEY_TOO_SMALL ("EE certificate key too weak"),
    // which Node has no name for: authorizationError is "UNSPECIFIED".
    const strict = await serve(pki, pki.rsa1024, "localhost", { ciphers: "DEFAULT:@SECLEVEL=2" });
    assertRejected(strict, "UNSPECIFIED");
    const refused = await serve(pki, pki.rsa1024, "localhost", { ciphers: "DEFAULT:@SECLEVEL=2", rejectUnauthorized: true });
    assert.equal(refused.authorized, undefined);
    assert.equal(refused.error?.code, "UNSPECIFIED");
    assert.match(refused.error?.message ?? "", /EE certificate key too weak/);
  });

  test("rsa2048: authorized, including over TLS 1.2 with an ECDHE-RSA suite", async () => {
    const pki = await makePki();
    assertAuthorized(await serve(pki, pki.rsa2048));
    const tls12 = await serve(pki, pki.rsa2048, "localhost", { maxVersion: "TLSv1.2", ciphers: "ECDHE-RSA-AES128-GCM-SHA256" });
    assertAuthorized(tls12);
    assert.equal(tls12.protocol, "TLSv1.2");
    assert.equal(tls12.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
  });

  test("encryptedKey: a server loads it with the passphrase", async () => {
    const pki = await makePki();
    const { cert, key, passphrase } = pki.encryptedKey;
    assertAuthorized(await handshake({ cert, key, passphrase }, { ca: pki.caBundle, servername: "localhost" }));
    assert.throws(() => tls.createSecureContext({ cert, key, passphrase: "wrong" }));
  });
});

describe("pki fixture: host names (tls.checkServerIdentity on the peer certificate)", () => {
  test("wrongHost → ERR_TLS_CERT_ALTNAME_INVALID, both from the handshake and from checkServerIdentity", async () => {
    const pki = await makePki();
    const outcome = await serve(pki, pki.wrongHost);
    assertRejected(outcome, "ERR_TLS_CERT_ALTNAME_INVALID");
    const err = tls.checkServerIdentity("localhost", outcome.peer!);
    assert.equal((err as NodeJS.ErrnoException | undefined)?.code, "ERR_TLS_CERT_ALTNAME_INVALID");
    assert.equal(tls.checkServerIdentity("other.example", outcome.peer!), undefined);
  });

  test("cnOnly: Node 20 still falls back to the CN when there is no DNS SAN, so 'localhost' passes; an IP does not", async () => {
    const pki = await makePki();
    const byName = await serve(pki, pki.cnOnly);
    assertAuthorized(byName);
    assert.equal(tls.checkServerIdentity("localhost", byName.peer!), undefined);
    const byIp = await serve(pki, pki.cnOnly, null);
    assertRejected(byIp, "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("wildcard: a.sockurl.test matches; a.b.sockurl.test and sockurl.test do not", async () => {
    const pki = await makePki();
    const outcome = await serve(pki, pki.wildcard, "a.sockurl.test");
    assertAuthorized(outcome);
    const peer = outcome.peer!;
    assert.equal(tls.checkServerIdentity("a.sockurl.test", peer), undefined);
    for (const host of ["a.b.sockurl.test", "sockurl.test", "localhost"]) {
      const err = tls.checkServerIdentity(host, peer) as NodeJS.ErrnoException | undefined;
      assert.equal(err?.code, "ERR_TLS_CERT_ALTNAME_INVALID", host);
    }
    assertRejected(await serve(pki, pki.wildcard, "sockurl.test"), "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("ipOnly: 127.0.0.1 and ::1 match; 'localhost' does not (CN is 127.0.0.1)", async () => {
    const pki = await makePki();
    const outcome = await serve(pki, pki.ipOnly, null);
    assertAuthorized(outcome);
    assert.equal(tls.checkServerIdentity("127.0.0.1", outcome.peer!), undefined);
    assert.equal(tls.checkServerIdentity("::1", outcome.peer!), undefined);
    assertRejected(await serve(pki, pki.ipOnly, "localhost"), "ERR_TLS_CERT_ALTNAME_INVALID");
  });
});

describe("pki fixture: mutual TLS", () => {
  const serverOptions = (pki: Pki): tls.TlsOptions => ({
    cert: pki.valid.chain,
    key: pki.valid.key,
    requestCert: true,
    rejectUnauthorized: false,
    ca: pki.caBundle,
  });

  test("the client certificate is accepted by a server that trusts the root", async () => {
    const pki = await makePki();
    const outcome = await handshake(serverOptions(pki), {
      ca: pki.caBundle,
      servername: "localhost",
      cert: pki.client.chain,
      key: pki.client.key,
      rejectUnauthorized: true,
    });
    assertAuthorized(outcome);
    assert.deepEqual(outcome.server, { authorized: true, authorizationError: null, peerCn: "sockurl client" });
  });

  test("a serverAuth-only certificate as client cert → INVALID_PURPOSE; no client cert → UNABLE_TO_GET_ISSUER_CERT", async () => {
    const pki = await makePki();
    const wrongPurpose = await handshake(serverOptions(pki), {
      ca: pki.caBundle,
      servername: "localhost",
      cert: pki.valid.chain,
      key: pki.valid.key,
    });
    assertAuthorized(wrongPurpose);
    assert.deepEqual(wrongPurpose.server, { authorized: false, authorizationError: "INVALID_PURPOSE", peerCn: "localhost" });
    // Node's report for "the client sent no certificate" is, oddly, UNABLE_TO_GET_ISSUER_CERT.
    const none = await handshake(serverOptions(pki), { ca: pki.caBundle, servername: "localhost" });
    assertAuthorized(none);
    assert.equal(none.server?.authorized, false);
    assert.equal(none.server?.authorizationError, "UNABLE_TO_GET_ISSUER_CERT");
  });
});

describe("pki fixture: files for openssl", () => {
  const openssl = existsSync("/usr/bin/openssl") ? "/usr/bin/openssl" : null;
  const run = promisify(execFile);

  test("writePki writes every item and a capath that openssl verify accepts", async () => {
    // .ci/run installs openssl; without it this check cannot run, and that is a failure.
    assert.ok(openssl, "/usr/bin/openssl is missing: install Debian's openssl package");
    const { dir, cleanup } = tempDir();
    try {
      const pki = await makePki();
      const paths = await writePki(dir);
      assert.equal(readFileSync(paths.valid.chain, "utf8"), pki.valid.chain);
      assert.equal(readFileSync(paths.rootCa.cert, "utf8"), pki.rootCa.cert);
      assert.equal(readFileSync(paths.crl, "utf8"), pki.crl);
      assert.equal(readFileSync(paths.encryptedKey.passphrase, "utf8").trim(), pki.encryptedKey.passphrase);
      assert.ok(paths.noIntermediate.chain.endsWith("/no-intermediate.chain.crt"));
      assert.ok(paths.capath, paths.capathSkipped ?? "");
      assert.deepEqual(
        readdirSync(paths.capath).map((f) => f.replace(/^[0-9a-f]{8}/, "<hash>")).sort(),
        ["<hash>.0", "<hash>.r0", "<hash>.r0"],
      );

      const verify = async (...args: string[]): Promise<string> => {
        const r = await run(openssl!, ["verify", ...args]).catch((e: { stdout: string; stderr: string }) => e);
        return r.stdout + r.stderr;
      };
      assert.match(await verify("-CAfile", paths.caBundle, "-untrusted", paths.intermediate.cert, paths.valid.cert), /: OK$/m);
      assert.match(await verify("-CApath", paths.capath, "-untrusted", paths.intermediate.cert, paths.valid.cert), /: OK$/m);
      assert.match(
        await verify("-CApath", paths.capath, "-crl_check_all", "-untrusted", paths.intermediate.cert, paths.valid.cert),
        /: OK$/m,
      );
      assert.match(
        await verify("-CApath", paths.capath, "-crl_check_all", "-untrusted", paths.intermediate.cert, paths.revoked.cert),
        /certificate revoked/,
      );
      assert.match(
        await verify("-CAfile", paths.caBundle, "-untrusted", paths.intermediate.cert, paths.expired.cert),
        /certificate has expired/,
      );
      const key = await run(openssl!, ["pkey", "-in", paths.encryptedKey.key, "-passin", `file:${paths.encryptedKey.passphrase}`, "-noout"]);
      assert.equal(key.stderr, "");
    } finally {
      cleanup();
    }
  });
});

