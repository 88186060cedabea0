/**
 * DatagramSocket on real loopback sockets: udp:// over 127.0.0.1 and ::1, udg:// (unix
 * datagrams) under a fresh temporary directory. Every port is 0, every wait is bounded,
 * every socket is closed in afterEach.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  connect, listen, SocketError,
  type Datagram, type DatagramSocket, type DatagramTarget, type ErrorCode, type Phase,
} from "../src/index.js";
import { closedPort, until } from "./helpers.js";

// ---------------------------------------------------------------- helpers

const TEST_TIMEOUT = 30_000;

/** Settles like `p`, or rejects when `ms` pass first, so no await can hang a test. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Awaits `p` (bounded) and checks that it rejects with a SocketError of `code` (and `phase`). */
async function rejectsWith(
  p: Promise<unknown>,
  code: ErrorCode | readonly ErrorCode[],
  phase?: Phase,
  ms = 3_000,
): Promise<SocketError> {
  let err: unknown;
  try {
    const value = await within(p, ms, `expected ${String(code)}`);
    assert.fail(`expected a rejection with ${String(code)}, got a value: ${String(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
  const codes: readonly ErrorCode[] = typeof code === "string" ? [code] : code;
  assert.ok(codes.includes(err.code), `expected code ${codes.join(" or ")}, got ${err.code}: ${err.message}`);
  if (phase !== undefined) assert.equal(err.phase, phase, `phase of ${err.message}`);
  return err;
}

const receive = (s: DatagramSocket, ms = 3_000): Promise<Datagram> => within(s.receive(), ms, `receive on ${s.url}`);

/** Sockets opened by the current test, closed after it whatever happened. */
const opened: DatagramSocket[] = [];
function track<T extends DatagramSocket>(s: T): T {
  opened.push(s);
  return s;
}
const udp = async (target: string, options?: Parameters<typeof listen>[1]) =>
  track(await listen(target as DatagramTarget, options));
const dial = async (target: string, options?: Parameters<typeof connect>[1]) =>
  track(await connect(target as DatagramTarget, options));

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => {});
});

function portOf(url: string): number {
  const m = /:(\d+)$/.exec(url);
  assert.ok(m, `no port in ${url}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------- udp

describe("udp:// listen and connect", () => {
  it("listen on udp://127.0.0.1:0 gives a url and local endpoint with the real port", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    assert.match(server.url, /^udp:\/\/127\.0\.0\.1:\d+$/);
    const port = portOf(server.url);
    assert.ok(port > 0 && port < 65536);
    assert.equal(server.transport, "udp");
    assert.deepEqual(server.local, { host: "127.0.0.1", port, family: "IPv4" });
    assert.equal(server.remote, null, "a bound socket has no peer");
  });

  it("connect + send reaches the server, which sees the sender's endpoint", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    assert.equal(client.transport, "udp");
    assert.equal(client.url, server.url);
    assert.deepEqual(client.remote, server.local);
    assert.equal(client.local.host, "127.0.0.1");
    assert.ok(client.local.port > 0);

    await client.send("ping");
    await client.send(new Uint8Array([0, 1, 2, 255]));
    const first = await receive(server);
    assert.equal(first.data.toString(), "ping");
    assert.ok(Buffer.isBuffer(first.data));
    assert.deepEqual(first.remote, { host: "127.0.0.1", port: client.local.port, family: "IPv4" });
    const second = await receive(server);
    assert.deepEqual([...second.data], [0, 1, 2, 255]);
  });

  it("a Uint8Array view is sent as exactly its bytes, not its whole buffer", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9, 9]);
    await client.send(backing.subarray(2, 5));
    assert.deepEqual([...(await receive(server)).data], [1, 2, 3]);
  });

  it("server sendTo(data, remote) reaches the connected client", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    await client.send("ping");
    const { data, remote } = await receive(server);
    await server.sendTo(Buffer.concat([Buffer.from("pong:"), data]), remote);
    const reply = await receive(client);
    assert.equal(reply.data.toString(), "pong:ping");
    assert.deepEqual(reply.remote, server.local);
  });

  it("sendTo accepts a udp:// URL, a bare host:port and an Address object", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    const port = client.local.port;
    await server.sendTo("url", `udp://127.0.0.1:${port}`);
    assert.equal((await receive(client)).data.toString(), "url");
    await server.sendTo("bare", `127.0.0.1:${port}`);
    assert.equal((await receive(client)).data.toString(), "bare");
    await server.sendTo("object", { transport: "udp", host: "127.0.0.1", port });
    assert.equal((await receive(client)).data.toString(), "object");
  });

  it("sendTo with a bad or foreign target rejects (never throws) with ERR_INVALID_ADDRESS", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    let p: Promise<void> | undefined;
    assert.doesNotThrow(() => { p = server.sendTo("x", "127.0.0.1"); });
    await rejectsWith(p!, "ERR_INVALID_ADDRESS");
    await rejectsWith(server.sendTo("x", "::1:53"), "ERR_INVALID_ADDRESS");
    await rejectsWith(server.sendTo("x", "udg:///tmp/nowhere.sock"), "ERR_INVALID_ADDRESS", "write");
    await rejectsWith(server.sendTo("x", "tcp://127.0.0.1:53"), "ERR_INVALID_ADDRESS", "write");
  });

  it("IPv6: udp://[::1]:0 binds, exchanges datagrams both ways", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://[::1]:0");
    assert.match(server.url, /^udp:\/\/\[::1\]:\d+$/);
    const port = portOf(server.url);
    assert.deepEqual(server.local, { host: "::1", port, family: "IPv6" });
    const client = await dial(server.url);
    assert.equal(client.local.family, "IPv6");
    await client.send("six");
    const got = await receive(server);
    assert.equal(got.data.toString(), "six");
    assert.deepEqual(got.remote, { host: "::1", port: client.local.port, family: "IPv6" });
    await server.sendTo("back", `[::1]:${client.local.port}`);
    assert.equal((await receive(client)).data.toString(), "back");
  });

  it("async iteration over a bound socket yields datagrams and ends when the socket is closed", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    const seen: string[] = [];
    const loop = (async () => {
      for await (const d of server) seen.push(d.data.toString());
      return "ended";
    })();
    for (const s of ["a", "b", "c"]) await client.send(s);
    await until(() => seen.length === 3, "three datagrams iterated", 10_000);
    assert.deepEqual(seen, ["a", "b", "c"]);
    await server.close();
    assert.equal(await within(loop, 2_000, "for await after close"), "ended");
  });

  it("receive() with readTimeout rejects ETIMEDOUT (phase read) and the socket still receives afterwards", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0", { readTimeout: 50 });
    assert.equal(server.readTimeout, 50);
    const started = Date.now();
    const err = await rejectsWith(server.receive(), "ETIMEDOUT", "read");
    assert.ok(Date.now() - started >= 40, "waited about readTimeout");
    assert.equal(err.address, server.url);

    const client = await dial(server.url, { readTimeout: 50 });
    assert.equal(client.readTimeout, 50);
    await client.send("after the timeout");
    assert.equal((await receive(server)).data.toString(), "after the timeout");

    // Twice more, to be sure a timed-out waiter does not swallow a later datagram.
    await rejectsWith(server.receive(), "ETIMEDOUT", "read");
    await rejectsWith(server.receive(), "ETIMEDOUT", "read");
    await client.send("again");
    assert.equal((await receive(server)).data.toString(), "again");

    // readTimeout is settable; 0 waits forever.
    server.readTimeout = 0;
    const waiting = server.receive();
    await new Promise((r) => setTimeout(r, 80));
    await client.send("late");
    assert.equal((await within(waiting, 2_000, "receive without timeout")).data.toString(), "late");
    assert.throws(() => { server.readTimeout = -1; }, (e: unknown) => e instanceof SocketError && e.code === "ERR_INVALID_OPTION");
  });

  it("a 65508-byte payload to an IPv4 peer rejects ERR_DATAGRAM_TOO_LARGE before sending; 65507 is delivered", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0", { readTimeout: 200 });
    const client = await dial(server.url);
    await rejectsWith(client.send(Buffer.alloc(65508, 1)), "ERR_DATAGRAM_TOO_LARGE", "write");
    await rejectsWith(client.send("x".repeat(65508)), "ERR_DATAGRAM_TOO_LARGE", "write");
    await rejectsWith(server.sendTo(Buffer.alloc(65508), client.local), "ERR_DATAGRAM_TOO_LARGE", "write");
    // Nothing went out: the first datagram the server sees is the one that fits.
    await client.send(Buffer.alloc(65507, 7));
    const got = await receive(server);
    assert.equal(got.data.length, 65507);
    assert.ok(got.data.every((b) => b === 7));
    await rejectsWith(server.receive(), "ETIMEDOUT", "read");
    // And the other way.
    await server.sendTo(Buffer.alloc(65507, 8), client.local);
    assert.equal((await receive(client)).data.length, 65507);
  });

  it("IPv6 allows 65527 bytes and refuses 65528 with ERR_DATAGRAM_TOO_LARGE", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://[::1]:0");
    const client = await dial(server.url);
    await rejectsWith(client.send(Buffer.alloc(65528)), "ERR_DATAGRAM_TOO_LARGE", "write");
    await client.send(Buffer.alloc(65527));
    assert.equal((await receive(server)).data.length, 65527);
  });

  it("send() on a bound, unconnected socket rejects ERR_INVALID_ADDRESS", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const err = await rejectsWith(server.send("x"), "ERR_INVALID_ADDRESS", "write");
    assert.match(err.message, /sendTo/);
  });

  it("after close, receive/sendTo reject ERR_SOCKET_CLOSED and close() again resolves", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const peer = await dial(server.url);
    await server.close();
    await rejectsWith(server.receive(), "ERR_SOCKET_CLOSED", "read");
    await rejectsWith(server.sendTo("x", peer.local), "ERR_SOCKET_CLOSED", "write");
    await within(server.close(), 1_000, "second close()");
    // Closing dropped anything queued.
    await rejectsWith(server.receive(), "ERR_SOCKET_CLOSED");
  });

  it("after close, send() on a connected socket rejects ERR_SOCKET_CLOSED", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    await client.close();
    await rejectsWith(client.receive(), "ERR_SOCKET_CLOSED", "read");
    await rejectsWith(client.send("x"), "ERR_SOCKET_CLOSED", "write");
  });

  it("connected UDP to a closed port: the next receive() rejects ECONNREFUSED (ICMP port unreachable), once", { timeout: TEST_TIMEOUT }, async () => {
    const url = `udp://127.0.0.1:${await closedPort()}`;
    const client = await dial(url, { readTimeout: 1_000 });

    // Error before anyone waits: kept for the next receive().
    await client.send("anyone?");
    await new Promise((r) => setTimeout(r, 50));
    const err = await rejectsWith(client.receive(), "ECONNREFUSED", "read");
    assert.equal(err.errno, 111);
    assert.equal(err.address, url);

    // Reported once: the next receive just times out.
    client.readTimeout = 50;
    await rejectsWith(client.receive(), "ETIMEDOUT", "read");

    // Error while a receive waits: that receive rejects.
    client.readTimeout = 1_000;
    const waiting = client.receive();
    await client.send("anyone now?");
    await rejectsWith(waiting, "ECONNREFUSED", "read");
  });

  it("receiveQueue: 4 keeps the first 4 of 20 unreceived datagrams and counts 16 dropped", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0", { receiveQueue: 4, readTimeout: 100 });
    const client = await dial(server.url);
    assert.equal(server.dropped, 0);
    for (let i = 0; i < 20; i++) await client.send(`d${i}`);
    await until(() => server.dropped === 16, "16 datagrams dropped", 10_000);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await receive(server)).data.toString());
    assert.deepEqual(got, ["d0", "d1", "d2", "d3"]);
    await rejectsWith(server.receive(), "ETIMEDOUT", "read");
    assert.equal(server.dropped, 16);
    // With room again, new datagrams are queued.
    await client.send("d20");
    assert.equal((await receive(server)).data.toString(), "d20");
    assert.equal(server.dropped, 16);
  });

  it("sendMany sends every datagram in order with one promise and resolves with the count", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    const items = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? `s${i}` : Buffer.from(`b${i}`)));
    assert.equal(await client.sendMany(items), 20);
    const got: string[] = [];
    while (got.length < 20) for (const d of await within(server.receiveMany(), 3_000, "receiveMany")) got.push(d.data.toString());
    assert.deepEqual(got, items.map(String));
    // Any iterable will do, and an empty one sends nothing.
    assert.equal(await client.sendMany(new Set(["x", "y"])), 2);
    assert.equal(await client.sendMany([]), 0);
    assert.deepEqual((await receive(server)).data.toString(), "x");
    assert.deepEqual((await receive(server)).data.toString(), "y");
  });

  it("sendMany(datagrams, target) from a bound socket reaches that target", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    await client.send("hello");
    const { remote } = await receive(server);
    assert.equal(await server.sendMany(["one", "two", "three"], remote), 3);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await receive(client)).data.toString());
    assert.deepEqual(got, ["one", "two", "three"]);
  });

  it("sendMany checks every datagram before sending any: a bad one rejects and none goes out", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0", { readTimeout: 100 });
    const client = await dial(server.url);
    await rejectsWith(client.sendMany(["ok", Buffer.alloc(65_508), "ok"]), "ERR_DATAGRAM_TOO_LARGE", "write");
    await rejectsWith(client.sendMany(["ok", 42 as unknown as string]), "ERR_INVALID_OPTION", "write");
    await rejectsWith(client.sendMany("abc" as unknown as string[]), "ERR_INVALID_OPTION", "write");
    await rejectsWith(client.sendMany(null as unknown as string[]), "ERR_INVALID_OPTION", "write");
    await rejectsWith(server.receive(), "ETIMEDOUT", "read");
    // Unconnected without a target, a foreign target, and after close.
    await rejectsWith(server.sendMany(["x"]), "ERR_INVALID_ADDRESS", "write");
    await rejectsWith(server.sendMany(["x"], "udg:///tmp/nowhere.sock"), "ERR_INVALID_ADDRESS", "write");
    await client.close();
    await rejectsWith(client.sendMany(["x"]), "ERR_SOCKET_CLOSED", "write");
  });

  it("sendMany to a closed port rejects with the OS error of the failed datagram (ECONNREFUSED), as a SocketError", { timeout: TEST_TIMEOUT }, async () => {
    const url = `udp://127.0.0.1:${await closedPort()}`;
    const client = await dial(url);
    // The first datagram draws an ICMP port unreachable; a later send on the connected socket reports it.
    let err: unknown = null;
    for (let i = 0; i < 20 && err === null; i++) {
      err = await client.sendMany(["a", "b"]).then(() => null, (e: unknown) => e);
      if (err === null) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
    assert.equal(err.code, "ECONNREFUSED");
    assert.equal(err.phase, "write");
  });

  it("receiveMany returns the datagrams of one burst together, at most max, and waits for the first", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    // Waiting: the first datagram wakes it, the rest of the burst comes with it.
    const waiting = server.receiveMany();
    await client.sendMany(["a", "b", "c", "d", "e"]);
    const burst = await within(waiting, 3_000, "receiveMany");
    assert.ok(burst.length >= 2, `one burst of 5 came as ${burst.length}`);
    const got = burst.map((d) => d.data.toString());
    while (got.length < 5) got.push((await receive(server)).data.toString());
    assert.deepEqual(got, ["a", "b", "c", "d", "e"]);
    assert.deepEqual(burst[0]!.remote, client.local);
    // Queued: returned at once, at most max per call.
    await client.sendMany(["1", "2", "3"]);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await server.receiveMany(2)).map((d) => d.data.toString()), ["1", "2"]);
    assert.deepEqual((await server.receiveMany(2)).map((d) => d.data.toString()), ["3"]);
    // max 1 while waiting: exactly one.
    const one = server.receiveMany(1);
    await client.sendMany(["x", "y"]);
    assert.deepEqual((await within(one, 3_000, "receiveMany(1)")).map((d) => d.data.toString()), ["x"]);
    assert.equal((await receive(server)).data.toString(), "y");
  });

  it("receiveMany: a bad max is ERR_INVALID_OPTION; readTimeout gives ETIMEDOUT; close gives ERR_SOCKET_CLOSED", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0", { readTimeout: 50 });
    for (const max of [0, -1, 1.5, Number.NaN]) await rejectsWith(server.receiveMany(max), "ERR_INVALID_OPTION", "read");
    await rejectsWith(server.receiveMany(), "ETIMEDOUT", "read");
    server.readTimeout = 0;
    const waiting = server.receiveMany();
    await server.close();
    await rejectsWith(waiting, "ERR_SOCKET_CLOSED", "read");
    await rejectsWith(server.receiveMany(), "ERR_SOCKET_CLOSED", "read");
  });

  it("batches() yields bursts in order and ends when the socket is closed", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0");
    const client = await dial(server.url);
    const seen: string[] = [];
    let bursts = 0;
    const loop = (async () => {
      for await (const burst of server.batches()) {
        bursts++;
        for (const d of burst) seen.push(d.data.toString());
      }
      return "ended";
    })();
    const sent = Array.from({ length: 100 }, (_, i) => `d${i}`);
    for (let i = 0; i < sent.length; i += 25) await client.sendMany(sent.slice(i, i + 25));
    await until(() => seen.length === 100, "100 datagrams in bursts", 10_000);
    assert.deepEqual(seen, sent);
    assert.ok(bursts < 100, `100 datagrams sent 25 at a time came in ${bursts} bursts`);
    await server.close();
    assert.equal(await within(loop, 2_000, "batches after close"), "ended");
  });

  it("options broadcast: true is accepted by listen and connect", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp("udp://127.0.0.1:0", { broadcast: true });
    const client = await dial(server.url, { broadcast: true });
    await client.send("b");
    assert.equal((await receive(server)).data.toString(), "b");
  });

  it("reuseAddr: true lets two listeners bind the same port; without it the second gets EADDRINUSE", { timeout: TEST_TIMEOUT }, async () => {
    const first = await udp("udp://127.0.0.1:0", { reuseAddr: true });
    const second = await udp(first.url, { reuseAddr: true });
    assert.equal(second.url, first.url);
    assert.equal(second.local.port, first.local.port);
    const plain = await udp("udp://127.0.0.1:0");
    await rejectsWith(listen(plain.url as DatagramTarget), "EADDRINUSE", "listen");
    // connect() takes reuseAddr too.
    const client = await dial(first.url, { reuseAddr: true });
    await client.send("r");
    // Which of the two receives is up to the kernel; one of them must.
    const got = await within(Promise.race([first.receive(), second.receive()]), 3_000, "either listener");
    assert.equal(got.data.toString(), "r");
  });

  it("ipv6Only: true on udp://[::]:0 binds IPv6 only, leaving the IPv4 port free", { timeout: TEST_TIMEOUT }, async () => {
    const v6 = await udp("udp://[::]:0", { ipv6Only: true });
    assert.match(v6.url, /^udp:\/\/\[::\]:\d+$/);
    const port = portOf(v6.url);
    // With IPV6_V6ONLY the same port is still free on IPv4.
    const v4 = await udp(`udp://127.0.0.1:${port}`);
    assert.equal(v4.local.port, port);
    const client = await dial(`udp://[::1]:${port}`);
    await client.send("v6");
    assert.equal((await receive(v6)).data.toString(), "v6");
    const client4 = await dial(`udp://127.0.0.1:${port}`);
    await client4.send("v4");
    assert.equal((await receive(v4)).data.toString(), "v4");
  });
});

// ---------------------------------------------------------------- udg

describe("udg:// unix datagram sockets", () => {
  let dir = "";
  before(() => {
    dir = fs.mkdtempSync(os.tmpdir() + "/sockurl-");
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  const fresh = () => path.join(dir, `s${n++}.sock`);

  it("listen + connect + send reaches the server", { timeout: TEST_TIMEOUT }, async () => {
    const p = fresh();
    const server = await udp(`udg://${p}`);
    assert.equal(server.url, `udg://${p}`);
    assert.equal(server.transport, "udg");
    assert.deepEqual(server.local, { host: p, port: 0, family: "unix" });
    assert.equal(server.remote, null);
    const client = await dial(`udg://${p}`);
    assert.equal(client.transport, "udg");
    assert.deepEqual(client.remote, { host: p, port: 0, family: "unix" });
    await client.send("hello");
    await client.send(new Uint8Array([1, 2, 3]));
    const got = await receive(server);
    assert.equal(got.data.toString(), "hello");
    assert.equal(got.remote.family, "unix");
    assert.equal(got.remote.host, "", "an unbound sender has no path");
    assert.deepEqual([...(await receive(server)).data], [1, 2, 3]);
  });

  it("a bound udg socket sends with sendTo to a path or a udg:// URL", { timeout: TEST_TIMEOUT }, async () => {
    const a = await udp(`udg://${fresh()}`);
    const b = await udp(`udg://${fresh()}`);
    await a.sendTo("by path", b.local.host);
    const first = await receive(b);
    assert.equal(first.data.toString(), "by path");
    assert.deepEqual(first.remote, a.local, "a bound sender is seen by its path");
    await b.sendTo("by url", `udg://${a.local.host}`);
    assert.equal((await receive(a)).data.toString(), "by url");
    await b.sendTo("reply", first.remote);
    assert.equal((await receive(a)).data.toString(), "reply");
    await rejectsWith(a.send("x"), "ERR_INVALID_ADDRESS", "write");
    await rejectsWith(a.sendTo("x", "udp://127.0.0.1:53"), "ERR_INVALID_ADDRESS", "write");
    await rejectsWith(a.sendTo("x", path.join(dir, "nobody.sock")), ["ENOENT", "ECONNREFUSED"], "write");
  });

  it("a udg client can bind a local path with bindTo, so the server can reply", { timeout: TEST_TIMEOUT }, async () => {
    // connect() parses bindTo as "ip:port" (parseBindTo in src/connect.ts), so a path is refused
    // with ERR_INVALID_OPTION and an unbound udg client can never be answered.
    const p = fresh();
    const local = fresh();
    const server = await udp(`udg://${p}`);
    const client = await dial(`udg://${p}`, { bindTo: local });
    assert.deepEqual(client.local, { host: local, port: 0, family: "unix" });
    await client.send("call me back");
    const got = await receive(server);
    assert.equal(got.remote.host, local);
    await server.sendTo("called back", got.remote);
    assert.equal((await receive(client)).data.toString(), "called back");
  });

  it("a udg client given an ip:port bindTo is refused with ERR_INVALID_OPTION and creates no file", { timeout: TEST_TIMEOUT }, async () => {
    // Today "127.0.0.1:0" passes parseBindTo and its host is bound as a *relative path*:
    // a socket file named "127.0.0.1" appears in the current directory.
    const p = fresh();
    const server = await udp(`udg://${p}`);
    const work = fs.mkdtempSync(path.join(dir, "cwd-"));
    const cwd = process.cwd();
    process.chdir(work);
    try {
      await rejectsWith(connect(`udg://${p}`, { bindTo: "127.0.0.1:0" }).then((s) => track(s)), "ERR_INVALID_OPTION", "address");
    } finally {
      process.chdir(cwd);
    }
    assert.deepEqual(fs.readdirSync(work), [], "no stray socket file");
    void server;
  });

  it("connect to a missing udg path rejects ENOENT (or ECONNREFUSED) as a SocketError", { timeout: TEST_TIMEOUT }, async () => {
    const missing = path.join(dir, "missing.sock");
    const err = await rejectsWith(connect(`udg://${missing}`), ["ENOENT", "ECONNREFUSED"], "connect");
    assert.equal(err.address, `udg://${missing}`);
    assert.equal(typeof err.errno, "number");
  });

  it("listen twice on the same udg path rejects EADDRINUSE", { timeout: TEST_TIMEOUT }, async () => {
    const p = fresh();
    await udp(`udg://${p}`);
    const err = await rejectsWith(listen(`udg://${p}`), "EADDRINUSE", "listen");
    assert.equal(err.address, `udg://${p}`);
  });

  it("a udg path can be listened on again after close (the socket file is removed)", { timeout: TEST_TIMEOUT }, async () => {
    const p = fresh();
    const first = await udp(`udg://${p}`);
    await first.close();
    assert.equal(fs.existsSync(p), false, "socket file removed by close()");
    const again = await udp(`udg://${p}`);
    assert.equal(again.url, `udg://${p}`);
  });

  it("sendMany and batches() carry unix datagrams too", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp(`udg://${fresh()}`);
    const client = await dial(server.url);
    assert.equal(await client.sendMany(["a", new Uint8Array([98]), "c"]), 3);
    const got: string[] = [];
    for await (const burst of server.batches()) {
      for (const d of burst) got.push(d.data.toString());
      if (got.length === 3) break;
    }
    assert.deepEqual(got, ["a", "b", "c"]);
  });

  it("a udg client whose server went away gets ECONNREFUSED from send, as a SocketError", { timeout: TEST_TIMEOUT }, async () => {
    const p = fresh();
    const server = await udp(`udg://${p}`);
    const client = await dial(`udg://${p}`);
    await server.close();
    // The path may linger (see above) or be gone; either way nobody is listening.
    await rejectsWith(client.send("x"), ["ECONNREFUSED", "ENOENT", "ENOTCONN"], "write");
  });

  it("a udg socket closed with a pending receive rejects it with ERR_SOCKET_CLOSED and ends iteration", { timeout: TEST_TIMEOUT }, async () => {
    const server = await udp(`udg://${fresh()}`);
    const waiting = server.receive();
    const loop = (async () => {
      for await (const _ of server) { /* none arrive */ }
      return "ended";
    })();
    await server.close();
    await rejectsWith(waiting, "ERR_SOCKET_CLOSED", "read");
    assert.equal(await within(loop, 1_000, "udg iteration"), "ended");
  });
});

it("a UDP connect the system refuses is a SocketError, not a crash (no datagram is sent)", async () => {
  // connect() on UDP only sets the default peer; nothing leaves the machine.
  const err = await connect("udp://255.255.255.255:9").then(() => null, (e: unknown) => e);
  assert.ok(err instanceof SocketError, String(err));
  assert.equal(err.code, "EACCES");
  const allowed = await connect("udp://255.255.255.255:9", { broadcast: true });
  await allowed.close();
});
