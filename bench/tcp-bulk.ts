/**
 * tcp-bulk: 1 GiB client → server over 127.0.0.1 in 64 KiB writes; bytes/s, timed from
 * the first write to the server seeing end of stream with every byte counted.
 *
 * sockurl: `await socket.write(chunk)` in a loop, `closeWrite()`, and `for await` on the
 *          accepted socket.
 * baseline: `net.Socket.write()` with 'drain' handling, `end()`, and a 'data' listener.
 */
import {
  HOST, RUN_TIMEOUT_MS, deferred, netPair, now, scaled, sockurlPair, withTimeout,
  type Impl, type RunOptions, type Sample,
} from "./common.js";

const TOTAL_BYTES = 1024 ** 3;
const CHUNK_BYTES = 64 * 1024;

export function tcpBulk(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const chunks = scaled(TOTAL_BYTES / CHUNK_BYTES, scale);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  return impl === "sockurl" ? withSockurl(chunk, chunks) : withNet(chunk, chunks);
}

async function withSockurl(chunk: Buffer, chunks: number): Promise<Sample> {
  const pair = await sockurlPair();
  const { client, peer } = pair;
  try {
    const start = now();
    const receiving = (async () => {
      let received = 0;
      for await (const c of peer) received += c.length;
      return received;
    })();
    const sending = (async () => {
      for (let i = 0; i < chunks; i++) await client.write(chunk);
      await client.closeWrite();
    })();
    const [received] = await withTimeout(Promise.all([receiving, sending]), RUN_TIMEOUT_MS,
      `tcp-bulk sockurl to ${HOST}`, pair.destroy);
    const seconds = (now() - start) / 1000;
    return result(received, chunk.length * chunks, seconds);
  } finally {
    await Promise.all([client.close(), peer.close(), pair.server.close()]);
  }
}

async function withNet(chunk: Buffer, chunks: number): Promise<Sample> {
  const pair = await netPair();
  const { client, peer } = pair;
  try {
    const done = deferred<number>();
    let received = 0;
    peer.on("data", (c: Buffer) => {
      received += c.length;
    });
    peer.on("end", () => done.resolve(received));
    peer.on("error", done.reject);
    client.on("error", done.reject);

    const start = now();
    let written = 0;
    const pump = (): void => {
      while (written < chunks) {
        written++;
        if (!client.write(chunk)) {
          client.once("drain", pump);
          return;
        }
      }
      client.end();
    };
    pump();
    const total = await withTimeout(done.promise, RUN_TIMEOUT_MS, `tcp-bulk baseline to ${HOST}`, pair.destroy);
    const seconds = (now() - start) / 1000;
    return result(total, chunk.length * chunks, seconds);
  } finally {
    pair.destroy();
  }
}

function result(received: number, expected: number, seconds: number): Sample {
  if (received !== expected) throw new Error(`tcp-bulk: received ${received} of ${expected} bytes`);
  return { value: received / seconds };
}
