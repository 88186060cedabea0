/**
 * `sockurl demo`: starts loopback servers for tcp, tcp6, udp, unix, udg, tls (with a throwaway
 * CA) and an SMTP-like STARTTLS service, talks to each through the library, and prints one table
 * row per transport. Exit code 0 when every row is ok.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { throwawayCa, type CertAndKey } from "./certs.js";
import { codeOf, UsageError } from "./errors.js";
import { datagramEcho, smtpStartTls, streamEcho, type RoundTrip } from "./demo-servers.js";
import { COMMON_FLAGS, parseFlags } from "./flags.js";
import { ms, painter, table, useColour, visible } from "./output.js";

/** One row of the demo's table. */
export interface DemoResult extends RoundTrip {
  transport: string;
  ok: boolean;
  /** Why the row failed; null when ok. */
  error: string | null;
}

/**
 * Runs every check and returns the rows; never throws.
 *
 * @example
 * ```ts
 * const rows = await runDemo();
 * console.log(rows.every((r) => r.ok));
 * ```
 */
export async function runDemo(): Promise<DemoResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "sockurl-demo-"));
  let pki: Promise<{ server: CertAndKey; ca: string }> | undefined;
  const tls = () => (pki ??= throwawayCa().then(({ ca, leaf }) => ({ ca, server: leaf })));
  const checks: Array<[string, () => Promise<RoundTrip>]> = [
    ["tcp", () => streamEcho("tcp://127.0.0.1:0")],
    ["tcp6", () => streamEcho("tcp://[::1]:0")],
    ["udp", () => datagramEcho("udp://127.0.0.1:0")],
    ["unix", () => streamEcho(`unix://${join(dir, "stream.sock")}`)],
    ["udg", () => datagramEcho(`udg://${join(dir, "dgram.sock")}`, join(dir, "client.sock"))],
    ["tls", async () => streamEcho("tls://127.0.0.1:0", await tls())],
    ["starttls", async () => smtpStartTls(await tls())],
  ];
  const rows: DemoResult[] = [];
  try {
    for (const [transport, check] of checks) {
      try {
        rows.push({ transport, ok: true, error: null, ...(await check()) });
      } catch (err) {
        const message = `${codeOf(err)}: ${err instanceof Error ? err.message : String(err)}`;
        rows.push({ transport, url: "-", ok: false, error: message, protocol: "-", cipher: "-", rttMs: NaN });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * Formats the rows as an aligned table, failures explained below it.
 *
 * @example
 * ```ts
 * process.stdout.write(formatDemo(await runDemo(), false));
 * ```
 */
export function formatDemo(rows: DemoResult[], colour: boolean): string {
  const paint = painter(colour);
  const body = rows.map((r) => [
    r.transport, r.url, r.ok ? paint("green", "ok") : paint("red", "FAILED"), r.protocol, r.cipher, ms(r.rttMs),
  ]);
  let out = table(["transport", "url", "result", "protocol", "cipher", "rtt"], body, paint);
  for (const r of rows) if (!r.ok) out += `${r.transport}: ${visible(r.error ?? "")}\n`;
  const failed = rows.filter((r) => !r.ok).length;
  out += failed === 0
    ? `\nall ${rows.length} transports work (tls and starttls trust a throwaway root CA made for this run)\n`
    : `\n${failed} of ${rows.length} transports failed\n`;
  return out;
}

/** Runs `sockurl demo`; returns the exit code. */
export async function demoCommand(argv: string[]): Promise<number> {
  const { positionals } = parseFlags("demo", argv, COMMON_FLAGS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (demo takes none)`, "demo");
  const rows = await runDemo();
  process.stdout.write(formatDemo(rows, useColour(process.stdout)));
  return rows.every((r) => r.ok) ? 0 : 1;
}
