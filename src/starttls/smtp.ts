/**
 * SMTP (RFC 3207) and LMTP (RFC 2033): greeting, EHLO/LHLO, a STARTTLS capability, STARTTLS, 220.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

/**
 * One reply, read whole (RFC 5321 §4.2.1): lines `ddd-text` up to `ddd text` (or a bare
 * `ddd`), every line with the same code. Returns the code and the lines; anything else is
 * ERR_PROTOCOL.
 */
async function readReply(d: Dialogue, after: string): Promise<{ code: string; lines: string[] }> {
  const lines = await d.readReply((line) => line[3] === "-");
  const code = /^\d{3}/.exec(lines[0]!)?.[0];
  const bad = code === undefined ? lines[0] : lines.find((l) => !(l.startsWith(code) && (l.length === 3 || l[3] === " " || l[3] === "-")));
  if (bad !== undefined) throw d.protocolError(`${after} was answered ${JSON.stringify(bad)}, not an SMTP reply`);
  return { code: code!, lines };
}

function smtpLike(hello: "EHLO" | "LHLO"): Negotiator {
  return async (d, ctx) => {
    const greeting = await readReply(d, "the connection");
    if (greeting.code !== "220") {
      if (/^[45]\d\d$/.test(greeting.code)) return { unsupported: `the server refused the session: ${greeting.lines.join(" ")}` };
      throw d.protocolError(`expected a 220 greeting, got ${JSON.stringify(greeting.lines[0])}`);
    }
    await d.send(`${hello} ${ctx.clientName}\r\n`);
    const capabilities = await readReply(d, hello);
    if (capabilities.code !== "250") throw d.protocolError(`${hello} was answered ${JSON.stringify(capabilities.lines[0])}`);
    if (!capabilities.lines.some((l) => /^250[- ]STARTTLS\s*$/i.test(l))) {
      return { unsupported: `the server does not offer STARTTLS in its ${hello} reply` };
    }
    await d.send("STARTTLS\r\n");
    const reply = await readReply(d, "STARTTLS");
    if (reply.code === "220") return "go";
    if (/^(454|501|502|503|530|550)$/.test(reply.code)) return { unsupported: `the server refused STARTTLS: ${reply.lines.join(" ")}` };
    throw d.protocolError(`STARTTLS was answered ${JSON.stringify(reply.lines[0])}`);
  };
}

/** SMTP: EHLO, then STARTTLS (RFC 3207). */
export const smtp: Negotiator = smtpLike("EHLO");
/** LMTP: LHLO, then STARTTLS. */
export const lmtp: Negotiator = smtpLike("LHLO");
