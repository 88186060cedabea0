/**
 * IRC (IRCv3 `tls` extension, "STARTTLS"): `STARTTLS` is sent at once, before registration;
 * numeric 670 (RPL_STARTTLS) is the go-ahead and 691 (ERR_STARTTLSFAILED) a refusal.
 *
 * Servers talk before answering (`:srv NOTICE * :*** Looking up your hostname...`, PING,
 * unrelated numerics): those lines are skipped, within the dialogue's line limits. Nothing is
 * sent back in the meantime — not even PONG — because any byte after STARTTLS would be read by
 * the server as the start of the TLS handshake.
 */
import type { Negotiator } from "./dialogue.js";

/** Splits an IRC line into its command and parameters (tags and prefix dropped). */
function parse(line: string): { command: string; params: string } {
  let rest = line.trimStart();
  if (rest.startsWith("@")) rest = rest.slice(rest.indexOf(" ") + 1 || rest.length).trimStart();
  if (rest.startsWith(":")) rest = rest.slice(rest.indexOf(" ") + 1 || rest.length).trimStart();
  const space = rest.indexOf(" ");
  return space === -1 ? { command: rest, params: "" } : { command: rest.slice(0, space), params: rest.slice(space + 1) };
}

/** IRC: STARTTLS, then 670. */
export const irc: Negotiator = async (d) => {
  await d.send("STARTTLS\r\n");
  for (;;) {
    const line = await d.readLine();
    const { command, params } = parse(line);
    const upper = command.toUpperCase();
    if (upper === "670") return "go";
    if (upper === "691") return { unsupported: `the server failed to start TLS: ${line}` };
    if (upper === "ERROR") return { unsupported: `the server ended the session: ${line}` };
    // 421 ERR_UNKNOWNCOMMAND, 451 ERR_NOTREGISTERED and the like, about our STARTTLS.
    if (/^[45]\d\d$/.test(upper) && /\bSTARTTLS\b/i.test(params)) return { unsupported: `the server does not support STARTTLS: ${line}` };
    // Anything else (NOTICE, PING, CAP, unrelated numerics such as 020) is skipped.
  }
};
