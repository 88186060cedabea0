/**
 * LDAP StartTLS (RFC 4511 §4.14, RFC 4513 §3): the ExtendedRequest for 1.3.6.1.4.1.1466.20037
 * with messageID 1, then an ExtendedResponse whose resultCode must be success (0).
 *
 * The response is BER: exactly the bytes of one LDAPMessage are read (its tag, its length,
 * then that many bytes), never more, and every length inside is checked against its container.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

const START_TLS_OID = "1.3.6.1.4.1.1466.20037";
const NOTICE_OF_DISCONNECTION_OID = "1.3.6.1.4.1.1466.20036";
/** Largest response accepted (a StartTLS response is a few dozen bytes). */
const MAX_MESSAGE = 64 * 1024;

/**
 * LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0] OID } }:
 * `30 1d 02 01 01 77 18 80 16` + the 22 ASCII bytes of the OID — 31 bytes.
 */
const REQUEST = Buffer.concat([Buffer.from([0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16]), Buffer.from(START_TLS_OID, "latin1")]);

const RESULT_NAMES: Record<number, string> = {
  1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded", 4: "sizeLimitExceeded",
  7: "authMethodNotSupported", 8: "strongerAuthRequired", 10: "referral", 11: "adminLimitExceeded",
  12: "unavailableCriticalExtension", 13: "confidentialityRequired", 32: "noSuchObject",
  48: "inappropriateAuthentication", 49: "invalidCredentials", 50: "insufficientAccessRights",
  51: "busy", 52: "unavailable", 53: "unwillingToPerform", 80: "other",
};

interface Tlv {
  tag: number;
  /** Offset of the value. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

/** One definite-length BER element at `at`, wholly inside `[at, limit)`. */
function tlv(d: Dialogue, buf: Buffer, at: number, limit: number, what: string): Tlv {
  if (at + 2 > limit) throw d.protocolError(`truncated LDAP response: no room for ${what}`);
  const tag = buf[at]!;
  const first = buf[at + 1]!;
  let length = first;
  let start = at + 2;
  if (first === 0x80) throw d.protocolError(`indefinite BER length in ${what} (not allowed in LDAP)`);
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4 || start + n > limit) throw d.protocolError(`bad BER length in ${what}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[start + i]!;
    start += n;
  }
  if (start + length > limit) throw d.protocolError(`${what} is ${length} bytes, longer than its container`);
  return { tag, start, end: start + length };
}

/** A non-negative INTEGER or ENUMERATED of at most 4 bytes. */
function integer(d: Dialogue, buf: Buffer, el: Tlv, what: string): number {
  const length = el.end - el.start;
  if (length < 1 || length > 4) throw d.protocolError(`${what} has ${length} bytes`);
  if (buf[el.start]! & 0x80) throw d.protocolError(`${what} is negative`);
  let value = 0;
  for (let i = el.start; i < el.end; i++) value = value * 256 + buf[i]!;
  return value;
}

function expect(d: Dialogue, el: Tlv, tag: number, what: string): void {
  if (el.tag !== tag) {
    throw d.protocolError(`expected ${what} (tag 0x${tag.toString(16).padStart(2, "0")}), got tag 0x${el.tag.toString(16).padStart(2, "0")}`);
  }
}

/** Reads exactly one LDAPMessage: tag, length, then that many bytes. */
async function readMessage(d: Dialogue): Promise<Buffer> {
  const head = await d.readBytes(2, false);
  const parts = [head];
  const note = () => d.note(Buffer.concat(parts));
  if (head[0] !== 0x30) {
    note();
    throw d.protocolError(`expected an LDAPMessage (a SEQUENCE, tag 0x30), got tag 0x${head[0]!.toString(16).padStart(2, "0")}`);
  }
  let length = head[1]!;
  if (length === 0x80 || length > 0x84) {
    note();
    throw d.protocolError(`bad BER length byte 0x${length.toString(16)} in the LDAPMessage`);
  }
  if (length > 0x80) {
    const bytes = await d.readBytes(length & 0x7f, false);
    parts.push(bytes);
    length = 0;
    for (const b of bytes) length = length * 256 + b;
  }
  if (length > MAX_MESSAGE) {
    note();
    throw d.protocolError(`the LDAP response claims ${length} bytes (more than ${MAX_MESSAGE})`);
  }
  const body = await d.readBytes(length, false);
  parts.push(body);
  note();
  return body;
}

/** LDAP: the StartTLS extended operation. */
export const ldap: Negotiator = async (d) => {
  await d.send(REQUEST);
  const body = await readMessage(d);
  const end = body.length;

  const id = tlv(d, body, 0, end, "messageID");
  expect(d, id, 0x02, "the messageID INTEGER");
  const messageId = integer(d, body, id, "messageID");
  if (messageId !== 1 && messageId !== 0) throw d.protocolError(`the response carries messageID ${messageId}, not 1`);

  const op = tlv(d, body, id.end, end, "protocolOp");
  expect(d, op, 0x78, "an ExtendedResponse [APPLICATION 24]");
  // After the operation only controls [0] may follow.
  if (op.end < end) {
    const controls = tlv(d, body, op.end, end, "controls");
    expect(d, controls, 0xa0, "controls [0]");
    if (controls.end !== end) throw d.protocolError("trailing bytes after the LDAPMessage's controls");
  }

  const result = tlv(d, body, op.start, op.end, "resultCode");
  expect(d, result, 0x0a, "the resultCode ENUMERATED");
  const code = integer(d, body, result, "resultCode");
  const matched = tlv(d, body, result.end, op.end, "matchedDN");
  expect(d, matched, 0x04, "matchedDN");
  const diagnostic = tlv(d, body, matched.end, op.end, "diagnosticMessage");
  expect(d, diagnostic, 0x04, "diagnosticMessage");
  let at = diagnostic.end;
  let responseName: string | null = null;
  for (const [tag, what] of [[0xa3, "referral [3]"], [0x8a, "responseName [10]"], [0x8b, "responseValue [11]"]] as const) {
    if (at < op.end && body[at] === tag) {
      const el = tlv(d, body, at, op.end, what);
      if (tag === 0x8a) responseName = body.toString("latin1", el.start, el.end);
      at = el.end;
    }
  }
  if (at !== op.end) throw d.protocolError(`unexpected tag 0x${body[at]!.toString(16).padStart(2, "0")} in the ExtendedResponse`);

  const message = body.toString("utf8", diagnostic.start, diagnostic.end);
  const described = `resultCode ${code}${RESULT_NAMES[code] ? ` (${RESULT_NAMES[code]})` : ""}${message ? `: ${JSON.stringify(message.slice(0, 200))}` : ""}`;
  if (messageId === 0) {
    // An unsolicited notification (RFC 4511 §4.4): the server is ending the session.
    const what = responseName === NOTICE_OF_DISCONNECTION_OID ? "a Notice of Disconnection" : "an unsolicited notification";
    return { unsupported: `the server sent ${what} instead of answering StartTLS, ${described}` };
  }
  if (code !== 0) return { unsupported: `the server refused StartTLS with ${described}` };
  if (responseName !== null && responseName !== START_TLS_OID) {
    throw d.protocolError(`the StartTLS response names ${JSON.stringify(responseName)}, not ${START_TLS_OID}`);
  }
  return "go";
};
