/**
 * tcp-connect: 5,000 loopback connections, at most 50 in flight, against a server that
 * accepts and closes. One connection = connect, see the server's end of stream, close.
 * Unit: connections/s.
 *
 * sockurl: `listen()` + `for await (const s of server) s.close()`; clients `connect()`,
 *          `read()` (→ null) and `close()`.
 * baseline: `net.createServer((s) => s.end())`; clients `net.connect()` and wait for
 *           'close' (allowHalfOpen is off, so Node ends its side when the server's FIN
 *           arrives). Both sides set TCP_NODELAY, as sockurl does by default.
 *
 * tcp-connect-node-timers: the same, with `useNodeTimers(true)` on the sockurl side: each
 * connect()'s deadline (60 s by default) gets its own Node timer instead of a place on the
 * shared deadline clock, so the two rows show what the shared clock saves. The baseline is
 * raw node:net, as for tcp-connect, measured in the same run.
 */
import net from "node:net";
import { once } from "node:events";
import { connect, listen } from "../src/index.js";
import { useNodeTimers } from "../src/deadline.js";
import {
  HOST, RUN_TIMEOUT_MS, background, closeNetServer, scaled, timed, withTimeout,
  type Impl, type RunOptions, type Sample,
} from "./common.js";

const CONNECTIONS = 5_000;
const CONCURRENCY = 50;

export function tcpConnect(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const n = scaled(CONNECTIONS, scale, CONCURRENCY);
  return impl === "sockurl" ? withSockurl(n) : withNet(n);
}

/** tcp-connect with a Node timer per deadline on the sockurl side; restored afterwards, whatever happens. */
export async function tcpConnectNodeTimers(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const n = scaled(CONNECTIONS, scale, CONCURRENCY);
  if (impl === "baseline") return withNet(n);
  useNodeTimers(true);
  try {
    return await withSockurl(n);
  } finally {
    useNodeTimers(false);
  }
}

async function withSockurl(n: number): Promise<Sample> {
  const server = await listen(`tcp://${HOST}:0`);
  try {
    let accepted = 0;
    const serving = background((async () => {
      for await (const socket of server) {
        accepted++;
        void socket.close();
      }
    })());
    const seconds = await withTimeout(timed(n, CONCURRENCY, async () => {
      const socket = await connect(server.url);
      const eof = await socket.read();
      if (eof !== null) throw new Error("tcp-connect: expected end of stream");
      await socket.close();
    }), RUN_TIMEOUT_MS, `tcp-connect sockurl to ${server.url}`, () => void server.close());
    await server.close();
    await serving;
    return result(n, accepted, seconds);
  } finally {
    await server.close();
  }
}

async function withNet(n: number): Promise<Sample> {
  let accepted = 0;
  const server = net.createServer({ noDelay: true }, (socket) => {
    accepted++;
    socket.on("error", () => {});
    socket.end();
  });
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  try {
    const seconds = await withTimeout(timed(n, CONCURRENCY, () => new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: HOST, port, noDelay: true });
      socket.on("error", reject);
      socket.on("close", () => resolve());
      socket.resume();
    })), RUN_TIMEOUT_MS, `tcp-connect baseline to ${HOST}:${port}`, () => server.close());
    return result(n, accepted, seconds);
  } finally {
    await closeNetServer(server);
  }
}

function result(n: number, accepted: number, seconds: number): Sample {
  if (accepted !== n) throw new Error(`tcp-connect: the server accepted ${accepted} of ${n} connections`);
  return { value: n / seconds };
}
