/**
 * How TLS and option failures read: one `(CODE)` per message (the finer reason in `err.reason`),
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE told apart by its cause, and option errors that name their
 * target. Real loopback sockets, certificates from test/fixtures/pki.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { connect, listen, SocketError, type ConnectOptions, type InetAddress, type Server } from "../src/index.js";
import { validateConnectOptions, validateListenOptions } from "../src/options.js";
import { validateStartTlsOptions } from "../src/starttls/index.js";
import { prepareClient } from "../src/tls-client.js";
import type { TlsOptions } from "../src/tls-options.js";
import { validateTlsOptions } from "../src/tls-options.js";
import { makePki, NO_INTERMEDIATE_CA_ISSUERS, type Issued } from "./fixtures/pki.js";
import { rejectsWith } from "./helpers.js";

const pki = await makePki();

/** A closed port: anything that gets as far as I/O fails with ECONNREFUSED instead. */
const NOWHERE = "127.0.0.1:1";

async function withServer<T>(issued: Issued, fn: (port: number) => Promise<T>): Promise<T> {
  const server: Server = await listen("tls://127.0.0.1:0", { tls: { cert: issued.chain, key: issued.key } });
  try {
    return await fn((server.address as InetAddress).port);
  } finally {
    await server.close();
  }
}

/** Every parenthesised group that looks like a code: `(ERR_TLS_CERT)`, `(CERT_HAS_EXPIRED)`, `(ECONNRESET)`. */
function codeGroups(message: string): string[] {
  return [...message.matchAll(/\(([A-Z][A-Z0-9_]{2,})\)/g)].map((m) => m[1]!);
}

/** The message carries exactly one code, err.code, at its end; err.reason has the finer one. */
function assertOneCode(err: SocketError, reason: string): void {
  assert.deepEqual(codeGroups(err.message), [err.code], err.message);
  assert.ok(err.message.endsWith(` (${err.code})`), err.message);
  assert.equal(err.reason, reason, err.message);
}

const der = (pem: string): Buffer => new X509Certificate(pem).raw;
const dn = (pem: string, which: "subject" | "issuer"): string => new X509Certificate(pem)[which].split("\n").join(", ");

function refuse(url: string, tls: TlsOptions, code: string, extra: Omit<ConnectOptions, "tls"> = {}): Promise<SocketError> {
  return rejectsWith(connect(url, { timeout: 5000, ...extra, tls }), code, { phase: "tls" });
}

describe("tls errors: one code per message, the finer reason in err.reason", () => {
  const ca = { ca: pki.caBundle };

  test("expired, self-signed, wrong host, untrusted CA, missing intermediate", async () => {
    const cases: Array<[string, Issued, string, TlsOptions]> = [
      ["expired", pki.expired, "CERT_HAS_EXPIRED", ca],
      ["self-signed", pki.selfSigned, "DEPTH_ZERO_SELF_SIGNED_CERT", ca],
      ["wrong host", pki.wrongHost, "ERR_TLS_CERT_ALTNAME_INVALID", ca],
      ["untrusted CA", pki.untrusted, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", ca],
      ["missing intermediate", pki.noIntermediate, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", ca],
      ["not trusted by the system", pki.valid, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", {}],
      ["no subjectAltName", pki.cnOnly, "NO_SAN", ca],
      ["wrong purpose", pki.clientAuthOnly, "INVALID_PURPOSE", ca],
    ];
    for (const [what, issued, reason, tls] of cases) {
      await withServer(issued, async (port) => {
        const err = await refuse(`tls://127.0.0.1:${port}`, tls, "ERR_TLS_CERT");
        assertOneCode(err, reason);
        assert.ok(!err.message.includes(reason), `${what}: the reason is in err.reason, not the message: ${err.message}`);
      });
    }
  });

  test("a too-long chain names the depth without a second group", async () => {
    await withServer(pki.valid, async (port) => {
      const err = await refuse(`tls://127.0.0.1:${port}`, { ...ca, verifyDepth: 0 }, "ERR_TLS_CERT");
      assertOneCode(err, "CERT_CHAIN_TOO_LONG");
      assert.match(err.message, /tls\.verifyDepth allows: 0/);
    });
  });

  test("fingerprint and SPKI pin mismatches", async () => {
    await withServer(pki.valid, async (port) => {
      const url = `tls://127.0.0.1:${port}`;
      const other = createHash("sha256").update(der(pki.expired.cert)).digest("hex");
      assertOneCode(await refuse(url, { fingerprint: other }, "ERR_TLS_FINGERPRINT"), "FINGERPRINT_MISMATCH");
      assertOneCode(await refuse(url, { ...ca, spkiPins: ["A".repeat(43) + "="] }, "ERR_TLS_FINGERPRINT"), "SPKI_PIN_MISMATCH");
    });
  });

  test("a handshake the peer breaks off: ERR_TLS_HANDSHAKE, reason ECONNRESET, one group", async () => {
    // A TLS server that only speaks TLS 1.2, and a client that only speaks 1.3: the server alerts.
    const server = await listen("tlsv1.2://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
    try {
      const port = (server.address as InetAddress).port;
      const err = await refuse(`tlsv1.3://127.0.0.1:${port}`, ca, "ERR_TLS_HANDSHAKE");
      assert.deepEqual(codeGroups(err.message), ["ERR_TLS_HANDSHAKE"], err.message);
      assert.ok(typeof err.reason === "string" && err.reason.length > 0, "the underlying code is in err.reason");
    } finally {
      await server.close();
    }
  });
});

describe("tls errors: UNABLE_TO_VERIFY_LEAF_SIGNATURE, a missing CA or a missing intermediate", () => {
  test("missing intermediate: the leaf's issuer is published (AIA caIssuers), so the server should have sent it", async () => {
    await withServer(pki.noIntermediate, async (port) => {
      for (const tls of [{ ca: pki.caBundle }, {}] as TlsOptions[]) {
        const err = await refuse(`tls://127.0.0.1:${port}`, tls, "ERR_TLS_CERT");
        assertOneCode(err, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
        assert.match(err.message, /the server did not send the intermediate CA that issued its certificate/);
        assert.ok(err.message.includes(dn(pki.intermediate.cert, "subject")), err.message);
        assert.ok(err.message.includes(NO_INTERMEDIATE_CA_ISSUERS), err.message);
        assert.doesNotMatch(err.message, /not a trusted CA/);
      }
    });
  });

  test("untrusted CA: the leaf's issuer is not in tls.ca, nor in the system store when no CA is given", async () => {
    await withServer(pki.untrusted, async (port) => {
      const url = `tls://127.0.0.1:${port}`;
      const issuer = dn(pki.untrusted.cert, "issuer");
      const given = await refuse(url, { ca: pki.caBundle }, "ERR_TLS_CERT");
      assertOneCode(given, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      assert.ok(given.message.includes(`the certificate's issuer, ${issuer}, is not a trusted CA: it is not among tls.ca`), given.message);
      assert.doesNotMatch(given.message, /intermediate|incomplete/);

      const none = await refuse(url, {}, "ERR_TLS_CERT");
      assertOneCode(none, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      assert.match(none.message, /is not among the system's trusted CAs \(no tls\.ca, tls\.caFile or tls\.caPath was given\)/);
      assert.doesNotMatch(none.message, /intermediate|incomplete/);
    });
  });

  test("a trusted CA of the same name but another key: says so", async () => {
    // A second world has CAs with the same names and different keys.
    const twin = await makePki({ fresh: true });
    assert.equal(dn(twin.otherRoot.cert, "subject"), dn(pki.untrusted.cert, "issuer"));
    await withServer(pki.untrusted, async (port) => {
      const err = await refuse(`tls://127.0.0.1:${port}`, { ca: twin.otherRoot.cert }, "ERR_TLS_CERT");
      assertOneCode(err, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      assert.match(err.message, /tls\.ca holds a CA named CN=sockurl untrusted root CA, O=sockurl tests, but not the one that signed this certificate/);
    });
  });
});

describe("option errors name their target", () => {
  test("connect: a bad option reads `address URL: … (ERR_INVALID_OPTION)`", async () => {
    const err = await rejectsWith(connect(NOWHERE, { timeout: -1 }), "ERR_INVALID_OPTION", { phase: "address" });
    assert.equal(err.address, "tcp://127.0.0.1:1");
    assert.match(err.message, /^address tcp:\/\/127\.0\.0\.1:1: timeout must be a number of milliseconds from 0 to 2147483647, got -1 \(ERR_INVALID_OPTION\)$/);
    assert.deepEqual(codeGroups(err.message), ["ERR_INVALID_OPTION"]);

    const unknown = await rejectsWith(connect(NOWHERE, { nope: 1 } as ConnectOptions), "ERR_INVALID_OPTION", { phase: "address" });
    assert.match(unknown.message, /^address tcp:\/\/127\.0\.0\.1:1: unknown connect option "nope"/);
  });

  test("connect: a bad TLS option names the target too", async () => {
    const err = await rejectsWith(connect(`tls://${NOWHERE}`, { tls: { minVersion: "TLSv9" as "TLSv1.3" } }), "ERR_INVALID_OPTION", { phase: "address" });
    assert.match(err.message, /^address tls:\/\/127\.0\.0\.1:1: tls\.minVersion must be one of /);
    // Files are read when the handshake is prepared; the error names the target all the same.
    const target = { host: "127.0.0.1", transport: "tls", url: `tls://${NOWHERE}` };
    assert.throws(() => prepareClient({ caFile: "/nonexistent/ca.pem" }, target), (err: unknown) => err instanceof SocketError
      && err.message === "address tls://127.0.0.1:1: tls.caFile: cannot read /nonexistent/ca.pem: no such file or directory (ERR_INVALID_OPTION)");
  });

  test("listen: a bad option, a bad TLS option, an unreadable SNI certificate", async () => {
    const err = await rejectsWith(listen("tcp://127.0.0.1:0", { backlog: 0 }), "ERR_INVALID_OPTION", { phase: "address" });
    assert.equal(err.message, "address tcp://127.0.0.1:0: backlog must be an integer from 1 to 65535, got 0 (ERR_INVALID_OPTION)");
    const tls = await rejectsWith(listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key, verifyDepth: -1 } }), "ERR_INVALID_OPTION");
    assert.match(tls.message, /^address tls:\/\/127\.0\.0\.1:0: tls\.verifyDepth must be a non-negative integer \(ERR_INVALID_OPTION\)$/);
    const sni = await rejectsWith(listen("tls://127.0.0.1:0", {
      tls: { cert: pki.valid.chain, key: pki.valid.key, sniCertificates: { "a.example": { certFile: "/nonexistent/a.crt", keyFile: "/nonexistent/a.key" } } },
    }), "ERR_INVALID_OPTION");
    assert.equal(sni.message,
      "address tls://127.0.0.1:0: tls.sniCertificates[\"a.example\"].certFile: cannot read /nonexistent/a.crt: no such file or directory (ERR_INVALID_OPTION)");
  });

  test("the validators called alone: the URL is optional, the shape the same", () => {
    const check = (fn: () => unknown, message: string) =>
      assert.throws(fn, (err: unknown) => err instanceof SocketError && err.code === "ERR_INVALID_OPTION" && err.message === message);
    check(() => validateConnectOptions({ family: 5 }, "tcp://[::1]:80"), "address tcp://[::1]:80: family must be 0, 4 or 6, got 5 (ERR_INVALID_OPTION)");
    check(() => validateConnectOptions({ family: 5 }), "address: family must be 0, 4 or 6, got 5 (ERR_INVALID_OPTION)");
    check(() => validateListenOptions({ noDelay: 1 }, "tcp://127.0.0.1:0"), "address tcp://127.0.0.1:0: noDelay must be true or false, got 1 (ERR_INVALID_OPTION)");
    check(() => validateTlsOptions({ sni: "yes" }, "tls://127.0.0.1:443"), "address tls://127.0.0.1:443: tls.sni must be true or false (ERR_INVALID_OPTION)");
    check(() => validateTlsOptions({ fingerprint: "xyz" }, "tls://127.0.0.1:443"),
      "address tls://127.0.0.1:443: tls.fingerprint \"xyz\" is not md5 (32), sha1 (40) or sha256 (64) hex digits (ERR_INVALID_OPTION)");
    // STARTTLS options are the upgrade's own: phase starttls, through the same helper.
    check(() => validateStartTlsOptions("smtp", { mode: "sometimes" }), "starttls: mode must be \"required\" or \"opportunistic\" (ERR_INVALID_OPTION)");
  });
});
