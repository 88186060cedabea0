/**
 * tcp-line-rr: 100,000 line request/response round trips over one loopback connection.
 * The client writes "ping N\n" and waits for the reply line before sending the next;
 * the server echoes each line back. Unit: round trips/s.
 *
 * sockurl: `readLine()` on both sides, and `write()` not awaited, as the baseline writes
 *          without waiting: in lockstep request/response the awaited reply paces each side,
 *          and a write that fails is reported by the next `readLine()`.
 *          `tcp-line-rr-awaited` (no bar) awaits every `write()` too.
 * baseline: a hand-written line splitter over 'data' events on both sides (UTF-8 lines,
 *           LF or CRLF, like readLine), `write()` without waiting, and on the client an
 *           awaited promise per reply, as a promise-based protocol client would do.
 */
import type net from "node:net";
import {
  HOST, RUN_TIMEOUT_MS, background, deferred, netPair, now, scaled, sockurlPair, withTimeout,
  type BenchFn, type Deferred, type Impl, type RunOptions, type Sample,
} from "./common.js";

const ROUND_TRIPS = 100_000;

export function tcpLineRr(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const n = scaled(ROUND_TRIPS, scale);
  return impl === "sockurl" ? withSockurl(n, false) : withNet(n);
}

/** The same exchange with every sockurl `write()` awaited (the baseline is unchanged). */
export const tcpLineRrAwaited: BenchFn = (impl, { scale }) => {
  const n = scaled(ROUND_TRIPS, scale);
  return impl === "sockurl" ? withSockurl(n, true) : withNet(n);
};

async function withSockurl(n: number, awaitWrites: boolean): Promise<Sample> {
  const pair = await sockurlPair();
  const { client, peer } = pair;
  try {
    const serving = background((async () => {
      for (;;) {
        const line = await peer.readLine();
        if (line === null) return;
        const written = peer.write(line + "\n");
        if (awaitWrites) await written;
      }
    })());
    const start = now();
    const asking = (async () => {
      for (let i = 0; i < n; i++) {
        const request = `ping ${i}`;
        const written = client.write(request + "\n");
        if (awaitWrites) await written;
        const reply = await client.readLine();
        if (reply !== request) throw new Error(`tcp-line-rr: expected ${JSON.stringify(request)}, got ${JSON.stringify(reply)}`);
      }
    })();
    await withTimeout(asking, RUN_TIMEOUT_MS, `tcp-line-rr sockurl to ${HOST}`, pair.destroy);
    const seconds = (now() - start) / 1000;
    await client.closeWrite();
    await serving;
    return { value: n / seconds };
  } finally {
    await Promise.all([client.close(), peer.close(), pair.server.close()]);
  }
}

/**
 * Splits a byte stream into UTF-8 lines (LF or CRLF), holding back an unterminated tail.
 * The hand-written equivalent of what `readLine()` does.
 */
function onLines(socket: net.Socket, onLine: (line: string) => void): void {
  let pending: Buffer | null = null;
  socket.on("data", (chunk: Buffer) => {
    let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    let at: number;
    while ((at = buf.indexOf(0x0a)) !== -1) {
      const end = at > 0 && buf[at - 1] === 0x0d ? at - 1 : at;
      onLine(buf.toString("utf8", 0, end));
      buf = buf.subarray(at + 1);
    }
    pending = buf.length > 0 ? buf : null;
  });
}

async function withNet(n: number): Promise<Sample> {
  const pair = await netPair();
  const { client, peer } = pair;
  try {
    const failed = deferred<never>();
    client.on("error", failed.reject);
    peer.on("error", failed.reject);
    onLines(peer, (line) => peer.write(line + "\n"));

    let waiting: Deferred<string> | null = null;
    onLines(client, (line) => {
      const w = waiting;
      waiting = null;
      w?.resolve(line);
    });
    const start = now();
    const asking = (async () => {
      for (let i = 0; i < n; i++) {
        const request = `ping ${i}`;
        waiting = deferred<string>();
        client.write(request + "\n");
        const reply = await waiting.promise;
        if (reply !== request) throw new Error(`tcp-line-rr: expected ${JSON.stringify(request)}, got ${JSON.stringify(reply)}`);
      }
    })();
    await withTimeout(Promise.race([asking, failed.promise]), RUN_TIMEOUT_MS,
      `tcp-line-rr baseline to ${HOST}`, pair.destroy);
    const seconds = (now() - start) / 1000;
    return { value: n / seconds };
  } finally {
    pair.destroy();
  }
}
