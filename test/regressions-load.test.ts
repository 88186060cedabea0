/**
 * Regressions found by the load scenarios (test/stress/load*.test.ts, RELIABILITY.md "Load"):
 * each one small, deterministic and quick, in the normal suite.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readFileSync } from "node:fs";
import { connect, listen, SocketError } from "../src/index.js";
import { makePki } from "./fixtures/pki.js";
import { sleep } from "./helpers.js";

const pki = await makePki();

/** TCP states (from /proc/net/tcp) of the connections whose local port is `port`, listeners excluded. */
function tcpStates(port: number): string[] {
  const names: Record<number, string> = { 1: "ESTABLISHED", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 11: "CLOSING" };
  const out: string[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").trim().split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const state = parseInt(f[3]!, 16);
    if (parseInt(f[1]!.split(":")[1]!, 16) === port && state !== 10) out.push(names[state] ?? String(state));
  }
  return out;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

describe("load regressions", () => {
  // From load.test.ts (10,000 mixed connections): server-side TLS sockets must not stay in
  // CLOSE_WAIT. A tls:// server is created with allowHalfOpen, so a client's FIN before the
  // handshake finished must itself end the connection, not wait for handshakeTimeout.
  // Every client that refuses the server's certificate (ERR_TLS_CERT) closes exactly there.
  it("a tls:// server drops a client that closes during the handshake at once, not after handshakeTimeout", async () => {
    // handshakeTimeout far beyond the bound below, so that only a drop "at once" can meet it,
    // with room for a busy machine.
    const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key, handshakeTimeout: 60_000 } });
    const port = "port" in server.address ? server.address.port : 0;
    // Whatever does get through the handshake is read to its end and closed.
    const serving = (async () => {
      for await (const s of server) {
        void (async () => {
          try {
            while ((await s.read()) !== null);
          } catch {
            // a reset: closing is all that matters
          } finally {
            await s.close();
          }
        })();
      }
    })();
    try {
      // A client that opens and half-closes without a ClientHello.
      const raw = net.connect(port, "127.0.0.1");
      raw.on("error", () => {});
      await new Promise<void>((resolve) => raw.once("connect", resolve));
      raw.end();
      // A client that refuses the certificate: sockurl checks it after the TLS handshake and closes.
      const refused = await connect(server.url, { tls: { ca: pki.otherRoot.cert }, timeout: 5_000 }).then(
        (s) => { s.destroy(); return null; },
        (err: unknown) => err,
      );
      assert.ok(refused instanceof SocketError && refused.code === "ERR_TLS_CERT", String(refused));
      const dropped = await until(() => server.handshakeFailures >= 1 && !tcpStates(port).includes("CLOSE_WAIT"), 15_000);
      assert.ok(dropped, `15 s after both clients closed (handshakeTimeout 60 s): handshakeFailures ${server.handshakeFailures} (want at least 1), ` +
        `server-side connections ${JSON.stringify(tcpStates(port))} (want none in CLOSE_WAIT)`);
      raw.destroy();
    } finally {
      await server.close();
      await serving;
    }
  });

  it("a tls:// server still supports half-close after the handshake (closeWrite, then a reply)", async () => {
    const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
    try {
      const [client, peer] = await Promise.all([connect(server.url, { tls: { ca: pki.caBundle }, timeout: 5_000 }), server.accept({ timeout: 5_000 })]);
      try {
        await client.write("request\n");
        await client.closeWrite();
        assert.equal(await peer.readLine(), "request");
        assert.equal(await peer.readLine(), null);
        await sleep(50);
        await peer.write("reply after your FIN\n");
        await peer.close();
        assert.equal(String(await client.readAll()), "reply after your FIN\n");
      } finally {
        client.destroy();
        peer.destroy();
      }
    } finally {
      await server.close();
    }
  });
});
