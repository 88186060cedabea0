/**
 * `sockurl demo`: starts loopback servers for each transport this release supports, talks
 * to each through the library, and prints one table row per transport.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, listen, SocketError } from "../index.js";

/** One row of the demo's table. */
export interface DemoResult {
  transport: string;
  url: string;
  ok: boolean;
  detail: string;
  rttMs: number;
}

type Check = () => Promise<{ url: string; detail: string; rttMs: number }>;

async function streamEcho(target: string): Promise<{ url: string; detail: string; rttMs: number }> {
  const server = await listen(target);
  const serving = (async () => {
    const peer = await server.accept({ timeout: 5000 });
    for (let line; (line = await peer.readLine()) !== null; ) await peer.write(`echo: ${line}\n`);
    await peer.close();
  })();
  try {
    const socket = await connect(server.url, { timeout: 5000, readTimeout: 5000 });
    const started = performance.now();
    await socket.write("hello\n");
    const reply = await socket.readLine();
    const rttMs = performance.now() - started;
    await socket.closeWrite();
    await socket.close();
    await serving;
    if (reply !== "echo: hello") throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
    return { url: server.url, detail: `"${reply}"`, rttMs };
  } finally {
    await server.close();
  }
}

async function datagramEcho(target: string, bindTo?: string): Promise<{ url: string; detail: string; rttMs: number }> {
  const server = await listen(target as `udp://${string}`, { readTimeout: 5000 });
  const serving = (async () => {
    const { data, remote } = await server.receive();
    await server.sendTo(Buffer.concat([Buffer.from("echo: "), data]), remote);
  })();
  try {
    const client = await connect(server.url as `udp://${string}`, { readTimeout: 5000, ...(bindTo ? { bindTo } : {}) });
    const started = performance.now();
    await client.send("hello");
    const reply = (await client.receive()).data.toString();
    const rttMs = performance.now() - started;
    await serving;
    await client.close();
    if (reply !== "echo: hello") throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
    return { url: server.url, detail: `"${reply}"`, rttMs };
  } finally {
    await server.close();
  }
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
  const checks: Array<[string, Check]> = [
    ["tcp", () => streamEcho("tcp://127.0.0.1:0")],
    ["tcp6", () => streamEcho("tcp://[::1]:0")],
    ["udp", () => datagramEcho("udp://127.0.0.1:0")],
    ["unix", () => streamEcho(`unix://${join(dir, "stream.sock")}`)],
    ["udg", () => datagramEcho(`udg://${join(dir, "dgram.sock")}`, join(dir, "client.sock"))],
  ];
  const rows: DemoResult[] = [];
  try {
    for (const [transport, check] of checks) {
      try {
        const r = await check();
        rows.push({ transport, ok: true, ...r });
      } catch (err) {
        const detail = err instanceof SocketError ? `${err.code}: ${err.message}` : String(err);
        rows.push({ transport, url: "-", ok: false, detail, rttMs: NaN });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * Formats the rows as an aligned table.
 *
 * @example
 * ```ts
 * process.stdout.write(formatDemo(await runDemo()));
 * ```
 */
export function formatDemo(rows: DemoResult[]): string {
  const table = [
    ["transport", "url", "result", "reply", "rtt"],
    ...rows.map((r) => [r.transport, r.url, r.ok ? "ok" : "FAILED", r.detail, Number.isNaN(r.rttMs) ? "-" : `${r.rttMs.toFixed(2)} ms`]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
