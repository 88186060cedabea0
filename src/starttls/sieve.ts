/**
 * ManageSieve (RFC 5804 §1.7, §2.2): the greeting is a capability response (`"NAME" ["value"]`
 * lines ending with `OK`) that must list `"STARTTLS"`; STARTTLS; `OK`.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

/** A quoted string at the start of a line, unescaped; the rest must be empty or ` "value"`. */
const CAPABILITY = /^"((?:[^"\\]|\\.)*)"(?:[ \t]+"(?:[^"\\]|\\.)*")?[ \t]*$/;
/** A response: OK, NO or BYE (case-insensitive), optionally a response code and a string. */
const RESPONSE = /^(OK|NO|BYE)(?:[ \t]|$)/i;

/** Reads a capability response; returns the capability names (upper case) and the closing line. */
async function readCapabilities(d: Dialogue): Promise<{ names: string[]; end: string; status: string }> {
  const names: string[] = [];
  for (;;) {
    const line = await d.readLine();
    const response = RESPONSE.exec(line);
    if (response) return { names, end: line, status: response[1]!.toUpperCase() };
    const cap = CAPABILITY.exec(line);
    if (!cap) throw d.protocolError(`expected a capability line or OK, got ${JSON.stringify(line)}`);
    names.push(cap[1]!.replace(/\\(.)/g, "$1").toUpperCase());
  }
}

/**
 * Sieve. Capability values sent as literals (`{n}`) are not read; a server that uses a literal
 * for a value breaks the line grammar and is an ERR_PROTOCOL (none known does).
 */
export const sieve: Negotiator = async (d) => {
  const greeting = await readCapabilities(d);
  if (greeting.status !== "OK") return { unsupported: `the server refused the session: ${greeting.end}` };
  if (!greeting.names.includes("STARTTLS")) return { unsupported: 'the server does not list "STARTTLS" in its capabilities' };

  await d.send("STARTTLS\r\n");
  const reply = await d.readLine();
  const r = RESPONSE.exec(reply);
  if (!r) throw d.protocolError(`STARTTLS was answered ${JSON.stringify(reply)}`);
  if (r[1]!.toUpperCase() === "OK") return "go";
  return { unsupported: `the server refused STARTTLS: ${reply}` };
};
