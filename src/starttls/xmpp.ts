/**
 * XMPP (RFC 6120 §5): a stream header, stream features that must list `<starttls/>` in the TLS
 * namespace, `<starttls/>`, then `<proceed/>` (go) or `<failure/>` (refused).
 *
 * The server's XML is read one markup construct at a time, each read ending exactly at a `>`
 * (never past it), so whatever a server pipelines after `<proceed/>` stays in the socket's
 * buffer and the pending-data check before the handshake refuses it.
 */
import { isIP } from "node:net";
import type { Dialogue, Negotiator } from "./dialogue.js";

const TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls";
const STREAMS_NS = "http://etherx.jabber.org/streams";
/** Most bytes of server XML read before the go-ahead. */
const BUDGET = 64 * 1024;

interface Tag {
  kind: "open" | "close" | "empty" | "pi" | "comment" | "cdata" | "doctype";
  /** Qualified name as written (`stream:features`); empty for pi/comment/cdata/doctype. */
  name: string;
  /** The part after the prefix (`features`). */
  local: string;
  prefix: string;
  attrs: Map<string, string>;
}

/** Reads markup from the server within a byte budget, one construct per call. */
class XmlReader {
  #left = BUDGET;
  #seen = "";
  constructor(private readonly d: Dialogue) {}

  /** The next tag and the character data before it. */
  async next(): Promise<{ text: string; tag: Tag; raw: string }> {
    let acc = await this.#chunk();
    for (;;) {
      const lt = acc.indexOf("<");
      if (lt !== -1 && complete(acc.slice(lt))) {
        const raw = acc.slice(lt);
        return { text: acc.slice(0, lt), tag: this.#parse(raw), raw };
      }
      acc += await this.#chunk();
    }
  }

  /** Everything read since the last `flush()` (for the transcript). */
  flush(): string {
    const seen = this.#seen;
    this.#seen = "";
    return seen;
  }

  async #chunk(): Promise<string> {
    const text = await this.d.readThrough(">", this.#left).catch((err: unknown) => {
      if (this.#seen) this.d.note(this.flush());
      throw err;
    });
    this.#left -= Buffer.byteLength(text);
    this.#seen += text;
    return text;
  }

  #parse(raw: string): Tag {
    const none = { name: "", local: "", prefix: "", attrs: new Map<string, string>() };
    if (raw.startsWith("<?")) return { kind: "pi", ...none };
    if (raw.startsWith("<!--")) return { kind: "comment", ...none };
    if (raw.startsWith("<![CDATA[")) return { kind: "cdata", ...none };
    if (raw.startsWith("<!")) return { kind: "doctype", ...none };
    const m = /^<(\/?)([^\s/>]+)([\s\S]*?)(\/?)>$/.exec(raw);
    if (!m) throw this.d.protocolError(`malformed XML from the server: ${JSON.stringify(raw.slice(0, 80))}`);
    const [, slash, name, rest, selfClose] = m as unknown as [string, string, string, string, string];
    const colon = name.indexOf(":");
    const attrs = new Map<string, string>();
    for (const a of rest.matchAll(/([^\s=]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g)) attrs.set(a[1]!, a[2] ?? a[3] ?? "");
    return {
      kind: slash ? "close" : selfClose ? "empty" : "open",
      name,
      local: colon === -1 ? name : name.slice(colon + 1),
      prefix: colon === -1 ? "" : name.slice(0, colon),
      attrs,
    };
  }
}

/** True when `raw` (starting at `<`) is a whole construct: its last `>` is not inside quotes. */
function complete(raw: string): boolean {
  if (raw.startsWith("<!--")) return raw.length >= 7 && raw.endsWith("-->");
  if (raw.startsWith("<![CDATA[")) return raw.endsWith("]]>");
  let quote = "";
  for (const ch of raw) {
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    }
  }
  return quote === "";
}

/** The namespace an element declares for itself (xmlns or xmlns:prefix on the element). */
function namespaceOf(tag: Tag): string | undefined {
  return tag.attrs.get(tag.prefix ? `xmlns:${tag.prefix}` : "xmlns");
}

function escapeAttr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");
}

/** Reads the rest of a `<stream:error>` for its condition, as far as the server sends it. */
async function streamErrorReason(xml: XmlReader, d: Dialogue, tag: Tag, to: string): Promise<string> {
  let condition = "";
  let text = "";
  if (tag.kind === "open") {
    try {
      let depth = 1;
      while (depth > 0) {
        const { text: chars, tag: t } = await xml.next();
        if (depth === 2 && chars.trim()) text += chars.trim();
        if (t.kind === "open") depth++;
        else if (t.kind === "close") depth--;
        if ((t.kind === "open" || t.kind === "empty") && depth <= 2 && !condition && t.local !== "text") condition = t.local;
      }
    } catch {
      // The server may close the stream right after the condition; report what arrived.
    }
  }
  d.note(xml.flush());
  // XMPP addresses streams to a domain: a server refuses its IP address as the 'to'.
  const hint = isIP(to) !== 0 && (condition === "host-unknown" || condition === "improper-addressing")
    ? `; the stream was opened to='${to}', an IP address: give the server's XMPP domain as tls.peerName`
    : "";
  return `the server sent a stream error${condition ? ` <${condition}/>` : ""}${text ? ` (${JSON.stringify(text.slice(0, 200))})` : ""}${hint}`;
}

function xmppLike(namespace: "jabber:client" | "jabber:server"): Negotiator {
  return async (d, ctx) => {
    await d.send(
      `<stream:stream xmlns:stream='${STREAMS_NS}' xmlns='${namespace}' to='${escapeAttr(ctx.serverName)}' version='1.0'>`,
    );
    const xml = new XmlReader(d);
    const unexpected = (raw: string, where: string) =>
      d.protocolError(`unexpected ${JSON.stringify(raw.slice(0, 80))} ${where}`);
    const textCheck = (text: string, where: string) => {
      if (text.trim()) throw unexpected(text.trim(), where);
    };

    // The server's stream header, after an optional XML declaration.
    let header: Tag | undefined;
    while (!header) {
      const { text, tag, raw } = await xml.next();
      textCheck(text, "before the stream header");
      if (tag.kind === "pi" && raw.startsWith("<?xml")) continue;
      if (tag.kind === "open" && tag.local === "stream") header = tag;
      else throw unexpected(raw, "instead of the server's stream header");
    }
    const streamPrefix = header.prefix;
    const isStream = (t: Tag, local: string) => t.local === local && t.prefix === streamPrefix;

    // The stream features, read whole (so the next read starts at the answer to <starttls/>).
    // A <required/> child of <starttls/> is fine: we are about to do exactly that.
    let starttls = false;
    for (let inFeatures = false, depth = 0, done = false; !done;) {
      const { text, tag, raw } = await xml.next();
      if (!inFeatures) {
        textCheck(text, "before the stream features");
        if (isStream(tag, "error") && (tag.kind === "open" || tag.kind === "empty")) {
          return { unsupported: await streamErrorReason(xml, d, tag, ctx.serverName) };
        }
        if (tag.kind === "close" && isStream(tag, "stream")) {
          d.note(xml.flush());
          return { unsupported: "the server closed the XMPP stream before its features" };
        }
        if (!isStream(tag, "features") || (tag.kind !== "open" && tag.kind !== "empty")) {
          throw unexpected(raw, "instead of the stream features");
        }
        if (tag.kind === "empty") break;
        inFeatures = true;
        depth = 1;
        continue;
      }
      if (tag.kind === "pi" || tag.kind === "comment" || tag.kind === "doctype") throw unexpected(raw, "inside the stream features");
      if (tag.kind === "open" || tag.kind === "empty") {
        if (depth === 1 && tag.local === "starttls") {
          if (namespaceOf(tag) !== TLS_NS) throw unexpected(raw, "(a starttls feature outside the TLS namespace)");
          starttls = true;
        }
        if (tag.kind === "open") depth++;
      } else if (tag.kind === "close") {
        depth--;
        if (depth === 0) {
          if (!isStream(tag, "features")) throw unexpected(raw, "closing the stream features");
          done = true;
        }
      }
    }
    d.note(xml.flush());
    if (!starttls) return { unsupported: "the server's stream features do not offer <starttls/>" };

    await d.send(`<starttls xmlns='${TLS_NS}'/>`);
    for (;;) {
      const { text, tag, raw } = await xml.next();
      textCheck(text, "in answer to <starttls/>");
      if ((tag.kind === "open" || tag.kind === "empty") && (tag.local === "proceed" || tag.local === "failure") && !isStream(tag, tag.local)) {
        if (namespaceOf(tag) !== TLS_NS) throw unexpected(raw, "in answer to <starttls/> (wrong namespace)");
        if (tag.local === "failure") {
          d.note(xml.flush());
          return { unsupported: "the server answered <starttls/> with <failure/>" };
        }
        if (tag.kind === "open") {
          // <proceed ...></proceed>: read exactly its end tag, nothing more.
          const end = await xml.next();
          if (end.text.trim() || end.tag.kind !== "close" || end.tag.name !== tag.name) throw unexpected(end.raw, "inside <proceed>");
        }
        d.note(xml.flush());
        return "go";
      }
      if (isStream(tag, "error") && (tag.kind === "open" || tag.kind === "empty")) {
        return { unsupported: await streamErrorReason(xml, d, tag, ctx.serverName) };
      }
      if (tag.kind === "close" && isStream(tag, "stream")) {
        d.note(xml.flush());
        return { unsupported: "the server closed the XMPP stream in answer to <starttls/>" };
      }
      throw unexpected(raw, "in answer to <starttls/>");
    }
  };
}

/** XMPP client-to-server (jabber:client). */
export const xmpp: Negotiator = xmppLike("jabber:client");
/** XMPP server-to-server (jabber:server). */
export const xmppServer: Negotiator = xmppLike("jabber:server");
