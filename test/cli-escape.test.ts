/**
 * The command line against hostile servers and arguments: text that came from the network or the
 * command line reaches the terminal with every control character escaped (ESC, BEL, CR, C1, DEL,
 * bidi overrides), in every command and output mode; only the data stream of `connect` stays raw.
 * And the probe's refusals before I/O: sslv2/sslv3, a tlsv1.0 pin, a negative --timeout, and the
 * wording after a STARTTLS refusal.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { listen, type Server, type Socket } from "../src/index.js";
import { cliWorld, oneLine, runCli, serveEach } from "./cli-helpers.js";

const world = cliWorld();

/** What a server may write to clear the screen, ring, set the title, and overwrite the line. */
const HOSTILE = "\x1b[2J\x07\x1b]0;pwned\x07\r sockurl: OK \x9b31m\x7f\u202e";
/** Any raw control a terminal acts on; LF is allowed (the commands' own line breaks). */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function assertNoRawControl(text: string, what: string): void {
  const m = RAW_CONTROL.exec(text);
  assert.equal(m, null, `${what} holds a raw control character U+${m?.[0]!.charCodeAt(0).toString(16).padStart(4, "0")}:\n${JSON.stringify(text)}`);
}

/** An SMTP server whose greeting and replies carry HOSTILE; it offers STARTTLS when `offer`. */
function hostileSmtp(offer: boolean): Promise<Server> {
  return serveEach("tcp://127.0.0.1:0", async (s: Socket) => {
    s.readTimeout = 10_000;
    await s.write(`220 greeting${HOSTILE}\r\n`);
    for (let line; (line = await s.readLine()) !== null; ) {
      if (/^EHLO /i.test(line)) await s.write(offer ? `250-hello${HOSTILE}\r\n250 STARTTLS\r\n` : `250 hello${HOSTILE}\r\n`);
      else if (/^STARTTLS$/i.test(line)) {
        await s.write("220 go ahead\r\n");
        await s.startTls({ server: true, cert: world.pki.valid.chain, key: world.pki.valid.key });
      } else await s.write("250 ok\r\n");
    }
    await s.close();
  });
}

const portOf = (s: Server) => ("port" in s.address ? s.address.port : 0);

test("probe --starttls against a hostile server that refuses: text and JSON hold no raw control; the verdict is worded", { timeout: 20_000 }, async () => {
  const server = await hostileSmtp(false);
  try {
    const human = await runCli(["probe", "--starttls", "smtp", server.url]);
    assert.equal(human.code, 1);
    assertNoRawControl(human.stdout, "probe stdout");
    assertNoRawControl(human.stderr, "probe stderr");
    assert.match(human.stdout, /S: 220 greeting\\x1b\[2J\\x07\\x1b\]0;pwned\\x07\\x0d sockurl: OK \\x9b31m\\x7f\\u\{202e\}/);
    // Item 8: no "FAILED (null: null)" after a refusal.
    assert.doesNotMatch(human.stdout, /null/);
    assert.match(human.stdout, /^verification +FAILED: no TLS session \(ERR_STARTTLS_UNSUPPORTED: .+\)$/m);

    const json = await runCli(["probe", "--json", "--starttls", "smtp", server.url]);
    assert.equal(json.code, 1);
    assertNoRawControl(json.stdout, "probe --json stdout");
    assertNoRawControl(json.stderr, "probe --json stderr");
    const report = JSON.parse(json.stdout) as { transcript: Array<{ text: string }> };
    assert.equal(report.transcript[0]!.text, `220 greeting${HOSTILE}`, "JSON keeps the exact text, escaped only in its encoding");
  } finally {
    await server.close();
  }
});

test("connect -v --starttls: the transcript of a hostile server is escaped on stderr; the data stream stays raw", { timeout: 20_000 }, async () => {
  const server = await hostileSmtp(true);
  try {
    const port = portOf(server);
    const r = await runCli(["connect", "-v", "--starttls", "smtp", "--ca", world.caFile, `tcp://localhost:${port}`], { input: "NOOP\r\n" });
    assert.equal(r.code, 0, r.stderr);
    assertNoRawControl(r.stderr, "connect -v stderr");
    assert.match(r.stderr, /S: 220 greeting\\x1b\[2J\\x07/);
    assert.equal(r.stdout, "250 ok\r\n", "the data stream is the server's bytes, unchanged");
  } finally {
    await server.close();
  }
});

test("a hostile reply in an error message is escaped: STARTTLS refused with ESC/BEL/CR in the reply", { timeout: 20_000 }, async () => {
  const server = await serveEach("tcp://127.0.0.1:0", async (s) => {
    s.readTimeout = 10_000;
    await s.write("220 hi\r\n");
    for (let line; (line = await s.readLine()) !== null; ) {
      if (/^EHLO /i.test(line)) await s.write("250-hi\r\n250 STARTTLS\r\n");
      else if (/^STARTTLS$/i.test(line)) await s.write(`454 no TLS${HOSTILE}\r\n`);
      else await s.write("250 ok\r\n");
    }
    await s.close();
  });
  try {
    for (const args of [["connect", "--starttls", "smtp"], ["probe", "--starttls", "smtp"], ["probe", "--json", "--starttls", "smtp"]]) {
      const r = await runCli([...args, server.url], { input: "" });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assertNoRawControl(r.stdout, `${args.join(" ")} stdout`);
      assertNoRawControl(r.stderr, `${args.join(" ")} stderr`);
      assert.match(oneLine(r.stderr), /^sockurl: ERR_\w+: /);
    }
  } finally {
    await server.close();
  }
});

test("control characters in arguments are escaped in the error line", { timeout: 20_000 }, async () => {
  for (const args of [
    ["connect", "tcp://\x1b[2J\x07:80"],
    ["probe", "tls://127.0.0.1:1", "\x1b]0;title\x07"],
    ["connect", "--starttls", "\x1b[2Jsmtp", "tcp://127.0.0.1:1"],
    ["help", "\rsockurl: OK"],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, r.stderr);
    assertNoRawControl(r.stderr, `${JSON.stringify(args)} stderr`);
    assert.match(oneLine(r.stderr), /\\x1b|\\x0d/);
  }
});

/** A TCP server that counts the connections it accepts; `seen()` counts them after a connection of its own. */
async function countingServer(): Promise<{ server: Server; seen: () => Promise<number> }> {
  const server = await listen("tcp://127.0.0.1:0");
  let count = 0;
  const loop = (async () => {
    for await (const s of server) {
      count++;
      s.destroy();
    }
  })().catch(() => {});
  return {
    server,
    // Connections are accepted in order: once our own has been, any earlier one has been too.
    seen: async () => {
      const { connect } = await import("../src/index.js");
      const own = await connect(server.url);
      for (let i = 0; i < 100 && count === 0; i++) await new Promise((r) => setTimeout(r, 10));
      own.destroy();
      await server.close();
      await loop;
      return count - 1;
    },
  };
}

test("probe sslv3:// and sslv2:// refuse like the library (ERR_UNSUPPORTED_TRANSPORT, exit 2) without connecting", { timeout: 20_000 }, async () => {
  for (const transport of ["sslv3", "sslv2"]) {
    const { server, seen } = await countingServer();
    const r = await runCli(["probe", `${transport}://127.0.0.1:${portOf(server)}`]);
    const connections = await seen();
    assert.equal(r.code, 2, r.stderr);
    assert.match(oneLine(r.stderr), /^sockurl: ERR_UNSUPPORTED_TRANSPORT: .*SSL [23]\.0 is prohibited/);
    assert.equal(r.stdout, "");
    assert.equal(connections, 0, `probe ${transport}:// must not connect`);
  }
});

test("probe tlsv1.0:// checks its TLS options before connecting (exit 2, no connection)", { timeout: 20_000 }, async () => {
  const { server, seen } = await countingServer();
  const r = await runCli(["probe", `tlsv1.0://127.0.0.1:${portOf(server)}`]);
  const connections = await seen();
  assert.equal(r.code, 2, r.stderr);
  assert.match(oneLine(r.stderr), /^sockurl: ERR_INVALID_OPTION: .*tlsv1\.0:\/\/ needs tls\.securityLevel: 0/);
  assert.equal(connections, 0, "probe tlsv1.0:// must not connect");
});

test("--timeout -1 is reported as not a valid number of milliseconds (not 'takes no value')", { timeout: 20_000 }, async () => {
  for (const command of ["probe", "connect"]) {
    const r = await runCli([command, "--timeout", "-1", "tcp://127.0.0.1:1"]);
    assert.equal(r.code, 2, r.stderr);
    const line = oneLine(r.stderr);
    assert.match(line, /--timeout must be a whole number of milliseconds from 0 \(no limit\) to 2147483647; "-1" is not a valid number of milliseconds/);
    assert.doesNotMatch(line, /takes no value/);
  }
});
