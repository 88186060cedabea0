/**
 * STARTTLS for the line protocols (smtp, lmtp, pop3, imap, ftp, nntp, sieve) against scripted
 * fake servers: the happy path ends encrypted with the plaintext exchange in the transcript,
 * and every hostile case (response injection, capability stripping, refusals, PREAUTH,
 * garbage, silence, oversized and endless replies) ends in its typed error, with the socket
 * destroyed and nothing more sent in plaintext.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  connect, listen, negotiateStartTls, SocketError,
  type Server, type Socket, type StartTlsProtocol, type StartTlsNegotiationOptions,
} from "../src/index.js";
import { makePki } from "./fixtures/pki.js";
import { rejectsWith } from "./helpers.js";

const pki = await makePki();
const ca = pki.caBundle;
const serverTls = { server: true, cert: pki.valid.chain, key: pki.valid.key } as const;

// ------------------------------------------------------------------ scripted fake servers

/** The server side of the handshake. */
const TLS = Symbol("tls");
/** A string is sent by the server as is; a RegExp is a line the client must send next; TLS upgrades. */
type Step = string | RegExp | typeof TLS;
type Script = Step[] | ((peer: Socket) => Promise<void>);

interface Session {
  /** Why the script failed (the client did not say what it should have), or null. */
  error: unknown;
  /** Whether the server side upgraded to TLS. */
  upgraded: boolean;
  /** The bytes the client sent after the script ended, until it closed. */
  tail: string;
}

async function runSteps(peer: Socket, steps: Step[]): Promise<void> {
  for (const step of steps) {
    if (step === TLS) {
      await peer.startTls(serverTls);
    } else if (typeof step === "string") {
      await peer.write(step);
    } else {
      const line = await peer.readLine();
      if (line === null || !step.test(line)) throw new Error(`expected the client to send ${step}, got ${JSON.stringify(line)}`);
    }
  }
}

interface Fake {
  url: string;
  /** The url as `tcp://localhost:PORT`. */
  local: string;
  /** The next finished session, in accept order. */
  session(): Promise<Session>;
  close(): Promise<void>;
}

/** A listener that runs `script` on every connection it accepts. */
async function fake(script: Script): Promise<Fake> {
  const server: Server = await listen("tcp://127.0.0.1:0");
  const port = server.address.transport === "tcp" ? (server.address as { port: number }).port : 0;
  const peers: Socket[] = [];
  const sessions: Promise<Session>[] = [];
  let taken = 0;
  const loop = (async () => {
    for (;;) {
      let peer: Socket;
      try {
        peer = await server.accept();
      } catch {
        return;
      }
      peers.push(peer);
      sessions.push((async () => {
        let error: unknown = null;
        try {
          if (typeof script === "function") await script(peer);
          else await runSteps(peer, script);
        } catch (err) {
          error = err;
        }
        let tail = "";
        if (error === null) {
          // A reset after the client's destroy() is still "nothing more sent"; keep what came before it.
          try {
            for await (const chunk of peer) tail += chunk.toString("latin1");
          } catch (err) {
            if (!(err instanceof SocketError && err.code === "ECONNRESET")) tail += `<${String(err)}>`;
          }
        }
        peer.destroy();
        return { error, upgraded: peer.encrypted, tail };
      })());
    }
  })();
  return {
    url: server.url,
    local: `tcp://localhost:${port}`,
    async session() {
      const i = taken++;
      while (sessions.length <= i) await new Promise((r) => setTimeout(r, 5));
      return sessions[i]!;
    },
    async close() {
      for (const p of peers) p.destroy();
      await server.close();
      await loop;
    },
  };
}

/** Runs `body` against a fake server and closes everything, whatever happens. */
async function withFake(script: Script, body: (f: Fake) => Promise<void>): Promise<void> {
  const f = await fake(script);
  try {
    await body(f);
  } finally {
    await f.close();
  }
}

/** Asserts that the session ran its script in full and that the client then sent nothing more. */
async function cleanEnd(f: Fake, what: string): Promise<Session> {
  const s = await f.session();
  assert.equal(s.error, null, `${what}: server script failed: ${String(s.error)}`);
  assert.equal(s.tail, "", `${what}: the client went on in plaintext`);
  assert.equal(s.upgraded, false, `${what}: the server side upgraded`);
  return s;
}

/** The transcript a script produces on the client side, up to (not including) TLS. */
function expectedTranscript(steps: Step[]): Array<{ from: "client" | "server"; text: string | RegExp }> {
  const out: Array<{ from: "client" | "server"; text: string | RegExp }> = [];
  for (const step of steps) {
    if (step === TLS) break;
    if (typeof step === "string") {
      for (const line of step.split("\r\n").slice(0, -1)) out.push({ from: "server", text: line });
    } else {
      out.push({ from: "client", text: step });
    }
  }
  return out;
}

// ------------------------------------------------------------------ the protocols

interface Case {
  proto: StartTlsProtocol;
  /** The server's side up to the client's STARTTLS command, with STARTTLS offered. */
  offer: Step[];
  /** The go-ahead. */
  go: string;
  /** The go-ahead followed by an injected reply, in one write. */
  inject: string;
  /** After TLS: the server's steps, and what the client does (one command over TLS). */
  afterServer: Step[];
  afterClient: (socket: Socket) => Promise<void>;
  /** A session whose capability list does not offer STARTTLS (the client must stop there). */
  stripped: Step[];
  /** Refusals: whole scripts whose last reply refuses. */
  refusals: Array<[string, Step[]]>;
  /** Lines before an endless multi-line reply, and the line repeated. */
  endless: [Step[], string];
}

async function command(socket: Socket, line: string, reply: string | RegExp): Promise<void> {
  await socket.write(line);
  const got = await socket.readLine();
  if (typeof reply === "string") assert.equal(got, reply);
  else assert.match(got ?? "<eof>", reply);
}

function smtpCase(proto: "smtp" | "lmtp"): Case {
  const hello = proto === "smtp" ? "EHLO" : "LHLO";
  const offer: Step[] = [
    "220-mx.example ESMTP\r\n220 ready\r\n",
    new RegExp(`^${hello} localhost$`),
    "250-mx.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    /^STARTTLS$/,
  ];
  return {
    proto,
    offer,
    go: "220 go ahead\r\n",
    inject: "220 go ahead\r\n250 fake\r\n",
    afterServer: [new RegExp(`^${hello} localhost$`), "250-mx.example\r\n250 AUTH PLAIN\r\n"],
    afterClient: async (s) => {
      await command(s, `${hello} localhost\r\n`, "250-mx.example");
      assert.equal(await s.readLine(), "250 AUTH PLAIN");
    },
    stripped: ["220 ready\r\n", new RegExp(`^${hello} `), "250-mx.example\r\n250 8BITMIME\r\n"],
    refusals: [
      ["454", [...offer, "454 4.7.0 TLS not available due to temporary reason\r\n"]],
      ["502", [...offer, "502 5.5.1 command not implemented\r\n"]],
      ["554 greeting", ["554 no service\r\n"]],
    ],
    endless: [[], "220-spam\r\n"],
  };
}

const POP3_OFFER: Step[] = ["+OK POP3 ready\r\n", /^CAPA$/, "+OK Capability list follows\r\nTOP\r\nSTLS\r\n..odd\r\nUIDL\r\n.\r\n", /^STLS$/];
const IMAP_OFFER: Step[] = [
  "* OK IMAP4rev1 ready\r\n",
  /^a001 CAPABILITY$/,
  "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n* OK still here\r\na001 OK CAPABILITY completed\r\n",
  /^a002 STARTTLS$/,
];
const FTP_OFFER: Step[] = [
  "220-Welcome to the fake FTP\r\n220-second line\r\n220 ready\r\n",
  /^FEAT$/,
  "211-Features:\r\n EPRT\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n",
  /^AUTH TLS$/,
];
const NNTP_OFFER: Step[] = [
  "200 news.example ready\r\n",
  /^CAPABILITIES$/,
  "101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n",
  /^STARTTLS$/,
];
const SIEVE_CAPS = '"IMPLEMENTATION" "Fake Sieve"\r\n"SIEVE" "fileinto vacation"\r\n"SASL" ""\r\n"STARTTLS"\r\n"VERSION" "1.0"\r\nOK "ready"\r\n';
const SIEVE_OFFER: Step[] = [SIEVE_CAPS, /^STARTTLS$/];

const CASES: Case[] = [
  smtpCase("smtp"),
  smtpCase("lmtp"),
  {
    proto: "pop3",
    offer: POP3_OFFER,
    go: "+OK Begin TLS negotiation\r\n",
    inject: "+OK Begin\r\n+OK\r\nPLAIN\r\n.\r\n",
    afterServer: [/^CAPA$/, "+OK\r\nUSER\r\n.\r\n"],
    afterClient: (s) => command(s, "CAPA\r\n", "+OK"),
    stripped: ["+OK POP3 ready\r\n", /^CAPA$/, "+OK\r\nTOP\r\nUSER\r\n.\r\n"],
    refusals: [
      ["-ERR", [...POP3_OFFER, "-ERR TLS not available\r\n"]],
      ["-ERR after a failed CAPA", ["+OK ready\r\n", /^CAPA$/, "-ERR unknown command\r\n", /^STLS$/, "-ERR no\r\n"]],
      ["-ERR greeting", ["-ERR too many connections\r\n"]],
    ],
    endless: [["+OK ready\r\n", /^CAPA$/, "+OK\r\n"], "X-SPAM\r\n"],
  },
  {
    proto: "imap",
    offer: IMAP_OFFER,
    go: "a002 OK Begin TLS negotiation now\r\n",
    inject: "a002 OK begin\r\n* CAPABILITY IMAP4REV1 AUTH=PLAIN\r\n",
    afterServer: [/^b001 CAPABILITY$/, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nb001 OK done\r\n"],
    afterClient: async (s) => {
      await command(s, "b001 CAPABILITY\r\n", "* CAPABILITY IMAP4rev1 AUTH=PLAIN");
      assert.equal(await s.readLine(), "b001 OK done");
    },
    stripped: ["* OK ready\r\n", /^a001 CAPABILITY$/, "* CAPABILITY IMAP4rev1 LOGINDISABLED\r\na001 OK done\r\n"],
    refusals: [
      ["NO", [...IMAP_OFFER, "a002 NO not now\r\n"]],
      ["BAD", [...IMAP_OFFER, "a002 BAD unknown command\r\n"]],
      ["BYE greeting", ["* BYE too many connections\r\n"]],
    ],
    endless: [["* OK ready\r\n", /^a001 CAPABILITY$/], "* OK spam\r\n"],
  },
  {
    proto: "ftp",
    offer: FTP_OFFER,
    go: "234 Proceed with negotiation.\r\n",
    inject: "234 go\r\n230 fake\r\n",
    afterServer: [/^PBSZ 0$/, "200 PBSZ=0\r\n"],
    afterClient: (s) => command(s, "PBSZ 0\r\n", "200 PBSZ=0"),
    stripped: ["220 ready\r\n", /^FEAT$/, "211-Features:\r\n EPRT\r\n PBSZ\r\n211 End\r\n"],
    refusals: [
      ["502", [...FTP_OFFER, "502 command not implemented\r\n"]],
      ["534", [...FTP_OFFER, "534 request denied for policy reasons\r\n"]],
      ["421 greeting", ["421 service not available\r\n"]],
    ],
    endless: [[], "220-spam\r\n"],
  },
  {
    proto: "nntp",
    offer: NNTP_OFFER,
    go: "382 Continue with TLS negotiation\r\n",
    inject: "382 go\r\n200 fake\r\n",
    afterServer: [/^CAPABILITIES$/, "101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n"],
    afterClient: (s) => command(s, "CAPABILITIES\r\n", "101 Capability list:"),
    stripped: ["200 ready\r\n", /^CAPABILITIES$/, "101 Capability list:\r\nVERSION 2\r\nREADER\r\n.\r\n"],
    refusals: [
      ["502", [...NNTP_OFFER, "502 command unavailable\r\n"]],
      ["580", [...NNTP_OFFER, "580 can not initiate TLS negotiation\r\n"]],
      ["400 greeting", ["400 service temporarily unavailable\r\n"]],
      ["502 greeting", ["502 service permanently unavailable\r\n"]],
    ],
    endless: [["200 ready\r\n", /^CAPABILITIES$/, "101 caps\r\n"], "SPAM\r\n"],
  },
  {
    proto: "sieve",
    offer: SIEVE_OFFER,
    go: 'OK "Begin TLS negotiation now"\r\n',
    inject: "OK go\r\nOK fake\r\n",
    // RFC 5804 §2.2: after TLS the server sends its capabilities again by itself.
    afterServer: ['"IMPLEMENTATION" "Fake Sieve"\r\n"SASL" "PLAIN"\r\nOK\r\n', /^NOOP$/, 'OK "NOOP completed"\r\n'],
    afterClient: async (s) => {
      assert.equal(await s.readLine(), '"IMPLEMENTATION" "Fake Sieve"');
      assert.equal(await s.readLine(), '"SASL" "PLAIN"');
      assert.equal(await s.readLine(), "OK");
      await command(s, "NOOP\r\n", 'OK "NOOP completed"');
    },
    stripped: ['"IMPLEMENTATION" "Fake"\r\n"SASL" "PLAIN"\r\nOK\r\n'],
    refusals: [
      ["NO", [...SIEVE_OFFER, 'NO "not now"\r\n']],
      ["BYE greeting", ['"IMPLEMENTATION" "Fake"\r\nBYE "go away"\r\n']],
    ],
    endless: [[], '"X-SPAM" "yes"\r\n'],
  },
];

const caseOf = (proto: StartTlsProtocol) => CASES.find((c) => c.proto === proto)!;

/** connect() with STARTTLS, as an application would. */
function connectStartTls(f: Fake, proto: StartTlsProtocol, extra: Omit<StartTlsNegotiationOptions, "tls" | "timeout"> = {}, timeout = 5000) {
  return connect(f.local, { family: 4, timeout, startTls: { protocol: proto, ...extra }, tls: { ca } });
}

/** Asserts that the socket is gone: nothing can be read or written in plaintext any more. */
async function assertDestroyed(socket: Socket): Promise<void> {
  assert.equal(socket.closed, true);
  assert.equal(socket.encrypted, false);
  await rejectsWith(socket.write("QUIT\r\n"), "ERR_SOCKET_CLOSED");
  await rejectsWith(socket.readLine(), "ERR_SOCKET_CLOSED");
}

/**
 * Expects `script` to make the negotiation fail with `code`, both through connect() and through
 * negotiateStartTls() on a plain socket; the socket is destroyed and the server then sees
 * nothing more from the client (no command, no ClientHello).
 */
async function expectFailure(
  proto: StartTlsProtocol,
  script: Script,
  code: string,
  message?: RegExp,
  options: Omit<StartTlsNegotiationOptions, "tls" | "timeout"> = {},
): Promise<SocketError> {
  let error!: SocketError;
  await withFake(script, async (f) => {
    const fields = { phase: "starttls", ...(message ? { message } : {}) };
    await rejectsWith(connectStartTls(f, proto, options), code, fields);
    if (typeof script !== "function") await cleanEnd(f, `${proto} via connect`);
    else await f.session();

    const socket = await connect(f.local, { family: 4 });
    error = await rejectsWith(negotiateStartTls(socket, proto, { ...options, tls: { ca } }), code, fields);
    await assertDestroyed(socket);
    if (typeof script !== "function") await cleanEnd(f, `${proto} via negotiateStartTls`);
  });
  return error;
}

// ------------------------------------------------------------------ (a) happy paths

describe("STARTTLS happy paths (line protocols)", () => {
  for (const c of CASES) {
    test(`${c.proto}: connect({ startTls }) ends encrypted; one command works over TLS; the transcript holds the plaintext exchange`, async () => {
      const script: Step[] = [...c.offer, c.go, TLS, ...c.afterServer];
      await withFake(script, async (f) => {
        const socket = await connectStartTls(f, c.proto);
        try {
          assert.equal(socket.encrypted, true);
          assert.equal(socket.tls?.authorized, true);
          await c.afterClient(socket);
        } finally {
          socket.destroy();
        }
        const s = await f.session();
        assert.equal(s.error, null, String(s.error));
        assert.equal(s.upgraded, true);

        const plain = await connect(f.local, { family: 4 });
        try {
          const result = await negotiateStartTls(plain, c.proto, { tls: { ca } });
          assert.equal(result.protocol, c.proto);
          assert.equal(result.encrypted, true);
          assert.equal(result.mode, "required");
          assert.equal(result.plaintextReason, null);
          assert.ok(result.timings.negotiate >= 0 && result.timings.handshake > 0);
          const expected = expectedTranscript(script);
          assert.equal(result.transcript.length, expected.length, JSON.stringify(result.transcript));
          expected.forEach((e, i) => {
            const got = result.transcript[i]!;
            assert.equal(got.from, e.from, `entry ${i}`);
            if (typeof e.text === "string") assert.equal(got.text, e.text, `entry ${i}`);
            else assert.match(got.text, e.text, `entry ${i}`);
          });
          assert.equal(plain.encrypted, true);
          await c.afterClient(plain);
        } finally {
          plain.destroy();
        }
        const s2 = await f.session();
        assert.equal(s2.error, null, String(s2.error));
      });
    });
  }

  const variants: Array<[string, StartTlsProtocol, Step[]]> = [
    ["imap: a [CAPABILITY …] greeting code listing STARTTLS saves the CAPABILITY command",
      "imap", ["* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN] ready\r\n", /^a001 STARTTLS$/, "* OK untagged noise\r\na001 OK go\r\n"]],
    ["imap: a [CAPABILITY …] greeting code without STARTTLS is checked again with CAPABILITY",
      "imap", ["* OK [CAPABILITY IMAP4rev1] ready\r\n", /^a001 CAPABILITY$/, "* capability imap4rev1 starttls\r\na001 ok done\r\n", /^a002 STARTTLS$/, "a002 ok go\r\n"]],
    ["pop3: a server without CAPA (-ERR) is asked STLS, and +OK goes ahead",
      "pop3", ["+OK ready\r\n", /^CAPA$/, "-ERR unknown command\r\n", /^STLS$/, "+OK go\r\n"]],
    ["ftp: a server without FEAT (502) is asked AUTH TLS, and 234 goes ahead",
      "ftp", ["220 ready\r\n", /^FEAT$/, "502 FEAT not implemented\r\n", /^AUTH TLS$/, "234 go\r\n"]],
    ["ftp: a 120 greeting is followed by the 220; AUTH listed with several mechanisms",
      "ftp", ["120 ready in 1 minute\r\n220 ready\r\n", /^FEAT$/, "211-Features:\r\n AUTH SSL;TLS\r\n211 End\r\n", /^AUTH TLS$/, "234 go\r\n"]],
    ["nntp: a 201 greeting and a lower-case capability",
      "nntp", ["201 no posting\r\n", /^CAPABILITIES$/, "101 caps\r\nVERSION 2\r\nstarttls\r\n.\r\n", /^STARTTLS$/, "382 go\r\n"]],
    ["sieve: case-insensitive capability and response",
      "sieve", ['"implementation" "x"\r\n"starttls"\r\nok\r\n', /^STARTTLS$/, "ok\r\n"]],
  ];
  for (const [name, proto, steps] of variants) {
    test(name, async () => {
      const script: Step[] = [...steps, TLS, /^PING$/, "PONG\r\n"];
      await withFake(script, async (f) => {
        const socket = await connectStartTls(f, proto);
        try {
          assert.equal(socket.encrypted, true);
          await command(socket, "PING\r\n", "PONG");
        } finally {
          socket.destroy();
        }
        const s = await f.session();
        assert.equal(s.error, null, String(s.error));
      });
    });
  }
});

// ------------------------------------------------------------------ (b) response injection

describe("STARTTLS response injection after the go-ahead", () => {
  for (const c of CASES) {
    test(`${c.proto}: ${JSON.stringify(c.inject)} in one write is ERR_STARTTLS_PENDING_DATA`, async () => {
      await expectFailure(c.proto, [...c.offer, c.inject], "ERR_STARTTLS_PENDING_DATA", /CVE-2011-0411/);
    });
  }
});

// ------------------------------------------------------------------ (c) capability stripping

describe("STARTTLS capability stripping", () => {
  for (const c of CASES) {
    test(`${c.proto}: not offered → ERR_STARTTLS_UNSUPPORTED (required); opportunistic says it is unencrypted`, async () => {
      await expectFailure(c.proto, c.stripped, "ERR_STARTTLS_UNSUPPORTED", /refusing to continue in plaintext/);

      // Opportunistic: the session goes on in plaintext, and the result says so.
      await withFake([...c.stripped, /^QUIT$/, "BYE\r\n"], async (f) => {
        const socket = await connect(f.local, { family: 4 });
        try {
          const result = await negotiateStartTls(socket, c.proto, { mode: "opportunistic", tls: { ca } });
          assert.equal(result.encrypted, false);
          assert.equal(result.mode, "opportunistic");
          assert.match(result.plaintextReason ?? "", /does not (list|offer)/);
          assert.equal(result.timings.handshake, 0);
          assert.deepEqual(result.transcript.map((e) => e.from).slice(0, 1), [c.stripped[0] instanceof RegExp ? "client" : "server"]);
          assert.equal(socket.encrypted, false);
          await command(socket, "QUIT\r\n", "BYE");
        } finally {
          socket.destroy();
        }
        const s = await f.session();
        assert.equal(s.error, null, String(s.error));
      });
    });
  }

  test("connect({ startTls: { mode: \"opportunistic\" } }) returns the plaintext socket", async () => {
    await withFake([...caseOf("smtp").stripped, /^QUIT$/, "221 bye\r\n"], async (f) => {
      const socket = await connectStartTls(f, "smtp", { mode: "opportunistic" });
      try {
        assert.equal(socket.encrypted, false);
        await command(socket, "QUIT\r\n", "221 bye");
      } finally {
        socket.destroy();
      }
    });
  });
});

// ------------------------------------------------------------------ (d, e) refusals and PREAUTH

describe("STARTTLS refusals", () => {
  for (const c of CASES) {
    for (const [label, script] of c.refusals) {
      test(`${c.proto}: ${label} → ERR_STARTTLS_UNSUPPORTED`, async () => {
        await expectFailure(c.proto, script, "ERR_STARTTLS_UNSUPPORTED");
      });
    }
  }

  test("imap: a PREAUTH greeting → ERR_STARTTLS_UNSUPPORTED (STARTTLS can never happen)", async () => {
    const err = await expectFailure("imap", ["* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in as joe\r\n"], "ERR_STARTTLS_UNSUPPORTED");
    assert.match(err.message, /PREAUTH/);
    assert.match(err.message, /can never happen/);
  });
});

// ------------------------------------------------------------------ (f) unexpected replies

describe("STARTTLS unexpected replies", () => {
  for (const c of CASES) {
    test(`${c.proto}: an HTTP greeting, or an HTTP answer to STARTTLS, is ERR_PROTOCOL`, async () => {
      await expectFailure(c.proto, ["HTTP/1.1 200 OK\r\n"], "ERR_PROTOCOL");
      await expectFailure(c.proto, [...c.offer, "HTTP/1.1 200 OK\r\n"], "ERR_PROTOCOL");
    });
  }

  const odd: Array<[string, StartTlsProtocol, Script]> = [
    ["smtp: a multi-line reply that changes its code", "smtp", ["220-hello\r\n554 no\r\n"]],
    ["smtp: a 334 answer to STARTTLS", "smtp", [...caseOf("smtp").offer, "334 what\r\n"]],
    ["imap: a completion with another tag", "imap", ["* OK ready\r\n", /^a001 CAPABILITY$/, "a999 OK done\r\n"]],
    ["imap: a continuation request", "imap", [...IMAP_OFFER, "+ go on\r\n"]],
    ["ftp: a 331 answer to AUTH TLS", "ftp", [...FTP_OFFER, "331 need password\r\n"]],
    ["nntp: a 381 answer to STARTTLS", "nntp", [...NNTP_OFFER, "381 password required\r\n"]],
    ["pop3: a server that closes after its greeting", "pop3", async (peer) => {
      await peer.write("+OK ready\r\n");
      await peer.readLine();
      await peer.close();
    }],
    ["pop3: a go-ahead cut off before its line end (then the server closes)", "pop3", async (peer) => {
      await runSteps(peer, POP3_OFFER);
      await peer.write("+OK go");
      await peer.close();
    }],
  ];
  for (const [name, proto, script] of odd) {
    test(`${name} → ERR_PROTOCOL`, async () => {
      await expectFailure(proto, script, "ERR_PROTOCOL");
    });
  }
});

// ------------------------------------------------------------------ (g) silence

describe("STARTTLS deadlines", () => {
  test("a silent server → ETIMEDOUT, phase starttls, within connect's timeout (every protocol)", async () => {
    await withFake(async (peer) => {
      await peer.read().catch(() => null);
    }, async (f) => {
      await Promise.all(CASES.map(async (c) => {
        const started = performance.now();
        await rejectsWith(connectStartTls(f, c.proto, {}, 300), "ETIMEDOUT", { phase: "starttls" });
        const took = performance.now() - started;
        assert.ok(took >= 250 && took < 5000, `${c.proto}: took ${took} ms`);
      }));
    });
  });

  test("a server that stops in the middle → ETIMEDOUT from negotiateStartTls's own timeout; the socket is gone", async () => {
    await withFake(["220 ready\r\n", /^EHLO/], async (f) => {
      const socket = await connect(f.local, { family: 4 });
      const started = performance.now();
      await rejectsWith(negotiateStartTls(socket, "smtp", { timeout: 300, tls: { ca } }), "ETIMEDOUT", { phase: "starttls" });
      assert.ok(performance.now() - started < 5000, "negotiateStartTls's deadline fired");
      await assertDestroyed(socket);
      await cleanEnd(f, "smtp timeout");
    });
  });
});

// ------------------------------------------------------------------ (h) limits

describe("STARTTLS reply limits", () => {
  for (const c of CASES) {
    test(`${c.proto}: a line over maxLineLength → ERR_LINE_TOO_LONG; endless continuation lines → ERR_PROTOCOL at maxLines`, async () => {
      // Default maxLineLength: the one default line limit, 8 KiB.
      await expectFailure(c.proto, [`${"x".repeat(9000)}\r\n`], "ERR_LINE_TOO_LONG", /maxLineLength 8192/);
      const [prefix, line] = c.endless;
      const endless = async (peer: Socket) => {
        await runSteps(peer, prefix);
        const burst = line.repeat(100);
        try {
          for (let i = 0; i < 1000; i++) await peer.write(burst);
        } catch {
          // The client hung up, as it should.
        }
      };
      await expectFailure(c.proto, endless, "ERR_PROTOCOL", /more than 50 lines/, { maxLines: 50 });
    });
  }

  test("smtp: maxLineLength 512 (RFC 5321's reply line) is enforced", async () => {
    await expectFailure("smtp", [`220 ${"x".repeat(600)}\r\n`], "ERR_LINE_TOO_LONG", /maxLineLength 512/, { maxLineLength: 512 });
  });
});
