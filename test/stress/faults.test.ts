/**
 * Faults: the worst the network does, each ending in a typed SocketError with the
 * expected code and phase — no crash, no unhandled rejection or uncaught exception (recorders
 * installed around every scenario), no leaked descriptor (/proc/self/fd counted before and
 * after). Loopback only, ports 0, every wait bounded. Figures go to RELIABILITY.md.
 *
 *   npm run build && node --test --test-concurrency=1 dist/test/stress/faults.test.js
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import tls from "node:tls";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import {
  connect, listen, negotiateStartTls, SocketError, type Lookup, type Socket,
} from "../../src/index.js";
import { makePki, type Pki } from "../fixtures/pki.js";
import { rawServer, stalledListener } from "../helpers.js";
import {
  expectSocketError, settle, sleep, within,
  guarded, warmUp,
} from "./util-faults.js";

let pki: Pki;
let ca: string;

before(async () => {
  pki = await makePki();
  ca = pki.caBundle;
  await warmUp(pki);
});


/** A line-oriented raw peer: calls `onLine(line, socket)` for every line the client sends. */
function lines(socket: net.Socket, onLine: (line: string) => void): void {
  let acc = "";
  socket.on("data", (chunk: Buffer) => {
    acc += chunk.toString("latin1");
    for (let nl = acc.indexOf("\n"); nl !== -1; nl = acc.indexOf("\n")) {
      const line = acc.slice(0, nl).replace(/\r$/, "");
      acc = acc.slice(nl + 1);
      onLine(line);
    }
  });
}

// ------------------------------------------------------------------------- resets

describe("peer resets", () => {
  test("mid-read: a pending readLine rejects ECONNRESET (phase read); the bytes before the reset stay readable", { timeout: 10_000 }, async (t) => {
    await guarded(t, "reset mid-read", async () => {
      const peer = await rawServer((s) => {
        s.write("partial line without its end");
        setTimeout(() => s.resetAndDestroy(), 50);
      });
      try {
        const socket = await connect(peer.url, { timeout: 2000 });
        const { error, ms } = await expectSocketError(socket.readLine(), "ECONNRESET", "read");
        assert.equal(error.errno, 104);
        // A later read of another kind reports the same reset, after the buffered bytes.
        const rest = await socket.read();
        assert.equal(rest?.toString(), "partial line without its end");
        await expectSocketError(socket.read(), "ECONNRESET", "read");
        await expectSocketError(socket.write("x"), "ECONNRESET", "write");
        assert.equal(socket.closed, true);
        socket.destroy();
        return `readLine rejected ECONNRESET after ${ms.toFixed(0)} ms (reset sent at 50 ms)`;
      } finally {
        await peer.close();
      }
    });
  });

  test("mid-readExactly over TLS: ECONNRESET (phase read)", { timeout: 10_000 }, async (t) => {
    await guarded(t, "reset mid-read (TLS)", async () => {
      const context = tls.createSecureContext({ cert: pki.valid.chain, key: pki.valid.key });
      const peer = await rawServer((raw) => {
        const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
        secure.on("error", () => {});
        secure.once("secure", () => {
          secure.write(Buffer.alloc(100, 1));
          setTimeout(() => raw.resetAndDestroy(), 50);
        });
      });
      try {
        const socket = await connect(`tls://127.0.0.1:${peer.port}`, { timeout: 2000, tls: { ca } });
        const { ms } = await expectSocketError(socket.readExactly(1000), "ECONNRESET", "read");
        socket.destroy();
        return `readExactly(1000) after 100 bytes rejected ECONNRESET after ${ms.toFixed(0)} ms`;
      } finally {
        await peer.close();
      }
    });
  });

  test("mid-write: awaited writes of 1 MiB reject ECONNRESET or EPIPE (phase write)", { timeout: 15_000 }, async (t) => {
    await guarded(t, "reset mid-write", async () => {
      let received = 0;
      const peer = await rawServer((s) => {
        s.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received >= 256 * 1024 && !s.destroyed) s.resetAndDestroy();
        });
      });
      try {
        const socket = await connect(peer.url, { timeout: 2000 });
        const chunk = Buffer.alloc(1024 * 1024, 0x61);
        let written = 0;
        const outcome = await within(settle((async () => {
          for (let i = 0; i < 256; i++) {
            await socket.write(chunk);
            written += chunk.length;
          }
        })()), 10_000, "writes to a peer that reset");
        assert.equal(outcome.ok, false, "256 MiB were accepted by a peer that reset after 256 KiB");
        const err = (outcome as { error: unknown }).error;
        assert.ok(err instanceof SocketError, String(err));
        assert.ok(["ECONNRESET", "EPIPE"].includes(err.code), err.message);
        assert.equal(err.phase, "write");
        socket.destroy();
        return `write rejected ${err.code} after ${(written / 2 ** 20).toFixed(0)} MiB accepted (peer read ${(received / 1024).toFixed(0)} KiB)`;
      } finally {
        await peer.close();
      }
    });
  });
});

// ------------------------------------------------------------------------- TLS handshake

describe("peer closes during the TLS handshake", () => {
  for (const how of ["close", "reset"] as const) {
    test(`reads part of the ClientHello, then ${how}s: ERR_TLS_HANDSHAKE (phase tls)`, { timeout: 10_000 }, async (t) => {
      await guarded(t, `${how} during TLS handshake`, async () => {
        let seen = 0;
        const peer = await rawServer((s) => {
          s.once("data", (chunk: Buffer) => {
            seen = chunk.length;
            if (how === "close") s.destroy();
            else s.resetAndDestroy();
          });
        });
        try {
          const { error, ms } = await expectSocketError(
            connect(`tls://127.0.0.1:${peer.port}`, { timeout: 3000, tls: { ca } }), "ERR_TLS_HANDSHAKE", "tls");
          assert.ok(seen > 5 && seen < 4096, `the peer saw ${seen} bytes`);
          return `${error.code} (${error.reason}) after ${ms.toFixed(0)} ms; peer had read ${seen} bytes of the ClientHello`;
        } finally {
          await peer.close();
        }
      });
    });
  }
});

// ------------------------------------------------------------------------- STARTTLS

/** An SMTP peer that offers STARTTLS and then does `onStartTls` (or `onEhlo` instead of answering EHLO). */
function smtpPeer(options: { onEhlo?: (s: net.Socket) => void; onStartTls?: (s: net.Socket) => void }) {
  return rawServer((s) => {
    s.write("220 mx.example ESMTP\r\n");
    let inTls = false;
    lines(s, (line) => {
      if (inTls) return;
      if (/^EHLO /.test(line)) {
        if (options.onEhlo) options.onEhlo(s);
        else s.write("250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
      } else if (line === "STARTTLS") {
        inTls = true;
        options.onStartTls?.(s);
      }
    });
  });
}

describe("peer closes during STARTTLS", () => {
  const cases: Array<{
    name: string;
    peer: Parameters<typeof smtpPeer>[0];
    codes: string[];
    phases: Array<"starttls" | "tls">;
  }> = [
    {
      name: "closes right after the 220 go-ahead",
      peer: { onStartTls: (s) => s.end("220 go ahead\r\n") },
      codes: ["ERR_TLS_HANDSHAKE", "ERR_UNEXPECTED_EOF"],
      phases: ["tls", "starttls"],
    },
    {
      name: "reads part of the ClientHello after the go-ahead, then closes",
      peer: {
        onStartTls: (s) => {
          s.write("220 go ahead\r\n");
          s.removeAllListeners("data");
          s.once("data", () => s.destroy());
        },
      },
      codes: ["ERR_TLS_HANDSHAKE"],
      phases: ["tls"],
    },
    {
      name: "gives the go-ahead, then never answers the ClientHello",
      peer: { onStartTls: (s) => s.write("220 go ahead\r\n") },
      codes: ["ETIMEDOUT"],
      phases: ["tls", "starttls"],
    },
    {
      name: "closes instead of answering EHLO",
      peer: { onEhlo: (s) => s.end() },
      codes: ["ERR_PROTOCOL"],
      phases: ["starttls"],
    },
    {
      name: "closes in the middle of a reply line",
      peer: { onEhlo: (s) => s.end("250-mx.exam") },
      codes: ["ERR_PROTOCOL"],
      phases: ["starttls"],
    },
    {
      name: "resets in the middle of the dialogue",
      peer: { onEhlo: (s) => { s.write("250-mx.example\r\n"); setTimeout(() => s.resetAndDestroy(), 20); } },
      codes: ["ECONNRESET"],
      phases: ["starttls"],
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.codes.join(" or ")} (phase ${c.phases.join(" or ")}), through connect() and negotiateStartTls()`, { timeout: 10_000 }, async (t) => {
      await guarded(t, `STARTTLS peer ${c.name}`, async () => {
        const peer = await smtpPeer(c.peer);
        try {
          const viaConnect = await expectSocketError(
            connect(peer.url, { timeout: 1000, startTls: "smtp", tls: { ca } }), c.codes, c.phases);
          const socket = await connect(peer.url, { timeout: 1000 });
          const viaNegotiate = await expectSocketError(
            negotiateStartTls(socket, "smtp", { timeout: 1000, tls: { ca } }), c.codes, c.phases);
          assert.equal(socket.closed, true, "the socket is destroyed after a failed negotiation");
          await expectSocketError(socket.write("QUIT\r\n"), "ERR_SOCKET_CLOSED", "write");
          return `connect: ${viaConnect.error.code}/${viaConnect.error.phase} in ${viaConnect.ms.toFixed(0)} ms; ` +
            `negotiateStartTls: ${viaNegotiate.error.code}/${viaNegotiate.error.phase} in ${viaNegotiate.ms.toFixed(0)} ms`;
        } finally {
          await peer.close();
        }
      });
    });
  }
});

// ------------------------------------------------------------------------- silent peers

describe("a server that accepts and never speaks", () => {
  test("tls:// → ETIMEDOUT (phase tls) at the connect deadline", { timeout: 10_000 }, async (t) => {
    await guarded(t, "silent server, TLS deadline", async () => {
      const peer = await rawServer(() => {});
      try {
        const { error, ms } = await expectSocketError(
          connect(`tls://127.0.0.1:${peer.port}`, { timeout: 300, tls: { ca } }), "ETIMEDOUT", "tls");
        assert.ok(ms >= 290 && ms < 5000, `fired after ${ms} ms`);
        assert.equal(peer.accepted, 1);
        return `${error.code}/${error.phase} after ${ms.toFixed(0)} ms (deadline 300 ms)`;
      } finally {
        await peer.close();
      }
    });
  });

  test("startTls smtp → ETIMEDOUT (phase starttls) at the connect deadline and at negotiateStartTls's own", { timeout: 10_000 }, async (t) => {
    await guarded(t, "silent server, STARTTLS deadline", async () => {
      const peer = await rawServer(() => {});
      try {
        const a = await expectSocketError(
          connect(peer.url, { timeout: 300, startTls: "smtp", tls: { ca } }), "ETIMEDOUT", "starttls");
        assert.ok(a.ms >= 290 && a.ms < 5000, `fired after ${a.ms} ms`);
        const socket = await connect(peer.url, { timeout: 1000 });
        const b = await expectSocketError(negotiateStartTls(socket, "smtp", { timeout: 300, tls: { ca } }), "ETIMEDOUT", "starttls");
        assert.ok(b.ms >= 290 && b.ms < 5000, `fired after ${b.ms} ms`);
        assert.equal(socket.closed, true);
        return `connect: ETIMEDOUT/starttls after ${a.ms.toFixed(0)} ms; negotiateStartTls: after ${b.ms.toFixed(0)} ms (deadlines 300 ms)`;
      } finally {
        await peer.close();
      }
    });
  });

  test("a TLS server whose client never speaks drops it at handshakeTimeout and counts it", { timeout: 10_000 }, async (t) => {
    await guarded(t, "silent client, server handshake deadline", async () => {
      const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key, handshakeTimeout: 200 } });
      try {
        const port = (server.address as { port: number }).port;
        const started = performance.now();
        const raw = net.connect(port, "127.0.0.1");
        raw.on("error", () => {});
        const closed = new Promise<number>((resolve) => raw.once("close", () => resolve(performance.now() - started)));
        const ms = await within(closed, 5000, "the server dropping a silent client");
        assert.equal(server.handshakeFailures, 1);
        // The accept loop is unharmed.
        const accepted = server.accept({ timeout: 2000 });
        const client = await connect(server.url, { timeout: 2000, tls: { ca } });
        const peer = await accepted;
        await client.write("ping\n");
        assert.equal(await peer.readLine(), "ping");
        client.destroy();
        peer.destroy();
        return `dropped after ${ms.toFixed(0)} ms (handshakeTimeout 200 ms); handshakeFailures 1; next client served`;
      } finally {
        await server.close();
      }
    });
  });
});

// ------------------------------------------------------------------------- backlog

describe("a server whose backlog is full", () => {
  test("connect → ETIMEDOUT (phase connect) at the deadline", { timeout: 15_000 }, async (t) => {
    await guarded(t, "full backlog, connect deadline", async () => {
      const stalled = await stalledListener("127.0.0.1", 10);
      try {
        const { error, ms } = await expectSocketError(
          connect(`tcp://127.0.0.1:${stalled.port}`, { timeout: 300 }), "ETIMEDOUT", "connect");
        assert.ok(ms >= 290 && ms < 5000, `fired after ${ms} ms`);
        const tlsAttempt = await expectSocketError(
          connect(`tls://127.0.0.1:${stalled.port}`, { timeout: 300, tls: { ca } }), "ETIMEDOUT", "connect");
        return `${error.code}/${error.phase} after ${ms.toFixed(0)} ms (tcp), ${tlsAttempt.ms.toFixed(0)} ms (tls), deadline 300 ms`;
      } finally {
        stalled.close();
        await sleep(50);
      }
    });
  });
});

// ------------------------------------------------------------------------- trickle

describe("a peer that trickles one byte per 100 ms", () => {
  test("readLine with readTimeout 250 rejects ETIMEDOUT (phase read) per call; later calls return the whole line, no byte lost", { timeout: 15_000 }, async (t) => {
    await guarded(t, "trickle into readLine", async () => {
      const text = "the quick brown fox";
      const bytes = Buffer.from(`${text}\r\nnext\n`);
      const peer = await rawServer((s) => {
        let i = 0;
        const timer = setInterval(() => {
          if (s.destroyed || i >= bytes.length) {
            clearInterval(timer);
            return;
          }
          s.write(bytes.subarray(i, i + 1));
          i++;
        }, 100);
        s.once("close", () => clearInterval(timer));
      });
      try {
        const socket = await connect(peer.url, { timeout: 2000, readTimeout: 250 });
        const first = await expectSocketError(socket.readLine(), "ETIMEDOUT", "read");
        // Per read call: bytes arrived every 100 ms, yet the deadline of this call fired (an idle
        // timer reset by each byte would never fire, and the line would come back instead).
        assert.ok(first.ms >= 240 && first.ms < 5000, `first deadline after ${first.ms} ms`);
        let timeouts = 1;
        let line: string | null = null;
        while (line === null) {
          const outcome = await settle(socket.readLine());
          if (outcome.ok) line = outcome.value;
          else {
            const err = outcome.error;
            assert.ok(err instanceof SocketError && err.code === "ETIMEDOUT" && err.phase === "read", String(err));
            timeouts++;
            assert.ok(timeouts < 40, "the line never completed");
          }
        }
        assert.equal(line, text);
        // The socket stays usable: readTimeout is settable and the next line arrives whole.
        socket.readTimeout = 2000;
        assert.equal(await socket.readLine(), "next");
        socket.destroy();
        return `${timeouts} ETIMEDOUT (first after ${first.ms.toFixed(0)} ms), then the whole ${text.length}-byte line`;
      } finally {
        await peer.close();
      }
    });
  });
});

// ------------------------------------------------------------------------- half-open

describe("half-open connections", () => {
  const SIZE = 4 * 1024 * 1024;

  test("the peer closes its write side: our reads give null, our writes keep working", { timeout: 15_000 }, async (t) => {
    await guarded(t, "half-open: peer closed its write side", async () => {
      let received = 0;
      let finish: (n: number) => void = () => {};
      const done = new Promise<number>((resolve) => { finish = resolve; });
      const peer = await rawServer((s) => {
        s.end(); // FIN at once; keep reading
        s.on("data", (c: Buffer) => { received += c.length; });
        s.on("end", () => finish(received));
      }, { allowHalfOpen: true });
      try {
        const socket = await connect(peer.url, { timeout: 2000, readTimeout: 2000 });
        assert.equal(await socket.readLine(), null);
        assert.equal(await socket.read(), null);
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        for (let sent = 0; sent < SIZE; sent += chunk.length) await socket.write(chunk);
        await socket.closeWrite();
        const total = await within(done, 5000, "the peer's end");
        assert.equal(total, SIZE);
        await socket.close();
        return `reads gave null; ${SIZE / 2 ** 20} MiB written after the peer's FIN, all received`;
      } finally {
        await peer.close();
      }
    });
  });

  test("we close our write side: the peer keeps writing and we read everything; our writes are refused", { timeout: 15_000 }, async (t) => {
    await guarded(t, "half-open: we closed our write side", async () => {
      const peer = await rawServer((s) => {
        s.resume();
        s.on("end", () => {
          const chunk = Buffer.alloc(64 * 1024, 0x63);
          let sent = 0;
          const pump = () => {
            while (sent < SIZE) {
              sent += chunk.length;
              if (!s.write(chunk)) return void s.once("drain", pump);
            }
            s.end();
          };
          pump();
        });
      }, { allowHalfOpen: true });
      try {
        const socket = await connect(peer.url, { timeout: 2000, readTimeout: 5000 });
        await socket.closeWrite();
        await expectSocketError(socket.write("late"), "ERR_SOCKET_CLOSED", "write");
        const all = await socket.readAll();
        assert.equal(all.length, SIZE);
        assert.equal(await socket.readLine(), null);
        await socket.close();
        return `${SIZE / 2 ** 20} MiB read after our FIN; write after closeWrite → ERR_SOCKET_CLOSED`;
      } finally {
        await peer.close();
      }
    });
  });
});

// ------------------------------------------------------------------------- writes after close

describe("writes after close", () => {
  test("after close(), destroy() and the peer's close: ERR_SOCKET_CLOSED, or the OS error once the peer is gone", { timeout: 15_000 }, async (t) => {
    await guarded(t, "writes after close", async () => {
      const peer = await rawServer((s) => s.resume());
      try {
        const a = await connect(peer.url, { timeout: 2000 });
        await a.close();
        await expectSocketError(a.write("x"), "ERR_SOCKET_CLOSED", "write");
        await expectSocketError(a.closeWrite(), "ERR_SOCKET_CLOSED", "write");
        await expectSocketError(a.readLine(), "ERR_SOCKET_CLOSED", "read");

        const b = await connect(peer.url, { timeout: 2000 });
        b.destroy();
        await expectSocketError(b.write(Buffer.alloc(10)), "ERR_SOCKET_CLOSED", "write");

        // A write pending on a peer that does not read is rejected by destroy().
        const stuckPeer = await rawServer((s) => s.pause());
        const c = await connect(stuckPeer.url, { timeout: 2000 });
        const big = Buffer.alloc(1024 * 1024);
        let pending: Promise<void> | null = null;
        for (let i = 0; i < 256 && pending === null; i++) {
          const w = c.write(big);
          const state = await Promise.race([w.then(() => "done"), sleep(50).then(() => "pending")]);
          if (state === "pending") pending = w;
        }
        assert.ok(pending, "writes never blocked");
        c.destroy();
        await expectSocketError(pending, "ERR_SOCKET_CLOSED", "write");
        await stuckPeer.close();

        // The peer closes the whole connection: a write may still be accepted by our kernel,
        // then the peer's RST makes the next ones fail with the OS error.
        const closing = await rawServer((s) => s.destroy());
        const d = await connect(closing.url, { timeout: 2000 });
        assert.equal(await d.readLine(), null);
        let code = "";
        for (let i = 0; i < 50 && code === ""; i++) {
          const o = await settle(d.write("after the peer left\n"));
          if (!o.ok) {
            assert.ok(o.error instanceof SocketError, String(o.error));
            assert.equal(o.error.phase, "write");
            code = o.error.code;
          }
          await sleep(10);
        }
        assert.ok(["EPIPE", "ECONNRESET", "ERR_SOCKET_CLOSED"].includes(code), `got ${code}`);
        d.destroy();
        await closing.close();
        return `close()/destroy() → ERR_SOCKET_CLOSED; pending write + destroy() → ERR_SOCKET_CLOSED; peer gone → ${code}`;
      } finally {
        await peer.close();
      }
    });
  });
});

// ------------------------------------------------------------------------- listener closed

describe("a listener closed while clients are mid-accept", () => {
  test("pending accept() calls reject ERR_SOCKET_CLOSED; queued and racing clients see a close", { timeout: 15_000 }, async (t) => {
    await guarded(t, "listener closed mid-accept", async () => {
      // (1) accept() calls waiting, no client.
      const idle = await listen("tcp://127.0.0.1:0");
      // Observed at once (settle): a rejection nobody awaits yet would count as unhandled.
      const waiting = Array.from({ length: 5 }, () => settle(idle.accept()));
      await idle.close();
      for (const w of waiting) {
        const o = await w;
        assert.ok(!o.ok && o.error instanceof SocketError && o.error.code === "ERR_SOCKET_CLOSED" && o.error.phase === "accept",
          o.ok ? "accept() resolved" : String(o.error));
      }
      await expectSocketError(idle.accept(), "ERR_SOCKET_CLOSED", "accept");

      // (2) clients connected but not yet accepted, then close; and clients racing the close.
      const server = await listen("tcp://127.0.0.1:0");
      const queued = await Promise.all(Array.from({ length: 10 }, () => connect(server.url, { timeout: 2000, readTimeout: 3000 })));
      await sleep(50);
      const taken = await server.accept({ timeout: 1000 });
      const takenClient = queued.find((c) => c.local.port === taken.remote.port)!;
      assert.ok(takenClient, "the accepted socket matches a client");
      await server.close();
      /** A client sees a close: end of stream (after an optional greeting), or a reset. Never a hang (readTimeout 3000). */
      const seesClose = async (c: Socket): Promise<string> => {
        let o = await settle(c.readLine());
        if (o.ok && o.value === "hi") o = await settle(c.readLine());
        c.destroy();
        if (o.ok) {
          assert.equal(o.value, null);
          return "EOF";
        }
        assert.ok(o.error instanceof SocketError && o.error.code === "ECONNRESET", `a client did not see the close: ${String(o.error)}`);
        return "ECONNRESET";
      };
      const queuedSaw: string[] = [];
      for (const c of queued) if (c !== takenClient) queuedSaw.push(await seesClose(c));
      // The accepted socket stays open.
      await takenClient.write("still here\n");
      assert.equal(await taken.readLine(), "still here");
      taken.destroy();
      takenClient.destroy();

      // (3) an accept loop and 40 clients racing close(): every connect and the loop settle.
      const busy = await listen("tcp://127.0.0.1:0");
      let acceptedRacing = 0;
      const loop = (async () => {
        for await (const peer of busy) {
          acceptedRacing++;
          void peer.write("hi\n").catch(() => {}).finally(() => peer.destroy());
        }
      })();
      const racing = Array.from({ length: 40 }, () => settle(connect(busy.url, { timeout: 2000, readTimeout: 3000 })));
      await sleep(2);
      await busy.close();
      await within(loop, 2000, "the accept loop after close()");
      const racingOutcomes = await within(Promise.all(racing), 5000, "racing connects");
      let refused = 0;
      const racingSaw: string[] = [];
      for (const r of racingOutcomes) {
        if (r.ok) racingSaw.push(await seesClose(r.value));
        else {
          assert.ok(r.error instanceof SocketError && ["ECONNREFUSED", "ECONNRESET"].includes(r.error.code), String(r.error));
          refused++;
        }
      }
      // (4) TLS handshakes still in flight when close() is called: the TCP connections were
      // accepted before close(), the handshakes finish after it. Each client must see its
      // connection end (a close or an error), never a finished handshake followed by silence.
      const secure = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
      const securePort = (secure.address as { port: number }).port;
      const raws = await Promise.all(Array.from({ length: 5 }, () => new Promise<net.Socket>((resolve, reject) => {
        const raw = net.connect(securePort, "127.0.0.1", () => resolve(raw));
        raw.once("error", reject);
      })));
      await sleep(50); // accepted by the listener
      await secure.close();
      const inFlight = await Promise.all(raws.map((raw) => new Promise<string>((resolve) => {
        const client = tls.connect({ socket: raw, ca, servername: "localhost" });
        let handshook = false;
        const timer = setTimeout(() => {
          resolve(handshook ? "handshake done, then silence" : "no answer");
          // The server side would stay open (half-open) and keep this process alive: a reset
          // closes it whatever state it is in.
          raw.resetAndDestroy();
        }, 2000);
        client.on("secureConnect", () => { handshook = true; });
        client.on("error", () => {});
        const done = (how: string) => () => {
          clearTimeout(timer);
          client.destroy();
          resolve(how);
        };

        client.once("error", (e: NodeJS.ErrnoException) => done(`error ${e.code ?? e.message}`)());
        client.once("end", done("closed"));
        client.once("close", done("closed"));
      })));
      for (const how of inFlight) assert.ok(!/silence|no answer/.test(how), `a TLS client whose handshake finished after close(): ${how}`);
      const tally = (list: string[]) => `${list.filter((x) => x === "EOF").length} EOF, ${list.filter((x) => x === "ECONNRESET").length} ECONNRESET`;
      return `5 pending accept() → ERR_SOCKET_CLOSED; 9 queued clients saw a close (${tally(queuedSaw)}); accepted socket kept working; ` +
        `40 clients racing close(): ${racingSaw.length} connected and saw a close (${tally(racingSaw)}), ${refused} refused, ` +
        `${acceptedRacing} accepted by the loop, which ended cleanly; 5 TLS handshakes finishing after close(): ${inFlight.join(", ")}`;
    });
  });
});

// ------------------------------------------------------------------------- resolvers

describe("resolver failures (through lookup)", () => {
  test("a resolver that throws, returns nothing or garbage: typed errors in phase resolve", { timeout: 10_000 }, async (t) => {
    await guarded(t, "resolver failures", async () => {
      const notFound: Lookup = async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND db.invalid"), { code: "ENOTFOUND", errno: -3008 });
      };
      const again: Lookup = async () => {
        throw Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" });
      };
      const empty: Lookup = async () => [];
      const garbage: Lookup = async () => [{ address: "not an ip", family: 4 }] as never;
      const syncThrow: Lookup = () => {
        throw Object.assign(new Error("sync failure"), { code: "ENOTFOUND" });
      };
      const seen: string[] = [];
      for (const [name, lookup, code] of [
        ["ENOTFOUND", notFound, "ENOTFOUND"],
        ["EAI_AGAIN", again, "EAI_AGAIN"],
        ["empty", empty, "ENOTFOUND"],
        ["garbage", garbage, "ENOTFOUND"],
        ["sync throw", syncThrow, "ENOTFOUND"],
      ] as const) {
        const { error } = await expectSocketError(connect("tcp://db.invalid:5432", { lookup, timeout: 2000 }), code, "resolve");
        assert.match(error.message, /db\.invalid/);
        seen.push(`${name} → ${error.code}`);
      }
      return seen.join(", ");
    });
  });

  test("a resolver that throws a plain Error (no code) is not reported as ERR_SOCKET_CLOSED", { timeout: 10_000 }, async (t) => {
    await guarded(t, "resolver throws a plain Error", async () => {
      const plain: Lookup = async () => {
        throw new Error("resolver backend unavailable");
      };
      const { error } = await expectSocketError(connect("tcp://db.invalid:5432", { lookup: plain, timeout: 2000 }), ["ENOTFOUND", "EAI_FAIL"], "resolve");
      return `${error.code}: ${error.message}`;
    });
  });

  test("a resolver that never answers: ETIMEDOUT (phase resolve); an abort: ERR_ABORTED; a late answer dials nothing", { timeout: 10_000 }, async (t) => {
    await guarded(t, "resolver never answers", async () => {
      const peer = await rawServer(() => {});
      try {
        let release: (v: readonly { address: string; family: 4 }[]) => void = () => {};
        const late: Lookup = () => new Promise((resolve) => { release = resolve; });
        const { ms } = await expectSocketError(connect(`tcp://never.invalid:${peer.port}`, { lookup: late, timeout: 300 }), "ETIMEDOUT", "resolve");
        assert.ok(ms >= 290 && ms < 5000, `after ${ms} ms`);
        // The answer arrives after the deadline: no connection is made from it.
        release([{ address: "127.0.0.1", family: 4 }]);
        await sleep(100);
        assert.equal(peer.accepted, 0, "a late resolver answer opened a connection");

        // A resolver that fails after the deadline: its rejection is nobody's (no unhandled rejection).
        let fail: (e: Error) => void = () => {};
        const lateFailure: Lookup = () => new Promise((_, reject) => { fail = reject; });
        await expectSocketError(connect(`tcp://never.invalid:${peer.port}`, { lookup: lateFailure, timeout: 100 }), "ETIMEDOUT", "resolve");
        fail(Object.assign(new Error("late"), { code: "ENOTFOUND" }));
        await sleep(20);

        const never: Lookup = () => new Promise(() => {});
        const controller = new AbortController();
        setTimeout(() => controller.abort(new Error("user gave up")), 100);
        const aborted = await expectSocketError(connect(`tcp://never.invalid:${peer.port}`, { lookup: never, signal: controller.signal, timeout: 5000 }), "ERR_ABORTED", "resolve");
        return `ETIMEDOUT/resolve after ${ms.toFixed(0)} ms (deadline 300); late answer dialled nothing; late failure unobserved-safe; abort → ERR_ABORTED after ${aborted.ms.toFixed(0)} ms`;
      } finally {
        await peer.close();
      }
    });
  });
});

// ------------------------------------------------------------------------- EMFILE

/**
 * The child: a sockurl echo server and clients in one process limited to 64 descriptors.
 * Clients connect (and stay open) until connect() fails; then half are closed and a new client
 * must be served. Prints one JSON line of results.
 */
function emfileChild(indexUrl: string): string {
  return `
const { connect, listen, SocketError } = await import(${JSON.stringify(indexUrl)});
const escapes = [];
process.on("unhandledRejection", (e) => escapes.push("unhandledRejection: " + (e && e.message)));
process.on("uncaughtException", (e) => escapes.push("uncaughtException: " + (e && e.message)));
const fs = await import("node:fs");
const fds = () => { try { return fs.readdirSync("/proc/self/fd").length; } catch (e) { return e.code; } };
const out = { startFds: fds(), opened: 0, error: null, served: [], echoAfterFree: null, escapes, acceptErrors: 0 };
const server = await listen("tcp://127.0.0.1:0");
const peers = [];
(async () => {
  for (;;) {
    let peer;
    try { peer = await server.accept(); } catch (e) { if (e.code === "ERR_SOCKET_CLOSED") return; out.acceptErrors++; continue; }
    peers.push(peer);
    (async () => {
      try {
        for (let line; (line = await peer.readLine()) !== null; ) await peer.write("echo " + line + "\\n");
      } catch {}
      peer.destroy();
    })();
  }
})();
// Hold one descriptor back while the clients use up the rest. Each client costs two (its own and
// the accepted one), so whether the server or a client meets the limit first depends on parity;
// giving back exactly this one afterwards makes the next client take the last descriptor, leaving
// the server's accept() without one, whatever the parity was.
const hold = fs.openSync("/dev/null", "r");
const clients = [];
for (let i = 0; i < 200; i++) {
  try {
    clients.push(await connect(server.url, { timeout: 2000 }));
    out.opened++;
  } catch (e) {
    out.error = { isSocketError: e instanceof SocketError, name: e.name, code: e.code, phase: e.phase, errno: e.errno, message: e.message };
    break;
  }
}
out.fdsAtLimit = fds();
// Every other way of asking for a descriptor fails the same way, typed.
out.others = {};
for (const [name, fn] of [
  ["listen tcp", () => listen("tcp://127.0.0.1:0")],
  ["listen udp", () => listen("udp://127.0.0.1:0")],
  ["connect udp", () => connect(server.url.replace("tcp:", "udp:"))],
  ["connect tls", () => connect(server.url.replace("tcp:", "tls:"), { timeout: 2000 })],
  ["connect startTls", () => connect(server.url, { timeout: 2000, startTls: "smtp" })],
]) {
  try {
    const r = await fn();
    out.others[name] = "succeeded";
    await r.close();
  } catch (e) {
    out.others[name] = (e instanceof SocketError ? "" : "NOT A SocketError ") + e.code + "/" + e.phase;
  }
}
// One descriptor free: the last client takes it, and the server's accept() meets the limit.
fs.closeSync(hold);
let last = null;
try {
  last = await connect(server.url, { timeout: 2000 });
  clients.push(last);
  out.opened++;
} catch (e) {
  out.lastClient = "connect failed: " + e.code;
}
await new Promise((r) => setTimeout(r, 200));
out.acceptedAtLimit = peers.length;
// Free descriptors: close most clients (the server side closes its end when it reads EOF).
for (const c of clients.splice(0, clients.length - 4)) await c.close();
await new Promise((r) => setTimeout(r, 200));
// The client whose connection arrived while the server had no descriptor: served late, or closed.
if (last !== null) {
  try {
    last.readTimeout = 2000;
    await last.write("late\\n");
    out.lastClient = await last.readLine();
  } catch (e) {
    out.lastClient = e.code;
  }
}
out.fdsAfterFree = fds();
// The server keeps serving.
for (let i = 0; i < 3; i++) {
  const c = await connect(server.url, { timeout: 2000, readTimeout: 2000 });
  await c.write("hello " + i + "\\n");
  out.served.push(await c.readLine());
  await c.close();
}
for (const c of clients) c.destroy();
await server.close();
for (const p of peers) p.destroy();
await new Promise((r) => setTimeout(r, 50));
out.endFds = fds();
process.stdout.write(JSON.stringify(out) + "\\n");
process.exit(0);
`;
}

describe("running out of descriptors", () => {
  test("a child with ulimit -n 64: connect() rejects EMFILE (a SocketError, no crash); the server serves again once descriptors free up", { timeout: 30_000 }, async (t) => {
    await guarded(t, "EMFILE in a child with 64 descriptors", async () => {
      const here = dirname(fileURLToPath(import.meta.url));
      const indexUrl = pathToFileURL(join(here, "..", "..", "src", "index.js")).href;
      const script = emfileChild(indexUrl);
      const hasPrlimit = spawnSync("prlimit", ["--version"]).status === 0;
      const [cmd, args] = hasPrlimit
        ? ["prlimit", ["--nofile=64:64", process.execPath, "--input-type=module", "-e", script]] as const
        : ["sh", ["-c", 'ulimit -n 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script]] as const;
      const child = spawn(cmd, [...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => { stdout += d; });
      child.stderr.on("data", (d: Buffer) => { stderr += d; });
      const code = await within(new Promise<number | null>((resolve) => child.once("close", resolve)), 25_000, "the EMFILE child");
      assert.equal(code, 0, `child exited ${code}: ${stderr}`);
      const result = JSON.parse(stdout.trim().split("\n").pop()!) as {
        startFds: number; opened: number; fdsAtLimit: number; fdsAfterFree: number; endFds: number;
        error: { isSocketError: boolean; code: string; phase: string; errno: number; message: string } | null;
        served: string[]; escapes: string[]; acceptErrors: number; acceptedAtLimit: number; lastClient: string | null;
        others: Record<string, string>;
      };
      assert.ok(result.error, "connect never failed under a 64-descriptor limit");
      assert.equal(result.error.isSocketError, true, result.error.message);
      assert.equal(result.error.code, "EMFILE", result.error.message);
      assert.equal(result.error.phase, "connect");
      assert.equal(result.error.errno, 24);
      assert.deepEqual(result.served, ["echo hello 0", "echo hello 1", "echo hello 2"]);
      assert.deepEqual(result.escapes, []);
      assert.deepEqual(result.others, {
        "listen tcp": "EMFILE/listen", "listen udp": "EMFILE/listen", "connect udp": "EMFILE/connect",
        "connect tls": "EMFILE/connect", "connect startTls": "EMFILE/connect",
      });
      assert.ok(result.acceptedAtLimit < result.opened, "every connection was accepted: the server never ran out");
      assert.ok(result.lastClient === null || result.lastClient === "echo late" || result.lastClient === "ECONNRESET",
        `the client that arrived at the limit got ${result.lastClient}`);
      return `child started with ${result.startFds} fds; ${result.opened - 1} clients opened before connect() rejected ` +
        `${result.error.code}/${result.error.phase} ("${result.error.message}"); fds ${result.fdsAtLimit} at the limit → ` +
        `${result.fdsAfterFree} after closing clients; with one descriptor given back, one more client connected and ` +
        `the server had accepted ${result.acceptedAtLimit} of ${result.opened}; ` +
        `the client that arrived at the limit then got ${JSON.stringify(result.lastClient)}; 3 new clients echoed; ` +
        `at the limit: ${Object.entries(result.others).map(([k, v]) => `${k} → ${v}`).join(", ")}`;
    });
  });
});

after(() => {});
