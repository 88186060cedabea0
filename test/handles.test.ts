/**
 * Server and DatagramSocket as handles: `port`, ref()/unref() (checked in child processes,
 * which must exit on their own or stay up), `await using`, and the accepted socket's URL.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, listen, SocketError, type DatagramSocket, type Server } from "../src/index.js";
import { rejectsWith, tempDir, until } from "./helpers.js";

/** The built package entry, for child processes (dist/test → dist/src). */
const entry = fileURLToPath(new URL("../src/index.js", import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `body` as an ES module in a child Node process with `listen`/`connect` imported, and
 * calls `onLine` for each line it prints. Killed after `limit` ms so that a child which
 * never exits cannot hang the suite (the caller then sees signal SIGKILL).
 */
function child(body: string, onLine: (line: string) => void = () => {}, limit = 20_000): Promise<Run> {
  const source = `import { listen, connect } from ${JSON.stringify(entry)};\n${body}`;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", source], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "", pending = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  proc.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
  const killer = setTimeout(() => proc.kill("SIGKILL"), limit);
  return new Promise((resolve) => proc.on("close", (code, signal) => {
    clearTimeout(killer);
    resolve({ code, signal, stdout, stderr });
  }));
}

describe("port", () => {
  test("Server.port and DatagramSocket.port are the real bound ports; unix and udg give 0", async () => {
    const { dir, cleanup } = tempDir();
    const tcp = await listen("tcp://127.0.0.1:0");
    const udp = await listen("udp://[::1]:0");
    const unix = await listen(`unix://${join(dir, "s.sock")}`);
    const udg = await listen(`udg://${join(dir, "d.sock")}`);
    try {
      assert.ok(tcp.port > 0);
      assert.equal(tcp.url, `tcp://127.0.0.1:${tcp.port}`);
      assert.ok(udp.port > 0);
      assert.equal(udp.url, `udp://[::1]:${udp.port}`);
      assert.equal(unix.port, 0);
      assert.equal(udg.port, 0);
      const client = await connect(udp.url);
      // A connected socket's port is its own; the peer's is remote.port.
      assert.equal(client.port, client.local.port);
      assert.equal(client.remote?.port, udp.port);
      await client.close();
    } finally {
      await tcp.close();
      await udp.close();
      await unix.close();
      await udg.close();
      cleanup();
    }
  });
});

describe("ref and unref", () => {
  test("a process whose only handles are an unref'd Server and DatagramSocket exits on its own", { timeout: 30_000 }, async () => {
    const run = await child(`
      const server = await listen("tcp://127.0.0.1:0");
      const udp = await listen("udp://127.0.0.1:0");
      server.unref();
      udp.unref();
      // Waiting on them must not keep the process up either.
      server.accept().catch(() => {});
      udp.receive().catch(() => {});
      console.log("listening", server.port, udp.port);
    `);
    assert.equal(run.signal, null, `the child had to be killed: it did not exit on its own\n${run.stderr}`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^listening \d+ \d+\n$/);
  });

  test("a ref'd Server keeps its process alive until the server is closed", { timeout: 30_000 }, async () => {
    let port = 0;
    const run = child(`
      const server = await listen("tcp://127.0.0.1:0");
      server.unref();
      server.ref();
      process.on("beforeExit", () => console.log("idle"));
      console.log("listening", server.port);
      // Only the parent's connection, made after it read the line above, ends this.
      const socket = await server.accept();
      console.log("accepted");
      socket.destroy();
      await server.close();
    `, (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) port = Number(m[1]);
    });
    await until(() => port !== 0, "the child listens", 20_000);
    // Had the server not held the loop, the child would have gone idle and exited already.
    const client = await connect(`tcp://127.0.0.1:${port}`);
    const result = await run;
    client.destroy();
    assert.equal(result.signal, null, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n").slice(1), ["accepted", "idle"]);
  });

  test("a ref'd DatagramSocket keeps its process alive until it is closed", { timeout: 30_000 }, async () => {
    let url = "";
    const run = child(`
      const udp = await listen("udp://127.0.0.1:0");
      udp.unref();
      udp.ref();
      process.on("beforeExit", () => console.log("idle"));
      console.log(udp.url);
      const { data } = await udp.receive();
      console.log("received", String(data));
      await udp.close();
    `, (line) => {
      if (line.startsWith("udp://")) url = line;
    });
    await until(() => url !== "", "the child is bound", 20_000);
    const client = await connect(url as `udp://${string}`);
    // Datagrams can be lost even on loopback: repeat until the child has one.
    let result: Run | undefined;
    void run.then((r) => { result = r; });
    while (result === undefined) {
      await client.send("hello");
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.close();
    assert.equal(result.signal, null, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n").slice(1), ["received hello", "idle"]);
  });

  test("udg:// sockets refuse unref() with ERR_UNSUPPORTED_TRANSPORT (the addon's handle cannot be unref'd); ref() is fine", async () => {
    const { dir, cleanup } = tempDir();
    const udg = await listen(`udg://${join(dir, "d.sock")}`);
    try {
      udg.ref();
      assert.throws(() => udg.unref(), (e: unknown) => e instanceof SocketError && e.code === "ERR_UNSUPPORTED_TRANSPORT");
    } finally {
      await udg.close();
      cleanup();
    }
  });
});

describe("await using", () => {
  test("Symbol.asyncDispose exists and closes a Server and a DatagramSocket", async () => {
    assert.equal(typeof Symbol.asyncDispose, "symbol");
    assert.equal(Symbol.asyncDispose, Symbol.for("nodejs.asyncDispose"));
    const { dir, cleanup } = tempDir();
    const path = join(dir, "s.sock");
    let server: Server;
    let udp: DatagramSocket;
    {
      await using s = await listen(`unix://${path}`);
      await using u = await listen("udp://127.0.0.1:0");
      server = s;
      udp = u;
      assert.ok(existsSync(path));
    }
    await rejectsWith(server.accept(), "ERR_SOCKET_CLOSED");
    await rejectsWith(udp.receive(), "ERR_SOCKET_CLOSED");
    await until(() => !existsSync(path), "the socket file is removed");
    cleanup();
  });
});

describe("accepted sockets", () => {
  test("an accepted socket's url names the client, also when read after the client has gone", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const client = await connect(server.url);
      const clientPort = client.local.port;
      client.destroy();
      const peer = await server.accept();
      // The peer is gone: its end of the stream closes (or resets), and the socket is destroyed.
      await peer.read().catch(() => null);
      peer.destroy();
      assert.equal(peer.url, `tcp://127.0.0.1:${clientPort}`);
    } finally {
      await server.close();
    }
  });

  test("over IPv6 too, and a unix socket's url is the server's", async () => {
    const { dir, cleanup } = tempDir();
    const v6 = await listen("tcp://[::1]:0");
    const unix = await listen(`unix://${join(dir, "s.sock")}`);
    try {
      const c6 = await connect(v6.url);
      const port = c6.local.port;
      c6.destroy();
      const p6 = await v6.accept();
      p6.destroy();
      assert.equal(p6.url, `tcp://[::1]:${port}`);
      const cu = await connect(unix.url);
      const pu = await unix.accept();
      cu.destroy();
      pu.destroy();
      assert.equal(pu.url, unix.url);
    } finally {
      await v6.close();
      await unix.close();
      cleanup();
    }
  });
});
