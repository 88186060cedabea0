/**
 * The TypeScript twins of the shared PHP steps in test/php/prelude.php (`client`, `ask`), and small
 * helpers for scenarios.
 */
import type { Entry, Twin } from "../harness.js";

/** stream_socket_client() with sentinels in errno/errstr; records the three results (prelude: client()). */
export async function client(t: Twin, target: string, timeout: number | null = 2, ctx: unknown = null, flags = 4): Promise<unknown> {
  const errno = t.php.ref(-1);
  const errstr = t.php.ref("untouched");
  const fp = await t.php.stream_socket_client(target, errno, errstr, timeout, flags, ctx);
  t.rec("client", fp);
  t.rec("errno", errno.value);
  t.rec("errstr", errstr.value);
  return fp;
}

/** Writes "command\n" and records the first line of the answer (prelude: ask()). */
export async function ask(t: Twin, fp: unknown, command: string, step = "reply"): Promise<unknown> {
  await t.php.fwrite(fp, command + "\n");
  const line = await t.php.fgets(fp);
  t.rec(step, line);
  return line;
}

/**
 * Replaces the port of "host:port" names that are ephemeral (not one of the servers'). The port
 * may already read as a server's symbol: a listener on 127.0.0.1 can get the number of one on ::1.
 */
export function maskEphemeral(entry: Entry): Entry {
  const mask = (v: unknown): unknown => {
    if (typeof v === "string") return v.replace(/^(\[[^\]]*\]|[0-9.]+):(\d+|\{[\w.]+\})$/, "$1:{ephemeral}");
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
    return v;
  };
  return "step" in entry ? { step: entry.step, value: mask(entry.value) } : entry;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
