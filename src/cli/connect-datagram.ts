/**
 * `sockurl connect udp://…` (and udg://): each line of standard input is one datagram (without
 * its line end); each datagram received is printed on a line of its own. After standard input
 * ends, the command waits until the peer has been quiet for a moment, then exits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type Address, type DatagramTarget } from "../index.js";
import { hostPort, visible, writeOut } from "./output.js";

/** How long the peer must stay quiet after the end of input before the command exits. */
export const QUIET_MS = 500;
const NL = Buffer.from("\n");

/** Runs connect for a datagram URL; returns the exit code. */
export async function connectDatagram(url: string, address: Address, o: { timeout: number; verbose: boolean }): Promise<number> {
  // A udg client binds a path of its own so that the server can answer.
  const dir = address.transport === "udg" ? mkdtempSync(join(tmpdir(), "sockurl-")) : null;
  try {
    const socket = await connect(url as DatagramTarget, { timeout: o.timeout, ...(dir ? { bindTo: join(dir, "client.sock") } : {}) });
    if (o.verbose) {
      const remote = socket.remote;
      process.stderr.write(`* connected ${visible(socket.url)}${remote ? ` (${hostPort(remote)})` : ""} from ${hostPort(socket.local)}\n`);
    }
    let last = performance.now();
    let failure: unknown = null;
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    const receiving = (async () => {
      for await (const { data } of socket) {
        last = performance.now();
        await writeOut(process.stdout, data.length > 0 && data[data.length - 1] === 0x0a ? data : Buffer.concat([data, NL]));
      }
    })().catch((err: unknown) => {
      // An ICMP "port unreachable" arrives here as ECONNREFUSED: stop reading input.
      failure = err;
      lines.close();
    });
    try {
      for await (const line of lines) {
        if (failure !== null) break;
        await socket.send(line);
      }
      last = performance.now();
      while (failure === null && performance.now() - last < QUIET_MS) await sleep(QUIET_MS - (performance.now() - last) + 1);
    } finally {
      lines.close();
      process.stdin.destroy();
      await socket.close();
      await receiving;
    }
    if (failure !== null) throw failure;
    return 0;
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}
