/**
 * listen() and Server: real ports, the accept queue, deadlines, close, options.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { connect, listen, parseAddress, type Socket } from "../src/index.js";
import { rejectsWith, sleep, tempDir, until } from "./helpers.js";

describe("listen", () => {
  test("port 0 gives a real port in url and address", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const a = parseAddress(server.url);
      assert.ok("port" in a && a.port > 0);
      assert.deepEqual(server.address, a);
    } finally {
      await server.close();
    }
  });

  test("a bare host:port listens on tcp; [::1] on IPv6", async () => {
    const v4 = await listen("127.0.0.1:0");
    const v6 = await listen("tcp://[::1]:0");
    try {
      assert.match(v4.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.match(v6.url, /^tcp:\/\/\[::1\]:\d+$/);
    } finally {
      await v4.close();
      await v6.close();
    }
  });

  test("a host name is resolved for listening", async () => {
    const server = await listen("tcp://localhost:0");
    try {
      assert.match(server.url, /^tcp:\/\/(127\.0\.0\.1|\[::1\]):\d+$/);
    } finally {
      await server.close();
    }
  });

  test("accepted sockets know both ends", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const client = await connect(server.url);
      const peer = await server.accept();
      assert.equal(peer.transport, "tcp");
      assert.equal(peer.remote.port, client.local.port);
      assert.equal(peer.url, `tcp://127.0.0.1:${client.local.port}`);
      assert.equal(client.remote.port, peer.local.port);
      client.destroy();
      peer.destroy();
    } finally {
      await server.close();
    }
  });

  test("unix servers accept, and remove their socket file on close", async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, "srv.sock");
    const server = await listen(`unix://${path}`);
    try {
      assert.equal(server.url, `unix://${path}`);
      const client = await connect(`unix://${path}`);
      const peer = await server.accept();
      await client.write("over unix\n");
      assert.equal(await peer.readLine(), "over unix");
      assert.equal(client.remote.family, "unix");
      client.destroy();
      peer.destroy();
    } finally {
      await server.close();
      await sleep(20);
      assert.equal(existsSync(path), false);
      cleanup();
    }
  });

  test("bad listen options are ERR_INVALID_OPTION before binding", async () => {
    await rejectsWith(listen("tcp://127.0.0.1:0", { backlog: 0 }), "ERR_INVALID_OPTION", { message: /backlog/ });
    await rejectsWith(listen("tcp://127.0.0.1:0", { ipv6Only: 1 as unknown as boolean }), "ERR_INVALID_OPTION");
    await rejectsWith(listen("tcp://127.0.0.1:0", { nonsense: true } as never), "ERR_INVALID_OPTION");
  });

  test("backlog and ipv6Only are applied: an IPv6-only listener leaves the IPv4 port free", async () => {
    const server = await listen("tcp://[::]:0", { ipv6Only: true, backlog: 16 });
    try {
      const port = server.port;
      const v4 = await listen(`tcp://0.0.0.0:${port}`);
      await v4.close();
    } finally {
      await server.close();
    }
  });

  test("reusePort works where the platform has it, and is refused with the reason where not", async () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    const supported = major > 22 || (major === 22 && minor >= 12);
    if (supported) {
      const a = await listen("tcp://127.0.0.1:0", { reusePort: true });
      const b = await listen(a.url, { reusePort: true });
      await a.close();
      await b.close();
    } else {
      await rejectsWith(listen("tcp://127.0.0.1:0", { reusePort: true }), "ERR_INVALID_OPTION", { message: /Node\.js 22\.12/ });
    }
  });
});

describe("Server.accept", () => {
  test("accept with a timeout rejects ETIMEDOUT (phase accept) and the server keeps working", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      await rejectsWith(server.accept({ timeout: 50 }), "ETIMEDOUT", { phase: "accept" });
      const client = await connect(server.url);
      const peer = await server.accept({ timeout: 1000 });
      client.destroy();
      peer.destroy();
    } finally {
      await server.close();
    }
  });

  test("accept is cancelled by an AbortSignal", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      await rejectsWith(server.accept({ signal: AbortSignal.timeout(30) }), "ERR_ABORTED");
      await rejectsWith(server.accept({ timeout: -1 }), "ERR_INVALID_OPTION");
    } finally {
      await server.close();
    }
  });

  test("close rejects pending accepts, ends iteration, and closes never-accepted connections", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const first = await connect(server.url);
    const neverAccepted = await connect(server.url);
    try {
      const taken = await server.accept();
      assert.equal(taken.remote.port, first.local.port);
      taken.destroy();
      await sleep(30);
      // One connection is queued; a second accept() call would take it, so iterate instead.
      const iterated: Socket[] = [];
      const loop = (async () => {
        for await (const s of server) iterated.push(s);
      })();
      await sleep(30);
      assert.equal(iterated.length, 1);
      const waiting = rejectsWith(server.accept(), "ERR_SOCKET_CLOSED", { phase: "accept" });
      await server.close();
      await waiting;
      await loop;
      await rejectsWith(server.accept(), "ERR_SOCKET_CLOSED");
      await server.close();
      iterated.forEach((s) => s.destroy());
    } finally {
      first.destroy();
      neverAccepted.destroy();
      await server.close();
    }
  });

  test("connections queued but never accepted are closed by server.close()", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const client = await connect(server.url);
    await sleep(30);
    await server.close();
    assert.equal(await client.read(), null);
    client.destroy();
  });

  test("a full accept queue drops new connections and counts them", async () => {
    const server = await listen("tcp://127.0.0.1:0", { acceptQueue: 2 });
    const clients: Socket[] = [];
    try {
      for (let i = 0; i < 5; i++) clients.push(await connect(server.url));
      await until(() => server.dropped >= 3, "3 connections dropped", 10_000);
      assert.equal(server.dropped, 3);
      const kept = [await server.accept(), await server.accept()];
      await Promise.all(kept.map((s) => s.write("kept\n")));
      const first = await Promise.all(clients.map((c) => c.readLine().catch((e: Error) => e)));
      assert.equal(first.filter((e) => e === "kept").length, 2);
      assert.equal(first.filter((e) => e === null || e instanceof Error).length, 3);
      kept.forEach((s) => s.destroy());
    } finally {
      clients.forEach((c) => c.destroy());
      await server.close();
    }
  });

  test("a client that connects and vanishes does not disturb the accept loop", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const served: string[] = [];
      const loop = (async () => {
        for await (const s of server) {
          const line = await s.readLine().catch((e: Error) => `error: ${e.message}`);
          served.push(String(line));
          s.destroy();
          if (served.length === 3) return;
        }
      })();
      (await connect(server.url)).destroy();
      const rude = await connect(server.url);
      rude.destroy(new Error("bye"));
      const polite = await connect(server.url);
      await polite.write("hello\n");
      await loop;
      assert.ok(served.includes("hello"), JSON.stringify(served));
      polite.destroy();
    } finally {
      await server.close();
    }
  });
});
