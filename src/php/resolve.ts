/**
 * Name resolution and local addresses the way PHP does them: getaddrinfo (through the system
 * resolver, in its order), PHP's warning text, and `bindto` parsing.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { gaiText } from "./errno.js";
import { parseHostPort } from "./target.js";

/** Addresses for `host`, or PHP's errstr (`php_network_getaddresses: …`). */
export async function resolve(host: string): Promise<{ addresses: string[] } | { error: string }> {
  const literal = inetAton(host) ?? (isIP(host) === 6 ? host : null);
  if (literal !== null) return { addresses: [literal] };
  let code: string | undefined;
  if (host !== "") {
    try {
      const found = await lookup(host, { all: true, verbatim: true });
      if (found.length > 0) return { addresses: found.map((a) => a.address) };
    } catch (err) {
      code = (err as { code?: string }).code;
    }
  }
  return { error: `php_network_getaddresses: getaddrinfo for ${host} failed: ${gaiText(code)}` };
}

/**
 * inet_aton(): "127.1", "0x7f.1", "2130706433" and dotted quads → a dotted quad; null otherwise.
 *
 * @example
 * ```ts
 * inetAton("127.1"); // "127.0.0.1"
 * ```
 */
export function inetAton(text: string): string | null {
  if (!/^[0-9a-fA-FxX.]+$/.test(text) || text.endsWith(".")) return null;
  const parts = text.split(".");
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) n = p.length === 1 ? 0 : parseInt(p.slice(1), 8);
    else if (/^[1-9][0-9]*$/.test(p)) n = parseInt(p, 10);
    else return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 2 ** (8 * (4 - nums.length))) return null;
  let value = last;
  nums.forEach((n, i) => {
    value += n * 2 ** (8 * (3 - i));
  });
  return [24, 16, 8, 0].map((s) => Math.floor(value / 2 ** s) % 256).join(".");
}

/** A parsed `bindto`: where to bind, a warning, or the error that fails the connect. */
export type BindTo = { host: string; port: number } | { warning: string } | { error: string } | null;

/** PHP's reading of the `socket.bindto` option. */
export function parseBindTo(value: unknown, present: boolean): BindTo {
  if (!present) return null;
  if (typeof value !== "string") return { error: "local_addr context option is not a string." };
  const hp = parseHostPort(value);
  if ("error" in hp) return null;
  const ip = inetAton(hp.host) ?? (isIP(hp.host) === 6 ? hp.host : null);
  if (ip === null) return { warning: `Invalid IP Address: ${hp.host}` };
  return { host: ip, port: hp.port };
}
