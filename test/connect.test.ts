/**
 * connect(): validation before I/O, OS errors, deadlines, options and Happy Eyeballs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { connect, listen, SocketError, type Lookup } from "../src/index.js";
import { closedPort, rejectsWith, stalledListener, tempDir } from "./helpers.js";

describe("connect: refusals before any I/O", () => {
  test("an invalid address is ERR_INVALID_ADDRESS with the fix in the message", async () => {
    await rejectsWith(connect("tcp://::1:80"), "ERR_INVALID_ADDRESS", { phase: "address", message: /\[::1\]:80/ });
    await rejectsWith(connect("127.0.0.1"), "ERR_INVALID_ADDRESS", { message: /port/ });
    await rejectsWith(connect(42 as unknown as string), "ERR_INVALID_ADDRESS");
  });

  test("port 0 is refused for connect", async () => {
    await rejectsWith(connect("tcp://127.0.0.1:0"), "ERR_INVALID_ADDRESS", { message: /port 0/ });
  });

  test("an unknown transport is ERR_UNKNOWN_TRANSPORT and lists the known ones", async () => {
    await rejectsWith(connect("gopher://127.0.0.1:70"), "ERR_UNKNOWN_TRANSPORT", { message: /tcp.*udp/ });
  });

  test("sslv2:// and sslv3:// are ERR_UNSUPPORTED_TRANSPORT, pointing at tls://", async () => {
    await rejectsWith(connect("sslv2://127.0.0.1:443"), "ERR_UNSUPPORTED_TRANSPORT", { message: /RFC 6176.*tls:\/\// });
    await rejectsWith(connect("sslv3://127.0.0.1:443"), "ERR_UNSUPPORTED_TRANSPORT", { message: /RFC 7568.*tls:\/\// });
    await rejectsWith(listen("sslv3://127.0.0.1:0"), "ERR_UNSUPPORTED_TRANSPORT");
  });

  test("bad options are ERR_INVALID_OPTION naming the option", async () => {
    const url = "tcp://127.0.0.1:1";
    await rejectsWith(connect(url, { timeout: -5 }), "ERR_INVALID_OPTION", { message: /timeout/ });
    await rejectsWith(connect(url, { family: 5 as 4 }), "ERR_INVALID_OPTION", { message: /family/ });
    await rejectsWith(connect(url, { noDelay: "yes" as unknown as boolean }), "ERR_INVALID_OPTION", { message: /noDelay/ });
    await rejectsWith(connect(url, { lookup: "dns" as unknown as Lookup }), "ERR_INVALID_OPTION", { message: /lookup/ });
    await rejectsWith(connect(url, { bindTo: "localhost:0" }), "ERR_INVALID_OPTION", { message: /bindTo/ });
    await rejectsWith(connect(url, { bindTo: "nonsense" }), "ERR_INVALID_OPTION", { message: /bindTo/ });
    await rejectsWith(connect(url, { colour: "red" } as never), "ERR_INVALID_OPTION", { message: /unknown connect option "colour"/ });
    await rejectsWith(connect(url, { signal: {} as AbortSignal }), "ERR_INVALID_OPTION", { message: /signal/ });
  });

  test("options objects are not mutated", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const options = Object.freeze({ timeout: 1000, noDelay: true });
      const socket = await connect(server.url, options);
      socket.destroy();
      assert.deepEqual(options, { timeout: 1000, noDelay: true });
    } finally {
      await server.close();
    }
  });
});

describe("connect: errors from the system", () => {
  test("a closed port is ECONNREFUSED with errno, phase and target in the message", async () => {
    const port = await closedPort();
    const err = await rejectsWith(connect(`tcp://127.0.0.1:${port}`), "ECONNREFUSED", { phase: "connect" });
    assert.equal(err.errno, 111);
    assert.equal(err.address, `tcp://127.0.0.1:${port}`);
    assert.equal(err.message, `connect tcp://127.0.0.1:${port}: connection refused (ECONNREFUSED)`);
    assert.ok(err.cause instanceof Error);
  });

  test("a missing unix socket is ENOENT", async () => {
    await rejectsWith(connect("unix:///nonexistent/sockurl.sock"), "ENOENT", { phase: "connect" });
  });

  test("a name the resolver does not know is ENOTFOUND (phase resolve)", async () => {
    const empty: Lookup = () => [];
    await rejectsWith(connect("tcp://nowhere.test:80", { lookup: empty }), "ENOTFOUND", { phase: "resolve", message: /nowhere\.test/ });
    const failing: Lookup = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.test"), { code: "ENOTFOUND" });
    };
    await rejectsWith(connect("tcp://nowhere.test:80", { lookup: failing }), "ENOTFOUND", { phase: "resolve" });
  });

  test("the system resolver answers for localhost", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const port = (server.address as { port: number }).port;
      const socket = await connect(`tcp://localhost:${port}`, { family: 4 });
      assert.equal(socket.remote.host, "127.0.0.1");
      socket.destroy();
    } finally {
      await server.close();
    }
  });

  test("a resolver that never answers hits the deadline: ETIMEDOUT in phase resolve", async () => {
    const never: Lookup = () => new Promise(() => {});
    const started = Date.now();
    await rejectsWith(connect("tcp://slow.test:80", { lookup: never, timeout: 100 }), "ETIMEDOUT", { phase: "resolve" });
    // The deadline fires rather than never: a bound with room for a busy machine.
    assert.ok(Date.now() - started < 5000);
  });

  test("a server that never answers the handshake hits the deadline: ETIMEDOUT in phase connect", async () => {
    const stalled = await stalledListener("127.0.0.2");
    try {
      const started = Date.now();
      await rejectsWith(connect(`tcp://127.0.0.2:${stalled.port}`, { timeout: 300 }), "ETIMEDOUT", {
        phase: "connect", message: /300 ms/,
      });
      const took = Date.now() - started;
      assert.ok(took >= 280 && took < 5000, `took ${took} ms`);
    } finally {
      stalled.close();
    }
  });

  test("an AbortSignal cancels a connect in progress with ERR_ABORTED", async () => {
    const stalled = await stalledListener("127.0.0.2");
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await rejectsWith(connect(`tcp://127.0.0.2:${stalled.port}`, { signal: controller.signal }), "ERR_ABORTED");
      await rejectsWith(connect(`tcp://127.0.0.2:${stalled.port}`, { signal: AbortSignal.abort() }), "ERR_ABORTED");
    } finally {
      stalled.close();
    }
  });

  test("a signal aborted before connect() is ERR_ABORTED without dialling: the server sees nothing", async () => {
    const { dir, cleanup } = tempDir();
    const tcp = await listen("tcp://127.0.0.1:0");
    const unix = await listen(`unix://${dir}/s.sock`);
    try {
      for (const server of [tcp, unix]) {
        await rejectsWith(connect(server.url, { signal: AbortSignal.abort() }), "ERR_ABORTED", { phase: "connect" });
        await rejectsWith(server.accept({ timeout: 200 }), "ETIMEDOUT");
      }
    } finally {
      await Promise.all([tcp.close(), unix.close()]);
      cleanup();
    }
  });

  test("a finished connect, won or lost, leaves no timer holding the process open", { timeout: 30_000 }, async () => {
    // Every connect starts a 60 s deadline; a child that makes connects of each kind and then
    // has nothing left to do must exit at once, not when those deadlines would have passed.
    const closed = await closedPort();
    const index = JSON.stringify(pathToFileURL(fileURLToPath(new URL("../src/index.js", import.meta.url))).href);
    const script = `
      import { tmpdir } from "node:os";
      const { connect, listen } = await import(${index});
      const codeOf = (p) => p.then(() => "ok", (e) => e.code);
      const tcp = await listen("tcp://127.0.0.1:0");
      const unixPath = tmpdir() + "/sockurl-deadline-" + process.pid + ".sock";
      const unix = await listen("unix://" + unixPath);
      const lookup = () => [{ address: "127.0.0.1", family: 4 }];
      const results = [
        await codeOf(connect(tcp.url).then((s) => s.close())),
        await codeOf(connect("unix://" + unixPath).then((s) => s.close())),
        await codeOf(connect("tcp://named.test:" + tcp.address.port, { lookup }).then((s) => s.close())),
        await codeOf(connect("tcp://127.0.0.1:${closed}", { timeout: 1000 })),
        await codeOf(connect("unix://" + unixPath + ".missing")),
        await codeOf(connect(tcp.url, { signal: AbortSignal.abort() })),
      ];
      await tcp.close();
      await unix.close();
      console.log(results.join(" "));
    `;
    const start = performance.now();
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 50_000 });
    const ms = performance.now() - start;
    assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), "ok ok ok ECONNREFUSED ENOENT ERR_ABORTED");
    // A deadline left armed would hold the child for connect's default 60 s.
    assert.ok(ms < 30_000, `the child lingered ${Math.round(ms)} ms after its connects had finished`);
  });

  test("listening on a port in use is EADDRINUSE (phase listen)", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      await rejectsWith(listen(server.url), "EADDRINUSE", { phase: "listen" });
    } finally {
      await server.close();
    }
  });

  test("a peer reset surfaces as ECONNRESET on the pending read", async () => {
    const raw = net.createServer((s) => setTimeout(() => s.resetAndDestroy(), 20));
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const port = (raw.address() as net.AddressInfo).port;
      const socket = await connect(`tcp://127.0.0.1:${port}`);
      await rejectsWith(socket.readLine(), "ECONNRESET", { phase: "read" });
      await rejectsWith(socket.write("x"), "ECONNRESET", { phase: "write" });
      socket.destroy();
    } finally {
      raw.close();
    }
  });
});

describe("connect: options", () => {
  test("bindTo chooses the local address and port", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const probe = await listen("tcp://127.0.0.1:0");
      const freePort = (probe.address as { port: number }).port;
      await probe.close();
      const socket = await connect(server.url, { bindTo: `127.0.0.1:${freePort}` });
      assert.deepEqual(socket.local, { host: "127.0.0.1", port: freePort, family: "IPv4" });
      const peer = await server.accept();
      assert.equal(peer.remote.port, freePort);
      socket.destroy();
      peer.destroy();
    } finally {
      await server.close();
    }
  });

  test("bindTo of another family than the target is EAFNOSUPPORT", async () => {
    await rejectsWith(connect("tcp://127.0.0.1:9", { bindTo: "[::1]:0" }), "EAFNOSUPPORT");
  });

  test("family restricts resolution; an IP literal of the other family is refused", async () => {
    const lookup: Lookup = () => [{ address: "::1", family: 6 }];
    await rejectsWith(connect("tcp://v6only.test:80", { lookup, family: 4 }), "ENOTFOUND");
    await rejectsWith(connect("tcp://[::1]:80", { family: 4 }), "EAFNOSUPPORT", { phase: "resolve" });
  });

  test("noDelay and keepAlive are applied without error", async () => {
    const server = await listen("tcp://[::1]:0");
    try {
      const a = await connect(server.url, { noDelay: false, keepAlive: true });
      const b = await connect(server.url, { keepAlive: 5000 });
      assert.equal(a.remote.family, "IPv6");
      a.destroy();
      b.destroy();
    } finally {
      await server.close();
    }
  });
});

describe("connect: Happy Eyeballs (RFC 8305)", () => {
  test("a stalled first address costs one attempt delay, not a timeout", async () => {
    const stalled = await stalledListener("127.0.0.2");
    const server = await listen(`tcp://127.0.0.1:${stalled.port}`).catch(() => null);
    if (server === null) {
      stalled.close();
      throw new Error(`port ${stalled.port} on 127.0.0.1 is taken; cannot pair it with the stalled listener`);
    }
    try {
      const lookup: Lookup = () => [
        { address: "127.0.0.2", family: 4 },
        { address: "127.0.0.1", family: 4 },
      ];
      for (const attemptDelay of [100, 250]) {
        const started = performance.now();
        const socket = await connect(`tcp://multi.test:${stalled.port}`, { lookup, attemptDelay, timeout: 30_000 });
        const took = performance.now() - started;
        assert.equal(socket.remote.host, "127.0.0.1");
        // Not before the delay; and after it, not at the connect timeout (the upper bound has room for a busy machine).
        assert.ok(took >= attemptDelay - 10 && took < 10_000, `attemptDelay ${attemptDelay}: took ${took.toFixed(0)} ms`);
        socket.destroy();
        (await server.accept()).destroy();
      }
    } finally {
      stalled.close();
      await server.close();
    }
  });

  test("a refused first address moves on at once, without waiting for the delay", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const port = (server.address as { port: number }).port;
    try {
      const lookup: Lookup = () => [
        { address: "127.0.0.3", family: 4 },
        { address: "127.0.0.1", family: 4 },
      ];
      // 127.0.0.3 has no listener on this port: refused immediately.
      const started = performance.now();
      const socket = await connect(`tcp://multi.test:${port}`, { lookup, attemptDelay: 30_000 });
      assert.ok(performance.now() - started < 10_000, "moved on before the attempt delay");
      socket.destroy();
    } finally {
      await server.close();
    }
  });

  test("when every address fails, the error keeps each attempt's error in its cause", async () => {
    const port = await closedPort();
    const lookup: Lookup = () => [
      { address: "127.0.0.1", family: 4 },
      { address: "::1", family: 6 },
      { address: "127.0.0.4", family: 4 },
    ];
    const err = await rejectsWith(connect(`tcp://multi.test:${port}`, { lookup }), "ECONNREFUSED", {
      phase: "connect", message: /all 3 addresses failed/,
    });
    assert.ok(err.cause instanceof AggregateError);
    assert.equal(err.cause.errors.length, 3);
    for (const e of err.cause.errors) assert.equal((e as { code: string }).code, "ECONNREFUSED");
  });

  test("the deadline during Happy Eyeballs keeps the failures so far", async () => {
    const stalled = await stalledListener("127.0.0.2");
    try {
      const lookup: Lookup = () => [
        { address: "127.0.0.5", family: 4 }, // refused at once
        { address: "127.0.0.2", family: 4 }, // stalls
      ];
      const err = await rejectsWith(connect(`tcp://multi.test:${stalled.port}`, { lookup, timeout: 200 }), "ETIMEDOUT");
      assert.ok(err.cause instanceof AggregateError);
      assert.equal((err.cause.errors[0] as { code: string }).code, "ECONNREFUSED");
    } finally {
      stalled.close();
    }
  });

  test("the losing attempts are closed: one connection reaches the server", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const port = (server.address as { port: number }).port;
    const v6 = await listen(`tcp://[::1]:${port}`).catch(() => null);
    try {
      const lookup: Lookup = () => [
        { address: "127.0.0.1", family: 4 },
        { address: "::1", family: 6 },
      ];
      const socket = await connect(`tcp://both.test:${port}`, { lookup, attemptDelay: 0 });
      socket.destroy();
      const accepted = await server.accept({ timeout: 1000 });
      accepted.destroy();
      if (v6) {
        // Any second connection that got through was closed by the loser handling.
        const extra = await v6.accept({ timeout: 300 }).catch((e: SocketError) => e);
        if (!(extra instanceof SocketError)) {
          assert.equal(await extra.read(), null);
          extra.destroy();
        }
      }
    } finally {
      await server.close();
      await v6?.close();
    }
  });
});
