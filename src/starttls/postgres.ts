/**
 * PostgreSQL SSLRequest (protocol docs, "SSL Session Encryption"): the 8-byte request, then a
 * single byte: `S` (go), `N` (no TLS). Exactly one byte is read: a byte after `S` before the
 * handshake is an attack (CVE-2021-23222) and the pending-data check refuses it.
 */
import type { Negotiator } from "./dialogue.js";

/** Int32 length 8, Int32 code 80877103 (1234 << 16 | 5679). */
const SSL_REQUEST = Buffer.from([0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f]);

/** PostgreSQL: SSLRequest, then `S`. */
export const postgres: Negotiator = async (d) => {
  await d.send(SSL_REQUEST);
  const [answer] = await d.readBytes(1);
  switch (answer) {
    case 0x53: // 'S'
      return "go";
    case 0x4e: // 'N'
      return { unsupported: "the server answered the SSLRequest with N (TLS is not enabled)" };
    case 0x45: // 'E': an ErrorResponse, from servers too old to know the SSLRequest
      return { unsupported: "the server answered the SSLRequest with an error message (a server without SSLRequest support)" };
    default:
      throw d.protocolError(`the server answered the SSLRequest with byte 0x${answer!.toString(16).padStart(2, "0")}, not S or N`);
  }
};
