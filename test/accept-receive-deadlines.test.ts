/**
 * The `{ timeout, signal }` of accept(), receive() and receiveMany(), on real loopback sockets:
 * ETIMEDOUT with the call's phase, ERR_ABORTED, per-call timeouts over `readTimeout`, nothing
 * lost to a call that gave up, and iteration that ignores `readTimeout`. No wall-clock
 * assertions: "long enough" is always measured against another deadline's event.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, listen, type Datagram, type DatagramSocket } from "../src/index.js";
import { rejectsWith, until } from "./helpers.js";

/** Tracks a promise's state without awaiting it. */
function watch<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const promise = p.finally(() => { done = true; });
  promise.catch(() => {});
  return { settled: () => done, promise };
}

/** Sends `data` to `to` until `received()` says it arrived (loopback UDP may still drop). */
async function sendUntil(from: DatagramSocket, data: string, received: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !received(); i++) {
    await from.send(data);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(received(), `${data} never arrived`);
}

describe("Server.accept({ timeout, signal })", () => {
  test("a timeout rejects ETIMEDOUT (phase accept), and a later connection waits for the next accept", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const err = await rejectsWith(server.accept({ timeout: 20 }), "ETIMEDOUT", { phase: "accept" });
      assert.match(err.message, /no connection arrived within 20 ms/);
      assert.equal(err.address, server.url);
      const client = await connect(server.url);
      // The connection arrived after the call gave up: it is queued, not dropped.
      await until(() => server.dropped === 0, "no drop");
      const peer = await server.accept({ timeout: 5_000 });
      assert.equal(peer.remote.port, client.local.port);
      client.destroy();
      peer.destroy();
    } finally {
      await server.close();
    }
  });

  test("an abort rejects ERR_ABORTED (phase accept) with the signal's reason as cause; an aborted signal at once", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const controller = new AbortController();
      const waiting = server.accept({ signal: controller.signal });
      const reason = new Error("shutting down");
      controller.abort(reason);
      const err = await rejectsWith(waiting, "ERR_ABORTED", { phase: "accept" });
      assert.equal(err.cause, reason);
      await rejectsWith(server.accept({ signal: AbortSignal.abort() }), "ERR_ABORTED", { phase: "accept" });
      // The server is unharmed.
      const client = await connect(server.url);
      (await server.accept({ timeout: 5_000, signal: new AbortController().signal })).destroy();
      client.destroy();
    } finally {
      await server.close();
    }
  });

  test("bad call options are ERR_INVALID_OPTION (phase accept), even with a connection queued", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const client = await connect(server.url);
    try {
      await rejectsWith(server.accept({ timeout: -1 }), "ERR_INVALID_OPTION", { phase: "accept" });
      await rejectsWith(server.accept({ signal: "no" as never }), "ERR_INVALID_OPTION", { phase: "accept" });
      await rejectsWith(server.accept(null as never), "ERR_INVALID_OPTION", { phase: "accept" });
      (await server.accept()).destroy();
    } finally {
      client.destroy();
      await server.close();
    }
  });

  test("close() rejects a waiting accept that has a deadline with ERR_SOCKET_CLOSED, not ETIMEDOUT later", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const waiting = rejectsWith(server.accept({ timeout: 60_000, signal: new AbortController().signal }), "ERR_SOCKET_CLOSED", { phase: "accept" });
    await server.close();
    await waiting;
  });
});

describe("DatagramSocket.receive({ timeout, signal }) and receiveMany(max, { timeout, signal })", () => {
  test("a timeout rejects ETIMEDOUT (phase read); receiveMany too; a later datagram waits for the next call", async () => {
    const server = await listen("udp://127.0.0.1:0");
    const client = await connect(server.url);
    try {
      const err = await rejectsWith(server.receive({ timeout: 20 }), "ETIMEDOUT", { phase: "read" });
      assert.match(err.message, /no datagram arrived within 20 ms/);
      await rejectsWith(server.receiveMany(8, { timeout: 20 }), "ETIMEDOUT", { phase: "read" });
      await client.send("late");
      await until(() => server.dropped === 0, "no drop");
      assert.equal(String((await server.receive({ timeout: 5_000 })).data), "late");
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("an abort rejects ERR_ABORTED with the reason as cause, for receive and receiveMany", async () => {
    const server = await listen("udp://127.0.0.1:0");
    try {
      const controller = new AbortController();
      const one = server.receive({ signal: controller.signal });
      const many = server.receiveMany(4, { signal: controller.signal });
      controller.abort("enough");
      assert.equal((await rejectsWith(one, "ERR_ABORTED", { phase: "read" })).cause, "enough");
      await rejectsWith(many, "ERR_ABORTED", { phase: "read" });
      await rejectsWith(server.receive({ signal: AbortSignal.abort() }), "ERR_ABORTED", { phase: "read" });
      await rejectsWith(server.receive({ timeout: Number.NaN }), "ERR_INVALID_OPTION", { phase: "read" });
      await rejectsWith(server.receiveMany(1, { timeout: -5 }), "ERR_INVALID_OPTION", { phase: "read" });
    } finally {
      await server.close();
    }
  });

  test("a per-call timeout overrides readTimeout, both ways", async () => {
    const a = await listen("udp://127.0.0.1:0", { readTimeout: 20 });
    const b = await listen("udp://127.0.0.1:0", { readTimeout: 20 });
    const sender = await connect(a.url);
    try {
      // { timeout: 0 } waits forever: still pending after b's readTimeout of the same length,
      // started later, has expired.
      const forever = watch(a.receive({ timeout: 0 }));
      await rejectsWith(b.receive(), "ETIMEDOUT", { phase: "read" });
      await rejectsWith(b.receiveMany(), "ETIMEDOUT", { phase: "read" });
      assert.equal(forever.settled(), false, "receive({ timeout: 0 }) gave up at readTimeout");
      await sender.send("now");
      assert.equal(String((await forever.promise).data), "now");
      // A short call timeout beats a long (or no) readTimeout.
      a.readTimeout = 0;
      await rejectsWith(a.receive({ timeout: 20 }), "ETIMEDOUT", { phase: "read" });
      a.readTimeout = 60_000;
      await rejectsWith(a.receiveMany(2, { timeout: 20 }), "ETIMEDOUT", { phase: "read" });
    } finally {
      await sender.close();
      await a.close();
      await b.close();
    }
  });

  test("receives that time out while datagrams arrive lose none of them", { timeout: 30_000 }, async () => {
    const server = await listen("udp://127.0.0.1:0");
    const client = await connect(server.url);
    const total = 60;
    const got: string[] = [];
    let timeouts = 0;
    let sending = true;
    try {
      // Short receive deadlines expire over and over while the datagrams come in.
      const receiver = (async () => {
        while (sending || got.length < total) {
          try {
            got.push(String((await server.receive({ timeout: 1 })).data));
          } catch (err) {
            if ((err as { code?: string }).code !== "ETIMEDOUT") throw err;
            timeouts++;
            if (!sending && timeouts > 100_000) break;
          }
        }
      })();
      for (let i = 0; i < total; i++) {
        await client.send(String(i));
        if (i % 5 === 0) await new Promise((r) => setTimeout(r, 2));
      }
      sending = false;
      await until(() => got.length + server.dropped >= total, "every datagram received", 20_000);
      await receiver;
      assert.equal(server.dropped, 0);
      assert.deepEqual(got, Array.from({ length: total }, (_, i) => String(i)));
      assert.ok(timeouts > 0, "some receive timed out while datagrams arrived");
    } finally {
      sending = false;
      await client.close();
      await server.close();
    }
  });
});

describe("iteration ignores readTimeout", () => {
  test("for await over a socket with readTimeout 20 stays in the loop while idle, yields what arrives, ends at close", { timeout: 30_000 }, async () => {
    const server = await listen("udp://127.0.0.1:0", { readTimeout: 20 });
    const clock = await listen("udp://127.0.0.1:0", { readTimeout: 20 });
    const client = await connect(server.url);
    const seen: string[] = [];
    let ended: unknown = null;
    const loop = (async () => {
      for await (const { data } of server) seen.push(String(data));
      return "ended";
    })().catch((err: unknown) => { ended = err; return "threw"; });
    try {
      // Idle for five readTimeouts, each measured by another socket's receive expiring.
      for (let i = 0; i < 5; i++) await rejectsWith(clock.receive(), "ETIMEDOUT");
      assert.equal(ended, null, `the loop threw while idle: ${String(ended)}`);
      assert.deepEqual(seen, []);
      await sendUntil(client, "hello", () => seen.length > 0);
      assert.equal(seen[0], "hello");
      // receive() calls still obey readTimeout.
      await rejectsWith(server.receive(), "ETIMEDOUT", { phase: "read" });
      await server.close();
      assert.equal(await loop, "ended");
    } finally {
      await client.close();
      await clock.close();
      await server.close();
    }
  });

  test("batches() over a socket with readTimeout also waits while idle and ends at close", { timeout: 30_000 }, async () => {
    const server = await listen("udp://127.0.0.1:0", { readTimeout: 20 });
    const clock = await listen("udp://127.0.0.1:0", { readTimeout: 20 });
    const client = await connect(server.url);
    const seen: Datagram[] = [];
    const loop = (async () => {
      for await (const burst of server.batches()) seen.push(...burst);
      return "ended";
    })().catch((err: unknown) => String(err));
    try {
      for (let i = 0; i < 5; i++) await rejectsWith(clock.receive(), "ETIMEDOUT");
      await sendUntil(client, "burst", () => seen.length > 0);
      assert.equal(String(seen[0]!.data), "burst");
      await server.close();
      assert.equal(await loop, "ended");
    } finally {
      await client.close();
      await clock.close();
      await server.close();
    }
  });
});
