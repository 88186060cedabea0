/**
 * Every Socket call that waits takes a last `{ timeout, signal }`: a timeout rejects ETIMEDOUT
 * with the call's phase, an abort ERR_ABORTED, a call's timeout overrides the socket's default,
 * and a read that times out consumes nothing. Writes, flush and close have deadlines too.
 * Real loopback peers; deadlines are short, and every wait is bounded by events, not by time.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import { connect, SocketError, type Socket } from "../src/index.js";
import { rawServer, rejectsWith, sleep, until } from "./helpers.js";

/** A peer that stays silent and keeps its sockets, so the test decides what it sends. */
async function silentPeer() {
  const peers: net.Socket[] = [];
  const server = await rawServer((s) => {
    s.pause(); // never reads: what the client writes piles up
    peers.push(s);
  });
  return { server, peers };
}

describe("read deadlines", () => {
  it("a read's own timeout rejects ETIMEDOUT (phase read) and the bytes that did arrive stay readable", { timeout: 20_000 }, async () => {
    const { server, peers } = await silentPeer();
    const socket = await connect(server.url);
    try {
      await until(() => peers.length === 1, "the peer accepted");
      peers[0]!.write("abc");
      await rejectsWith(socket.readLine({ timeout: 30 }), "ETIMEDOUT", { phase: "read", message: /no data arrived within 30 ms/ });
      await rejectsWith(socket.readExactly(10, { timeout: 30 }), "ETIMEDOUT", { phase: "read" });
      await rejectsWith(socket.readUntil("\0", { timeout: 30 }), "ETIMEDOUT", { phase: "read" });
      await rejectsWith(socket.readAll({ timeout: 30 }), "ETIMEDOUT", { phase: "read" });
      peers[0]!.write("def\n0123456789");
      assert.equal(await socket.readLine(), "abcdef", "nothing was lost to the timed-out reads");
      assert.equal((await socket.readExactly(10))!.toString(), "0123456789");
      assert.ok(!socket.closed, "the socket stays usable after a read timeout");
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  it("a call's timeout overrides the socket's readTimeout, either way", { timeout: 20_000 }, async () => {
    const { server, peers } = await silentPeer();
    const socket = await connect(server.url, { readTimeout: 20 });
    try {
      await until(() => peers.length === 1, "the peer accepted");
      assert.equal(socket.readTimeout, 20);
      // The default alone: fires.
      await rejectsWith(socket.read(), "ETIMEDOUT", { phase: "read", message: /within 20 ms/ });
      // timeout 0: waits past the default (timers fire in order, so the 20 ms one would have
      // fired long before this 200 ms sleep ends).
      const waiting = socket.read(undefined, { timeout: 0 });
      await sleep(200);
      peers[0]!.write("late");
      assert.equal((await waiting)!.toString(), "late");
      // A longer timeout of its own also wins over the default.
      const longer = socket.readLine({ timeout: 60_000 });
      await sleep(200);
      peers[0]!.write("line\n");
      assert.equal(await longer, "line");
      socket.readTimeout = 0;
      await rejectsWith(socket.readLine({ timeout: 25 }), "ETIMEDOUT", { phase: "read", message: /within 25 ms/ });
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  it("a signal aborts a waiting read with ERR_ABORTED and its reason as cause; an aborted one reads nothing", { timeout: 20_000 }, async () => {
    const { server, peers } = await silentPeer();
    const socket = await connect(server.url);
    try {
      await until(() => peers.length === 1, "the peer accepted");
      const controller = new AbortController();
      const reading = socket.readLine({ signal: controller.signal });
      controller.abort(new Error("user gave up"));
      const err = await rejectsWith(reading, "ERR_ABORTED", { phase: "read" });
      assert.equal((err.cause as Error).message, "user gave up");
      peers[0]!.write("kept\n");
      await until(() => socket.hasBufferedInput, "the line arrived");
      await rejectsWith(socket.readLine({ signal: AbortSignal.abort() }), "ERR_ABORTED", { phase: "read" });
      assert.equal(await socket.readLine({ signal: new AbortController().signal }), "kept");
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  it("bad call options are ERR_INVALID_OPTION naming the target, before anything is read", { timeout: 20_000 }, async () => {
    const { server, peers } = await silentPeer();
    const socket = await connect(server.url);
    try {
      await until(() => peers.length === 1, "the peer accepted");
      peers[0]!.write("x\n");
      await until(() => socket.hasBufferedInput, "the line arrived");
      const err = await rejectsWith(socket.readLine({ timeout: -1 }), "ERR_INVALID_OPTION", { phase: "read" });
      assert.match(err.message, new RegExp(`^read ${server.url}: timeout must be`));
      await rejectsWith(socket.read(1, { signal: "soon" as unknown as AbortSignal }), "ERR_INVALID_OPTION");
      await rejectsWith(socket.write("x", { timeout: Number.NaN }), "ERR_INVALID_OPTION", { phase: "write" });
      assert.equal(await socket.readLine(), "x");
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});

describe("write deadlines", () => {
  /** Writes until Node's buffer is past its high-water mark and the kernel's buffers are full. */
  async function fillUntilStuck(socket: Socket, options: { timeout?: number } = {}): Promise<SocketError> {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 1024; i++) {
      try {
        await socket.write(chunk, options);
      } catch (err) {
        assert.ok(err instanceof SocketError, String(err));
        return err;
      }
    }
    assert.fail("1 GiB was taken by a peer that never reads");
  }

  it("write() to a peer that never reads rejects ETIMEDOUT (phase write) under a call's timeout", { timeout: 30_000 }, async () => {
    const { server } = await silentPeer();
    const socket = await connect(server.url);
    try {
      const err = await fillUntilStuck(socket, { timeout: 50 });
      assert.equal(err.code, "ETIMEDOUT");
      assert.equal(err.phase, "write");
      assert.match(err.message, /the peer did not take the data within 50 ms/);
      await rejectsWith(socket.flush({ timeout: 30 }), "ETIMEDOUT", { phase: "write" });
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  it("writeTimeout from connect() bounds writes, and close() then releases the socket and says the bytes were dropped", { timeout: 30_000 }, async () => {
    const { server, peers } = await silentPeer();
    const socket = await connect(server.url, { writeTimeout: 50 });
    try {
      assert.equal(socket.writeTimeout, 50);
      const err = await fillUntilStuck(socket);
      assert.equal(err.code, "ETIMEDOUT");
      // close() settles only once the stream has closed: the descriptor is released.
      await rejectsWith(socket.close(), "ETIMEDOUT", { phase: "write", message: /before close/ });
      assert.ok(socket.closed);
      assert.equal(peers.length, 1);
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  it("close({ timeout }) and close({ signal }) let go of a peer that never reads", { timeout: 30_000 }, async () => {
    const { server } = await silentPeer();
    const a = await connect(server.url);
    const b = await connect(server.url);
    try {
      for (const s of [a, b]) {
        await fillUntilStuck(s, { timeout: 50 });
      }
      await rejectsWith(a.close({ timeout: 30 }), "ETIMEDOUT", { phase: "write" });
      const controller = new AbortController();
      const closing = b.close({ signal: controller.signal });
      controller.abort();
      await rejectsWith(closing, "ERR_ABORTED", { phase: "write" });
      // Closed both: a second close() is harmless and resolves.
      await a.close();
      await b.close();
    } finally {
      a.destroy();
      b.destroy();
      await server.close();
    }
  });

  it("a write whose signal is already aborted writes nothing", { timeout: 20_000 }, async () => {
    const received: Buffer[] = [];
    const server = await rawServer((s) => s.on("data", (d: Buffer) => received.push(d)));
    const socket = await connect(server.url);
    try {
      await rejectsWith(socket.write("never", { signal: AbortSignal.abort() }), "ERR_ABORTED", { phase: "write" });
      await socket.write("sent\n");
      await until(() => Buffer.concat(received).toString() === "sent\n", "the second write arrived alone");
    } finally {
      await socket.close();
      await server.close();
    }
  });
});

describe("startTls deadlines", () => {
  it("a handshake the peer never answers rejects ETIMEDOUT (phase tls) within the call's timeout and destroys the socket", { timeout: 20_000 }, async () => {
    const { server } = await silentPeer();
    const socket = await connect(server.url);
    try {
      await rejectsWith(socket.startTls({ timeout: 50 }), "ETIMEDOUT", { phase: "tls", message: /TLS handshake did not finish within 50 ms/ });
      assert.ok(socket.closed, "no plaintext use after a failed upgrade");
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  it("an aborted signal ends the handshake with ERR_ABORTED", { timeout: 20_000 }, async () => {
    const { server } = await silentPeer();
    const socket = await connect(server.url);
    try {
      const controller = new AbortController();
      const upgrading = socket.startTls({ signal: controller.signal });
      controller.abort();
      await rejectsWith(upgrading, "ERR_ABORTED", { phase: "tls" });
      assert.ok(socket.closed);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});
