/**
 * The one real command each protocol exchanges over the upgraded channel, encoded and decoded by
 * hand (no client library): text-line protocols, an LDAP WhoAmI extended operation in BER, a
 * PostgreSQL startup and query, a MySQL login and COM_PING, XMPP stream headers.
 */
import assert from "node:assert/strict";
import type { Socket } from "../../src/index.js";

const MAX_LINE = 8192;
const MAX_LINES = 500;

/** The next line; fails at end of stream. */
export async function line(socket: Socket): Promise<string> {
  const text = await socket.readLine({ maxLength: MAX_LINE });
  if (text === null) throw new Error("the server closed the connection");
  return text;
}

/** Lines up to and including the first one `last(line)` accepts. */
export async function linesUntil(socket: Socket, last: (line: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < MAX_LINES; i++) {
    const text = await line(socket);
    out.push(text);
    if (last(text)) return out;
  }
  throw new Error(`no final line within ${MAX_LINES} lines: ${JSON.stringify(out.slice(0, 5))}…`);
}

/** A reply in the SMTP/LMTP/FTP style: lines while the fourth character is "-". */
export async function codedReply(socket: Socket): Promise<string[]> {
  return linesUntil(socket, (l) => l[3] !== "-");
}

/** Bytes read until `done(text so far)`, within `max` bytes (XML streams). */
export async function readText(socket: Socket, done: (text: string) => boolean, max = 64 * 1024): Promise<string> {
  let text = "";
  while (!done(text)) {
    if (text.length > max) throw new Error(`no end within ${max} bytes: ${JSON.stringify(text.slice(0, 200))}`);
    const chunk = await socket.read();
    if (chunk === null) throw new Error(`the server closed the connection after ${JSON.stringify(text.slice(0, 200))}`);
    text += chunk.toString("utf8");
  }
  return text;
}

// ------------------------------------------------------------------------------------------ SMTP

/** EHLO/LHLO over TLS: a 250 reply, which must no longer offer STARTTLS (RFC 3207 §4.2). */
export async function smtpHello(socket: Socket, verb: "EHLO" | "LHLO"): Promise<string[]> {
  await socket.write(`${verb} interop.sockurl.test\r\n`);
  const reply = await codedReply(socket);
  assert.match(reply[reply.length - 1]!, /^250 /, `${verb} over TLS: ${JSON.stringify(reply)}`);
  assert.ok(!reply.some((l) => /^250[- ]STARTTLS\b/i.test(l)), `STARTTLS is still offered over TLS: ${JSON.stringify(reply)}`);
  await socket.write("QUIT\r\n");
  assert.match((await codedReply(socket)).at(-1)!, /^221 /);
  return reply;
}

// ------------------------------------------------------------------------------------------ IMAP

/** CAPABILITY over TLS: an untagged CAPABILITY listing IMAP4rev1, then the tagged OK. */
export async function imapCapability(socket: Socket): Promise<string[]> {
  await socket.write("t1 CAPABILITY\r\n");
  const reply = await linesUntil(socket, (l) => l.startsWith("t1 "));
  assert.match(reply.at(-1)!, /^t1 OK\b/i, JSON.stringify(reply));
  const caps = reply.find((l) => /^\* CAPABILITY /i.test(l));
  assert.ok(caps, `no untagged CAPABILITY: ${JSON.stringify(reply)}`);
  assert.match(caps, /\bIMAP4rev1\b/i);
  await socket.write("t2 LOGOUT\r\n");
  assert.match((await linesUntil(socket, (l) => l.startsWith("t2 "))).at(-1)!, /^t2 OK\b/i);
  return reply;
}

// ------------------------------------------------------------------------------------------ POP3

/** CAPA over TLS: +OK and a list ending with ".", without STLS any more. */
export async function pop3Capa(socket: Socket): Promise<string[]> {
  await socket.write("CAPA\r\n");
  const first = await line(socket);
  assert.match(first, /^\+OK\b/, `CAPA over TLS: ${JSON.stringify(first)}`);
  const list = await linesUntil(socket, (l) => l === ".");
  assert.ok(list.length > 1, "CAPA listed nothing");
  assert.ok(!list.some((l) => /^STLS\b/i.test(l)), `STLS is still offered over TLS: ${JSON.stringify(list)}`);
  await socket.write("QUIT\r\n");
  assert.match(await line(socket), /^\+OK\b/);
  return [first, ...list];
}

// ------------------------------------------------------------------------------------ ManageSieve

/**
 * After TLS the server sends its capabilities again by itself (RFC 5804 §2.2), ending with OK;
 * then CAPABILITY asks for them once more, and NOOP must be OK.
 */
export async function sieveCapability(socket: Socket): Promise<string[]> {
  const isEnd = (l: string) => /^(OK|NO|BYE)\b/i.test(l);
  const unsolicited = await linesUntil(socket, isEnd);
  assert.match(unsolicited.at(-1)!, /^OK\b/i, JSON.stringify(unsolicited));
  assert.ok(unsolicited.some((l) => /^"IMPLEMENTATION"/i.test(l)), JSON.stringify(unsolicited));
  assert.ok(!unsolicited.some((l) => /^"STARTTLS"/i.test(l)), `STARTTLS is still offered over TLS: ${JSON.stringify(unsolicited)}`);
  await socket.write("CAPABILITY\r\n");
  const asked = await linesUntil(socket, isEnd);
  assert.match(asked.at(-1)!, /^OK\b/i, JSON.stringify(asked));
  await socket.write("NOOP\r\n");
  assert.match(await line(socket), /^OK\b/i);
  await socket.write("LOGOUT\r\n");
  assert.match(await line(socket), /^OK\b/i);
  return asked;
}

// ------------------------------------------------------------------------------------------- FTP

/** FEAT over TLS: 211 with the feature list (RFC 2389). */
export async function ftpFeat(socket: Socket): Promise<string[]> {
  await socket.write("FEAT\r\n");
  const reply = await linesUntil(socket, (l) => /^\d{3} /.test(l));
  assert.match(reply[0]!, /^211[- ]/, `FEAT over TLS: ${JSON.stringify(reply)}`);
  assert.match(reply.at(-1)!, /^211 /);
  await socket.write("QUIT\r\n");
  assert.match((await codedReply(socket)).at(-1)!, /^221 /);
  return reply;
}

// ------------------------------------------------------------------------------------------ NNTP

/** CAPABILITIES over TLS: 101 and a list ending with ".", without STARTTLS (RFC 4642 §2.2.2). */
export async function nntpCapabilities(socket: Socket): Promise<string[]> {
  await socket.write("CAPABILITIES\r\n");
  const first = await line(socket);
  assert.match(first, /^101\b/, `CAPABILITIES over TLS: ${JSON.stringify(first)}`);
  const list = await linesUntil(socket, (l) => l === ".");
  assert.ok(list.some((l) => /^VERSION 2\b/.test(l)), JSON.stringify(list));
  assert.ok(!list.some((l) => /^STARTTLS\b/i.test(l)), `STARTTLS is still offered over TLS: ${JSON.stringify(list)}`);
  await socket.write("QUIT\r\n");
  assert.match(await line(socket), /^205\b/);
  return [first, ...list];
}

// ------------------------------------------------------------------------------------------- IRC

/**
 * Registration over TLS (NICK, USER → 001 welcome, answering the server's PINGs and skipping its
 * notices), then PING → PONG.
 */
export async function ircRegister(socket: Socket, serverName: string): Promise<string[]> {
  const seen: string[] = [];
  await socket.write("NICK sockurl\r\nUSER sockurl 0 * :sockurl interop\r\n");
  for (;;) {
    const l = await line(socket);
    seen.push(l);
    if (seen.length > MAX_LINES) throw new Error("no 001 welcome");
    const ping = /^PING (.*)$/.exec(l);
    if (ping) await socket.write(`PONG ${ping[1]}\r\n`);
    if (/^:\S+ 001 sockurl\b/.test(l)) break;
    assert.doesNotMatch(l, /^(:\S+ )?(ERROR|4\d\d|5\d\d) /, `IRC error during registration: ${l}`);
  }
  await socket.write("PING :sockurl-interop\r\n");
  for (;;) {
    const l = await line(socket);
    seen.push(l);
    if (seen.length > MAX_LINES) throw new Error("no PONG");
    if (/ PONG /.test(l)) {
      assert.match(l, new RegExp(`^:${serverName.replace(/\./g, "\\.")} PONG \\S+ :sockurl-interop$`));
      break;
    }
  }
  await socket.write("QUIT :done\r\n");
  return seen;
}

// ------------------------------------------------------------------------------------------ XMPP

/**
 * A new stream header over TLS (RFC 6120 §5.4.3.3): the server answers with its own stream
 * header and the stream features, which must no longer offer <starttls/>.
 */
export async function xmppRestart(socket: Socket, namespace: "jabber:client" | "jabber:server"): Promise<string> {
  const from = namespace === "jabber:server" ? " from='interop.sockurl.test'" : "";
  const dialback = namespace === "jabber:server" ? " xmlns:db='jabber:server:dialback'" : "";
  await socket.write(
    `<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='${namespace}'${dialback} to='localhost'${from} version='1.0'>`,
  );
  const text = await readText(socket, (t) => /<\/stream:features>|<stream:features\s*\/>/.test(t));
  assert.match(text, /<stream:stream\b[^>]*\bfrom=['"]localhost['"]/, text);
  assert.match(text, /<stream:features\b/, text);
  assert.doesNotMatch(text, /<stream:error\b/, text);
  assert.doesNotMatch(text, /<starttls\b/, `<starttls/> is still offered over TLS: ${text}`);
  await socket.write("</stream:stream>");
  return text.slice(text.indexOf("<stream:features"));
}

// ------------------------------------------------------------------------------------------ LDAP

/** BER definite length. */
function berLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), berLength(value.length), value]);
}

/** The LDAP "Who am I?" operation (RFC 4532). */
export const WHOAMI_OID = "1.3.6.1.4.1.4203.1.11.3";

/**
 * LDAPMessage { messageID, ExtendedRequest [APPLICATION 23] { requestName [0] OID } } for WhoAmI.
 * For message id 2: 30 1e 02 01 02 77 19 80 17 "1.3.6.1.4.1.4203.1.11.3".
 */
export function whoAmIRequest(messageId: number): Buffer {
  assert.ok(messageId > 0 && messageId < 128);
  const request = tlv(0x77, tlv(0x80, Buffer.from(WHOAMI_OID, "ascii")));
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([messageId])), request]));
}

/** UnbindRequest: 30 05 02 01 id 42 00. */
export function unbindRequest(messageId: number): Buffer {
  return tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([messageId])), Buffer.from([0x42, 0x00])]));
}

interface Ber {
  tag: number;
  value: Buffer;
}

/** The TLVs of a constructed value, in order. */
function berChildren(buf: Buffer): Ber[] {
  const out: Ber[] = [];
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i++]!;
    let len = buf[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      assert.ok(n > 0 && n <= 4, `unsupported BER length of ${n} bytes`);
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i++]!;
    }
    assert.ok(i + len <= buf.length, "truncated BER value");
    out.push({ tag, value: buf.subarray(i, i + len) });
    i += len;
  }
  return out;
}

function berInteger(value: Buffer): number {
  let n = value[0]! & 0x80 ? -1 : 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** One whole LDAPMessage from the socket (a SEQUENCE with a definite length). */
export async function readLdapMessage(socket: Socket): Promise<Buffer> {
  const head = await exactly(socket, 2);
  assert.equal(head[0], 0x30, `an LDAPMessage starts with SEQUENCE (0x30), got 0x${head[0]!.toString(16)}`);
  let len = head[1]!;
  let lengthBytes: Buffer = Buffer.alloc(0);
  if (len & 0x80) {
    const n = len & 0x7f;
    assert.ok(n > 0 && n <= 4, `unsupported BER length of ${n} bytes`);
    lengthBytes = await exactly(socket, n);
    len = 0;
    for (const b of lengthBytes) len = len * 256 + b;
  }
  assert.ok(len < 1 << 20, `LDAPMessage of ${len} bytes`);
  return Buffer.concat([head, lengthBytes, await exactly(socket, len)]);
}

export interface ExtendedResponse {
  messageId: number;
  resultCode: number;
  matchedDN: string;
  diagnosticMessage: string;
  responseName: string | null;
  responseValue: string | null;
}

/** Decodes an LDAPMessage that must carry an ExtendedResponse ([APPLICATION 24], tag 0x78). */
export function parseExtendedResponse(message: Buffer): ExtendedResponse {
  const [outer] = berChildren(message);
  assert.ok(outer && outer.tag === 0x30, "not an LDAPMessage");
  const [id, op] = berChildren(outer.value);
  assert.ok(id && id.tag === 0x02, "no messageID");
  assert.ok(op, "no protocolOp");
  assert.equal(op.tag, 0x78, `expected an ExtendedResponse (0x78), got tag 0x${op.tag.toString(16)}`);
  const parts = berChildren(op.value);
  const [code, matched, diagnostic] = parts;
  assert.ok(code && code.tag === 0x0a, "resultCode is not an ENUMERATED");
  assert.ok(matched && matched.tag === 0x04 && diagnostic && diagnostic.tag === 0x04, "matchedDN/diagnosticMessage missing");
  const name = parts.find((p) => p.tag === 0x8a);
  const value = parts.find((p) => p.tag === 0x8b);
  return {
    messageId: berInteger(id.value),
    resultCode: berInteger(code.value),
    matchedDN: matched.value.toString("utf8"),
    diagnosticMessage: diagnostic.value.toString("utf8"),
    responseName: name ? name.value.toString("ascii") : null,
    responseValue: value ? value.value.toString("utf8") : null,
  };
}

/** WhoAmI over TLS: success (resultCode 0); an anonymous session's authzId is empty. */
export async function ldapWhoAmI(socket: Socket): Promise<ExtendedResponse> {
  await socket.write(whoAmIRequest(2));
  const response = parseExtendedResponse(await readLdapMessage(socket));
  assert.equal(response.messageId, 2);
  assert.equal(response.resultCode, 0, `WhoAmI failed: ${response.resultCode} ${response.diagnosticMessage}`);
  assert.equal(response.responseValue ?? "", "", "an anonymous session is nobody");
  await socket.write(unbindRequest(3));
  return response;
}

// -------------------------------------------------------------------------------------- Postgres

interface PgMessage {
  type: string;
  body: Buffer;
}

async function readPgMessage(socket: Socket): Promise<PgMessage> {
  const head = await exactly(socket, 5);
  const len = head.readInt32BE(1);
  assert.ok(len >= 4 && len < 1 << 20, `backend message of length ${len}`);
  return { type: String.fromCharCode(head[0]!), body: await exactly(socket, len - 4) };
}

function pgStartup(params: Record<string, string>): Buffer {
  const pairs = Buffer.from(Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join("") + "\0", "utf8");
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + pairs.length, 0);
  head.writeInt32BE(196608, 4); // protocol 3.0
  return Buffer.concat([head, pairs]);
}

function pgMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "ascii");
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

/** Reads backend messages up to ReadyForQuery; fails on an ErrorResponse. */
async function pgUntilReady(socket: Socket): Promise<PgMessage[]> {
  const seen: PgMessage[] = [];
  for (;;) {
    const m = await readPgMessage(socket);
    seen.push(m);
    if (m.type === "E") throw new Error(`ErrorResponse: ${m.body.toString("utf8").replace(/\0/g, " ")}`);
    if (m.type === "Z") return seen;
    if (seen.length > 200) throw new Error("no ReadyForQuery");
  }
}

/**
 * StartupMessage (protocol 3.0, user and database postgres) over TLS: AuthenticationOk (trust),
 * parameters, ReadyForQuery; then the simple query SELECT 1 → one row "1".
 */
export async function postgresStartup(socket: Socket): Promise<string> {
  await socket.write(pgStartup({ user: "postgres", database: "postgres", application_name: "sockurl-interop" }));
  const startup = await pgUntilReady(socket);
  assert.equal(startup[0]!.type, "R", `first backend message: ${startup[0]!.type}`);
  assert.equal(startup[0]!.body.readInt32BE(0), 0, "AuthenticationOk (trust)");
  const version = startup.find((m) => m.type === "S" && m.body.toString("utf8").startsWith("server_version\0"));
  await socket.write(pgMessage("Q", Buffer.from("SELECT 1 AS one\0", "utf8")));
  const result = await pgUntilReady(socket);
  const row = result.find((m) => m.type === "D");
  assert.ok(row, `no DataRow: ${result.map((m) => m.type).join("")}`);
  assert.equal(row.body.readInt16BE(0), 1);
  const len = row.body.readInt32BE(2);
  assert.equal(row.body.subarray(6, 6 + len).toString("utf8"), "1");
  await socket.write(pgMessage("X", Buffer.alloc(0)));
  return `AuthenticationOk, server_version ${version ? version.body.toString("utf8").split("\0")[1]! : "?"}, SELECT 1 → 1`;
}

// ----------------------------------------------------------------------------------------- MySQL

/**
 * The capabilities of the SSL request that negotiateStartTls sends (`85 ae 7f 00`, as openssl
 * s_client), repeated in the handshake response: a server may parse the response with either.
 * They include CLIENT_PROTOCOL_41, CLIENT_SSL, CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH,
 * CLIENT_CONNECT_ATTRS (0x100000: an attribute block follows the plugin name) and
 * CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (0x200000: the auth response length is a length-encoded
 * integer — for 0 the same single byte).
 */
const SSL_REQUEST_CAPABILITIES = 0x007fae85;

async function readMysqlPacket(socket: Socket): Promise<{ seq: number; payload: Buffer }> {
  const head = await exactly(socket, 4);
  const len = head.readUIntLE(0, 3);
  return { seq: head[3]!, payload: await exactly(socket, len) };
}

function mysqlPacket(seq: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = seq;
  return Buffer.concat([head, payload]);
}

function mysqlError(payload: Buffer): string {
  // 0xff, error code (2), '#' + SQL state (5), message
  return `ERR ${payload.readUInt16LE(1)} ${payload.subarray(payload[3] === 0x23 ? 9 : 3).toString("utf8")}`;
}

/**
 * The rest of the MySQL login over TLS — HandshakeResponse41 (sequence 2, after the SSL request's
 * 1) for a password-less account with mysql_native_password — must be answered OK; then
 * COM_PING must be answered OK too.
 */
export async function mysqlLogin(socket: Socket, user: string): Promise<string> {
  const fixed = Buffer.alloc(32);
  fixed.writeUInt32LE(SSL_REQUEST_CAPABILITIES, 0);
  fixed.writeUInt32LE(1 << 24, 4); // max packet size 16 MiB
  fixed[8] = 0x21; // utf8_general_ci
  const payload = Buffer.concat([
    fixed,
    Buffer.from(`${user}\0`, "utf8"),
    Buffer.from([0]), // auth-response length 0: empty password
    Buffer.from("mysql_native_password\0", "ascii"),
    Buffer.from([0]), // connection attributes: none
  ]);
  await socket.write(mysqlPacket(2, payload));
  const answer = await readMysqlPacket(socket);
  assert.equal(answer.seq, 3);
  assert.notEqual(answer.payload[0], 0xff, `login refused: ${answer.payload[0] === 0xff ? mysqlError(answer.payload) : ""}`);
  assert.equal(answer.payload[0], 0x00, `expected an OK packet after the login, got 0x${answer.payload[0]!.toString(16)}`);
  await socket.write(mysqlPacket(0, Buffer.from([0x0e]))); // COM_PING
  const pong = await readMysqlPacket(socket);
  assert.equal(pong.seq, 1);
  assert.equal(pong.payload[0], 0x00, pong.payload[0] === 0xff ? mysqlError(pong.payload) : "COM_PING: expected OK");
  await socket.write(mysqlPacket(0, Buffer.from([0x01]))); // COM_QUIT
  return `logged in as ${user} (OK), COM_PING → OK`;
}

/** Exactly `n` bytes of a message; the server must not end the stream between messages here. */
async function exactly(socket: Socket, n: number): Promise<Buffer> {
  const bytes = await socket.readExactly(n);
  assert.ok(bytes !== null, `the server closed the connection where ${n} bytes of a message were due`);
  return bytes;
}
