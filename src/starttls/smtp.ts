/**
 * SMTP (RFC 3207) and LMTP (RFC 2033): greeting, EHLO/LHLO, a STARTTLS capability, STARTTLS, 220.
 */
import type { Negotiator } from "./types.js";

const continues = (line: string) => line[3] === "-";
const code = (lines: string[]) => lines[lines.length - 1]!.slice(0, 3);

function smtpLike(hello: "EHLO" | "LHLO"): Negotiator {
  return async (d, ctx) => {
    const greeting = await d.readReply(continues);
    if (code(greeting) !== "220") {
      if (/^[45]\d\d$/.test(code(greeting))) return { unsupported: `the server refused the session: ${greeting.join(" ")}` };
      throw d.protocolError(`expected a 220 greeting, got ${JSON.stringify(greeting[0])}`);
    }
    await d.send(`${hello} ${ctx.clientName}\r\n`);
    const capabilities = await d.readReply(continues);
    if (code(capabilities) !== "250") throw d.protocolError(`${hello} was answered ${JSON.stringify(capabilities[0])}`);
    if (!capabilities.some((l) => /^250[- ]STARTTLS\s*$/i.test(l))) {
      return { unsupported: "the server does not offer STARTTLS in its EHLO reply" };
    }
    await d.send("STARTTLS\r\n");
    const reply = await d.readReply(continues);
    if (code(reply) === "220") return "go";
    if (/^(454|501|502|503|530|550)$/.test(code(reply))) return { unsupported: `the server refused STARTTLS: ${reply.join(" ")}` };
    throw d.protocolError(`STARTTLS was answered ${JSON.stringify(reply[0])}`);
  };
}

/** SMTP: EHLO, then STARTTLS (RFC 3207). */
export const smtp: Negotiator = smtpLike("EHLO");
/** LMTP: LHLO, then STARTTLS. */
export const lmtp: Negotiator = smtpLike("LHLO");
