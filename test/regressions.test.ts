/**
 * Regressions found by the reliability suites (`npm run test:stress`): one test per
 * failure they found, each on real loopback sockets and bounded in time.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { connect, listen, negotiateStartTls, SocketError, type Lookup } from "../src/index.js";
import { makePki } from "./fixtures/pki.js";
import { rawServer, rejectsWith, sleep } from "./helpers.js";

const pki = await makePki();
const ca = pki.caBundle;


describe("regressions found by the reliability suites", () => {
  // faults.test.ts, "resets in the middle of the dialogue": a reset during the plaintext half of
  // STARTTLS came out with phase "read", although connect() and negotiateStartTls() report every
  // other failure of that step (ETIMEDOUT, ERR_PROTOCOL, ERR_LINE_TOO_LONG) with phase "starttls".
  test("STARTTLS: a peer reset in the middle of the dialogue is ECONNRESET with phase starttls, not read", { timeout: 10_000 }, async () => {
    const peer = await rawServer((s) => {
      s.write("220 mx.example ESMTP\r\n");
      s.once("data", () => {
        s.write("250-mx.example\r\n");
        setTimeout(() => s.resetAndDestroy(), 20);
      });
    });
    try {
      await rejectsWith(connect(`tcp://127.0.0.1:${peer.port}`, { timeout: 3000, startTls: "smtp", tls: { ca } }), "ECONNRESET", { phase: "starttls" });
      const socket = await connect(`tcp://127.0.0.1:${peer.port}`, { timeout: 3000 });
      await rejectsWith(negotiateStartTls(socket, "smtp", { timeout: 3000, tls: { ca } }), "ECONNRESET", { phase: "starttls" });
    } finally {
      await peer.close();
    }
  });

  // faults.test.ts, "resolver failures": a custom lookup that throws an Error without a `code`
  // was reported as ERR_SOCKET_CLOSED ("the socket is closed"), toSocketError's fallback code.
  test("connect: a lookup that throws an Error without a code is a resolve failure (EAI_FAIL or ENOTFOUND), not ERR_SOCKET_CLOSED", { timeout: 10_000 }, async () => {
    const lookup: Lookup = async () => {
      throw new Error("resolver backend unavailable");
    };
    for (const failing of [lookup, (() => Promise.reject("SERVFAIL")) as Lookup]) {
      const err = await connect("tcp://db.invalid:5432", { lookup: failing, timeout: 2000 }).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
      assert.ok(err.code === "EAI_FAIL" || err.code === "ENOTFOUND", `expected a resolver code, got ${err.code}: ${err.message}`);
      assert.equal(err.phase, "resolve");
      assert.match(err.message, /db\.invalid/);
    }
  });

  // faults.test.ts, "listener closed mid-accept": a TLS connection accepted before close() whose
  // handshake finished after it was put in the accept queue of the closed server, where nobody
  // would ever take it: the client saw a successful handshake and then silence (until its own
  // deadline), and the server-side descriptor stayed open as long as the client did.
  test("tls listen: a handshake that finishes after server.close() gets its connection closed, not queued", { timeout: 30_000 }, async () => {
    const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
    const port = (server.address as { port: number }).port;
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(s));
      s.once("error", reject);
    });
    await sleep(50); // the listener has accepted the TCP connection
    await server.close();
    const client = tls.connect({ socket: raw, ca, servername: "localhost" });
    const outcome = await new Promise<string>((resolve) => {
      let handshook = false;
      // A close comes at once; silence is given 8 s, room for a busy machine.
      const timer = setTimeout(() => resolve(handshook ? "handshake finished, then silence" : "no answer"), 8000);
      client.on("secureConnect", () => { handshook = true; });
      const end = (how: string) => () => {
        clearTimeout(timer);
        resolve(how);
      };
      client.once("error", end("error"));
      client.once("end", end("closed"));
      client.once("close", end("closed"));
    });
    client.destroy();
    assert.ok(outcome === "closed" || outcome === "error", outcome);
  });

  // faults.test.ts, "reset mid-read": once a read had been rejected with ECONNRESET, `closed`
  // stayed false until the handle's close callback ran a loop turn later, while every read and
  // write was already refused.
  test("socket.closed is true as soon as a reset has been reported", { timeout: 10_000 }, async () => {
    const peer = await rawServer((s) => {
      s.write("partial");
      setTimeout(() => s.resetAndDestroy(), 30);
    });
    try {
      const socket = await connect(`tcp://127.0.0.1:${peer.port}`, { timeout: 2000 });
      await rejectsWith(socket.readLine(), "ECONNRESET", { phase: "read" });
      assert.equal(socket.closed, true);
      socket.destroy();
    } finally {
      await peer.close();
    }
  });
});
