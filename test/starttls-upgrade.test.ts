/**
 * socket.startTls(): in-place upgrades on both sides, on tcp and unix, and the refusals
 * that make STARTTLS safe by construction.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { connect, listen, type Socket } from "../src/index.js";
import { makePki } from "./fixtures/pki.js";
import { rejectsWith, sleep, tempDir } from "./helpers.js";

const pki = await makePki();
const serverTls = { server: true, cert: pki.valid.chain, key: pki.valid.key } as const;

async function plainPair(url: string): Promise<{ client: Socket; peer: Socket; done: () => Promise<void> }> {
  const server = await listen(url);
  const [client, peer] = await Promise.all([connect(server.url), server.accept()]);
  return {
    client,
    peer,
    done: async () => {
      client.destroy();
      peer.destroy();
      await server.close();
    },
  };
}

for (const kind of ["tcp", "unix"] as const) {
  describe(`startTls over ${kind}`, () => {
    test("both ends upgrade in place and keep the same Socket objects", async () => {
      const tmp = tempDir();
      const url = kind === "tcp" ? "tcp://127.0.0.1:0" : `unix://${join(tmp.dir, "s.sock")}`;
      const { client, peer, done } = await plainPair(url);
      try {
        await peer.write("220 ready\r\n");
        assert.equal(await client.readLine(), "220 ready");
        await client.write("STARTTLS\r\n");
        assert.equal(await peer.readLine(), "STARTTLS");
        await peer.write("220 go ahead\r\n");
        assert.equal(await client.readLine(), "220 go ahead");
        assert.equal(client.encrypted, false);
        assert.equal(client.tls === null, true);
        await Promise.all([
          client.startTls({ ca: pki.caBundle, peerName: "localhost" }),
          peer.startTls(serverTls),
        ]);
        assert.equal(client.encrypted, true);
        assert.equal(peer.encrypted, true);
        assert.equal(client.tls?.protocol, "TLSv1.3");
        assert.equal(client.tls?.authorized, true);
        assert.ok(client.stream instanceof TLSSocket);
        await client.write("EHLO secret\r\n");
        assert.equal(await peer.readLine(), "EHLO secret");
        await peer.write("250 ok\r\n");
        assert.equal(await client.readLine(), "250 ok");
      } finally {
        await done();
        tmp.cleanup();
      }
    });
  });
}

describe("startTls refusals", () => {
  test("a peer that pipelines bytes after its go-ahead is refused with ERR_STARTTLS_PENDING_DATA (client side)", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      // The CVE-2011-0411 shape: go-ahead and an injected reply in one segment.
      await peer.write("220 go ahead\r\n250 injected\r\n");
      assert.equal(await client.readLine(), "220 go ahead");
      await sleep(20);
      await rejectsWith(client.startTls({ ca: pki.caBundle }), "ERR_STARTTLS_PENDING_DATA", { phase: "starttls", message: /CVE-2011-0411/ });
      assert.equal(client.encrypted, false);
    } finally {
      await done();
    }
  });

  test("a client that pipelines a command after STARTTLS is refused on the server side", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      await client.write("STARTTLS\r\nRSET\r\n");
      assert.equal(await peer.readLine(), "STARTTLS");
      await sleep(20);
      await rejectsWith(peer.startTls(serverTls), "ERR_STARTTLS_PENDING_DATA");
    } finally {
      await done();
    }
  });

  test("a second startTls, or one on a tls:// socket, is ERR_TLS_ALREADY_ACTIVE", async () => {
    const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
    const loop = (async () => {
      for await (const s of server) s.readAll().catch(() => {});
    })();
    try {
      const socket = await connect(server.url, { tls: { ca: pki.caBundle } });
      await rejectsWith(socket.startTls(), "ERR_TLS_ALREADY_ACTIVE", { phase: "starttls" });
      socket.destroy();
    } finally {
      await server.close();
      await loop;
    }
  });

  test("a failed upgrade destroys the socket: no plaintext fallback", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      const upgrading = rejectsWith(client.startTls({ ca: pki.caBundle }), "ERR_TLS_HANDSHAKE");
      // The peer answers the ClientHello with plaintext instead of a handshake.
      await peer.read();
      await peer.write("500 no TLS here\r\n");
      await upgrading;
      await rejectsWith(client.write("MAIL FROM:<a@b>\r\n"), "ERR_TLS_HANDSHAKE");
      assert.equal(client.encrypted, false);
      await rejectsWith(client.readLine(), "ERR_TLS_HANDSHAKE");
    } finally {
      await done();
    }
  });

  test("an upgrade whose certificate fails verification is ERR_TLS_CERT and the socket is gone", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      const serverSide = peer.startTls({ server: true, cert: pki.expired.chain, key: pki.expired.key }).catch((e: Error) => e);
      await rejectsWith(client.startTls({ ca: pki.caBundle, peerName: "localhost" }), "ERR_TLS_CERT", { reason: "CERT_HAS_EXPIRED" });
      await serverSide;
      await rejectsWith(client.readLine(), "ERR_TLS_CERT");
    } finally {
      await done();
    }
  });

  test("a handshake that stalls fails with ETIMEDOUT (phase tls) after handshakeTimeout", async () => {
    const { client, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      const started = Date.now();
      await rejectsWith(client.startTls({ ca: pki.caBundle, handshakeTimeout: 200 }), "ETIMEDOUT", { phase: "tls" });
      assert.ok(Date.now() - started < 5000, "the handshake deadline fired");
    } finally {
      await done();
    }
  });

  test("server-side startTls without a certificate is ERR_INVALID_OPTION and leaves the socket usable", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      await rejectsWith(peer.startTls({ server: true }), "ERR_INVALID_OPTION", { message: /cert/ });
      await rejectsWith(peer.startTls({ bogus: 1 } as never), "ERR_INVALID_OPTION");
      await client.write("still plain\n");
      assert.equal(await peer.readLine(), "still plain");
    } finally {
      await done();
    }
  });

  test("bytes the peer sends before its go-ahead are readable; only unread ones block the upgrade", async () => {
    const raw = net.createServer(async (s) => {
      s.write("220-first\r\n220 ready\r\n");
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const port = (raw.address() as net.AddressInfo).port;
      const client = await connect(`tcp://127.0.0.1:${port}`);
      assert.equal(await client.readLine(), "220-first");
      await sleep(20);
      await rejectsWith(client.startTls({ ca: pki.caBundle }), "ERR_STARTTLS_PENDING_DATA");
      assert.equal(await client.readLine(), "220 ready");
      client.destroy();
    } finally {
      raw.close();
    }
  });
});

describe("startTls on the server side with the ClientHello already buffered", () => {
  test("a client that sends its ClientHello right behind its request (MySQL style) is served", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      // The client speaks first: its request and, at once, its TLS handshake.
      await client.write("SSL REQUEST\n");
      const clientSide = client.startTls({ ca: pki.caBundle, peerName: "localhost" });
      assert.equal(await peer.readLine(), "SSL REQUEST");
      await sleep(50);
      await Promise.all([peer.startTls(serverTls), clientSide]);
      await client.write("over tls\n");
      assert.equal(await peer.readLine(), "over tls");
    } finally {
      await done();
    }
  });

  test("buffered plaintext that is not a TLS record is still refused on the server side", async () => {
    const { client, peer, done } = await plainPair("tcp://127.0.0.1:0");
    try {
      await client.write("STARTTLS\r\n\x16\x01injected\r\n");
      assert.equal(await peer.readLine(), "STARTTLS");
      await sleep(20);
      await rejectsWith(peer.startTls(serverTls), "ERR_STARTTLS_PENDING_DATA");
    } finally {
      await done();
    }
  });
});
