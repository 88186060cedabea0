/**
 * Leaks and escapes: thousands of failed and successful connections must give back every
 * file descriptor, and no failure may surface as an unhandled rejection or an uncaught
 * exception — each one rejects the call that caused it, with a SocketError and its code.
 * Real loopback sockets only; every wait is bounded; everything is closed in finally/after.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  connect, listen, SocketError,
  type DatagramSocket, type DatagramTarget, type ErrorCode, type Lookup, type Phase, type Server, type Socket,
} from "../src/index.js";
import { closedPort, rawServer, sleep } from "./helpers.js";

// ---------------------------------------------------------------- helpers

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Settles like `p`, or rejects when `ms` pass first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Observes `p` at once (so the test itself never leaves a rejection unhandled). */
function observe<T>(p: Promise<T>): Promise<Outcome<T>> {
  return p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
}

/** Checks that `p` rejected with a SocketError whose code is one of `codes` (and `phase`). */
async function rejectsWith(
  p: Promise<unknown> | Promise<Outcome<unknown>>,
  codes: ErrorCode | readonly ErrorCode[],
  phase?: Phase,
  ms = 5_000,
): Promise<SocketError> {
  const raw = await within(observe(p as Promise<unknown>), ms, `expected ${String(codes)}`);
  // Unwrap an already observed promise.
  const outcome = raw.ok && isOutcome(raw.value) ? raw.value : raw;
  const list: readonly ErrorCode[] = typeof codes === "string" ? [codes] : codes;
  if (outcome.ok) assert.fail(`expected a rejection with ${list.join(" or ")}, got ${describeValue(outcome.value)}`);
  const err = outcome.error;
  assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
  assert.ok(list.includes(err.code), `expected ${list.join(" or ")}, got ${err.code}: ${err.message}`);
  if (phase !== undefined) assert.equal(err.phase, phase, `phase of: ${err.message}`);
  return err;
}

function isOutcome(v: unknown): v is Outcome<unknown> {
  return typeof v === "object" && v !== null && "ok" in v && ("value" in v || "error" in v) && Object.keys(v).length === 2;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  if (typeof v === "object") return v.constructor?.name ?? "an object";
  return JSON.stringify(v) ?? String(v);
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

const fdCount = () => fs.readdirSync("/proc/self/fd").length;

function fdTargets(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      out.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // The descriptor readdirSync itself used, gone by now.
    }
  }
  return out;
}

/** Polls until the descriptor count is at most `target`, for up to `ms`; returns the last count. */
async function settleFds(target: number, ms = 10_000): Promise<number> {
  const start = Date.now();
  let n = fdCount();
  while (n > target && Date.now() - start < ms) {
    await sleep(20);
    n = fdCount();
  }
  return n;
}

async function closedUdpUrl(): Promise<string> {
  return `udp://127.0.0.1:${await closedPort()}`;
}


const neverLookup: Lookup = () => new Promise(() => {});
const emptyLookup: Lookup = () => [];
const throwingLookup: Lookup = () => {
  throw Object.assign(new Error("getaddrinfo ENOTFOUND db.invalid"), { code: "ENOTFOUND" });
};
const rejectingLookup: Lookup = async () => {
  throw Object.assign(new Error("getaddrinfo ENOTFOUND db.invalid"), { code: "ENOTFOUND" });
};

// ---------------------------------------------------------------- recorders (file-wide)

const unhandled: unknown[] = [];
const uncaught: unknown[] = [];
const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
const onUncaught = (err: unknown) => { uncaught.push(err); };

before(() => {
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUncaught);
});
after(() => {
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUncaught);
});

let dir = "";
before(() => {
  dir = fs.mkdtempSync(os.tmpdir() + "/sockurl-");
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- (a) descriptors

describe("file descriptors", () => {
  it("2,000 failed and 2,000 successful connections give back every descriptor", { timeout: 120_000 }, async (t) => {
    const atStart = fdTargets();
    const sockets = new Set<Promise<void>>();
    let tcp: Server | undefined;
    let unix: Server | undefined;
    let udp: DatagramSocket | undefined;
    let udg: DatagramSocket | undefined;
    let inUse: DatagramSocket | undefined;
    let inUseUdp: DatagramSocket | undefined;
    const loops: Promise<unknown>[] = [];
    let udgReceived = 0;
    const wrong = new Map<string, number>();
    const errors: string[] = [];
    try {
      // Servers: tcp and unix read a line, answer, close; udp echoes; udg counts.
      tcp = await listen("tcp://127.0.0.1:0", { readTimeout: 10_000 });
      unix = await listen(`unix://${path.join(dir, "leak.sock")}`, { readTimeout: 10_000 });
      udp = await listen("udp://127.0.0.1:0");
      udg = await listen(`udg://${path.join(dir, "leak-dgram.sock")}`);
      const serve = async (server: Server) => {
        for await (const s of server) {
          const done = (async () => {
            try {
              const line = await s.readLine();
              if (line !== null) await s.write(`echo ${line}\n`);
            } catch {
              // The client side asserts; here only closing matters.
            } finally {
              await s.close();
            }
          })();
          sockets.add(done);
          void done.finally(() => sockets.delete(done));
        }
      };
      loops.push(serve(tcp), serve(unix));
      const udpServer = udp;
      loops.push((async () => {
        for await (const d of udpServer) await udpServer.sendTo(Buffer.concat([Buffer.from("echo "), d.data]), d.remote).catch(() => {});
      })());
      const udgServer = udg;
      loops.push((async () => {
        for await (const _ of udgServer) udgReceived++;
      })());

      const refusedPort = await closedPort();
      const refusedUdp = await closedUdpUrl();
      const inUseUdg = path.join(dir, "in-use.sock");
      inUse = await listen(`udg://${inUseUdg}`);
      inUseUdp = await listen("udp://127.0.0.1:0");
      const inUseUdpUrl = inUseUdp.url as DatagramTarget;

      type Failure = { what: string; run: () => Promise<unknown>; codes: readonly ErrorCode[]; phase: Phase };
      const invalid = ["tcp://127.0.0.1", "tcp://::1:80", "tcp://127.0.0.1:0", "tcp://127.0.0.1:99999", "tcp://user@127.0.0.1:80", "bogus://127.0.0.1:1"];
      const kinds: Array<[number, (i: number) => Failure]> = [
        [400, () => ({ what: "tcp refused", run: () => connect(`tcp://127.0.0.1:${refusedPort}`), codes: ["ECONNREFUSED"], phase: "connect" })],
        [150, () => ({ what: "lookup []", run: () => connect("tcp://db.invalid:5432", { lookup: emptyLookup }), codes: ["ENOTFOUND"], phase: "resolve" })],
        [150, (i) => ({
          what: "lookup throws", codes: ["ENOTFOUND"], phase: "resolve",
          run: () => connect("tcp://db.invalid:5432", { lookup: i % 2 ? throwingLookup : rejectingLookup }),
        })],
        [300, (i) => ({
          what: "invalid address", phase: "address",
          codes: invalid[i % invalid.length]!.startsWith("bogus") ? ["ERR_UNKNOWN_TRANSPORT"] : ["ERR_INVALID_ADDRESS"],
          run: () => connect(invalid[i % invalid.length]!),
        })],
        [300, () => ({ what: "connect timeout", run: () => connect("tcp://db.invalid:5432", { lookup: neverLookup, timeout: 20 }), codes: ["ETIMEDOUT"], phase: "resolve" })],
        [100, () => ({
          what: "aborted", codes: ["ERR_ABORTED"], phase: "resolve",
          run: () => connect("tcp://db.invalid:5432", { lookup: neverLookup, signal: AbortSignal.timeout(5) }),
        })],
        [100, () => ({ what: "unix missing", run: () => connect(`unix://${path.join(dir, "missing.sock")}`), codes: ["ENOENT"], phase: "connect" })],
        [100, () => ({ what: "udg missing", run: () => connect(`udg://${path.join(dir, "missing-dgram.sock")}`), codes: ["ENOENT"], phase: "connect" })],
        [100, () => ({
          what: "udp ICMP refused", codes: ["ECONNREFUSED"], phase: "read",
          run: async () => {
            const s = await connect(refusedUdp as DatagramTarget, { readTimeout: 2_000 });
            try {
              await s.send("anyone?");
              return await s.receive();
            } finally {
              await s.close();
            }
          },
        })],
        [100, () => ({ what: "tcp listen in use", run: () => listen(tcp!.url), codes: ["EADDRINUSE"], phase: "listen" })],
        [100, () => ({ what: "udp listen in use", run: () => listen(inUseUdpUrl), codes: ["EADDRINUSE"], phase: "listen" })],
        [100, () => ({ what: "udg listen in use", run: () => listen(`udg://${inUseUdg}`), codes: ["EADDRINUSE"], phase: "listen" })],
      ];
      const failures: Failure[] = [];
      for (const [count, make] of kinds) for (let i = 0; i < count; i++) failures.push(make(i));
      // Interleave the kinds so the pool always has a mix in flight.
      failures.sort((a, b) => (a.what < b.what ? -1 : 1));
      const mixed: Failure[] = [];
      for (let i = 0; i < 300; i++) for (let j = i; j < failures.length; j += 300) mixed.push(failures[j]!);
      assert.equal(mixed.length, 2_000);

      const successes: Array<"tcp" | "unix" | "udp" | "udg"> = [];
      for (let i = 0; i < 2_000; i++) successes.push(i % 20 === 0 ? "udg" : i % 10 === 1 ? "unix" : i % 10 === 2 ? "udp" : "tcp");

      const tcpUrl = tcp.url;
      const unixUrl = unix.url;
      const udpUrl = udp.url as DatagramTarget;
      const udgUrl = udg.url as DatagramTarget;
      const succeed = async (kind: "tcp" | "unix" | "udp" | "udg", i: number) => {
        if (kind === "tcp" || kind === "unix") {
          const s = await connect(kind === "tcp" ? tcpUrl : unixUrl, { readTimeout: 10_000 });
          try {
            await s.write(`hello ${i}\n`);
            assert.equal(await s.readLine(), `echo hello ${i}`);
          } finally {
            await s.close();
          }
        } else if (kind === "udp") {
          const s = await connect(udpUrl, { readTimeout: 5_000 });
          try {
            await s.send(`u${i}`);
            assert.equal((await s.receive()).data.toString(), `echo u${i}`);
          } finally {
            await s.close();
          }
        } else {
          const s = await connect(udgUrl);
          try {
            await s.send(`g${i}`);
          } finally {
            await s.close();
          }
        }
      };

      // Warm up every path once, so lazily created runtime descriptors exist before the baseline.
      for (const f of kinds.map(([, make]) => make(0))) await observe(f.run());
      for (const kind of ["tcp", "unix", "udp", "udg"] as const) await succeed(kind, -1);
      await within((async () => { while (sockets.size > 0) await sleep(5); })(), 5_000, "warm-up server sockets");
      await sleep(50);
      const baseline = fdCount();

      // 2,000 failures, 50 at a time.
      const tally = new Map<string, number>();
      await pool(mixed, 50, async (f) => {
        const o = await within(observe(f.run()), 10_000, f.what);
        const e = o.ok ? null : o.error;
        if (!(e instanceof SocketError) || !f.codes.includes(e.code) || e.phase !== f.phase) {
          const got = o.ok ? `a value (${describeValue(o.value)})` : e instanceof SocketError ? `${e.code}/${e.phase}` : `a non-SocketError ${String(e)}`;
          const key = `${f.what}: expected SocketError ${f.codes.join("|")}/${f.phase}, got ${got}`;
          wrong.set(key, (wrong.get(key) ?? 0) + 1);
        }
        tally.set(f.what, (tally.get(f.what) ?? 0) + 1);
      });
      const afterFailures = await settleFds(baseline);

      // 2,000 successes, 50 at a time.
      await pool(successes, 50, async (kind, i) => {
        const o = await within(observe(succeed(kind, i)), 15_000, `${kind} #${i}`);
        if (!o.ok) errors.push(`${kind} #${i}: ${String(o.error)}`);
      });
      const expectedUdg = successes.filter((k) => k === "udg").length + 1;
      await within((async () => { while (udgReceived < expectedUdg) await sleep(5); })(), 5_000, "udg datagrams received");
      await within((async () => { while (sockets.size > 0) await sleep(5); })(), 10_000, "server-side sockets closed");
      const afterSuccesses = await settleFds(baseline);

      t.diagnostic(`fds: baseline ${baseline}, after 2,000 failures ${afterFailures} (+${afterFailures - baseline}), ` +
        `after 2,000 successes ${afterSuccesses} (+${afterSuccesses - baseline}); failures by kind ${JSON.stringify(Object.fromEntries(tally))}`);
      // Margin 0: every socket sockurl opened (client, accepted, dgram, unix-dgram) is closed by now,
      // and the runtime's own descriptors were created during the warm-up, before the baseline.
      assert.equal(afterFailures - baseline, 0, "descriptors leaked by failed connections");
      assert.equal(afterSuccesses - baseline, 0, "descriptors leaked by successful connections");
    } finally {
      await Promise.all([tcp?.close(), unix?.close(), udp?.close(), udg?.close(), inUse?.close(), inUseUdp?.close()]);
      await within(Promise.allSettled(loops), 5_000, "server loops end").catch(() => {});
    }

    // With the servers closed too, only descriptors libuv keeps for the life of the loop may
    // remain: the /dev/null it reserves on the first listen() (loop->emfile_fd, its EMFILE trick).
    await settleFds(atStart.size + 1);
    const now = fdTargets();
    const extra = [...now].filter(([fd, target]) => atStart.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
    t.diagnostic(`fds: at start ${atStart.size}, at end ${now.size}; new since start: ${JSON.stringify(extra)}`);
    assert.ok(extra.every((e) => e.endsWith("-> /dev/null")) && extra.length <= 1,
      `only libuv's reserved /dev/null may stay open, found ${JSON.stringify(extra)}`);

    // Last: every failure rejected its own call with the expected SocketError; every success succeeded.
    assert.deepEqual(Object.fromEntries(wrong), {}, "failures that rejected with the wrong error (count by kind)");
    assert.deepEqual(errors.slice(0, 10), [], `${errors.length} connections failed`);
  });
});

// ---------------------------------------------------------------- (b) escapes

describe("every failure rejects its own call with a SocketError", () => {
  let server: Server;
  before(async () => {
    server = await listen("tcp://127.0.0.1:0");
  });
  after(async () => {
    await server.close();
  });

  it("connection refused", { timeout: 10_000 }, async () => {
    const port = await closedPort();
    const all = Array.from({ length: 20 }, () => observe(connect(`tcp://127.0.0.1:${port}`)));
    for (const o of all) {
      const err = await rejectsWith(o, "ECONNREFUSED", "connect");
      assert.equal(err.errno, 111);
      assert.equal(err.address, `tcp://127.0.0.1:${port}`);
    }
  });

  it("connect to a missing unix:// path rejects a SocketError ENOENT", { timeout: 10_000 }, async () => {
    const missing = path.join(dir, "nobody-home.sock");
    const err = await rejectsWith(connect(`unix://${missing}`), "ENOENT", "connect");
    assert.equal(err.address, `unix://${missing}`);
    assert.equal(err.errno, 2);
  });

  it("a peer reset while a read waits rejects the read, then writes, with ECONNRESET", { timeout: 10_000 }, async () => {
    const raw = await rawServer((s) => s.once("data", () => s.resetAndDestroy()), { allowHalfOpen: true });
    let c: Socket | undefined;
    try {
      c = await connect(raw.url);
      const pending = observe(c.read());
      await c.write("go");
      await rejectsWith(pending, "ECONNRESET", "read");
      await rejectsWith(c.write("more"), ["ECONNRESET", "EPIPE"], "write");
      await within(c.close(), 2_000, "close after reset");
    } finally {
      c?.destroy();
      await raw.close();
    }
  });

  it("a read issued after a reset was already reported rejects ECONNRESET, not a clean end of stream", { timeout: 10_000 }, async () => {
    const raw = await rawServer((s) => s.once("data", () => s.resetAndDestroy()), { allowHalfOpen: true });
    let c: Socket | undefined;
    try {
      c = await connect(raw.url);
      const pending = observe(c.readLine());
      await c.write("go");
      await rejectsWith(pending, "ECONNRESET", "read");
      await sleep(50); // the stream's 'close' follows its 'error'
      await rejectsWith(c.read(), "ECONNRESET", "read");
      await rejectsWith(c.readExactly(4), "ECONNRESET", "read");
      await rejectsWith(c.readLine(), "ECONNRESET", "read");
    } finally {
      c?.destroy();
      await raw.close();
    }
  });

  it("a peer that closes mid-readExactly gives ERR_UNEXPECTED_EOF, and the bytes stay readable", { timeout: 10_000 }, async () => {
    const c = await connect(server.url);
    try {
      const s = await within(server.accept(), 2_000, "accept");
      const pending = observe(c.readExactly(10));
      await s.write("abc");
      await s.close();
      await rejectsWith(pending, "ERR_UNEXPECTED_EOF", "read");
      assert.equal((await c.read())?.toString(), "abc");
      assert.equal(await c.read(), null);
      assert.equal(await c.readUntil("\n"), null, "readUntil at a clean end of stream");
    } finally {
      await c.close();
    }
  });

  it("readTimeout rejects ETIMEDOUT (phase read) and the socket stays usable", { timeout: 10_000 }, async () => {
    const c = await connect(server.url, { readTimeout: 30 });
    try {
      const s = await within(server.accept(), 2_000, "accept");
      await rejectsWith(c.readLine(), "ETIMEDOUT", "read");
      await rejectsWith(c.readExactly(2), "ETIMEDOUT", "read");
      await s.write("late\n");
      c.readTimeout = 2_000;
      assert.equal(await c.readLine(), "late");
      await s.close();
    } finally {
      await c.close();
    }
  });

  it("reads, writes and closeWrite after close() reject ERR_SOCKET_CLOSED; close() twice is harmless", { timeout: 10_000 }, async () => {
    const c = await connect(server.url);
    const s = await within(server.accept(), 2_000, "accept");
    try {
      const pendingRead = observe(c.read());
      const first = c.close();
      const second = c.close();
      await rejectsWith(pendingRead, "ERR_SOCKET_CLOSED", "read");
      await within(Promise.all([first, second]), 2_000, "close() twice");
      await within(c.close(), 2_000, "close() a third time");
      await rejectsWith(c.write("x"), "ERR_SOCKET_CLOSED", "write");
      await rejectsWith(c.write(new Uint8Array(10)), "ERR_SOCKET_CLOSED", "write");
      await rejectsWith(c.read(), "ERR_SOCKET_CLOSED", "read");
      await rejectsWith(c.readLine(), "ERR_SOCKET_CLOSED", "read");
      await rejectsWith(c.closeWrite(), "ERR_SOCKET_CLOSED", "write");
      assert.equal(c.closed, true);
      c.destroy(); // after close: harmless
    } finally {
      await s.close();
    }
  });

  it("destroy() with pending reads and writes rejects them all with ERR_SOCKET_CLOSED", { timeout: 10_000 }, async () => {
    const raw = await rawServer((s) => s.pause(), { allowHalfOpen: true }); // never reads: writes back up
    let c: Socket | undefined;
    try {
      c = await connect(raw.url);
      const reads = [observe(c.read()), observe(c.readLine()), observe(c.readExactly(5))];
      const writes = [observe(c.write(Buffer.alloc(16 * 1024 * 1024))), observe(c.write("queued behind"))];
      await sleep(20);
      c.destroy();
      for (const r of reads) await rejectsWith(r, "ERR_SOCKET_CLOSED", "read");
      for (const w of writes) await rejectsWith(w, "ERR_SOCKET_CLOSED");
      await rejectsWith(c.write("x"), "ERR_SOCKET_CLOSED", "write");
      await within(c.close(), 2_000, "close after destroy");
      c.destroy();
    } finally {
      c?.destroy();
      await raw.close();
    }
  });

  it("pending writes rejected by destroy() carry phase \"write\"", { timeout: 10_000 }, async () => {
    const raw = await rawServer((s) => s.pause(), { allowHalfOpen: true });
    let c: Socket | undefined;
    try {
      c = await connect(raw.url);
      const w = observe(c.write(Buffer.alloc(16 * 1024 * 1024)));
      await sleep(20);
      c.destroy();
      await rejectsWith(w, "ERR_SOCKET_CLOSED", "write");
    } finally {
      c?.destroy();
      await raw.close();
    }
  });

  it("server.close() with pending accept() rejects them with ERR_SOCKET_CLOSED and ends iteration", { timeout: 10_000 }, async () => {
    const own = await listen("tcp://127.0.0.1:0");
    const pending = [observe(own.accept()), observe(own.accept()), observe(own.accept({ timeout: 5_000 }))];
    const loop = observe((async () => {
      for await (const s of own) s.destroy();
      return "ended";
    })());
    await sleep(10);
    await own.close();
    for (const p of pending) await rejectsWith(p, "ERR_SOCKET_CLOSED", "accept");
    const ended = await within(loop, 2_000, "for await over server");
    assert.deepEqual(ended, { ok: true, value: "ended" });
    await rejectsWith(own.accept(), "ERR_SOCKET_CLOSED", "accept");
    await within(own.close(), 1_000, "second server.close()");
  });

  it("accept() timeout and abort reject ETIMEDOUT and ERR_ABORTED", { timeout: 10_000 }, async () => {
    await rejectsWith(server.accept({ timeout: 20 }), "ETIMEDOUT", "accept");
    const ac = new AbortController();
    const p = observe(server.accept({ signal: ac.signal }));
    ac.abort();
    await rejectsWith(p, "ERR_ABORTED", "accept");
  });

  it("connect aborted by an AbortSignal mid-connect rejects ERR_ABORTED and opens nothing", { timeout: 10_000 }, async () => {
    // The lookup answers with the real server only after the abort: no connection may follow.
    const port = Number(/:(\d+)$/.exec(server.url)![1]);
    const ac = new AbortController();
    const lateLookup: Lookup = () => new Promise((r) => setTimeout(() => r([{ address: "127.0.0.1", family: 4 }]), 50));
    const p = observe(connect(`tcp://late.test:${port}`, { lookup: lateLookup, signal: ac.signal }));
    setTimeout(() => ac.abort(new Error("user gave up")), 10);
    const err = await rejectsWith(p, "ERR_ABORTED", "resolve");
    assert.ok(err.cause instanceof Error && err.cause.message === "user gave up");
    await rejectsWith(server.accept({ timeout: 150 }), "ETIMEDOUT", "accept");
    // Already aborted, and a connect timeout, likewise.
    await rejectsWith(connect(server.url, { signal: AbortSignal.abort() }), "ERR_ABORTED");
    await rejectsWith(connect("tcp://late.test:1", { lookup: neverLookup, timeout: 20 }), "ETIMEDOUT", "resolve");
    // A udp connect aborted before it starts.
    await rejectsWith(connect("udp://127.0.0.1:9" as DatagramTarget, { signal: AbortSignal.abort() }), "ERR_ABORTED");
  });

  it("a datagram socket closed with a pending receive rejects it with ERR_SOCKET_CLOSED", { timeout: 10_000 }, async () => {
    const bound = await listen("udp://127.0.0.1:0");
    const c = await connect(bound.url as DatagramTarget, { readTimeout: 5_000 });
    const onBound = [observe(bound.receive()), observe(bound.receive())];
    const onClient = observe(c.receive());
    await bound.close();
    await c.close();
    for (const p of onBound) await rejectsWith(p, "ERR_SOCKET_CLOSED", "read");
    await rejectsWith(onClient, "ERR_SOCKET_CLOSED", "read");
    await rejectsWith(c.send("x"), "ERR_SOCKET_CLOSED", "write");
  });

  it("an ICMP error nobody waits for is reported to the next send or receive, never thrown", { timeout: 10_000 }, async () => {
    const c = await connect((await closedUdpUrl()) as DatagramTarget, { readTimeout: 1_000 });
    try {
      await c.send("a");
      await sleep(50);
      // Linux hands the pending ICMP error to whichever call on the socket comes next:
      // a send may reject with it (then the receive just times out), or the receive does.
      const second = await observe(c.send("b"));
      if (second.ok) {
        await rejectsWith(c.receive(), "ECONNREFUSED", "read");
      } else {
        await rejectsWith(Promise.resolve(second), "ECONNREFUSED", "write");
      }
      await c.send("c").catch(() => {});
      await sleep(50);
    } finally {
      await c.close();
    }
  });

  it("a peer reset while we write a lot rejects the write, then reads, with ECONNRESET or EPIPE", { timeout: 15_000 }, async () => {
    const raw = await rawServer((s) => s.once("data", () => setTimeout(() => s.resetAndDestroy(), 5)), { allowHalfOpen: true });
    let c: Socket | undefined;
    try {
      c = await connect(raw.url);
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      const writer = async () => {
        for (let i = 0; i < 40_000; i++) await c!.write(chunk); // at most ~10 GB: the reset comes long before
      };
      await rejectsWith(writer(), ["ECONNRESET", "EPIPE"], "write", 10_000);
      await rejectsWith(c.write(chunk), ["ECONNRESET", "EPIPE"], "write");
      await rejectsWith(c.read(), ["ECONNRESET", "EPIPE"], "read");
      await within(c.close(), 2_000, "close after reset");
    } finally {
      c?.destroy();
      await raw.close();
    }
  });

  it("writes left un-awaited are never unhandled rejections; the next read reports the failure", { timeout: 15_000 }, async () => {
    // The recorders at the end of this file fail if any of these writes escapes.
    const raw = await rawServer((s) => s.once("data", () => setTimeout(() => s.resetAndDestroy(), 5)), { allowHalfOpen: true });
    let c: Socket | undefined;
    try {
      c = await connect(raw.url);
      void c.write("go");
      // Past the high-water mark: these wait for a drain that never comes, and then reject.
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      for (let i = 0; i < 8; i++) void c.write(chunk);
      await rejectsWith(c.read(), ["ECONNRESET", "EPIPE"], "read");
      // Refused at once, the connection being gone.
      void c.write("after the reset");
      await c.close();
      void c.write("after close");
      await rejectsWith(c.write("after close, awaited"), "ERR_SOCKET_CLOSED", "write");
    } finally {
      c?.destroy();
      await raw.close();
    }
  });

  it("the caller's own write mistakes stay visible: after closeWrite(), or data of the wrong type", { timeout: 20_000 }, async () => {
    const own = await listen("tcp://127.0.0.1:0");
    const c = await connect(own.url);
    try {
      await rejectsWith(c.write(42 as unknown as string), "ERR_INVALID_OPTION", "write");
      await c.closeWrite();
      const err = await rejectsWith(c.write("late"), "ERR_SOCKET_CLOSED", "write");
      assert.match(err.message, /closeWrite\(\)/);
      // Left un-awaited, each is an unhandled rejection (here in a child, away from the recorders).
      const index = JSON.stringify(pathToFileURL(fileURLToPath(new URL("../src/index.js", import.meta.url))).href);
      for (const mistake of ["s.write(42)", "await s.closeWrite(); s.write('late')"]) {
        const script = `
          const { connect } = await import(${index});
          const s = await connect(${JSON.stringify(own.url)});
          ${mistake};
          setTimeout(() => s.destroy(), 200);
        `;
        const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 });
        assert.notEqual(r.status, 0, `${mistake}: the child exited 0`);
        assert.match(r.stderr, /ERR_INVALID_OPTION|ERR_SOCKET_CLOSED/, `${mistake}: ${r.stderr}`);
      }
    } finally {
      c.destroy();
      await own.close();
    }
  });

  it("a peer reset on an accepted socket rejects the server-side read with ECONNRESET", { timeout: 10_000 }, async () => {
    const client = new net.Socket();
    client.on("error", () => {});
    await new Promise<void>((r) => client.connect(Number(/:(\d+)$/.exec(server.url)![1]), "127.0.0.1", r));
    const s = await within(server.accept(), 2_000, "accept");
    try {
      const pending = observe(s.readLine());
      client.write("partial line without end");
      await sleep(20);
      client.resetAndDestroy();
      await rejectsWith(pending, "ECONNRESET", "read");
    } finally {
      client.destroy();
      s.destroy();
    }
  });
});

// Last: after a couple of event-loop turns, nothing may have escaped anywhere in this file.
describe("recorders", () => {
  it("saw no unhandled rejection and no uncaught exception", { timeout: 5_000 }, async () => {
    await turns(5);
    await sleep(50);
    await turns(5);
    const show = (list: unknown[]) => list.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
    assert.deepEqual(show(unhandled), [], "unhandled rejections");
    assert.deepEqual(show(uncaught), [], "uncaught exceptions");
  });
});
