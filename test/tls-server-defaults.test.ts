/**
 * The TLS server's defaults, stricter than Node's: forward secrecy only (ECDHE), AEAD only for
 * TLS 1.2 (no CBC, no CCM8), TLS 1.3 without CCM8, no client-initiated renegotiation; `tls.ciphers`
 * replaces the TLS 1.2 list for old clients. Each case is checked from a plain node:tls client that
 * offers exactly the suite under test, against `listen("tls://…")` and server-side `startTls`.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import tls from "node:tls";
import { connect, listen, SocketError, type ListenOptions, type Server, type Socket, type TlsOptions } from "../src/index.js";
import { serveEach } from "./cli-helpers.js";
import { makePki, type Issued, type Pki } from "./fixtures/pki.js";

let pki: Pki;
before(async () => {
  pki = await makePki();
});

const portOf = (s: Server) => ("port" in s.address ? s.address.port : 0);

/** Echoes until the client ends: the connection stays open as long as the client wants it. */
async function echo(s: Socket): Promise<void> {
  for await (const chunk of s) await s.write(chunk);
  await s.close();
}

/** An implicit-TLS echo server. */
async function tlsServer(leaf: Issued, extra: TlsOptions = {}): Promise<Server> {
  const options: ListenOptions = { tls: { cert: leaf.chain, key: leaf.key, ...extra } };
  return serveEach("tls://127.0.0.1:0", echo, options);
}

/** A plaintext server that upgrades each connection at once with startTls({ server: true }), then echoes. */
async function startTlsServer(leaf: Issued, extra: TlsOptions = {}): Promise<Server> {
  return serveEach("tcp://127.0.0.1:0", async (s) => {
    await s.startTls({ server: true, cert: leaf.chain, key: leaf.key, ...extra });
    await echo(s);
  });
}

/** A node:tls client: resolves with the negotiated protocol and cipher, rejects on a failed handshake. */
function handshake(server: Server, o: tls.ConnectionOptions): Promise<{ protocol: string | null; cipher: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: portOf(server), rejectUnauthorized: false, ...o });
    socket.once("secureConnect", () => resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name, socket }));
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("closed before the handshake")));
  });
}

/** Asserts the handshake fails, and that the server still accepts a default client afterwards. */
async function refused(server: Server, o: tls.ConnectionOptions, what: string): Promise<void> {
  await assert.rejects(handshake(server, o), Error, `${what} must not complete a handshake`);
  const ok = await handshake(server, {});
  ok.socket.destroy();
}

const OLD_CLIENT = { maxVersion: "TLSv1.2", ciphers: "AES128-SHA:@SECLEVEL=0" } as const;

for (const [name, make] of [["listen(tls://)", tlsServer], ["startTls({ server: true })", startTlsServer]] as const) {
  test(`${name}: TLS 1.3 by default, and TLS 1.2 with an ECDHE AEAD suite`, { timeout: 20_000 }, async () => {
    const server = await make(pki.rsa2048);
    try {
      const v13 = await handshake(server, {});
      v13.socket.destroy();
      assert.equal(v13.protocol, "TLSv1.3");
      assert.match(v13.cipher, /^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
      const v12 = await handshake(server, { maxVersion: "TLSv1.2" });
      v12.socket.destroy();
      assert.equal(v12.protocol, "TLSv1.2");
      assert.match(v12.cipher, /^ECDHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    } finally {
      await server.close();
    }
  });

  test(`${name}: static RSA, CBC and CCM8 suites are refused by default`, { timeout: 20_000 }, async () => {
    const rsa = await make(pki.rsa2048);
    const ec = await make(pki.valid);
    try {
      await refused(rsa, OLD_CLIENT, "static RSA + CBC (AES128-SHA)");
      await refused(rsa, { maxVersion: "TLSv1.2", ciphers: "AES128-GCM-SHA256" }, "static RSA + GCM");
      await refused(rsa, { maxVersion: "TLSv1.2", ciphers: "ECDHE-RSA-AES128-SHA" }, "ECDHE + CBC");
      await refused(rsa, { maxVersion: "TLSv1.2", ciphers: "ECDHE-RSA-AES256-SHA384" }, "ECDHE + CBC-SHA384");
      await refused(ec, { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-CCM8" }, "ECDHE + CCM8");
      await refused(ec, { ciphers: "TLS_AES_128_CCM_8_SHA256" }, "TLS 1.3 CCM8");
    } finally {
      await rsa.close();
      await ec.close();
    }
  });

  test(`${name}: tls.ciphers replaces the default list (node:tls DEFAULT_CIPHERS lets an old client in)`, { timeout: 20_000 }, async () => {
    const server = await make(pki.rsa2048, { ciphers: tls.DEFAULT_CIPHERS });
    try {
      // The same clients the default server refuses: the refusals above are the server's doing.
      for (const cipher of ["AES128-SHA", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA"]) {
        const old = await handshake(server, { ...OLD_CLIENT, ciphers: `${cipher}:@SECLEVEL=0` });
        old.socket.destroy();
        assert.equal(old.cipher, cipher);
      }
    } finally {
      await server.close();
    }
  });

  test(`${name}: a client's renegotiation is refused`, { timeout: 20_000 }, async (t) => {
    const server = await make(pki.rsa2048);
    try {
      const { socket } = await handshake(server, { maxVersion: "TLSv1.2" });
      try {
        // The connection works before the attempt (the echo answers).
        socket.write("before\n");
        const [first] = await once(socket, "data") as [Buffer];
        assert.equal(first.toString(), "before\n");
        const outcome = await new Promise<Error | null>((resolve) => {
          // A refusal comes through the callback or as an 'error' event; a success only through
          // the callback with no error. A close without either is a refusal too.
          socket.once("error", (err) => resolve(err));
          socket.once("close", () => resolve(new Error("closed during renegotiation")));
          const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null));
          if (!started) resolve(new Error("renegotiate() returned false"));
        });
        assert.ok(outcome instanceof Error, "the server must refuse to renegotiate");
        t.diagnostic(`renegotiation refused: ${outcome.message}`);
        assert.match(outcome.message, /no renegotiation/i);
      } finally {
        socket.destroy();
      }
    } finally {
      await server.close();
    }
  });
}

test("sniCertificates get the same strict suites as the default certificate", { timeout: 20_000 }, async () => {
  // Same key type as the default certificate: Node adds an SNI certificate to the default one
  // rather than replacing it, so a different key type would muddle which one serves.
  const server = await tlsServer(pki.valid, { sniCertificates: { "other.example": { cert: pki.wrongHost.chain, key: pki.wrongHost.key } } });
  try {
    const ok = await handshake(server, { servername: "other.example", maxVersion: "TLSv1.2" });
    const subject = ok.socket.getPeerCertificate().subject.CN;
    ok.socket.destroy();
    assert.equal(subject, "other.example");
    assert.match(ok.cipher, /^ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20)/);
    await refused(server, { servername: "other.example", maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA" }, "ECDHE + CBC through SNI");
  } finally {
    await server.close();
  }
});

test("a TLS 1.0/1.1 server without tls.ciphers is refused before I/O (no AEAD suite exists there)", async () => {
  for (const url of ["tlsv1.0://127.0.0.1:0", "tlsv1.1://127.0.0.1:0"]) {
    await assert.rejects(listen(url, { tls: { cert: pki.rsa2048.chain, key: pki.rsa2048.key, securityLevel: 0 } }), (err: unknown) => {
      assert.ok(err instanceof SocketError);
      assert.equal(err.code, "ERR_INVALID_OPTION");
      assert.match(err.message, /needs tls\.ciphers/);
      return true;
    });
  }
});

test("tls.cipherSuites narrows the TLS 1.3 suites of a client and of a server", { timeout: 20_000 }, async () => {
  const server = await tlsServer(pki.valid);
  const restricted = await tlsServer(pki.valid, { cipherSuites: "TLS_AES_128_GCM_SHA256" });
  try {
    for (const suite of ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]) {
      const s = await connect(`tls://localhost:${portOf(server)}`, { tls: { ca: pki.caBundle, cipherSuites: suite } });
      assert.equal(s.tls?.cipher, suite);
      await s.close();
    }
    const plain = await handshake(restricted, {});
    plain.socket.destroy();
    assert.equal(plain.cipher, "TLS_AES_128_GCM_SHA256");
    await assert.rejects(
      connect(`tls://localhost:${portOf(restricted)}`, { tls: { ca: pki.caBundle, cipherSuites: "TLS_CHACHA20_POLY1305_SHA256" } }),
      (err: unknown) => err instanceof SocketError && err.code === "ERR_TLS_HANDSHAKE",
    );
  } finally {
    await Promise.all([server.close(), restricted.close()]);
  }
});
