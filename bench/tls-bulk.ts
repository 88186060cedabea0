/**
 * tls-bulk: 1 GiB client → server over TLS on 127.0.0.1 in 64 KiB writes; bytes/s, timed
 * from the first write to the server seeing end of stream with every byte counted. The
 * handshake is done before the clock starts.
 *
 * Both sides use the same certificate (test/fixtures/pki.ts: leaf + intermediate, ECDSA
 * P-256) and the same verification: the client trusts only the fixture root and checks the
 * name "localhost" (sent as SNI) while connecting to 127.0.0.1. TCP_NODELAY is on at both
 * ends, as sockurl sets it by default.
 *
 * sockurl: `listen("tls://…", { tls: { cert, key } })` + `for await` on the accepted socket;
 *          `connect("tls://…", { tls: { ca, peerName } })`, `await socket.write(chunk)` in
 *          a loop, `closeWrite()`.
 * baseline: `tls.createServer({ cert, key })` + a 'data' listener; `tls.connect({ ca,
 *           servername })` (default rejectUnauthorized and checkServerIdentity), `write()`
 *           with 'drain' handling, `end()`.
 */
import { once } from "node:events";
import type net from "node:net";
import tls from "node:tls";
import { connect, listen, type Socket } from "../src/index.js";
import { nodeTransfer, sockurlTransfer, transferSample } from "./bulk.js";
import { HOST, scaled, tlsCredentials, type Impl, type RunOptions, type Sample, type TlsCredentials } from "./common.js";

const TOTAL_BYTES = 1024 ** 3;
const CHUNK_BYTES = 64 * 1024;

export async function tlsBulk(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const chunks = scaled(TOTAL_BYTES / CHUNK_BYTES, scale);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  const creds = await tlsCredentials();
  return impl === "sockurl" ? withSockurl(creds, chunk, chunks) : withTls(creds, chunk, chunks);
}

async function withSockurl(creds: TlsCredentials, chunk: Buffer, chunks: number): Promise<Sample> {
  const server = await listen(`tls://${HOST}:0`, { tls: { cert: creds.cert, key: creds.key } });
  let client: Socket | undefined;
  let peer: Socket | undefined;
  try {
    const port = (server.address as { port: number }).port;
    [client, peer] = await Promise.all([
      connect(`tls://${HOST}:${port}`, { tls: { ca: creds.ca, peerName: creds.peerName } }),
      server.accept(),
    ]);
    const info = client.tls!;
    const t = await sockurlTransfer(client, peer, chunk, chunks, `tls-bulk sockurl to ${server.url}`);
    return transferSample("tls-bulk", t, chunk.length * chunks, `${info.protocol} ${info.cipher}`);
  } finally {
    await Promise.all([client?.close(), peer?.close(), server.close()]);
  }
}

async function withTls(creds: TlsCredentials, chunk: Buffer, chunks: number): Promise<Sample> {
  const server = tls.createServer({ cert: creds.cert, key: creds.key, noDelay: true });
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, "secureConnection") as Promise<[tls.TLSSocket]>;
  const client = tls.connect({ host: HOST, port, ca: creds.ca, servername: creds.peerName });
  client.setNoDelay(true);
  let peer: tls.TLSSocket | undefined;
  try {
    [[peer]] = await Promise.all([accepted, once(client, "secureConnect")]);
    const t = await nodeTransfer(client, peer, chunk, chunks, `tls-bulk baseline to ${HOST}:${port}`);
    return transferSample("tls-bulk", t, chunk.length * chunks, `${client.getProtocol()} ${client.getCipher().standardName}`);
  } finally {
    client.destroy();
    peer?.destroy();
    server.close();
  }
}
