/**
 * The bulk transfer both bulk benchmarks (tcp-bulk, tls-bulk) time: `chunks` writes of `chunk`
 * from a sender to a receiver that counts bytes until end of stream, once through sockurl and
 * once through Node's streams, on connections the caller has already set up.
 */
import type net from "node:net";
import type { Socket } from "../src/index.js";
import { RUN_TIMEOUT_MS, deferred, now, withTimeout, type Sample } from "./common.js";

/** What one transfer measured. */
export interface Transfer {
  received: number;
  seconds: number;
}

/**
 * sockurl: `await write(chunk)` in a loop, `closeWrite()`, and `for await` on the receiver.
 *
 * @example
 * ```ts
 * const t = await sockurlTransfer(client, peer, chunk, 1024, "tcp-bulk sockurl");
 * ```
 */
export async function sockurlTransfer(sender: Socket, receiver: Socket, chunk: Buffer, chunks: number, what: string): Promise<Transfer> {
  const start = now();
  const receiving = (async () => {
    let received = 0;
    for await (const c of receiver) received += c.length;
    return received;
  })();
  const sending = (async () => {
    for (let i = 0; i < chunks; i++) await sender.write(chunk);
    await sender.closeWrite();
  })();
  const [received] = await withTimeout(Promise.all([receiving, sending]), RUN_TIMEOUT_MS, what, () => {
    sender.destroy();
    receiver.destroy();
  });
  return { received, seconds: (now() - start) / 1000 };
}

/**
 * Node: `write()` with 'drain' handling, `end()`, and a 'data' listener on the receiver.
 *
 * @example
 * ```ts
 * const t = await nodeTransfer(client, peer, chunk, 1024, "tcp-bulk baseline");
 * ```
 */
export async function nodeTransfer(sender: net.Socket, receiver: net.Socket, chunk: Buffer, chunks: number, what: string): Promise<Transfer> {
  const done = deferred<number>();
  let received = 0;
  receiver.on("data", (c: Buffer) => {
    received += c.length;
  });
  receiver.on("end", () => done.resolve(received));
  receiver.on("error", done.reject);
  sender.on("error", done.reject);

  const start = now();
  let written = 0;
  const pump = (): void => {
    while (written < chunks) {
      written++;
      if (!sender.write(chunk)) {
        sender.once("drain", pump);
        return;
      }
    }
    sender.end();
  };
  pump();
  const total = await withTimeout(done.promise, RUN_TIMEOUT_MS, what, () => {
    sender.destroy();
    receiver.destroy();
  });
  return { received: total, seconds: (now() - start) / 1000 };
}

/** Bytes per second, after checking that every byte arrived. */
export function transferSample(name: string, t: Transfer, expected: number, note?: string): Sample {
  if (t.received !== expected) throw new Error(`${name}: received ${t.received} of ${expected} bytes`);
  return note === undefined ? { value: t.received / t.seconds } : { value: t.received / t.seconds, note };
}
