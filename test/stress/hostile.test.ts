/**
 * Hostile input: chunking-independent reads on real loopback sockets, read limits
 * that hold a flooding writer back, every STARTTLS negotiator fed random and broken replies,
 * and TLS peers that send garbage, HTTP, SSL 2.0/3.0 ClientHellos or enormous certificates.
 * Each scenario ends in a value or a typed SocketError, within its bound, with no escape and
 * no leaked descriptor.
 *
 *   npm run build && node --test --test-concurrency=1 dist/test/stress/hostile.test.js
 */
import { before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import fc from "fast-check";
import {
  connect, listen, negotiateStartTls, SocketError, STARTTLS_PROTOCOLS,
  type Socket, type StartTlsProtocol,
} from "../../src/index.js";
import { makePki, type Pki } from "../fixtures/pki.js";
import { rawServer, until, type RawServer } from "../helpers.js";
import {
  settle, sleep, within,
  guarded, warmUp,
} from "./util-faults.js";

/** Hostile scenarios move more data: give descriptors 3 s to settle. */
const guardedLong = (t: TestContext, name: string, body: () => Promise<string>) => guarded(t, name, body, 3_000);

let pki: Pki;
let ca: string;
let serverContext: tls.SecureContext;

before(async () => {
  pki = await makePki();
  ca = pki.caBundle;
  serverContext = tls.createSecureContext({ cert: pki.valid.chain, key: pki.valid.key });
  await warmUp(pki);
});


// =====================================================================================
// 1. The same bytes, however split, give the same reads
// =====================================================================================

type Op =
  | { kind: "line"; max: number }
  | { kind: "until"; delimiter: string; max: number }
  | { kind: "exact"; n: number };

type Result = { value: string | null } | { error: string };

/** The reads over one contiguous buffer that ends: the reference the socket must match. */
function model(data: Buffer, ops: Op[]): { results: Result[]; rest: string } {
  let pos = 0;
  const results: Result[] = [];
  for (const op of ops) {
    const rem = data.length - pos;
    if (op.kind === "exact") {
      if (rem >= op.n) {
        results.push({ value: data.subarray(pos, pos + op.n).toString("hex") });
        pos += op.n;
      } else if (rem === 0) {
        results.push({ value: null });
      } else {
        results.push({ error: "ERR_UNEXPECTED_EOF" });
      }
    } else if (op.kind === "line") {
      const lf = data.indexOf(0x0a, pos);
      if (lf !== -1) {
        const end = lf > pos && data[lf - 1] === 0x0d ? lf - 1 : lf;
        if (end - pos > op.max) results.push({ error: "ERR_LINE_TOO_LONG" });
        else {
          results.push({ value: data.toString("utf8", pos, end) });
          pos = lf + 1;
        }
      } else if (rem === 0) {
        results.push({ value: null });
      } else if (rem > op.max) {
        results.push({ error: "ERR_LINE_TOO_LONG" });
      } else {
        results.push({ value: data.toString("utf8", pos) });
        pos = data.length;
      }
    } else {
      const delim = Buffer.from(op.delimiter, "latin1");
      const at = data.indexOf(delim, pos);
      if (at !== -1) {
        if (at - pos > op.max) results.push({ error: "ERR_LINE_TOO_LONG" });
        else {
          results.push({ value: data.subarray(pos, at).toString("hex") });
          pos = at + delim.length;
        }
        continue;
      }
      // No delimiter before the end: could one still have begun within max bytes?
      let mayStart = false;
      for (let q = Math.max(pos, data.length - delim.length + 1); q <= pos + op.max && q < data.length; q++) {
        if (data.subarray(q).equals(delim.subarray(0, data.length - q))) mayStart = true;
      }
      if (rem > op.max && !mayStart) results.push({ error: "ERR_LINE_TOO_LONG" });
      else if (rem === 0) results.push({ value: null });
      else results.push({ error: "ERR_UNEXPECTED_EOF" });
    }
  }
  return { results, rest: data.subarray(pos).toString("hex") };
}

/** Runs `ops` on a socket, then reads what is left. */
async function onSocket(socket: Socket, ops: Op[]): Promise<{ results: Result[]; rest: string }> {
  const results: Result[] = [];
  for (const op of ops) {
    const p = op.kind === "exact" ? socket.readExactly(op.n).then((b) => (b === null ? null : b.toString("hex")))
      : op.kind === "line" ? socket.readLine({ maxLength: op.max })
      : socket.readUntil(Buffer.from(op.delimiter, "latin1"), { maxLength: op.max }).then((b) => (b === null ? null : b.toString("hex")));
    const o = await settle(p);
    if (o.ok) results.push({ value: o.value });
    else {
      assert.ok(o.error instanceof SocketError, `${op.kind}: ${String(o.error)}`);
      results.push({ error: o.error.code });
    }
  }
  const rest = (await socket.readAll()).toString("hex");
  return { results, rest };
}

const DELIMITERS = ["\n", "\r\n", "\r\n.\r\n", "\0", "ab", "\r\n\r\n"];

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.string({ maxLength: 120 }), fc.constantFrom("\n", "\r\n")).map(([s, e]) => Buffer.from(s + e)) },
  { weight: 2, arbitrary: fc.constantFrom(...DELIMITERS).map((d) => Buffer.from(d, "latin1")) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 90_000 }), fc.constantFrom(0x41, 0x00, 0x0d, 0x61)).map(([n, b]) => Buffer.alloc(n, b)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 300 }), fc.boolean()).map(([n, lf]) => Buffer.from("x".repeat(n) + (lf ? "\r\n" : "\r"))) },
);
const data = fc.array(segment, { minLength: 1, maxLength: 40 }).map((parts) => {
  const all = Buffer.concat(parts);
  return all.length > 256 * 1024 ? all.subarray(0, 256 * 1024) : all;
});
const maxLength = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 64, max: 5000 }), fc.constant(65536), fc.integer({ min: 65536, max: 120_000 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("line" as const), max: maxLength }),
  fc.record({ kind: fc.constant("until" as const), delimiter: fc.constantFrom(...DELIMITERS), max: maxLength }),
  fc.record({ kind: fc.constant("exact" as const), n: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 70_000 })) }),
);
/** Chunk sizes (cycled over the data) from 1 byte to 64 KiB, and how they are written. */
const chunking = fc.record({
  sizes: fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 65536 })), { minLength: 1, maxLength: 20 }),
  mode: fc.constantFrom("cork" as const, "separate" as const, "delayed" as const),
  highWaterMark: fc.constantFrom(1024, 16 * 1024, 64 * 1024),
});

function split(all: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < all.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    out.push(all.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** The peer: writes the chunks (corked at once, one by one, or with pauses), then ends. */
async function writeChunks(s: net.Socket, chunks: Buffer[], mode: "cork" | "separate" | "delayed"): Promise<void> {
  if (mode === "cork") {
    s.cork();
    for (const c of chunks) s.write(c);
    s.uncork();
  } else {
    // At most ~60 pauses of 1 ms, so a run stays short however many chunks there are.
    const every = Math.max(1, Math.ceil(chunks.length / 60));
    for (let i = 0; i < chunks.length; i++) {
      if (s.destroyed) return;
      if (!s.write(chunks[i]!)) await new Promise<void>((r) => { s.once("drain", r); s.once("close", r); });
      if (mode === "delayed" && i % every === every - 1) await sleep(1);
      else if (mode === "separate" && i % every === every - 1) await new Promise<void>((r) => setImmediate(r));
    }
  }
  s.end();
}

describe("reads are independent of chunking (real loopback sockets)", () => {
  test("readLine/readUntil/readExactly give the model's results however the bytes are split (fast-check, 50 runs)", { timeout: 120_000 }, async (t) => {
    await guardedLong(t, "chunking property", async () => {
      let runs = 0;
      let bytes = 0;
      let chunksTotal = 0;
      let minChunk = Infinity;
      let maxChunk = 0;
      const codes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(data, chunking, fc.array(op, { minLength: 1, maxLength: 25 }), async (all, how, ops) => {
          const chunks = split(all, how.sizes);
          runs++;
          bytes += all.length;
          chunksTotal += chunks.length;
          for (const c of chunks) {
            minChunk = Math.min(minChunk, c.length);
            maxChunk = Math.max(maxChunk, c.length);
          }
          const peer = await rawServer((s) => {
            s.resume();
            void writeChunks(s, chunks, how.mode);
          });
          let socket: Socket | undefined;
          try {
            socket = await connect(peer.url, { timeout: 2000, readTimeout: 5000, highWaterMark: how.highWaterMark });
            const got = await within(onSocket(socket, ops), 10_000, "reads");
            const want = model(all, ops);
            for (const r of got.results) if ("error" in r) codes.set(r.error, (codes.get(r.error) ?? 0) + 1);
            assert.deepEqual(got.results, want.results);
            assert.equal(got.rest, want.rest, "bytes left after the reads");
          } finally {
            socket?.destroy();
            await peer.close();
          }
        }),
        { numRuns: 50, seed: 0x5eed_c0de, endOnFailure: true, includeErrorInReport: true },
      );
      const tally = [...codes].map(([c, n]) => `${c} ×${n}`).join(", ");
      return `${runs} runs, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${chunksTotal} chunks of ${minChunk}–${maxChunk} bytes; all matched the model (errors seen: ${tally})`;
    });
  });
});

// =====================================================================================
// 2. Limits: the buffer never grows past its limit, the writer is held back
// =====================================================================================

/**
 * A peer that writes `next()` chunks as fast as the connection takes them, until it has been
 * blocked for 300 ms or 1.5 s have passed; resolves with the bytes the kernel accepted.
 */
function flood(s: net.Socket, next: () => Buffer): Promise<number> {
  return new Promise((resolve) => {
    let queued = 0;
    const started = performance.now();
    const finish = () => resolve(queued - s.writableLength);
    const pump = () => {
      while (performance.now() - started < 1500 && !s.destroyed) {
        const chunk = next();
        queued += chunk.length;
        if (!s.write(chunk)) {
          const blocked = setTimeout(finish, 300);
          s.once("drain", () => {
            clearTimeout(blocked);
            pump();
          });
          return;
        }
      }
      finish();
    };
    pump();
  });
}

describe("read limits hold a flooding peer back", () => {
  const HWM = 64 * 1024;
  const cases: Array<{ name: string; max: number; read: (s: Socket, max: number) => Promise<unknown>; chunk: () => Buffer }> = [
    {
      name: "binary garbage without LF, readLine maxLength 1 KiB",
      max: 1024,
      read: (s, max) => s.readLine({ maxLength: max }),
      chunk: () => {
        const b = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16 * 1024)));
        for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) b[i] = 0x0b;
        return b;
      },
    },
    {
      name: "NUL bytes, readLine default maxLength (64 KiB)",
      max: 64 * 1024,
      read: (s) => s.readLine(),
      chunk: () => Buffer.alloc(64 * 1024),
    },
    {
      name: "one endless line, readLine maxLength 1 MiB (above the high-water mark)",
      max: 1024 * 1024,
      read: (s, max) => s.readLine({ maxLength: max }),
      chunk: () => Buffer.alloc(64 * 1024, 0x41),
    },
    {
      name: "CRLFs but never the delimiter, readUntil(\"\\r\\n.\\r\\n\") maxLength 4 KiB",
      max: 4096,
      read: (s, max) => s.readUntil("\r\n.\r\n", { maxLength: max }),
      chunk: () => Buffer.from("250-line\r\n".repeat(1000)),
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ERR_LINE_TOO_LONG, bytes taken in bounded, writer blocked`, { timeout: 20_000 }, async (t) => {
      await guardedLong(t, `limit: ${c.name}`, async () => {
        let delivered: Promise<number> = Promise.resolve(0);
        const peer = await rawServer((s) => {
          delivered = flood(s, c.chunk);
        });
        try {
          const socket = await connect(peer.url, { timeout: 2000, readTimeout: 5000 });
          const first = await settle(c.read(socket, c.max));
          assert.ok(!first.ok && first.error instanceof SocketError && first.error.code === "ERR_LINE_TOO_LONG",
            first.ok ? "the read returned a value" : String(first.error));
          // Asking again does not read more: the same refusal, from what is buffered.
          for (let i = 0; i < 3; i++) {
            const again = await settle(c.read(socket, c.max));
            assert.ok(!again.ok && (again.error as SocketError).code === "ERR_LINE_TOO_LONG");
          }
          const kernel = await within(delivered, 5000, "the flooding peer");
          await sleep(50);
          // Bytes this process pulled from the kernel (none consumed): sockurl's buffer plus Node's.
          const taken = (socket.stream as net.Socket).bytesRead;
          const bound = c.max + 2 + HWM + 2 * 64 * 1024;
          assert.ok(taken <= bound, `${taken} bytes were taken in, above the bound ${bound}`);
          // Nothing was lost: the refused bytes are still there to read.
          const head = await socket.read(16);
          assert.ok(head !== null && head.length > 0);
          socket.destroy();
          return `ERR_LINE_TOO_LONG; ${(taken / 1024).toFixed(0)} KiB taken into the process (bound ${(bound / 1024).toFixed(0)} KiB = ` +
            `maxLength + high-water mark + two 64 KiB reads); the peer got ${(kernel / 1024).toFixed(0)} KiB into the kernel, then blocked`;
        } finally {
          await peer.close();
        }
      });
    });
  }

  test("lines at exactly maxLength pass (LF and CRLF); one byte over fails and loses nothing", { timeout: 10_000 }, async (t) => {
    await guardedLong(t, "limit: lines at and over maxLength", async () => {
      const max = 1000;
      const at = "a".repeat(max);
      const over = "b".repeat(max + 1);
      const nul = "\0".repeat(max);
      const peer = await rawServer((s) => s.end(`${at}\n${at}\r\n${nul}\n${over}\nend`));
      try {
        const socket = await connect(peer.url, { timeout: 2000, readTimeout: 2000 });
        assert.equal(await socket.readLine({ maxLength: max }), at);
        assert.equal(await socket.readLine({ maxLength: max }), at);
        assert.equal(await socket.readLine({ maxLength: max }), nul);
        const err = await settle(socket.readLine({ maxLength: max }));
        assert.ok(!err.ok && (err.error as SocketError).code === "ERR_LINE_TOO_LONG");
        assert.equal(await socket.readLine({ maxLength: max + 1 }), over);
        assert.equal(await socket.readLine({ maxLength: max }), "end");
        assert.equal(await socket.readLine(), null);
        socket.destroy();
        return "1000-byte lines (LF, CRLF, NUL bytes) pass at maxLength 1000; 1001 bytes → ERR_LINE_TOO_LONG, then read whole with maxLength 1001";
      } finally {
        await peer.close();
      }
    });
  });
});

// =====================================================================================
// 3. Every STARTTLS negotiator, fed random and broken replies
// =====================================================================================

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls";

function mysqlGreeting(): Buffer {
  const payload = Buffer.concat([
    Buffer.from([0x0a]), Buffer.from("10.11.6-MariaDB\0"), hex("2a000000"), Buffer.from("abcdefgh"), Buffer.from([0]),
    Buffer.from([0xfe, 0xff]), Buffer.from([0x2d]), hex("0200"), hex("ff81"), Buffer.from([21]), Buffer.alloc(10),
    Buffer.from("ijklmnopqrst\0"), Buffer.from("mysql_native_password\0"),
  ]);
  return Buffer.concat([Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0]), payload]);
}

function xmppServerBytes(ns: string): Buffer {
  return Buffer.from(
    `<?xml version='1.0'?><stream:stream xmlns='${ns}' xmlns:stream='http://etherx.jabber.org/streams' id='x1' from='localhost' version='1.0'>` +
    `<stream:features><starttls xmlns='${TLS_NS}'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>` +
    `<proceed xmlns='${TLS_NS}'/>`);
}

/** What a well-behaved server sends, in order, up to and including its go-ahead. */
const VALID: Record<StartTlsProtocol, Buffer> = {
  smtp: Buffer.from("220-mx.example ESMTP\r\n220 ready\r\n250-mx.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n220 go ahead\r\n"),
  lmtp: Buffer.from("220 lmtp ready\r\n250-lmtp.example\r\n250 STARTTLS\r\n220 go ahead\r\n"),
  pop3: Buffer.from("+OK POP3 ready\r\n+OK caps\r\nTOP\r\nSTLS\r\n..odd\r\n.\r\n+OK begin TLS\r\n"),
  imap: Buffer.from("* OK IMAP4rev1 ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\na001 OK done\r\na002 OK begin TLS\r\n"),
  ftp: Buffer.from("220-Welcome\r\n220 ready\r\n211-Features:\r\n EPRT\r\n AUTH TLS\r\n211 End\r\n234 Proceed\r\n"),
  xmpp: xmppServerBytes("jabber:client"),
  "xmpp-server": xmppServerBytes("jabber:server"),
  ldap: hex("30 0c 02 01 01 78 07 0a 01 00 04 00 04 00"),
  postgres: Buffer.from("S"),
  mysql: mysqlGreeting(),
  nntp: Buffer.from("200 news ready\r\n101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n382 go\r\n"),
  sieve: Buffer.from('"IMPLEMENTATION" "Fake"\r\n"SASL" ""\r\n"STARTTLS"\r\nOK "ready"\r\nOK "go"\r\n'),
  irc: Buffer.from(":irc.local NOTICE * :*** Looking up your hostname...\r\nPING :123\r\n:irc.local 670 * :STARTTLS go ahead\r\n"),
  telnet: Buffer.concat([hex("ff fd 18 ff fb 01"), Buffer.from("\r\nbanner\r\n"), hex("ff fd 2e ff fa 2e 01 ff f0")]),
};

/** Tokens servers of each family say, for random but plausible lines. */
const WORDS = [
  "220", "250", "250-", "220-", "STARTTLS", "+OK", "-ERR", "* OK", "* PREAUTH", "* BYE", "a001", "a002", "OK", "NO", "BAD",
  "211-", "211", "234", "101", "382", ".", "..", "\"STARTTLS\"", "\"SASL\"", "670", "691", ":irc.local", "NOTICE", "PING",
  "<stream:stream", "<stream:features>", "</stream:features>", "<starttls", "<proceed", "/>", ">", "xmlns='urn:ietf:params:xml:ns:xmpp-tls'",
  "\xff\xfd\x2e", "\xff\xfa\x2e\x01\xff\xf0", "\xff\xfb", "S", "N", "E", "\x30\x0c", "\x0a\x00", "CAPABILITY", "AUTH TLS", " ",
];

type Ending = "close" | "reset" | "silent" | "tls";
interface Reply {
  bytes: Buffer;
  chunks: number[];
  delays: number[];
  ending: Ending;
  mode: "required" | "opportunistic";
  via: "negotiate" | "connect";
  shape: string;
}

function mutate(base: Buffer, edits: Array<{ kind: number; at: number; len: number; byte: number }>): Buffer {
  let b = Buffer.from(base);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    switch (e.kind) {
      case 0: b[at] = e.byte; break; // replace a byte
      case 1: b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]); break; // delete
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.alloc(e.len, e.byte), b.subarray(at)]); break; // insert
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + e.len), b.subarray(at)]); break; // duplicate
      default: b = b.subarray(0, at); // truncate
    }
  }
  return b;
}

function replyArb(protocol: StartTlsProtocol): fc.Arbitrary<Reply> {
  const valid = VALID[protocol];
  const edit = fc.record({ kind: fc.integer({ min: 0, max: 4 }), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }), byte: fc.integer({ min: 0, max: 255 }) });
  const bytes = fc.oneof(
    { weight: 2, arbitrary: fc.constant(valid).map((b) => ({ bytes: b, shape: "valid" })) },
    { weight: 5, arbitrary: fc.array(edit, { minLength: 1, maxLength: 4 }).map((e) => ({ bytes: mutate(valid, e), shape: "mutated" })) },
    { weight: 2, arbitrary: fc.nat({ max: valid.length }).map((n) => ({ bytes: valid.subarray(0, n), shape: "truncated" })) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((u) => ({ bytes: Buffer.from(u), shape: "random bytes" })) },
    {
      weight: 2,
      arbitrary: fc.array(fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 12 })), { maxLength: 6 }), { maxLength: 12 })
        .chain((lines) => fc.constantFrom("\r\n", "\n").map((eol) => ({ bytes: Buffer.from(lines.map((l) => l.join(" ")).join(eol) + eol, "latin1"), shape: "random lines" }))),
    },
  );
  return fc.record({
    b: bytes,
    chunks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
    delays: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 4 }),
    ending: fc.constantFrom<Ending>("close", "reset", "silent", "tls", "tls"),
    mode: fc.constantFrom("required" as const, "required" as const, "opportunistic" as const),
    via: fc.constantFrom("negotiate" as const, "connect" as const),
  }).map(({ b, ...rest }) => ({ ...rest, bytes: b.bytes, shape: b.shape }));
}

/** A scripted server: writes the reply in chunks with small pauses, then does its ending. */
function scripted(reply: Reply): (s: net.Socket) => void {
  return (s) => {
    let pending = Buffer.alloc(0);
    let upgraded = false;
    s.on("data", (chunk: Buffer) => {
      if (reply.ending !== "tls" || upgraded) return;
      // Discard the client's plaintext; hand its ClientHello to a TLS server.
      pending = Buffer.concat([pending, chunk]);
      const at = pending.indexOf(hex("160301"));
      if (at === -1) return;
      upgraded = true;
      s.removeAllListeners("data");
      s.pause();
      s.unshift(pending.subarray(at));
      const secure = new tls.TLSSocket(s, { isServer: true, secureContext: serverContext });
      secure.on("error", () => {});
    });
    void (async () => {
      let at = 0;
      for (let i = 0; at < reply.bytes.length; i++) {
        if (s.destroyed) return;
        const n = reply.chunks[i % reply.chunks.length]!;
        s.write(reply.bytes.subarray(at, at + n));
        at += n;
        const pause = reply.delays[i % reply.delays.length]!;
        if (pause > 0) await sleep(pause);
      }
      if (reply.ending === "close") s.end();
      else if (reply.ending === "reset" && !s.destroyed) s.resetAndDestroy();
    })();
  };
}

interface Tally {
  runs: number;
  encrypted: number;
  plaintext: number;
  codes: Map<string, number>;
  phases: Map<string, number>;
  slowest: number;
}

async function runNegotiation(protocol: StartTlsProtocol, reply: Reply, tally: Tally): Promise<void> {
  const peer: RawServer = await rawServer(scripted(reply));
  const started = performance.now();
  let socket: Socket | undefined;
  try {
    const attempt = (async () => {
      if (reply.via === "connect") {
        socket = await connect(peer.url, { timeout: 500, startTls: { protocol, mode: reply.mode }, tls: { ca } });
        return socket.encrypted;
      }
      socket = await connect(peer.url, { timeout: 500 });
      const result = await negotiateStartTls(socket, protocol, { timeout: 500, mode: reply.mode, tls: { ca } });
      assert.equal(result.encrypted, socket.encrypted);
      return result.encrypted;
    })();
    const outcome = await within(settle(attempt), 2000, `${protocol} (${reply.shape}, ${reply.ending}) never settled`);
    const ms = performance.now() - started;
    tally.runs++;
    tally.slowest = Math.max(tally.slowest, ms);
    if (outcome.ok) {
      if (outcome.value) tally.encrypted++;
      else {
        assert.equal(reply.mode, "opportunistic", "plaintext result in required mode");
        tally.plaintext++;
      }
    } else {
      const err = outcome.error;
      assert.ok(err instanceof SocketError, `${protocol} (${reply.shape}): not a SocketError: ${err instanceof Error ? err.stack : String(err)}`);
      // A peer that resets at once can fail the TCP connect itself (phase connect); after that,
      // every failure belongs to the negotiation (starttls) or the handshake (tls).
      const phases = reply.via === "connect" || socket === undefined ? ["connect", "starttls", "tls"] : ["starttls", "tls"];
      assert.ok(phases.includes(err.phase), `${protocol} (${reply.shape}): ${err.code} in phase ${err.phase}: ${err.message}`);
      tally.codes.set(err.code, (tally.codes.get(err.code) ?? 0) + 1);
      tally.phases.set(err.phase, (tally.phases.get(err.phase) ?? 0) + 1);
      if (socket) assert.equal(socket.closed, true, `${protocol}: socket left open after ${err.code}`);
    }
  } finally {
    socket?.destroy();
    await peer.close();
  }
}

describe("STARTTLS negotiators fed random, truncated and mutated replies", () => {
  test("all 14 protocols: every run ends in success or a typed error within 2 s (timeout 500 ms), never a hang or a crash", { timeout: 180_000 }, async (t) => {
    assert.equal(STARTTLS_PROTOCOLS.length, 14);
    await guardedLong(t, "STARTTLS fuzz", async () => {
      const tallies = new Map<StartTlsProtocol, Tally>();
      await Promise.all(STARTTLS_PROTOCOLS.map(async (protocol, index) => {
        const tally: Tally = { runs: 0, encrypted: 0, plaintext: 0, codes: new Map(), phases: new Map(), slowest: 0 };
        tallies.set(protocol, tally);
        // Each fast-check run is a batch of 8 negotiations run side by side.
        await fc.assert(
          fc.asyncProperty(fc.array(replyArb(protocol), { minLength: 8, maxLength: 8 }), async (batch) => {
            await Promise.all(batch.map((reply) => runNegotiation(protocol, reply, tally)));
          }),
          { numRuns: 12, seed: 4242 + index, endOnFailure: true, includeErrorInReport: true },
        );
        // The unmutated dialogue must succeed (a fixed case, so the happy path is always covered).
        const happy: Reply = { bytes: VALID[protocol], chunks: [3], delays: [1], ending: "tls", mode: "required", via: "connect", shape: "valid" };
        const before = tally.encrypted;
        await runNegotiation(protocol, happy, tally);
        assert.equal(tally.encrypted, before + 1, `${protocol}: the valid dialogue did not end encrypted`);
      }));
      const lines: string[] = [];
      let runs = 0;
      let slowest = 0;
      const phases = new Map<string, number>();
      for (const [protocol, tally] of tallies) {
        runs += tally.runs;
        for (const [p, n] of tally.phases) phases.set(p, (phases.get(p) ?? 0) + n);
        slowest = Math.max(slowest, tally.slowest);
        const codes = [...tally.codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(", ");
        lines.push(`${protocol}: ${tally.runs} runs, ${tally.encrypted} encrypted, ${tally.plaintext} plaintext (opportunistic), errors: ${codes}; slowest ${tally.slowest.toFixed(0)} ms`);
        t.diagnostic(lines[lines.length - 1]!);
      }
      return `${runs} negotiations over 14 protocols, slowest settled in ${slowest.toFixed(0)} ms (bound 2000); ` +
        `error phases: ${[...phases].map(([p, n]) => `${p} ${n}`).join(", ")}; ${lines.join(" | ")}`;
    });
  });
});

// =====================================================================================
// 4. Hostile TLS peers
// =====================================================================================

/** An SSL 3.0 ClientHello (record and hello version 0x0300), by hand. */
function sslv3ClientHello(version = 0x0300): Buffer {
  const suites = hex("000a 002f 0035 0005 0004");
  const body = Buffer.concat([
    Buffer.from([version >> 8, version & 0xff]),
    Buffer.from(webcrypto.getRandomValues(new Uint8Array(32))),
    Buffer.from([0]), // session id
    Buffer.from([0, suites.length]), suites,
    Buffer.from([1, 0]), // compression: null
  ]);
  const handshake = Buffer.concat([Buffer.from([0x01, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, version >> 8, version & 0xff, handshake.length >> 8, handshake.length & 0xff]), handshake]);
}

/** An SSL 2.0 CLIENT-HELLO (two-byte header, version 0x0002). */
function sslv2ClientHello(): Buffer {
  const specs = hex("010080 020080 030080 040080 050080 060040 0700c0");
  const challenge = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  const body = Buffer.concat([hex("01 0002"), Buffer.from([0, specs.length, 0, 0, 0, challenge.length]), specs, challenge]);
  return Buffer.concat([Buffer.from([0x80 | (body.length >> 8), body.length & 0xff]), body]);
}

/** Sends `payload` to a TLS listener from a raw socket; what came back before the close. */
function hostileClient(port: number, payload: Buffer): Promise<{ reply: Buffer; how: string }> {
  return new Promise((resolve) => {
    const raw = net.connect(port, "127.0.0.1", () => raw.write(payload));
    const parts: Buffer[] = [];
    const timer = setTimeout(() => finish("no close within 3 s"), 3000);
    const finish = (how: string) => {
      clearTimeout(timer);
      raw.destroy();
      resolve({ reply: Buffer.concat(parts), how });
    };
    raw.on("data", (d: Buffer) => parts.push(d));
    raw.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? "error"));
    raw.on("close", () => finish("closed"));
  });
}

function describeReply(r: { reply: Buffer; how: string }): string {
  const b = r.reply;
  if (b.length >= 7 && b[0] === 0x15) return `alert ${b[6]} (record version ${b[1]}.${b[2]}), ${r.how}`;
  return b.length === 0 ? r.how : `${b.length} bytes (${b.subarray(0, 8).toString("hex")}…), ${r.how}`;
}

interface Chain {
  rootPem: string;
  /** Leaf + intermediates, as a server sends them. */
  chainPem: string;
  keyPem: string;
  bytes: number;
}

/** A root, `depth` intermediates each signed by the previous one, and a leaf with `sans`. */
async function makeChain(depth: number, sans: Array<{ type: "dns" | "ip"; value: string }>): Promise<Chain> {
  await makePki(); // loads @peculiar/x509 with its metadata shim and crypto provider
  const x509 = await import("@peculiar/x509");
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = () => webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>;
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 30 * 86400_000) };
  const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString("hex").replace(/^./, "1");
  const caExtensions = (k: webcrypto.CryptoKeyPair) => Promise.all([
    Promise.resolve(new x509.BasicConstraintsExtension(true, undefined, true)),
    Promise.resolve(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)),
    x509.SubjectKeyIdentifierExtension.create(k.publicKey),
  ]);
  const rootKeys = await keys();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: "CN=hostile root", keys: rootKeys, signingAlgorithm: alg, ...validity,
    extensions: await caExtensions(rootKeys),
  });
  let issuer = { cert: root, keys: rootKeys };
  const intermediates: string[] = [];
  for (let i = 1; i <= depth; i++) {
    const k = await keys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(), subject: `CN=hostile intermediate ${i}`, issuer: issuer.cert.subject, publicKey: k.publicKey,
      signingKey: issuer.keys.privateKey, signingAlgorithm: alg, ...validity, extensions: await caExtensions(k),
    });
    intermediates.unshift(cert.toString("pem"));
    issuer = { cert, keys: k };
  }
  const leafKeys = await keys();
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject: "CN=localhost", issuer: issuer.cert.subject, publicKey: leafKeys.publicKey,
    signingKey: issuer.keys.privateKey, signingAlgorithm: alg, ...validity,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
    ],
  });
  const chainPem = [leaf.toString("pem"), ...intermediates].join("\n");
  const keyPem = (await import("node:crypto")).KeyObject.from(leafKeys.privateKey).export({ type: "pkcs8", format: "pem" }) as string;
  const bytes = leaf.rawData.byteLength + intermediates.length * issuer.cert.rawData.byteLength;
  return { rootPem: root.toString("pem"), chainPem, keyPem, bytes };
}


describe("hostile TLS peers", () => {
  test("a sockurl TLS server drops garbage, HTTP, SSL 3.0, SSL 2.0 and TLS 1.0 ClientHellos, counts them and keeps accepting", { timeout: 20_000 }, async (t) => {
    await guardedLong(t, "TLS server vs hostile clients", async () => {
      const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key, handshakeTimeout: 2000 } });
      try {
        const port = (server.address as { port: number }).port;
        const garbage = Buffer.from(webcrypto.getRandomValues(new Uint8Array(1024)));
        garbage[0] = 0x16; // looks like a handshake record, then nonsense
        const payloads: Array<[string, Buffer]> = [
          ["garbage", garbage],
          ["HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")],
          ["SSL 3.0 ClientHello", sslv3ClientHello(0x0300)],
          ["SSL 2.0 ClientHello", sslv2ClientHello()],
          ["TLS 1.0-only ClientHello", sslv3ClientHello(0x0301)],
          ["a record header claiming 65535 bytes", Buffer.concat([hex("16 03 03 ff ff"), Buffer.alloc(64)])],
        ];
        const seen: string[] = [];
        for (const [name, payload] of payloads) {
          const r = await hostileClient(port, payload);
          assert.notEqual(r.how, "no close within 3 s", `${name}: the server kept the connection`);
          seen.push(`${name} → ${describeReply(r)}`);
        }
        await until(() => server.handshakeFailures >= payloads.length, "every payload counted as a handshake failure", 10_000);
        assert.equal(server.handshakeFailures, payloads.length);
        // None of them reached accept(); a good client is served.
        await assert.rejects(server.accept({ timeout: 50 }), (e: unknown) => e instanceof SocketError && e.code === "ETIMEDOUT");
        const accepted = server.accept({ timeout: 2000 });
        const client = await connect(server.url, { timeout: 2000, tls: { ca } });
        const peer = await accepted;
        await client.write("still serving\n");
        assert.equal(await peer.readLine(), "still serving");
        client.destroy();
        peer.destroy();
        return `${seen.join("; ")}; handshakeFailures ${server.handshakeFailures}; next client served`;
      } finally {
        await server.close();
      }
    });
  });

  test("a sockurl TLS client facing garbage, an HTTP response, an alert or a stalled record: a typed error within the deadline", { timeout: 20_000 }, async (t) => {
    await guardedLong(t, "TLS client vs hostile servers", async () => {
      const answers: Array<[string, Buffer, string[], string]> = [
        ["garbage", Buffer.from(webcrypto.getRandomValues(new Uint8Array(2048))), ["ERR_TLS_HANDSHAKE"], "tls"],
        ["an HTTP response", Buffer.from("HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request"), ["ERR_TLS_HANDSHAKE"], "tls"],
        ["a fatal alert", hex("15 03 03 00 02 02 28"), ["ERR_TLS_HANDSHAKE"], "tls"],
        ["an SSL 3.0 ServerHello", Buffer.concat([hex("16 03 00 00 2a 02 00 00 26 03 00"), Buffer.alloc(32, 7), hex("00 00 0a 00")]), ["ERR_TLS_HANDSHAKE"], "tls"],
        ["a record header then silence", hex("16 03 03 00 50 02 00 00 4c 03 03"), ["ETIMEDOUT"], "tls"],
      ];
      const seen: string[] = [];
      for (const [name, answer, codes, phase] of answers) {
        const peer = await rawServer((s) => s.once("data", () => s.write(answer)));
        try {
          const o = await within(settle(connect(`tls://127.0.0.1:${peer.port}`, { timeout: 1000, tls: { ca } })), 3000, name);
          assert.ok(!o.ok, `${name}: the handshake succeeded`);
          const err = o.error;
          assert.ok(err instanceof SocketError, `${name}: ${String(err)}`);
          assert.ok(codes.includes(err.code), `${name}: ${err.code}: ${err.message}`);
          assert.equal(err.phase, phase);
          seen.push(`${name} → ${err.code}${err.reason ? ` (${err.reason})` : ""} in ${o.ms.toFixed(0)} ms`);
        } finally {
          await peer.close();
        }
      }
      return seen.join("; ");
    });
  });

  test("huge certificates: a chain of 100 certificates and SAN lists of 2,000 and 10,000 names end in success or a typed error in time", { timeout: 60_000 }, async (t) => {
    await guardedLong(t, "huge certificate chains", async () => {
      const made = performance.now();
      const local = [{ type: "dns" as const, value: "localhost" }, { type: "ip" as const, value: "127.0.0.1" }];
      const longChain = await makeChain(99, local);
      const manyNames = (n: number) => [
        ...Array.from({ length: n }, (_, i) => ({ type: "dns" as const, value: `host-${String(i).padStart(5, "0")}.sockurl.test` })),
        ...local,
      ];
      const sans2k = await makeChain(0, manyNames(2000));
      const sans10k = await makeChain(0, manyNames(10_000));
      const generated = performance.now() - made;
      const seen: string[] = [];
      const cases: Array<[string, Chain, (o: Awaited<ReturnType<typeof settle>>) => void, Record<string, unknown>]> = [
        ["100-certificate chain, default verifyDepth", longChain, (o) => {
          assert.ok(!o.ok && o.error instanceof SocketError && o.error.code === "ERR_TLS_CERT", o.ok ? "accepted" : String(o.error));
        }, {}],
        ["100-certificate chain, verifyDepth 200", longChain, (o) => {
          assert.ok(o.ok || (o.error instanceof SocketError && ["ERR_TLS_CERT", "ERR_TLS_HANDSHAKE"].includes(o.error.code)), String(!o.ok && o.error));
        }, { verifyDepth: 200 }],
        ["2,000 SAN names", sans2k, (o) => {
          assert.ok(o.ok, o.ok ? "" : String(o.error));
        }, {}],
        ["10,000 SAN names", sans10k, (o) => {
          assert.ok(o.ok || (o.error instanceof SocketError && o.error.code === "ERR_TLS_HANDSHAKE"), String(!o.ok && o.error));
        }, {}],
      ];
      for (const [name, chain, check, extra] of cases) {
        const peer = await rawServer(() => {}, { tls: { cert: chain.chainPem, key: chain.keyPem } });
        try {
          const o = await within(settle(connect(`tls://127.0.0.1:${peer.port}`, { timeout: 5000, tls: { ca: chain.rootPem, ...extra } })), 8000, name);
          check(o);
          if (o.ok) (o.value as Socket).destroy();
          const what = o.ok ? "connected" : `${(o.error as SocketError).code}${(o.error as SocketError).reason ? ` (${(o.error as SocketError).reason})` : ""}`;
          seen.push(`${name} (~${(chain.bytes / 1024).toFixed(0)} KiB of certificates) → ${what} in ${o.ms.toFixed(0)} ms`);
        } finally {
          await peer.close();
        }
      }
      return `${seen.join("; ")}; certificates generated in ${(generated / 1000).toFixed(1)} s`;
    });
  });
});
