/**
 * `sockurl connect`, spawned as built with real pipes, against `sockurl listen` children and
 * scripted library servers: tcp, unix, udp, tls (--ca, --fingerprint, --insecure), STARTTLS.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listen, type ListenOptions, type Server, type Socket } from "../src/index.js";
import { bin, cliWorld, oneLine, runCli, serveEach, startListener } from "./cli-helpers.js";

const world = cliWorld();

/** Serves each connection with `fn` (reads give up after 10 s) until the returned close() is called. */
function serve(target: string, fn: (s: Socket) => Promise<void>, options: ListenOptions = {}): Promise<Server> {
  return serveEach(target, (s) => {
    s.readTimeout = 10_000;
    return fn(s);
  }, options);
}

const echo = async (s: Socket) => {
  for await (const chunk of s) await s.write(chunk);
  await s.close();
};

test("tcp: stdin goes to a `sockurl listen --echo` child and the echo comes back; exit 0", { timeout: 20_000 }, async () => {
  const listener = await startListener(["--echo", "tcp://127.0.0.1:0"]);
  try {
    assert.match(listener.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const text = await runCli(["connect", listener.url], { input: "hello\nworld\n" });
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "hello\nworld\n");
    assert.equal(text.stderr, "");
    // Binary, larger than any buffer: every byte, in order, and EOF still ends the run.
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    const big = await runCli(["connect", listener.url], { input: payload });
    assert.equal(big.code, 0, big.stderr);
    assert.ok(big.stdoutBytes.equals(payload), "binary payload round-trips unchanged");
  } finally {
    listener.kill();
  }
});

test("stdin from a shell pipe (a FIFO) and from a file: every byte arrives in order", { timeout: 30_000 }, async () => {
  // runCli's stdin is a socket pair; a shell pipe and a file take the other two input paths.
  const payload = randomBytes(5 * 1024 * 1024 + 3);
  const file = join(world.dir, "payload.bin");
  writeFileSync(file, payload);
  const server = await serve("tcp://127.0.0.1:0", async (s) => {
    const all = await s.readAll();
    await s.write(createHash("sha256").update(all).digest("hex") + ` ${all.length}\n`);
    await s.close();
  });
  try {
    const expected = `${createHash("sha256").update(payload).digest("hex")} ${payload.length}\n`;
    for (const script of ['cat "$1" | exec "$2" "$3" connect "$4"', 'exec "$2" "$3" connect "$4" < "$1"']) {
      const child = spawn("sh", ["-c", script, "sh", file, process.execPath, bin, server.url], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const [code] = (await once(child, "close")) as [number];
      assert.equal(code, 0, `${script}: ${stderr}`);
      assert.equal(stdout, expected, script);
    }
  } finally {
    await server.close();
  }
});

test("the end of stdin half-closes: the server sees EOF and can still answer", { timeout: 20_000 }, async () => {
  const server = await serve("tcp://127.0.0.1:0", async (s) => {
    const all = await s.readAll();
    await s.write(`got ${all.length} bytes\n`);
    await s.close();
  });
  try {
    const r = await runCli(["connect", server.url], { input: "0123456789" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "got 10 bytes\n");
  } finally {
    await server.close();
  }
});

test("the server's end of stream ends the command even while stdin stays open", { timeout: 20_000 }, async () => {
  const server = await serve("tcp://127.0.0.1:0", async (s) => {
    await s.write("bye\n");
    await s.close();
  });
  try {
    const r = await runCli(["connect", server.url], { keepStdinOpen: true, timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "bye\n");
  } finally {
    await server.close();
  }
});

test("unix: connect to a `sockurl listen --echo unix://…` child", { timeout: 20_000 }, async () => {
  const path = join(world.dir, "echo.sock");
  const listener = await startListener(["--echo", `unix://${path}`]);
  try {
    assert.equal(listener.url, `unix://${path}`);
    const r = await runCli(["connect", listener.url], { input: "over a unix socket\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "over a unix socket\n");
  } finally {
    listener.kill();
  }
});

test("udp: each stdin line is a datagram, each reply a line; exits after the end of input", { timeout: 20_000 }, async () => {
  const listener = await startListener(["--echo", "udp://127.0.0.1:0"]);
  try {
    assert.match(listener.url, /^udp:\/\/127\.0\.0\.1:\d+$/);
    const started = performance.now();
    const r = await runCli(["connect", listener.url], { input: "one\ntwo\nthree\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "one\ntwo\nthree\n");
    // Without the end of its quiet wait the child would never exit (the test's own timeout).
    assert.ok(performance.now() - started < 15_000, "exits after a short grace");
  } finally {
    listener.kill();
  }
});

test("udg: a unix datagram round trip through `sockurl listen --echo udg://…`", { timeout: 20_000 }, async () => {
  const path = join(world.dir, "echo.dgram");
  const listener = await startListener(["--echo", `udg://${path}`]);
  try {
    const r = await runCli(["connect", listener.url], { input: "local datagram\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "local datagram\n");
  } finally {
    listener.kill();
  }
});

test("udp to a closed port: the ICMP refusal is one ECONNREFUSED line, exit 1", { timeout: 20_000 }, async () => {
  const closed = await listen("udp://127.0.0.1:0");
  const url = closed.url;
  await closed.close();
  const r = await runCli(["connect", url], { input: "anyone?\n" });
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /^sockurl: ECONNREFUSED: .* — is the server running\? check host and port$/);
});

test("udp: datagrams arrive one per line at the server", { timeout: 20_000 }, async () => {
  const server = await listen("udp://127.0.0.1:0", { readTimeout: 10_000 });
  try {
    const run = runCli(["connect", server.url], { input: "alpha\nbeta\n" });
    const a = await server.receive();
    const b = await server.receive();
    assert.deepEqual([a.data.toString(), b.data.toString()], ["alpha", "beta"]);
    await server.sendTo("reply", a.remote);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "reply\n");
  } finally {
    await server.close();
  }
});

test("tls with --ca: verified, and -v prints the connection and TLS summary on stderr", { timeout: 20_000 }, async () => {
  const server = await serve("tls://127.0.0.1:0", echo, { tls: { cert: world.pki.valid.chain, key: world.pki.valid.key } });
  try {
    const url = `tls://localhost:${"port" in server.address ? server.address.port : 0}`;
    const r = await runCli(["connect", "-v", "--ca", world.caFile, url], { input: "secret\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "secret\n");
    for (const line of [/^\* connected +tls:\/\/localhost:\d+ in [\d.]+ ms$/m, /^\* remote +(127\.0\.0\.1|\[::1\]):\d+$/m, /^\* local +\S+:\d+$/m,
      /^\* protocol +TLSv1\.3$/m, /^\* cipher +TLS_\w+$/m, /^\* alpn +-$/m, /^\* verification +OK \(chain and name\)$/m,
      /^\* subject +CN=localhost$/m, /^\* SANs +DNS:localhost, DNS:sockurl\.test, IP Address:127\.0\.0\.1/m]) {
      assert.match(r.stderr, line);
    }
    // Without the CA: one ERR_TLS_CERT line with what to do.
    const untrusted = await runCli(["connect", url], { input: "x\n" });
    assert.equal(untrusted.code, 1);
    assert.match(oneLine(untrusted.stderr), /^sockurl: ERR_TLS_CERT: .* — use --ca FILE, --fingerprint, or --insecure for testing$/);
    assert.equal(untrusted.stdout, "");
    // A name the certificate does not carry.
    const wrongName = await runCli(["connect", "--ca", world.caFile, "--servername", "other.example", url], { input: "x\n" });
    assert.equal(wrongName.code, 1);
    assert.match(oneLine(wrongName.stderr), /^sockurl: ERR_TLS_CERT: .*other\.example/);
    // --insecure works, and says so on stderr.
    const insecure = await runCli(["connect", "--insecure", url], { input: "anyway\n" });
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.equal(insecure.stdout, "anyway\n");
    assert.match(oneLine(insecure.stderr), /^sockurl: warning: --insecure: .*NOT verified/);
  } finally {
    await server.close();
  }
});

test("tls with --alpn: the negotiated protocol shows in -v", { timeout: 20_000 }, async () => {
  const server = await serve("tls://127.0.0.1:0", echo, { tls: { cert: world.pki.valid.chain, key: world.pki.valid.key, alpn: ["h2", "http/1.1"] } });
  try {
    const r = await runCli(["connect", "-v", "--ca", world.caFile, "--alpn", "http/1.1", server.url], { input: "a\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\* alpn +http\/1\.1$/m);
  } finally {
    await server.close();
  }
});

test("tls with --fingerprint reaches a `sockurl listen tls://` child's throwaway certificate", { timeout: 30_000 }, async () => {
  const listener = await startListener(["--echo", "tls://127.0.0.1:0"]);
  try {
    const [, fingerprint] = await listener.waitForStderr(/^sha256 fingerprint: ([0-9A-F:]{95})$/m);
    assert.match(listener.stderr(), /throwaway self-signed for localhost, 127\.0\.0\.1, ::1/);
    const r = await runCli(["connect", "-v", "--fingerprint", fingerprint!, listener.url], { input: "pinned\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "pinned\n");
    assert.match(r.stderr, /^\* verification +OK \(pinned fingerprint\)$/m);
    // The same pin without colons, lower case; and via localhost (a SAN of the certificate).
    const port = new URL(listener.url.replace(/^tls:/, "http:")).port;
    const bare = await runCli(["connect", "--fingerprint", fingerprint!.replace(/:/g, "").toLowerCase(), `tls://localhost:${port}`], { input: "again\n" });
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(bare.stdout, "again\n");
    // Another fingerprint is refused.
    const wrong = await runCli(["connect", "--fingerprint", "00".repeat(32), listener.url], { input: "x\n" });
    assert.equal(wrong.code, 1);
    assert.match(oneLine(wrong.stderr), /^sockurl: ERR_TLS_FINGERPRINT: .* — the certificate is not the pinned one/);
    // Without a pin or CA the self-signed certificate is refused.
    const none = await runCli(["connect", listener.url], { input: "x\n" });
    assert.equal(none.code, 1);
    assert.match(oneLine(none.stderr), /^sockurl: ERR_TLS_CERT: .*self-signed/);
  } finally {
    listener.kill();
  }
});

/** A scripted SMTP server: STARTTLS unless `offer` is false; records what the client sent over TLS. */
function smtpServer(offer: boolean, received: string[]) {
  return serve("tcp://127.0.0.1:0", async (s) => {
    await s.write("220 test ESMTP\r\n");
    for (let line; (line = await s.readUntil("\n").then((b) => b?.toString() ?? null)) !== null; ) {
      if (s.encrypted) received.push(line);
      const verb = line.trim().split(" ")[0]!.toUpperCase();
      if (verb === "EHLO") await s.write(offer && !s.encrypted ? "250-test\r\n250 STARTTLS\r\n" : "250 test\r\n");
      else if (verb === "STARTTLS") {
        await s.write("220 go ahead\r\n");
        await s.startTls({ server: true, cert: world.pki.valid.chain, key: world.pki.valid.key });
      } else if (verb === "QUIT") {
        await s.write("221 bye\r\n");
        break;
      } else await s.write("250 ok\r\n");
    }
    await s.close();
  });
}

test("--starttls smtp: negotiates, verifies with --ca, then pipes; --crlf sends CRLF; -v shows the transcript", { timeout: 20_000 }, async () => {
  const received: string[] = [];
  const server = await smtpServer(true, received);
  try {
    const port = "port" in server.address ? server.address.port : 0;
    const r = await runCli(["connect", "-v", "--crlf", "--starttls", "smtp", "--ca", world.caFile, `tcp://localhost:${port}`], { input: "NOOP\nQUIT\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "250 ok\r\n221 bye\r\n");
    assert.deepEqual(received, ["NOOP\r", "QUIT\r"], "lines reach the server over TLS, ending in CRLF");
    assert.match(r.stderr, /^\* protocol +TLSv1\.3$/m);
    assert.match(r.stderr, /^\* starttls transcript\n +S: 220 test ESMTP\n +C: EHLO \S+\n +S: 250-test\n +S: 250 STARTTLS\n +C: STARTTLS\n +S: 220 go ahead$/m);
  } finally {
    await server.close();
  }
});

test("--starttls against a server that does not offer it: ERR_STARTTLS_UNSUPPORTED, exit 1, nothing sent in plaintext", { timeout: 20_000 }, async () => {
  const received: string[] = [];
  const server = await smtpServer(false, received);
  try {
    const r = await runCli(["connect", "--starttls", "smtp", "--ca", world.caFile, server.url], { input: "NOOP\n" });
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^sockurl: ERR_STARTTLS_UNSUPPORTED: .* — the server does not offer STARTTLS here/);
    assert.equal(r.stdout, "");
  } finally {
    await server.close();
  }
});

test("--timeout: a connect that cannot finish is ETIMEDOUT with a hint", { timeout: 20_000 }, async () => {
  // A TLS client against a server that never answers the handshake.
  const server = await serve("tcp://127.0.0.1:0", async (s) => {
    await s.read();
    // Longer than the bound below; unref'd so that it holds nothing open once the test is done.
    await new Promise((r) => setTimeout(r, 30_000).unref());
    s.destroy();
  });
  try {
    const started = performance.now();
    const r = await runCli(["connect", "--timeout", "300", server.url.replace("tcp://", "tls://")], { input: "x" });
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^sockurl: ETIMEDOUT: .* — no answer in time: check host, port and firewalls, or raise --timeout MS$/);
    assert.ok(performance.now() - started < 15_000, "the 300 ms --timeout fired, not the server's close");
  } finally {
    await server.close();
  }
});
