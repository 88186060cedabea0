/**
 * FTP (RFC 4217, RFC 959 §4.2, RFC 2389): greeting `220` (multi-line `220-`), FEAT, `AUTH TLS`, `234`.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

interface Reply {
  code: string;
  lines: string[];
}

/**
 * One reply, read whole: `ddd text`, or `ddd-text` … up to the line that starts with the
 * same code and a space (RFC 959 §4.2); the lines between may hold anything (FEAT lines).
 */
async function readReply(d: Dialogue, after: string): Promise<Reply> {
  const first = await d.readLine();
  const m = /^(\d{3})([ -]|$)/.exec(first);
  if (!m) throw d.protocolError(`${after} was answered ${JSON.stringify(first)}, not an FTP reply`);
  const code = m[1]!;
  const lines = [first];
  if (m[2] === "-") {
    for (;;) {
      const line = await d.readLine();
      lines.push(line);
      if (line === code || line.startsWith(`${code} `)) break;
    }
  }
  return { code, lines };
}

/** Whether FEAT's feature lines hold `AUTH` with the mechanism `TLS` (` AUTH TLS`, ` AUTH SSL TLS`, ` AUTH TLS;SSL`). */
function listsAuthTls(lines: string[]): boolean {
  return lines.slice(1, -1).some((line) => {
    const m = /^\s*AUTH\s+(.+)$/i.exec(line);
    return m !== null && m[1]!.split(/[\s;,]+/).some((mech) => mech.toUpperCase() === "TLS");
  });
}

/** Replies to AUTH TLS that refuse it (RFC 4217 §4, RFC 2228 §5). */
const REFUSALS = new Set(["421", "431", "500", "501", "502", "504", "530", "534"]);

/**
 * FTP. FEAT is sent first: when it succeeds (211) its feature list must hold `AUTH TLS`
 * (so a stripped list is detected); when the server does not implement FEAT (any 4xx/5xx),
 * `AUTH TLS` is tried anyway and its reply decides (RFC 4217 does not require FEAT).
 * A `120` greeting ("ready in nnn minutes") is followed by the real one.
 */
export const ftp: Negotiator = async (d) => {
  let greeting = await readReply(d, "the connection");
  if (greeting.code === "120") greeting = await readReply(d, "the connection");
  if (greeting.code !== "220") {
    if (/^[45]/.test(greeting.code)) return { unsupported: `the server refused the session: ${greeting.lines.join(" ")}` };
    throw d.protocolError(`expected a 220 greeting, got ${JSON.stringify(greeting.lines[0])}`);
  }

  await d.send("FEAT\r\n");
  const feat = await readReply(d, "FEAT");
  if (feat.code === "211") {
    if (!listsAuthTls(feat.lines)) return { unsupported: "the server does not list AUTH TLS in its FEAT reply" };
  } else if (!/^[45]/.test(feat.code)) {
    throw d.protocolError(`FEAT was answered ${JSON.stringify(feat.lines[0])}`);
  }

  await d.send("AUTH TLS\r\n");
  const reply = await readReply(d, "AUTH TLS");
  if (reply.code === "234") return "go";
  if (REFUSALS.has(reply.code)) return { unsupported: `the server refused AUTH TLS: ${reply.lines.join(" ")}` };
  throw d.protocolError(`AUTH TLS was answered ${JSON.stringify(reply.lines[0])}`);
};
