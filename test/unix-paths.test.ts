/**
 * Unix socket paths: the sun_path limit (a longer path is refused before any I/O instead of
 * being cut by the system), and Linux abstract names (`unix://@name`), which create no file.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { connect, formatAddress, listen, parseAddress, type DatagramTarget } from "../src/index.js";
import { rejectsWith, tempDir } from "./helpers.js";

const linux = process.platform === "linux";
/** The longest path a unix socket can have: sun_path less its terminating NUL. */
const MAX_PATH = linux ? 107 : 103;

/** A path under `dir` of exactly `bytes` bytes (UTF-8). */
function pathOf(dir: string, bytes: number, fill = "x"): string {
  const base = `${dir}/`;
  const room = bytes - Buffer.byteLength(base);
  const unit = Buffer.byteLength(fill);
  const name = fill.repeat(Math.floor(room / unit)) + "y".repeat(room % unit);
  const path = base + name;
  assert.equal(Buffer.byteLength(path), bytes);
  return path;
}

const unique = (): string => `sockurl-test-${process.pid}-${Math.random().toString(36).slice(2)}`;

describe("unix path length", () => {
  test(`a ${MAX_PATH}-byte unix path listens and connects; ${MAX_PATH + 1} bytes is ERR_INVALID_ADDRESS for listen and connect, and no file appears`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const fits = pathOf(dir, MAX_PATH);
      const server = await listen(`unix://${fits}`);
      const client = await connect(server.url);
      const peer = await server.accept();
      await client.write("fits\n");
      assert.equal(await peer.readLine(), "fits");
      client.destroy();
      peer.destroy();
      await server.close();

      const long = pathOf(dir, MAX_PATH + 1);
      const err = await rejectsWith(listen(`unix://${long}`), "ERR_INVALID_ADDRESS", { phase: "address", message: /108 bytes|104 bytes/ });
      assert.match(err.message, new RegExp(`at most ${MAX_PATH}`));
      await rejectsWith(connect(`unix://${long}`), "ERR_INVALID_ADDRESS", { phase: "address" });
      // The cut path that the system would have used instead:
      assert.equal(existsSync(long.slice(0, -1)), false);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      cleanup();
    }
  });

  test("the limit counts bytes, not characters", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const long = pathOf(dir, MAX_PATH + 1, "é");
      assert.ok(long.length <= MAX_PATH, "fewer characters than the limit");
      await rejectsWith(listen(`unix://${long}`), "ERR_INVALID_ADDRESS");
      await rejectsWith(listen({ transport: "unix", path: long }), "ERR_INVALID_ADDRESS");
    } finally {
      cleanup();
    }
  });

  test("udg:// refuses a long path for listen, connect, bindTo and sendTo", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const long = pathOf(dir, MAX_PATH + 1);
      await rejectsWith(listen(`udg://${long}` as DatagramTarget), "ERR_INVALID_ADDRESS", { phase: "address" });
      await rejectsWith(connect(`udg://${long}` as DatagramTarget), "ERR_INVALID_ADDRESS", { phase: "address" });
      const server = await listen(`udg://${join(dir, "s.sock")}`);
      try {
        await rejectsWith(connect(server.url, { bindTo: long }), "ERR_INVALID_ADDRESS");
        await rejectsWith(server.sendTo("x", long), "ERR_INVALID_ADDRESS");
        await rejectsWith(server.sendTo("x", `udg://${long}`), "ERR_INVALID_ADDRESS");
        await rejectsWith(server.sendTo("x", { host: long, port: 0, family: "unix" }), "ERR_INVALID_ADDRESS");
      } finally {
        await server.close();
      }
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      cleanup();
    }
  });
});

// Where the system has no abstract names, they are refused; on Linux the suite below runs.
if (!linux) {
  test("abstract socket names are refused with ERR_INVALID_ADDRESS where the system has none", async () => {
    await rejectsWith(listen("unix://@app"), "ERR_INVALID_ADDRESS");
  });
}

if (linux) describe("abstract unix sockets (Linux)", () => {
  test("parseAddress keeps @name, and formatAddress round-trips it", () => {
    assert.deepEqual(parseAddress("unix://@app"), { transport: "unix", path: "@app" });
    assert.equal(formatAddress(parseAddress("unix://@app")), "unix://@app");
    assert.deepEqual(parseAddress("unix://./@app"), { transport: "unix", path: "./@app" });
  });

  test("unix://@name listens and connects without creating a file", async () => {
    const name = unique();
    const before = readdirSync(process.cwd());
    const server = await listen(`unix://@${name}`);
    try {
      assert.equal(server.url, `unix://@${name}`);
      assert.deepEqual(server.address, { transport: "unix", path: `@${name}` });
      assert.equal(server.port, 0);
      const client = await connect(`unix://@${name}`);
      const peer = await server.accept();
      await client.write("abstract\n");
      assert.equal(await peer.readLine(), "abstract");
      await peer.write("back\n");
      assert.equal(await client.readLine(), "back");
      client.destroy();
      peer.destroy();
      // The kernel lists it in its abstract namespace ("@" for the leading NUL) ...
      assert.ok(readFileSync("/proc/net/unix", "latin1").includes(`@${name}`));
      // ... and nothing is on disk, neither "@name" nor "name".
      assert.deepEqual(readdirSync(process.cwd()), before);
      assert.equal(existsSync(`@${name}`), false);
      assert.equal(existsSync(name), false);
    } finally {
      await server.close();
    }
    await rejectsWith(connect(`unix://@${name}`), "ECONNREFUSED");
  });

  test("abstract names are distinct sockets: two names both listen, the same name twice is EADDRINUSE", async () => {
    const a = await listen(`unix://@${unique()}`);
    const b = await listen(`unix://@${unique()}`);
    try {
      await rejectsWith(listen(a.url), "EADDRINUSE", { phase: "listen" });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("an abstract name longer than sun_path allows is ERR_INVALID_ADDRESS", async () => {
    await rejectsWith(listen(`unix://@${"n".repeat(108)}`), "ERR_INVALID_ADDRESS", { phase: "address" });
    await rejectsWith(connect(`unix://@${"n".repeat(108)}`), "ERR_INVALID_ADDRESS", { phase: "address" });
    const u = unique();
    const longest = await listen(`unix://@${u}${"n".repeat(107 - u.length)}`);
    await longest.close();
  });

  test("udg://@name is refused with ERR_INVALID_ADDRESS (the unix-dgram addon cannot pass abstract names)", async () => {
    const err = await rejectsWith(listen(`udg://@${unique()}`), "ERR_INVALID_ADDRESS", { phase: "address" });
    assert.match(err.message, /abstract/);
    await rejectsWith(connect(`udg://@${unique()}`), "ERR_INVALID_ADDRESS", { phase: "address" });
  });
});
