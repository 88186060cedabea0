/**
 * Reads and writes that fit framed protocols (a clean end between frames is null, a header and
 * its body go out together, reads land in the caller's buffer), and a Socket's identity and
 * lifetime: endpoints taken at connect that stay true after close, ref/unref, `await using`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { connect, listen, type Socket } from "../src/index.js";
import { rawServer, rejectsWith, tempDir, until } from "./helpers.js";
import { makePki } from "./fixtures/pki.js";

const frame = (body: string): Buffer => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(Buffer.byteLength(body));
  return Buffer.concat([header, Buffer.from(body)]);
};

describe("framed reads", () => {
  it("readExactly resolves null at a clean end between frames, and ERR_UNEXPECTED_EOF inside one", { timeout: 20_000 }, async () => {
    const server = await rawServer((s) => s.end(Buffer.concat([frame("one"), frame("two"), frame("")])));
    const socket = await connect(server.url);
    try {
      const bodies: string[] = [];
      for (let header; (header = await socket.readExactly(4)) !== null; ) {
        bodies.push((await socket.readExactly(header.readUInt32BE(0)))!.toString());
      }
      assert.deepEqual(bodies, ["one", "two", ""]);
      assert.equal(await socket.readExactly(4), null, "still null after the end");
    } finally {
      await socket.close();
      await server.close();
    }
    const cut = await rawServer((s) => s.end(frame("three").subarray(0, 6)));
    const other = await connect(cut.url);
    try {
      const header = (await other.readExactly(4))!;
      await rejectsWith(other.readExactly(header.readUInt32BE(0)), "ERR_UNEXPECTED_EOF", { phase: "read", message: /2 of 5 bytes/ });
      assert.equal((await other.read())!.toString(), "th", "the partial frame stays readable");
    } finally {
      await other.close();
      await cut.close();
    }
  });

  it("readInto fills the caller's buffer, counts what it copied, mixes with other reads, and gives null at the end", { timeout: 20_000 }, async () => {
    const server = await rawServer((s) => s.end("hello\nworld, this is more than eight bytes"));
    const socket = await connect(server.url);
    try {
      assert.equal(await socket.readLine(), "hello");
      const buffer = new Uint8Array(8);
      const parts: string[] = [];
      for (let n; (n = await socket.readInto(buffer)) !== null; ) {
        assert.ok(n >= 1 && n <= 8, `copied ${n}`);
        parts.push(Buffer.from(buffer.subarray(0, n)).toString());
      }
      assert.equal(parts.join(""), "world, this is more than eight bytes");
      await rejectsWith(socket.readInto(new Uint8Array(0)), "ERR_INVALID_OPTION");
    } finally {
      await socket.close();
      await server.close();
    }
  });
});

describe("gathered writes", () => {
  it("write([header, body]) sends both, in order, strings and bytes alike; a bad element is refused before any byte", { timeout: 20_000 }, async () => {
    const received: Buffer[] = [];
    let ended = false;
    const server = await rawServer((s) => {
      s.on("data", (d: Buffer) => received.push(d));
      s.on("end", () => {
        ended = true;
        s.end();
      });
    });
    const socket = await connect(server.url);
    try {
      const body = Buffer.alloc(100_000, 0x62);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      await socket.write([header, body, "tail", new Uint8Array([0x21])]);
      await rejectsWith(socket.write(["ok", 42 as unknown as string]), "ERR_INVALID_OPTION", { phase: "write" });
      await socket.closeWrite();
      await until(() => ended, "the peer saw the end");
      const all = Buffer.concat(received);
      assert.equal(all.length, 4 + 100_000 + 4 + 1, "the refused write sent nothing");
      assert.equal(all.readUInt32BE(0), 100_000);
      assert.ok(all.subarray(4, 100_004).equals(body));
      assert.equal(all.subarray(100_004).toString(), "tail!");
    } finally {
      await socket.close();
      await server.close();
    }
  });
});

describe("endpoints and lifetime", () => {
  async function endpointsSurvive(socket: Socket, peerPort: number | null): Promise<void> {
    const remote = { ...socket.remote };
    const local = { ...socket.local };
    if (peerPort !== null) {
      assert.equal(remote.port, peerPort);
      assert.ok(local.port > 0);
      assert.equal(remote.family, "IPv4");
    }
    await socket.close();
    assert.deepEqual(socket.remote, remote, "remote after close()");
    assert.deepEqual(socket.local, local, "local after close()");
    socket.destroy();
    assert.deepEqual(socket.remote, remote, "remote after destroy()");
    assert.deepEqual(socket.local, local, "local after destroy()");
  }

  it("remote and local are taken at connect and stay true after close() and destroy(): tcp, tls, unix, accepted", { timeout: 30_000 }, async () => {
    const tcp = await listen("tcp://127.0.0.1:0");
    const port = Number(new URL(tcp.url.replace("tcp:", "http:")).port);
    const client = await connect(tcp.url);
    const accepted = await tcp.accept();
    await endpointsSurvive(client, port);
    await endpointsSurvive(accepted, client.local.port);
    await tcp.close();

    const world = await makePki();
    const secure = await listen("tls://127.0.0.1:0", { tls: { cert: world.valid.chain, key: world.valid.key } });
    const securePort = Number(new URL(secure.url.replace("tls:", "http:")).port);
    const accepting = secure.accept();
    const tlsClient = await connect(secure.url, { tls: { ca: world.caBundle, peerName: "localhost" } });
    (await accepting).destroy();
    await endpointsSurvive(tlsClient, securePort);
    await secure.close();

    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "s.sock");
      const unix = await listen(`unix://${path}`);
      const unixClient = await connect(`unix://${path}`);
      assert.deepEqual(unixClient.remote, { host: path, port: 0, family: "unix" });
      await endpointsSurvive(unixClient, null);
      await unix.close();
    } finally {
      cleanup();
    }
  });

  it("an unref()'d socket lets the process exit; ref() keeps it alive; await using closes it", { timeout: 30_000 }, async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const accepted: Socket[] = [];
    void (async () => {
      for await (const s of server) accepted.push(s);
    })();
    try {
      const index = pathToFileURL(fileURLToPath(new URL("../src/index.js", import.meta.url))).href;
      const child = (body: string) => spawnSync(process.execPath, ["--input-type=module", "-e",
        `import { connect } from ${JSON.stringify(index)};\n${body}`], { encoding: "utf8", timeout: 15_000 });
      const unrefd = child(`const s = await connect(${JSON.stringify(server.url)}); s.unref(); console.log("connected");`);
      assert.equal(unrefd.status, 0, unrefd.stderr);
      assert.equal(unrefd.stdout.trim(), "connected");
      // ref() again: only the child's own timer (2 s later) ends it, by destroying the socket.
      const refd = child(`const s = await connect(${JSON.stringify(server.url)}); s.unref(); s.ref();
        let closed = false; setTimeout(() => { closed = true; s.destroy(); }, 2000).unref();
        process.on("exit", () => console.log(closed ? "kept alive until destroyed" : "exited early"));`);
      assert.equal(refd.status, 0, refd.stderr);
      assert.equal(refd.stdout.trim(), "kept alive until destroyed");

      let inner: Socket | undefined;
      {
        await using socket = await connect(server.url);
        inner = socket;
        assert.ok(!socket.closed);
      }
      assert.ok(inner.closed, "closed at the end of the block");
    } finally {
      for (const s of accepted) s.destroy();
      await server.close();
    }
  });
});
