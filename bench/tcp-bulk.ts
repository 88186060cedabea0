/**
 * tcp-bulk: 1 GiB client → server over 127.0.0.1 in 64 KiB writes; bytes/s, timed from
 * the first write to the server seeing end of stream with every byte counted.
 *
 * sockurl: `await socket.write(chunk)` in a loop, `closeWrite()`, and `for await` on the
 *          accepted socket.
 * baseline: `net.Socket.write()` with 'drain' handling, `end()`, and a 'data' listener.
 */
import { nodeTransfer, sockurlTransfer, transferSample } from "./bulk.js";
import { HOST, netPair, scaled, sockurlPair, type Impl, type RunOptions, type Sample } from "./common.js";

const TOTAL_BYTES = 1024 ** 3;
const CHUNK_BYTES = 64 * 1024;

export function tcpBulk(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const chunks = scaled(TOTAL_BYTES / CHUNK_BYTES, scale);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  return impl === "sockurl" ? withSockurl(chunk, chunks) : withNet(chunk, chunks);
}

async function withSockurl(chunk: Buffer, chunks: number): Promise<Sample> {
  const pair = await sockurlPair();
  try {
    const t = await sockurlTransfer(pair.client, pair.peer, chunk, chunks, `tcp-bulk sockurl to ${HOST}`);
    return transferSample("tcp-bulk", t, chunk.length * chunks);
  } finally {
    await Promise.all([pair.client.close(), pair.peer.close(), pair.server.close()]);
  }
}

async function withNet(chunk: Buffer, chunks: number): Promise<Sample> {
  const pair = await netPair();
  try {
    const t = await nodeTransfer(pair.client, pair.peer, chunk, chunks, `tcp-bulk baseline to ${HOST}`);
    return transferSample("tcp-bulk", t, chunk.length * chunks);
  } finally {
    pair.destroy();
  }
}
