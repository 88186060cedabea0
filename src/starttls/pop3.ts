/**
 * POP3 (RFC 2595 §4, RFC 2449): greeting `+OK`, CAPA listing `STLS`, STLS, `+OK`.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

const OK = /^\+OK(?:[ \t]|$)/;
const ERR = /^-ERR(?:[ \t]|$)/;

/** The lines of a multi-line response up to the terminating `.`, dot-unstuffed (RFC 1939 §3). */
async function readMultiLine(d: Dialogue): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = await d.readLine();
    if (line === ".") return lines;
    lines.push(line.startsWith(".") ? line.slice(1) : line);
  }
}

/**
 * POP3: `CAPA` must list `STLS`. A server that answers CAPA with `-ERR` (RFC 1939 only) is
 * still asked `STLS`, and its answer decides.
 */
export const pop3: Negotiator = async (d) => {
  const greeting = await d.readLine();
  if (ERR.test(greeting)) return { unsupported: `the server refused the session: ${greeting}` };
  if (!OK.test(greeting)) throw d.protocolError(`expected a +OK greeting, got ${JSON.stringify(greeting)}`);

  await d.send("CAPA\r\n");
  const capa = await d.readLine();
  if (OK.test(capa)) {
    const capabilities = await readMultiLine(d);
    if (!capabilities.some((l) => l.trim().split(/\s+/)[0]!.toUpperCase() === "STLS")) {
      return { unsupported: "the server does not list STLS in its CAPA reply" };
    }
  } else if (!ERR.test(capa)) {
    throw d.protocolError(`CAPA was answered ${JSON.stringify(capa)}`);
  }

  await d.send("STLS\r\n");
  const reply = await d.readLine();
  if (OK.test(reply)) return "go";
  if (ERR.test(reply)) return { unsupported: `the server refused STLS: ${reply}` };
  throw d.protocolError(`STLS was answered ${JSON.stringify(reply)}`);
};
