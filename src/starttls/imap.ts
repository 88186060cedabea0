/**
 * IMAP (RFC 3501 §6.2.1, RFC 2595 §3): greeting `* OK`, CAPABILITY listing STARTTLS (or a
 * `[CAPABILITY …]` code in the greeting), `aNNN STARTTLS`, tagged `OK`.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

/** The capability atoms of a `[CAPABILITY …]` response code at the start of `text`, or []. */
function capabilityCode(text: string): string[] {
  const m = /^\[CAPABILITY ([^\]]*)\]/i.exec(text);
  return m ? m[1]!.trim().split(/\s+/) : [];
}

const hasStartTls = (atoms: string[]) => atoms.some((a) => a.toUpperCase() === "STARTTLS");

type Completion =
  | { status: "OK" | "NO" | "BAD"; text: string; capabilities: string[] }
  | { status: "BYE"; text: string };

/**
 * Reads untagged responses until the completion tagged `tag` (or an untagged BYE); collects
 * the atoms of every `* CAPABILITY` response and `[CAPABILITY …]` code on the way.
 */
async function complete(d: Dialogue, tag: string, command: string): Promise<Completion> {
  const capabilities: string[] = [];
  for (;;) {
    const line = await d.readLine();
    const untagged = /^\* ([A-Za-z0-9.-]+)(?: (.*))?$/.exec(line);
    if (untagged) {
      const name = untagged[1]!.toUpperCase();
      const rest = untagged[2] ?? "";
      if (name === "BYE") return { status: "BYE", text: line };
      if (name === "CAPABILITY") capabilities.push(...rest.trim().split(/\s+/));
      else if (name === "OK" || name === "NO" || name === "BAD") capabilities.push(...capabilityCode(rest));
      // Other untagged data is allowed at any time (RFC 3501 §7) and means nothing here.
      continue;
    }
    const tagged = /^(\S+) (OK|NO|BAD)(?: (.*))?$/i.exec(line);
    if (tagged && tagged[1] === tag) {
      return { status: tagged[2]!.toUpperCase() as "OK" | "NO" | "BAD", text: tagged[3] ?? "", capabilities };
    }
    throw d.protocolError(`unexpected response to ${tag} ${command}: ${JSON.stringify(line)}`);
  }
}

/**
 * IMAP. A `* PREAUTH` greeting is refused: the session is already authenticated in plaintext
 * and STARTTLS is only allowed in the not-authenticated state, so it can never happen. A
 * greeting whose `[CAPABILITY …]` code lists STARTTLS saves the CAPABILITY command; otherwise
 * CAPABILITY is asked, and its answer decides. Tags are a001, a002, … in order.
 */
export const imap: Negotiator = async (d) => {
  const greeting = await d.readLine();
  const g = /^\* (OK|PREAUTH|BYE)(?: (.*))?$/i.exec(greeting);
  if (!g) throw d.protocolError(`expected an IMAP greeting (* OK), got ${JSON.stringify(greeting)}`);
  const status = g[1]!.toUpperCase();
  if (status === "PREAUTH") {
    return { unsupported: `the server greeted with PREAUTH (already authenticated in plaintext), so STARTTLS can never happen: ${greeting}` };
  }
  if (status === "BYE") return { unsupported: `the server refused the session: ${greeting}` };

  let n = 0;
  const nextTag = () => `a${String(++n).padStart(3, "0")}`;
  if (!hasStartTls(capabilityCode(g[2] ?? ""))) {
    const tag = nextTag();
    await d.send(`${tag} CAPABILITY\r\n`);
    const reply = await complete(d, tag, "CAPABILITY");
    if (reply.status === "BYE") return { unsupported: `the server ended the session: ${reply.text}` };
    if (reply.status !== "OK") throw d.protocolError(`${tag} CAPABILITY was answered ${reply.status} ${reply.text}`.trimEnd());
    if (!hasStartTls(reply.capabilities)) return { unsupported: "the server does not list STARTTLS in its CAPABILITY reply" };
  }

  const tag = nextTag();
  await d.send(`${tag} STARTTLS\r\n`);
  const reply = await complete(d, tag, "STARTTLS");
  if (reply.status === "OK") return "go";
  if (reply.status === "BYE") return { unsupported: `the server ended the session: ${reply.text}` };
  return { unsupported: `the server refused STARTTLS: ${tag} ${reply.status} ${reply.text}`.trimEnd() };
};
