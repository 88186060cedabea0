/**
 * `sockurl listen`, spawned as built, with library clients: echo and print, --once, tls with a
 * throwaway certificate or --cert/--key, udp, errors.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, listen } from "../src/index.js";
import { makePki, type Pki } from "./fixtures/pki.js";
import { tempDir } from "./helpers.js";
import { killAll, oneLine, runCli, startListener } from "./cli-helpers.js";

let pki: Pki;
let dir: { dir: string; cleanup: () => void };

before(async () => {
  pki = await makePki();
  dir = tempDir();
});
after(() => {
  killAll();
  dir?.cleanup();
});

test("listen --echo --once: a library client gets its bytes back, and the command exits 0 after it", { timeout: 20_000 }, async () => {
  const listener = await startListener(["--echo", "--once", "tcp://127.0.0.1:0"]);
  try {
    assert.match(listener.url, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    const socket = await connect(listener.url, { readTimeout: 10_000 });
    await socket.write("ping\n");
    assert.equal(await socket.readLine(), "ping");
    await socket.write("pong\n");
    await socket.closeWrite();
    assert.equal((await socket.readAll()).toString(), "pong\n");
    await socket.close();
    assert.equal(await listener.exited, 0);
    assert.equal(listener.stdout(), "", "echo mode prints nothing");
  } finally {
    listener.kill();
  }
});

test("listen --once without --echo prints what arrives on stdout", { timeout: 20_000 }, async () => {
  const listener = await startListener(["--once", "tcp://[::1]:0"]);
  try {
    assert.match(listener.url, /^tcp:\/\/\[::1\]:\d+$/);
    const socket = await connect(listener.url);
    await socket.write("line one\nline two\n");
    await socket.closeWrite();
    assert.equal(await socket.read(), null, "the listener ends its side after ours");
    await socket.close();
    assert.equal(await listener.exited, 0);
    assert.equal(listener.stdout(), "line one\nline two\n");
  } finally {
    listener.kill();
  }
});

test("listen serves connections concurrently until SIGTERM; -v reports each", { timeout: 20_000 }, async () => {
  const listener = await startListener(["--echo", "-v", "tcp://127.0.0.1:0"]);
  try {
    const a = await connect(listener.url, { readTimeout: 10_000 });
    const b = await connect(listener.url, { readTimeout: 10_000 });
    await b.write("b\n");
    await a.write("a\n");
    assert.equal(await a.readLine(), "a");
    assert.equal(await b.readLine(), "b");
    await a.close();
    await b.close();
    await listener.waitForStderr(/^\* connection from tcp:\/\/127\.0\.0\.1:\d+$(.|\n)*^\* connection from/m);
    listener.child.kill("SIGTERM");
    assert.equal(await listener.exited, 0);
  } finally {
    listener.kill();
  }
});

test("listen tls:// without --cert: a throwaway certificate whose printed fingerprint the client can pin", { timeout: 30_000 }, async () => {
  const listener = await startListener(["--echo", "--once", "tls://127.0.0.1:0"]);
  try {
    assert.match(listener.url, /^tls:\/\/127\.0\.0\.1:\d+$/);
    const [, fingerprint] = await listener.waitForStderr(/^sha256 fingerprint: ([0-9A-F:]{95})$/m);
    const [, advice] = await listener.waitForStderr(/^connect with: (sockurl connect --fingerprint [0-9A-F:]{95} tls:\/\/127\.0\.0\.1:\d+)$/m);
    assert.equal(advice, `sockurl connect --fingerprint ${fingerprint} ${listener.url}`);
    const socket = await connect(listener.url, { tls: { fingerprint: fingerprint! }, readTimeout: 10_000 });
    const peer = socket.tls!.peerCertificate!;
    assert.equal(peer.fingerprint256, fingerprint);
    assert.equal(peer.subject, peer.issuer, "self-signed");
    assert.deepEqual(peer.subjectAltNames.slice(0, 2), ["DNS:localhost", "IP Address:127.0.0.1"]);
    assert.match(peer.subjectAltNames[2]!, /^IP Address:(::1|0:0:0:0:0:0:0:1)$/);
    await socket.write("over tls\n");
    assert.equal(await socket.readLine(), "over tls");
    await socket.close();
    assert.equal(await listener.exited, 0);
  } finally {
    listener.kill();
  }
});

test("listen tls:// with --cert and --key serves that certificate", { timeout: 20_000 }, async () => {
  const cert = join(dir.dir, "server.crt");
  const key = join(dir.dir, "server.key");
  writeFileSync(cert, pki.valid.chain);
  writeFileSync(key, pki.valid.key);
  const listener = await startListener(["--echo", "--once", "--cert", cert, "--key", key, "tls://127.0.0.1:0"]);
  try {
    assert.doesNotMatch(listener.stderr(), /fingerprint/);
    const socket = await connect(listener.url, { tls: { ca: pki.caBundle }, readTimeout: 10_000 });
    assert.equal(socket.tls!.authorized, true);
    await socket.write("verified\n");
    assert.equal(await socket.readLine(), "verified");
    await socket.close();
    assert.equal(await listener.exited, 0);
  } finally {
    listener.kill();
  }
});

test("listen --echo --once udp://: the datagram comes back to its sender", { timeout: 20_000 }, async () => {
  const listener = await startListener(["--echo", "--once", "udp://127.0.0.1:0"]);
  try {
    assert.match(listener.url, /^udp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    const client = await connect(listener.url as `udp://${string}`, { readTimeout: 10_000 });
    await client.send("datagram");
    assert.equal((await client.receive()).data.toString(), "datagram");
    await client.close();
    assert.equal(await listener.exited, 0);
  } finally {
    listener.kill();
  }
});

test("listen udp:// prints each datagram on its own line", { timeout: 20_000 }, async () => {
  const listener = await startListener(["udp://127.0.0.1:0"]);
  try {
    const client = await connect(listener.url as `udp://${string}`);
    await client.send("first");
    await client.send("second");
    await client.close();
    const deadline = Date.now() + 5000;
    while (listener.stdout() !== "first\nsecond\n" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(listener.stdout(), "first\nsecond\n");
  } finally {
    listener.kill();
  }
});

test("listen on an address in use: one EADDRINUSE line, exit 1", { timeout: 20_000 }, async () => {
  const taken = await listen("tcp://127.0.0.1:0");
  try {
    const r = await runCli(["listen", taken.url]);
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^sockurl: EADDRINUSE: .* — another process already uses this address/);
  } finally {
    await taken.close();
  }
});
