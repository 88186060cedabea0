/**
 * MySQL / MariaDB: the server's initial handshake packet (protocol 10) must advertise
 * CLIENT_SSL (and CLIENT_PROTOCOL_41, which the 32-byte SSL request is written in); the client
 * answers with an SSL request packet (sequence id 1), then starts TLS at once — the server sends
 * nothing in between. After the handshake the caller continues with the handshake response
 * (sequence id 2), inside TLS.
 */
import type { Negotiator } from "./dialogue.js";

const CLIENT_PROTOCOL_41 = 0x0200;
const CLIENT_SSL = 0x0800;
/** The greeting is about a hundred bytes; anything far larger is not a greeting. */
const MAX_GREETING = 64 * 1024;

/**
 * Header `20 00 00 01` (payload 32 bytes, sequence id 1); capabilities `85 ae 7f 00` (as openssl
 * s_client sends: long password, long flag, local files, protocol 4.1, interactive, SSL,
 * transactions, secure connection, multi statements/results, PS multi results, plugin auth,
 * connect attrs, lenenc auth data, expired passwords); max packet 16 MiB `00 00 00 01`;
 * charset 0x21 (utf8_general_ci); 23 reserved zero bytes.
 */
const SSL_REQUEST = Buffer.concat([
  Buffer.from([0x20, 0x00, 0x00, 0x01, 0x85, 0xae, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x01, 0x21]),
  Buffer.alloc(23),
]);

/** MySQL: greeting, SSL request. */
export const mysql: Negotiator = async (d) => {
  const header = await d.readBytes(4, false);
  const length = header.readUIntLE(0, 3);
  const sequence = header[3]!;
  if (length === 0 || length > MAX_GREETING || sequence !== 0) {
    d.note(header);
    throw d.protocolError(`not a MySQL greeting: packet header ${header.toString("hex")} (length ${length}, sequence ${sequence})`);
  }
  const body = await d.readBytes(length, false);
  d.note(Buffer.concat([header, body]));

  const kind = body[0]!;
  if (kind === 0xff) {
    // An error packet: code, optional "#" + SQLSTATE, message.
    if (body.length < 3) throw d.protocolError("a truncated MySQL error packet");
    const code = body.readUInt16LE(1);
    let at = 3;
    if (body[at] === 0x23 && body.length >= at + 6) at += 6;
    const message = body.toString("utf8", at, Math.min(body.length, at + 300));
    return { unsupported: `the server refused the connection: error ${code}${message ? `: ${JSON.stringify(message)}` : ""}` };
  }
  if (kind === 0x09) return { unsupported: "the server speaks the old protocol 9, which has no SSL" };
  if (kind !== 0x0a) throw d.protocolError(`not a MySQL greeting: protocol byte 0x${kind.toString(16).padStart(2, "0")}`);

  const nul = body.indexOf(0x00, 1);
  if (nul === -1) throw d.protocolError("the MySQL greeting's server version is not terminated");
  const version = body.toString("latin1", 1, nul);
  // connection id (4), auth-plugin-data part 1 (8), filler (1), capability flags, lower 16 bits (2).
  const filler = nul + 1 + 4 + 8;
  if (body.length < filler + 3) throw d.protocolError("a truncated MySQL greeting");
  if (body[filler] !== 0x00) throw d.protocolError(`the MySQL greeting's filler byte is 0x${body[filler]!.toString(16)}, not 0`);
  const capabilities = body.readUInt16LE(filler + 1);
  if (!(capabilities & CLIENT_SSL)) {
    return { unsupported: `the server (${JSON.stringify(version)}) does not advertise CLIENT_SSL` };
  }
  if (!(capabilities & CLIENT_PROTOCOL_41)) {
    return { unsupported: `the server (${JSON.stringify(version)}) does not speak protocol 4.1, needed for the SSL request` };
  }
  await d.send(SSL_REQUEST);
  return "go";
};
