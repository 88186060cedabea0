/**
 * One contract suite, run against every stream transport: reads of every kind share one
 * buffer, limits hold, deadlines fire and leave the socket usable, closes are clean.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { connect, listen, type Socket } from "../src/index.js";
import { makePki } from "./fixtures/pki.js";
import { rejectsWith, sleep, tempDir, until } from "./helpers.js";

interface Pair {
  client: Socket;
  peer: Socket;
  done: () => Promise<void>;
}

const transports: Array<{ name: string; target: () => { url: string; cleanup: () => void } }> = [
  { name: "tcp (IPv4)", target: () => ({ url: "tcp://127.0.0.1:0", cleanup: () => {} }) },
  { name: "tcp (IPv6)", target: () => ({ url: "tcp://[::1]:0", cleanup: () => {} }) },
  {
    name: "unix",
    target: () => {
      const t = tempDir();
      return { url: `unix://${join(t.dir, "s.sock")}`, cleanup: t.cleanup };
    },
  },
];

async function pair(target: () => { url: string; cleanup: () => void }, options: { readTimeout?: number } = {}): Promise<Pair> {
  const t = target();
  const server = await listen(t.url);
  const [client, peer] = await Promise.all([connect(server.url, options), server.accept()]);
  return {
    client,
    peer,
    done: async () => {
      client.destroy();
      peer.destroy();
      await server.close();
      t.cleanup();
    },
  };
}

for (const { name, target } of transports) {
  describe(`stream contract: ${name}`, () => {
    test("read, readExactly, readLine, readUntil and iteration share one buffer", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await peer.write("line one\r\nline two\nABCDrecord\0tail bytes");
        await peer.closeWrite();
        assert.equal(await client.readLine(), "line one");
        assert.equal(await client.readLine(), "line two");
        assert.equal((await client.readExactly(4))!.toString(), "ABCD");
        assert.equal((await client.readUntil("\0"))!.toString(), "record");
        assert.equal((await client.read(4))!.toString(), "tail");
        const rest: Buffer[] = [];
        for await (const chunk of client) rest.push(chunk);
        assert.equal(Buffer.concat(rest).toString(), " bytes");
        assert.equal(await client.read(), null);
        assert.equal(await client.readLine(), null);
      } finally {
        await done();
      }
    });

    test("bytes split across many writes arrive whole through readLine", async () => {
      const { client, peer, done } = await pair(target);
      try {
        const text = "x".repeat(1000) + "\r\n";
        for (const ch of text.match(/.{1,7}/gs)!) await peer.write(ch);
        assert.equal(await client.readLine(), "x".repeat(1000));
      } finally {
        await done();
      }
    });

    test("readLine returns the unterminated tail at end of stream, then null", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await peer.write("complete\npartial");
        await peer.close();
        assert.equal(await client.readLine(), "complete");
        assert.equal(await client.readLine(), "partial");
        assert.equal(await client.readLine(), null);
      } finally {
        await done();
      }
    });

    test("readLine past maxLength fails with ERR_LINE_TOO_LONG and the bytes stay readable", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await peer.write("a".repeat(100));
        await rejectsWith(client.readLine({ maxLength: 50 }), "ERR_LINE_TOO_LONG", { phase: "read" });
        assert.equal((await client.readExactly(100))!.toString(), "a".repeat(100));
      } finally {
        await done();
      }
    });

    test("readLine with the default 8 KiB limit (DEFAULT_MAX_LINE) stops a peer that never sends a line end", async () => {
      const { client, peer, done } = await pair(target);
      try {
        const flood = (async () => {
          const chunk = Buffer.alloc(16 * 1024, 0x41);
          for (let i = 0; i < 64; i++) await peer.write(chunk);
        })().catch(() => {});
        await rejectsWith(client.readLine(), "ERR_LINE_TOO_LONG", { message: /maxLength 8192 bytes/ });
        client.destroy();
        await flood;
      } finally {
        await done();
      }
    });

    test("readExactly fails with ERR_UNEXPECTED_EOF when the peer closes early", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await peer.write("12345");
        await peer.close();
        await rejectsWith(client.readExactly(10), "ERR_UNEXPECTED_EOF", { message: /5 of 10/ });
        assert.equal((await client.read())!.toString(), "12345");
        assert.equal(await client.readExactly(10), null, "a clean end between frames is null");
      } finally {
        await done();
      }
    });

    test("readUntil at end of stream inside a record fails with ERR_UNEXPECTED_EOF", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await peer.write("no delimiter here");
        await peer.close();
        await rejectsWith(client.readUntil("\r\n\r\n"), "ERR_UNEXPECTED_EOF");
      } finally {
        await done();
      }
    });

    test("a read that waits past readTimeout rejects ETIMEDOUT and the socket stays usable", async () => {
      const { client, peer, done } = await pair(target, { readTimeout: 100 });
      try {
        assert.equal(client.readTimeout, 100);
        const started = Date.now();
        await rejectsWith(client.readLine(), "ETIMEDOUT", { phase: "read" });
        assert.ok(Date.now() - started >= 90);
        await peer.write("late\n");
        assert.equal(await client.readLine(), "late");
        client.readTimeout = 0;
        assert.throws(() => { client.readTimeout = -1; }, { code: "ERR_INVALID_OPTION" });
      } finally {
        await done();
      }
    });

    test("a half-close lets the peer read to the end and still answer", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await client.write("request body");
        await client.closeWrite();
        assert.equal((await peer.readAll()).toString(), "request body");
        await peer.write("reply\n");
        await peer.close();
        assert.equal(await client.readLine(), "reply");
        await rejectsWith(client.write("more"), "ERR_SOCKET_CLOSED", { phase: "write" });
      } finally {
        await done();
      }
    });

    test("close() after the peer's end delivers every byte written, then end of stream, never a reset", async () => {
      const { client, peer, done } = await pair(target);
      try {
        // The peer half-closes first; we answer with 32 KiB that is in the kernel, not yet read.
        await peer.closeWrite();
        assert.equal(await client.read(), null);
        const body = Buffer.alloc(32 * 1024, 0x5a);
        await client.write(body);
        await client.flush();
        assert.equal(client.bufferedAmount, 0);
        await client.close();
        const got = await peer.readAll();
        assert.equal(got.length, body.length);
        assert.ok(got.equals(body));
        assert.equal(await peer.read(), null);
      } finally {
        await done();
      }
    });

    test("reads and writes after close reject ERR_SOCKET_CLOSED; close twice is harmless", async () => {
      const { client, done } = await pair(target);
      try {
        const pending = rejectsWith(client.readLine(), "ERR_SOCKET_CLOSED");
        await client.close();
        await pending;
        await client.close();
        await rejectsWith(client.read(), "ERR_SOCKET_CLOSED", { phase: "read" });
        await rejectsWith(client.write("x"), "ERR_SOCKET_CLOSED", { phase: "write" });
        assert.equal(client.closed, true);
      } finally {
        await done();
      }
    });

    test("destroy(err) rejects pending reads with that error, wrapped as a SocketError", async () => {
      const { client, done } = await pair(target);
      try {
        const pending = rejectsWith(client.readExactly(1), "ECONNRESET");
        client.destroy(Object.assign(new Error("gone"), { code: "ECONNRESET" }));
        await pending;
      } finally {
        await done();
      }
    });

    test("reads pause the socket at the high-water mark: a silent reader stalls the writer", async () => {
      const { client, peer, done } = await pair(target);
      try {
        let written = 0;
        const chunk = Buffer.alloc(64 * 1024);
        const total = 256 * 1024 * 1024;
        const writer = (async () => {
          while (written < total) {
            await peer.write(chunk);
            written += chunk.length;
          }
        })().catch(() => {});
        await sleep(500);
        // Kernel buffers on loopback hold a few MiB; without backpressure all 256 MiB would be written.
        assert.ok(written < 64 * 1024 * 1024, `writer was not held back: ${written} bytes written`);
        let read = 0;
        const first = await client.read();
        read += first!.length;
        while (read < 8 * 1024 * 1024) read += (await client.read())!.length;
        client.destroy();
        await writer;
      } finally {
        await done();
      }
    });

    test("writes resolve with backpressure and every byte arrives in order", async () => {
      const { client, peer, done } = await pair(target);
      try {
        const size = 8 * 1024 * 1024;
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = i % 251;
        const sending = (async () => {
          for (let off = 0; off < size; off += 100_000) await client.write(data.subarray(off, off + 100_000));
          await client.closeWrite();
        })();
        const got = await peer.readAll();
        await sending;
        assert.equal(got.length, size);
        assert.ok(got.equals(data));
      } finally {
        await done();
      }
    });

    test("flush() resolves when bufferedAmount is 0, so one buffer can be refilled for every write", async () => {
      const { client, peer, done } = await pair(target);
      try {
        assert.equal(client.bufferedAmount, 0);
        await client.flush(); // nothing queued: at once
        // One reused 256 KiB buffer, refilled only after flush(): every byte must arrive as written.
        const buffer = Buffer.alloc(256 * 1024);
        const rounds = 64;
        let sawQueued = false;
        const sending = (async () => {
          for (let round = 0; round < rounds; round++) {
            buffer.fill(round);
            void client.write(buffer);
            if (client.bufferedAmount > 0) sawQueued = true;
            await client.flush();
            assert.equal(client.bufferedAmount, 0);
          }
          await client.closeWrite();
        })();
        // The peer reads only once the kernel buffers are full and Node queues (a wait for the
        // event, not a guess at how long the filling takes on a busy machine).
        await until(() => sawQueued, "a write queued in Node while the peer does not read", 10_000);
        const got = await peer.readAll();
        await sending;
        assert.equal(got.length, rounds * buffer.length);
        for (let round = 0; round < rounds; round++) {
          const slice = got.subarray(round * buffer.length, (round + 1) * buffer.length);
          assert.ok(slice.every((b) => b === round), `round ${round} arrived unchanged`);
        }
        assert.ok(sawQueued, "some write was queued in Node, so flush() really waited");
      } finally {
        await done();
      }
    });

    test("flush() rejects when the connection is destroyed with bytes still queued", async () => {
      const { client, done } = await pair(target);
      try {
        // The peer never reads: the kernel buffers fill and Node keeps the rest.
        const chunk = Buffer.alloc(1024 * 1024);
        while (client.bufferedAmount === 0) {
          void client.write(chunk).catch(() => {});
          await sleep(1);
        }
        const flushing = client.flush();
        client.destroy();
        await rejectsWith(flushing, "ERR_SOCKET_CLOSED");
        await rejectsWith(client.flush(), "ERR_SOCKET_CLOSED");
      } finally {
        await done();
      }
    });

    test("bad arguments to read methods reject ERR_INVALID_OPTION", async () => {
      const { client, done } = await pair(target);
      try {
        await rejectsWith(client.read(0), "ERR_INVALID_OPTION");
        await rejectsWith(client.readExactly(-1), "ERR_INVALID_OPTION");
        await rejectsWith(client.readLine({ maxLength: 0 }), "ERR_INVALID_OPTION");
        await rejectsWith(client.readUntil(""), "ERR_INVALID_OPTION");
        await rejectsWith(client.write(42 as unknown as string), "ERR_INVALID_OPTION");
      } finally {
        await done();
      }
    });

    test("stream hands the connection over with unread bytes put back", async () => {
      const { client, peer, done } = await pair(target);
      try {
        await peer.write("first\nsecond\n");
        assert.equal(await client.readLine(), "first");
        const stream = client.stream;
        const data = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
        assert.equal(data.toString(), "second\n");
        await rejectsWith(client.readLine(), "ERR_SOCKET_CLOSED");
      } finally {
        await done();
      }
    });
  });
}

describe("flush() over TLS", () => {
  test("an empty write marks the end of what was written: every byte of one reused buffer arrives as written", async () => {
    const pki = await makePki();
    const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
    const [client, peer] = await Promise.all([
      connect(server.url, { tls: { ca: pki.caBundle, peerName: "localhost" } }),
      server.accept(),
    ]);
    try {
      const buffer = Buffer.alloc(256 * 1024);
      const rounds = 32;
      let queued = 0;
      const sending = (async () => {
        for (let round = 0; round < rounds; round++) {
          buffer.fill(round);
          void client.write(buffer);
          if (client.bufferedAmount > 0) queued++;
          await client.flush();
        }
        await client.closeWrite();
        await client.flush(); // after closeWrite: waits for 'finish', does not write
      })();
      await until(() => queued > 0, "a write queued in Node while the peer does not read", 10_000);
      const got = await peer.readAll();
      await sending;
      assert.equal(got.length, rounds * buffer.length);
      for (let round = 0; round < rounds; round++) {
        assert.ok(got.subarray(round * buffer.length, (round + 1) * buffer.length).every((b) => b === round), `round ${round}`);
      }
      assert.ok(queued > 0, "some write was queued in Node, so flush() really waited");
    } finally {
      client.destroy();
      peer.destroy();
      await server.close();
    }
  });
});
