/**
 * STARTTLS for xmpp, xmpp-server, ldap, postgres, mysql, irc and telnet against scripted fake
 * servers on loopback: the happy path ends encrypted with one exchange over TLS; injected bytes
 * after the go-ahead, missing capabilities, refusals, malformed replies and silent servers each
 * end in their error.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { connect, listen, negotiateStartTls, type Socket, type StartTlsProtocol } from "../src/index.js";
import { makePki } from "./fixtures/pki.js";
import { rejectsWith, sleep } from "./helpers.js";

const pki = await makePki();
const ca = pki.caBundle;
const serverTls = { server: true, cert: pki.valid.chain, key: pki.valid.key } as const;

type Script = (peer: Socket) => Promise<void>;

/**
 * Runs `script` as the server side of one connection and `client` against it
 * (`tcp://localhost:PORT`); everything is closed afterwards. Returns the script's error, if any.
 */
async function scenario(script: Script, client: (url: string) => Promise<void>, waitForScript = false): Promise<unknown> {
  const server = await listen("tcp://127.0.0.1:0");
  const port = /:(\d+)$/.exec(server.url)![1];
  const peers: Socket[] = [];
  const serverSide = server.accept().then(async (peer) => {
    peers.push(peer);
    await script(peer);
  }).then(() => null, (err: unknown) => err);
  try {
    await client(`tcp://localhost:${port}`);
    // The happy path's script ends by itself; a failure's script may wait for what never comes.
    if (waitForScript) await serverSide;
  } finally {
    for (const peer of peers) peer.destroy();
    await server.close();
  }
  return serverSide;
}

/** After the go-ahead: the server side of the handshake and one line echoed over TLS. */
async function tlsEcho(peer: Socket): Promise<void> {
  await peer.startTls(serverTls);
  const line = await peer.readLine();
  await peer.write(`echo ${line}\n`);
}

/** The happy path: connect with startTls, check the session is encrypted, one exchange over TLS. */
async function expectEncrypted(protocol: StartTlsProtocol, script: Script): Promise<void> {
  const scriptError = await scenario(script, async (url) => {
    const socket = await connect(url, { family: 4, startTls: protocol, tls: { ca }, timeout: 5000 });
    try {
      assert.equal(socket.encrypted, true);
      assert.equal(socket.tls?.authorized, true);
      await socket.write("hello over tls\n");
      assert.equal(await socket.readLine(), "echo hello over tls");
    } finally {
      socket.destroy();
    }
  }, true);
  assert.equal(scriptError, null, String(scriptError));
}

/** connect with startTls must fail with `code`. */
async function expectFailure(protocol: StartTlsProtocol, code: string, script: Script, message?: RegExp): Promise<void> {
  await scenario(script, async (url) => {
    await rejectsWith(
      connect(url, { family: 4, startTls: protocol, tls: { ca }, timeout: 5000 }),
      code,
      { phase: "starttls", ...(message ? { message } : {}) },
    );
  });
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

// ------------------------------------------------------------------------------------ postgres

const SSL_REQUEST = hex("00 00 00 08 04 d2 16 2f");

function postgresServer(answer: string | Buffer, then: Script = async () => {}): Script {
  return async (peer) => {
    assert.deepEqual(await peer.readExactly(8), SSL_REQUEST);
    await peer.write(answer);
    await then(peer);
  };
}

describe("postgres", () => {
  test("SSLRequest, S, TLS", () => expectEncrypted("postgres", postgresServer("S", tlsEcho)));
  test("S followed by injected bytes in the same write is ERR_STARTTLS_PENDING_DATA (CVE-2021-23222)", () =>
    expectFailure("postgres", "ERR_STARTTLS_PENDING_DATA", postgresServer("SE\0\0\0\x08junk")));
  test("N is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("postgres", "ERR_STARTTLS_UNSUPPORTED", postgresServer("N"), /\bN\b/));
  test("E (an old server's error message) is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("postgres", "ERR_STARTTLS_UNSUPPORTED", postgresServer("E\0\0\0\x10SFATAL\0\0")));
  test("any other byte is ERR_PROTOCOL", () =>
    expectFailure("postgres", "ERR_PROTOCOL", postgresServer("X"), /0x58/));
  test("opportunistic mode: N leaves the socket in plaintext and says why", async () => {
    const scriptError = await scenario(postgresServer("N", async (peer) => {
      assert.equal(await peer.readLine(), "still plaintext");
    }), async (url) => {
      const socket = await connect(url, { family: 4 });
      try {
        const result = await negotiateStartTls(socket, "postgres", { mode: "opportunistic", tls: { ca }, timeout: 5000 });
        assert.equal(result.encrypted, false);
        assert.equal(result.mode, "opportunistic");
        assert.match(result.plaintextReason ?? "", /\bN\b/);
        assert.deepEqual(result.transcript, [{ from: "client", text: "0000000804d2162f" }, { from: "server", text: "4e" }]);
        assert.equal(socket.encrypted, false);
        await socket.write("still plaintext\n");
      } finally {
        socket.destroy();
      }
    }, true);
    assert.equal(scriptError, null, String(scriptError));
  });
});

// ---------------------------------------------------------------------------------------- ldap

const LDAP_OID = "1.3.6.1.4.1.1466.20037";
const LDAP_REQUEST = Buffer.concat([hex("30 1d 02 01 01 77 18 80 16"), Buffer.from(LDAP_OID)]);

/** A BER element with a definite length (short or long form). */
function ber(tag: number, ...parts: Array<Buffer | string | number[]>): Buffer {
  const value = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Array.isArray(p) ? Buffer.from(p) : p)));
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), value]);
}

function extendedResponse(code: number, options: { id?: number; diagnostic?: string; name?: string; opTag?: number } = {}): Buffer {
  return ber(0x30,
    ber(0x02, [options.id ?? 1]),
    ber(options.opTag ?? 0x78,
      ber(0x0a, [code]),
      ber(0x04),
      ber(0x04, options.diagnostic ?? ""),
      ...(options.name ? [ber(0x8a, options.name)] : [])));
}

function ldapServer(answer: Buffer, then: Script = async () => {}): Script {
  return async (peer) => {
    assert.deepEqual(await peer.readExactly(31), LDAP_REQUEST);
    await peer.write(answer);
    await then(peer);
  };
}

describe("ldap", () => {
  test("the 31-byte ExtendedRequest, slapd's exact response, TLS", () => {
    const slapd = hex("30 0c 02 01 01 78 07 0a 01 00 04 00 04 00");
    assert.deepEqual(extendedResponse(0), slapd);
    return expectEncrypted("ldap", ldapServer(slapd, tlsEcho));
  });
  test("a response naming the OID (Active Directory style), in two writes, TLS", () =>
    expectEncrypted("ldap", async (peer) => {
      assert.deepEqual(await peer.readExactly(31), LDAP_REQUEST);
      const answer = extendedResponse(0, { name: LDAP_OID });
      await peer.write(answer.subarray(0, 5));
      await sleep(20);
      await peer.write(answer.subarray(5));
      await tlsEcho(peer);
    }));
  test("a long-form length is read exactly", () =>
    expectEncrypted("ldap", ldapServer(extendedResponse(0, { diagnostic: "x".repeat(200) }), tlsEcho)));
  test("the transcript holds the request and the whole response", async () => {
    const scriptError = await scenario(ldapServer(extendedResponse(0), tlsEcho), async (url) => {
      const socket = await connect(url, { family: 4 });
      try {
        const result = await negotiateStartTls(socket, "ldap", { tls: { ca }, timeout: 5000 });
        assert.equal(result.encrypted, true);
        assert.deepEqual(result.transcript, [
          { from: "client", text: LDAP_REQUEST.toString("hex") },
          { from: "server", text: "300c02010178070a010004000400" },
        ]);
        await socket.write("x\n");
        assert.equal(await socket.readLine(), "echo x");
      } finally {
        socket.destroy();
      }
    }, true);
    assert.equal(scriptError, null, String(scriptError));
  });
  test("the response followed by extra bytes is ERR_STARTTLS_PENDING_DATA", () =>
    expectFailure("ldap", "ERR_STARTTLS_PENDING_DATA", ldapServer(Buffer.concat([extendedResponse(0), hex("30 05 02 01 02 42 00")]))));
  test("resultCode 2 (protocolError) is ERR_STARTTLS_UNSUPPORTED with the code", () =>
    expectFailure("ldap", "ERR_STARTTLS_UNSUPPORTED",
      ldapServer(extendedResponse(2, { diagnostic: "unsupported extended operation" })), /resultCode 2 \(protocolError\).*unsupported extended operation/));
  test("a Notice of Disconnection (messageID 0, resultCode 52) is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("ldap", "ERR_STARTTLS_UNSUPPORTED",
      ldapServer(extendedResponse(52, { id: 0, name: "1.3.6.1.4.1.1466.20036" })), /Notice of Disconnection.*resultCode 52 \(unavailable\)/));
  test("a wrong operation tag (BindResponse 0x61) is ERR_PROTOCOL", () =>
    expectFailure("ldap", "ERR_PROTOCOL", ldapServer(extendedResponse(0, { opTag: 0x61 })), /0x78.*0x61/));
  test("a wrong outer tag is ERR_PROTOCOL", () =>
    expectFailure("ldap", "ERR_PROTOCOL", ldapServer(hex("31 0c 02 01 01 78 07 0a 01 00 04 00 04 00"))));
  test("an inner length running past its container is ERR_PROTOCOL", () =>
    expectFailure("ldap", "ERR_PROTOCOL", ldapServer(hex("30 0c 02 01 01 78 07 0a 05 00 04 00 04 00"))));
  test("a wrong messageID is ERR_PROTOCOL", () =>
    expectFailure("ldap", "ERR_PROTOCOL", ldapServer(extendedResponse(0, { id: 7 })), /messageID 7/));
  test("an indefinite length is ERR_PROTOCOL", () =>
    expectFailure("ldap", "ERR_PROTOCOL", ldapServer(hex("30 80 02 01 01 78 07 0a 01 00 04 00 04 00 00 00"))));
});

// ---------------------------------------------------------------------------------------- xmpp

const TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls";
const STARTTLS = `<starttls xmlns='${TLS_NS}'/>`;

function streamHeader(ns = "jabber:client"): string {
  return `<?xml version='1.0'?><stream:stream xmlns='${ns}' xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='localhost' version='1.0' xml:lang='en'>`;
}
const FEATURES =
  `<stream:features><starttls xmlns='${TLS_NS}'><required/></starttls>` +
  `<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`;

/** Reads the client's stream header and checks it. */
async function readClientHeader(peer: Socket, ns = "jabber:client"): Promise<void> {
  const header = `${(await peer.readUntil(">"))!.toString()}>`;
  assert.equal(header,
    `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='${ns}' to='localhost' version='1.0'>`);
}

async function readStartTls(peer: Socket): Promise<void> {
  assert.equal(`${(await peer.readUntil("/>"))!.toString()}/>`, STARTTLS);
}

function xmppServer(features: string, answer?: string, then: Script = async () => {}, ns = "jabber:client"): Script {
  return async (peer) => {
    await readClientHeader(peer, ns);
    await peer.write(streamHeader(ns) + features);
    if (answer === undefined) return;
    await readStartTls(peer);
    await peer.write(answer);
    await then(peer);
  };
}

const PROCEED = `<proceed xmlns='${TLS_NS}'/>`;

describe("xmpp", () => {
  test("stream header to='localhost', features with <starttls><required/>, proceed, TLS", () =>
    expectEncrypted("xmpp", xmppServer(FEATURES, PROCEED, tlsEcho)));
  test("xmpp-server sends jabber:server", () =>
    expectEncrypted("xmpp-server", xmppServer(FEATURES, PROCEED, tlsEcho, "jabber:server")));
  test("features split mid-tag across writes, a '>' inside an attribute, <proceed></proceed>", () =>
    expectEncrypted("xmpp", async (peer) => {
      await readClientHeader(peer);
      const text = streamHeader() +
        `\n<stream:features><c xmlns='http://jabber.org/protocol/caps' ver='a>b' hash='sha-1'/>` +
        `<starttls xmlns="${TLS_NS}"/></stream:features>`;
      for (const piece of [text.slice(0, 30), text.slice(30, 170), text.slice(170, 200), text.slice(200)]) {
        await peer.write(piece);
        await sleep(10);
      }
      await readStartTls(peer);
      await peer.write(`<proceed xmlns='${TLS_NS}'></proceed>`);
      await tlsEcho(peer);
    }));
  test("<proceed/> followed by <fake/> in the same write is ERR_STARTTLS_PENDING_DATA", () =>
    expectFailure("xmpp", "ERR_STARTTLS_PENDING_DATA", xmppServer(FEATURES, `${PROCEED}<fake/>`)));
  test("features without <starttls/> are ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("xmpp", "ERR_STARTTLS_UNSUPPORTED",
      xmppServer("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"),
      /do not offer <starttls\/>/));
  test("empty features <stream:features/> are ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("xmpp", "ERR_STARTTLS_UNSUPPORTED", xmppServer("<stream:features/>")));
  test("<failure/> is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("xmpp", "ERR_STARTTLS_UNSUPPORTED", xmppServer(FEATURES, `<failure xmlns='${TLS_NS}'/></stream:stream>`), /<failure\/>/));
  test("a stream error is ERR_STARTTLS_UNSUPPORTED naming the condition", () =>
    expectFailure("xmpp", "ERR_STARTTLS_UNSUPPORTED",
      xmppServer("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"),
      /host-unknown/));
  test("host-unknown after to='<IP>' says to give the XMPP domain as tls.peerName", async () => {
    await scenario(async (peer) => {
      assert.match((await peer.readUntil(">"))!.toString(), / to='127\.0\.0\.1' /);
      await peer.write(streamHeader() + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    }, async (url) => {
        const byIp = url.replace(/\/\/[^:]+:/, "//127.0.0.1:");
        await rejectsWith(connect(byIp, { startTls: "xmpp", tls: { ca }, timeout: 5000 }), "ERR_STARTTLS_UNSUPPORTED",
          { phase: "starttls", message: /to='127\.0\.0\.1', an IP address: give the server's XMPP domain as tls\.peerName/ });
      }, true);
  });
  test("a non-XMPP answer is ERR_PROTOCOL", () =>
    expectFailure("xmpp", "ERR_PROTOCOL", async (peer) => {
      await readClientHeader(peer);
      await peer.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n<html>");
    }));
  test("an endless stream of features is cut at 64 KiB with ERR_PROTOCOL", () =>
    expectFailure("xmpp", "ERR_PROTOCOL", async (peer) => {
      await readClientHeader(peer);
      await peer.write(streamHeader() + "<stream:features>");
      const filler = "<x/>".repeat(2048);
      for (let i = 0; i < 10; i++) await peer.write(filler);
    }, /65536|byte limit/));
});

// --------------------------------------------------------------------------------------- mysql

const SSL_PACKET = Buffer.concat([hex("20 00 00 01 85 ae 7f 00 00 00 00 01 21"), Buffer.alloc(23)]);

function greeting(capabilitiesLow: number): Buffer {
  const payload = Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from("5.5.5-10.11.6-MariaDB-0+deb12u1\0"),
    hex("2a 00 00 00"), // connection id
    Buffer.from("abcdefgh"), // auth-plugin-data part 1
    Buffer.from([0x00]), // filler
    Buffer.from([capabilitiesLow & 0xff, capabilitiesLow >> 8]),
    Buffer.from([0x2d]), // charset
    hex("02 00"), // status
    hex("ff 81"), // capabilities, high 16 bits
    Buffer.from([21]), // auth data length
    Buffer.alloc(6), hex("1d 00 00 00"), // reserved, MariaDB extended capabilities
    Buffer.from("ijklmnopqrst\0"),
    Buffer.from("mysql_native_password\0"),
  ]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, 0]);
  return Buffer.concat([header, payload]);
}

function mysqlServer(first: Buffer | string, then?: Script): Script {
  return async (peer) => {
    await peer.write(first);
    if (!then) return;
    assert.deepEqual(await peer.readExactly(36), SSL_PACKET);
    await then(peer);
  };
}

describe("mysql", () => {
  test("greeting with CLIENT_SSL, the 32-byte SSL request (sequence 1), TLS", async () => {
    // The client sends its ClientHello right behind the SSL request (the server says nothing in
    // between), so both may arrive in one read; sockurl's server-side startTls() refuses such
    // buffered bytes, so this fake server is node:net + tls.TLSSocket, fed the leftover bytes.
    const server = net.createServer();
    const sockets: net.Socket[] = [];
    const served = new Promise<void>((resolve, reject) => {
      server.once("connection", (sock) => {
        sockets.push(sock);
        sock.on("error", reject);
        sock.write(greeting(0xfffe));
        let got = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          got = Buffer.concat([got, chunk]);
          if (got.length < 36) return;
          sock.off("data", onData);
          sock.pause();
          try {
            assert.deepEqual(got.subarray(0, 36), SSL_PACKET);
          } catch (err) {
            reject(err);
            return;
          }
          if (got.length > 36) sock.unshift(got.subarray(36));
          const secure = new tls.TLSSocket(sock, { isServer: true, secureContext: tls.createSecureContext({ cert: pki.valid.chain, key: pki.valid.key }) });
          secure.on("error", reject);
          secure.once("data", (line: Buffer) => {
            secure.write(`echo ${line.toString().trim()}\n`, () => resolve());
          });
        };
        sock.on("data", onData);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const socket = await connect(`tcp://localhost:${port}`, { family: 4, startTls: "mysql", tls: { ca }, timeout: 5000 });
      try {
        assert.equal(socket.encrypted, true);
        await socket.write("hello over tls\n");
        assert.equal(await socket.readLine(), "echo hello over tls");
        await served;
      } finally {
        socket.destroy();
      }
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  // Nothing can be injected after a go-ahead: the client speaks first after the greeting and
  // then starts TLS at once. Bytes the server pipelines after its greeting are refused, though.
  test("bytes pipelined after the greeting are ERR_STARTTLS_PENDING_DATA", () =>
    expectFailure("mysql", "ERR_STARTTLS_PENDING_DATA", mysqlServer(Buffer.concat([greeting(0xfffe), hex("07 00 00 02 00 00 00 02 00 00 00")]), async () => {})));
  test("a greeting without CLIENT_SSL is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("mysql", "ERR_STARTTLS_UNSUPPORTED", mysqlServer(greeting(0xf7fe)), /CLIENT_SSL/));
  test("an error packet instead of a greeting is ERR_STARTTLS_UNSUPPORTED with its message", () => {
    const message = "Host '127.0.0.1' is not allowed to connect to this MariaDB server";
    const payload = Buffer.concat([hex("ff 6a 04"), Buffer.from(message)]);
    const packet = Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]);
    return expectFailure("mysql", "ERR_STARTTLS_UNSUPPORTED", mysqlServer(packet), /1130.*not allowed to connect/);
  });
  test("a garbage greeting is ERR_PROTOCOL", () =>
    expectFailure("mysql", "ERR_PROTOCOL", mysqlServer("HTTP/1.1 400 Bad Request\r\n\r\n"), /not a MySQL greeting/));
  test("a greeting with an unknown protocol byte is ERR_PROTOCOL", () =>
    expectFailure("mysql", "ERR_PROTOCOL", mysqlServer(hex("05 00 00 00 05 31 00 00 00")), /protocol byte 0x05/));
  test("a truncated greeting is ERR_PROTOCOL", () =>
    expectFailure("mysql", "ERR_PROTOCOL", mysqlServer(hex("08 00 00 00 0a 35 2e 35 00 01 00 00")), /truncated/));
});

// ----------------------------------------------------------------------------------------- irc

function ircServer(answer: string, then: Script = async () => {}): Script {
  return async (peer) => {
    assert.equal(await peer.readLine(), "STARTTLS");
    await peer.write(answer);
    await then(peer);
  };
}

describe("irc", () => {
  test("NOTICE lines, an unrelated numeric and PING before 670 are skipped", () =>
    expectEncrypted("irc", async (peer) => {
      await peer.write(":irc.local NOTICE * :*** Looking up your hostname...\r\n");
      assert.equal(await peer.readLine(), "STARTTLS");
      await peer.write(":irc.local NOTICE * :*** Skipping host resolution\r\n:irc.local 020 * :Please wait while we process your connection.\r\nPING :123\r\n");
      await sleep(20);
      await peer.write(":irc.local 670 * :STARTTLS successful, go ahead with TLS handshake\r\n");
      await tlsEcho(peer);
    }));
  test("670 followed by PING in the same write is ERR_STARTTLS_PENDING_DATA", () =>
    expectFailure("irc", "ERR_STARTTLS_PENDING_DATA", ircServer(":irc.local 670 * :go\r\nPING x\r\n")));
  test("691 is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("irc", "ERR_STARTTLS_UNSUPPORTED", ircServer(":irc.local 691 * :STARTTLS failure\r\n"), /691/));
  test("421 Unknown command STARTTLS is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("irc", "ERR_STARTTLS_UNSUPPORTED", ircServer(":irc.local 421 * STARTTLS :Unknown command\r\n"), /421/));
  test("ERROR :Closing link is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("irc", "ERR_STARTTLS_UNSUPPORTED", ircServer("ERROR :Closing link: (unknown@127.0.0.1) [Registration timeout]\r\n")));
  test("a server that chatters past the line limit is ERR_PROTOCOL", () =>
    expectFailure("irc", "ERR_PROTOCOL", ircServer(":irc.local NOTICE * :hi\r\n".repeat(300)), /more than 256 lines/));
});

// -------------------------------------------------------------------------------------- telnet

const WILL_START_TLS_AND_FOLLOWS = hex("ff fb 2e ff fa 2e 01 ff f0");
const SB_FOLLOWS = hex("ff fa 2e 01 ff f0");

function telnetServer(afterFollows: Buffer, then: Script = async () => {}): Script {
  return async (peer) => {
    await peer.write(hex("ff fd 2e"));
    assert.deepEqual(await peer.readExactly(9), WILL_START_TLS_AND_FOLLOWS);
    await peer.write(afterFollows);
    await then(peer);
  };
}

describe("telnet", () => {
  test("other options refused (WONT/DONT), DO START_TLS, WILL + FOLLOWS, FOLLOWS, TLS", () =>
    expectEncrypted("telnet", async (peer) => {
      // DO TERMINAL-TYPE, WILL ECHO, WILL SUPPRESS-GO-AHEAD, a banner, then DO START_TLS.
      await peer.write(Buffer.concat([hex("ff fd 18 ff fb 01 ff fb 03"), Buffer.from("\r\nDebian GNU/Linux 12\r\n"), hex("ff fd 2e")]));
      assert.deepEqual(await peer.readExactly(18), Buffer.concat([hex("ff fc 18 ff fe 01 ff fe 03"), WILL_START_TLS_AND_FOLLOWS]));
      await peer.write(SB_FOLLOWS);
      await tlsEcho(peer);
    }));
  test("FOLLOWS followed by junk in the same write is ERR_STARTTLS_PENDING_DATA", () =>
    expectFailure("telnet", "ERR_STARTTLS_PENDING_DATA", telnetServer(Buffer.concat([SB_FOLLOWS, Buffer.from("login: ")]))));
  test("IAC DONT START_TLS in answer is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("telnet", "ERR_STARTTLS_UNSUPPORTED", telnetServer(hex("ff fe 2e")), /DONT START_TLS/));
  test("IAC DONT START_TLS before any DO is ERR_STARTTLS_UNSUPPORTED", () =>
    expectFailure("telnet", "ERR_STARTTLS_UNSUPPORTED", async (peer) => {
      await peer.write(hex("ff fe 2e"));
    }, /DONT START_TLS/));
  test("a START_TLS subnegotiation other than FOLLOWS is ERR_PROTOCOL", () =>
    expectFailure("telnet", "ERR_PROTOCOL", telnetServer(hex("ff fa 2e 02 ff f0"))));
});

// ------------------------------------------------------------------------------ silent servers

describe("silent servers", () => {
  test("every protocol times out with ETIMEDOUT (phase starttls) inside connect's timeout", async () => {
    const protocols: StartTlsProtocol[] = ["xmpp", "xmpp-server", "ldap", "postgres", "mysql", "irc", "telnet"];
    await Promise.all(protocols.map((protocol) =>
      scenario(async (peer) => {
        await peer.readAll().catch(() => {});
      }, async (url) => {
        const started = performance.now();
        await rejectsWith(connect(url, { family: 4, startTls: protocol, tls: { ca }, timeout: 300 }), "ETIMEDOUT", { phase: "starttls" });
        const took = performance.now() - started;
        assert.ok(took >= 250 && took < 5000, `${protocol}: took ${took} ms`);
      })));
  });
});
