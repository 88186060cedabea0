/**
 * NNTP (RFC 4642, RFC 3977): greeting 200/201, CAPABILITIES (101 … `.`) listing STARTTLS,
 * STARTTLS, `382`.
 */
import type { Negotiator } from "./dialogue.js";

const status = (line: string) => /^(\d{3})(?: |$)/.exec(line)?.[1];

/**
 * NNTP. CAPABILITIES must list STARTTLS; a server that does not know CAPABILITIES (500/501/502,
 * RFC 977 only) cannot know STARTTLS either, so that is "unsupported". MODE READER is not sent:
 * a transit-mode server that offers STARTTLS only after it is not supported here.
 */
export const nntp: Negotiator = async (d) => {
  const greeting = await d.readLine();
  const g = status(greeting);
  if (g === "400" || g === "502") return { unsupported: `the server refused the session: ${greeting}` };
  if (g !== "200" && g !== "201") throw d.protocolError(`expected a 200 or 201 greeting, got ${JSON.stringify(greeting)}`);

  await d.send("CAPABILITIES\r\n");
  const caps = await d.readLine();
  const c = status(caps);
  if (c === "500" || c === "501" || c === "502") return { unsupported: `the server does not support CAPABILITIES: ${caps}` };
  if (c !== "101") throw d.protocolError(`CAPABILITIES was answered ${JSON.stringify(caps)}`);
  let offered = false;
  for (;;) {
    const line = await d.readLine();
    if (line === ".") break;
    // Capability labels are case-insensitive (RFC 3977 §3.3.1); dot-stuffed lines start with "..".
    const label = (line.startsWith(".") ? line.slice(1) : line).trim().split(/\s+/)[0]!;
    if (label.toUpperCase() === "STARTTLS") offered = true;
  }
  if (!offered) return { unsupported: "the server does not list STARTTLS in its CAPABILITIES reply" };

  await d.send("STARTTLS\r\n");
  const reply = await d.readLine();
  const r = status(reply);
  if (r === "382") return "go";
  if (r === "502" || r === "580") return { unsupported: `the server refused STARTTLS: ${reply}` };
  throw d.protocolError(`STARTTLS was answered ${JSON.stringify(reply)}`);
};
