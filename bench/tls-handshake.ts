/**
 * tls-handshake: 800 full TLS handshakes on 127.0.0.1, at most 20 in flight, against a
 * server that completes the handshake and closes. One connection = TCP connect, handshake
 * with verification, check that neither end resumed, the server's end of stream, close.
 * Unit: handshakes/s.
 *
 * Both sides use the same certificate (test/fixtures/pki.ts: leaf + intermediate, ECDSA
 * P-256) and the same verification: the client trusts only the fixture root and checks the
 * name "localhost" (sent as SNI) while connecting to 127.0.0.1. Servers keep their default
 * settings (tickets on, though a Node TLS 1.3 server that writes nothing sends none); clients
 * never offer a session, so every handshake is a full one, and both ends of every connection
 * check that.
 *
 * sockurl: `listen("tls://…", { tls: { cert, key } })` + `for await … socket.close()`, the
 *          server checking `socket.tls.sessionReused`; clients `connect("tls://…", { tls:
 *          { ca, peerName } })`, `socket.tls.sessionReused`, `read()` (→ null), `close()`.
 * baseline: `tls.createServer({ cert, key }, (s) => s.end())`, checking `isSessionReused()`;
 *           clients `tls.connect({ ca, servername })` (default rejectUnauthorized and
 *           checkServerIdentity), `isSessionReused()` on 'secureConnect', then wait for
 *           'close' (allowHalfOpen is off, so Node ends its side when the server's end
 *           arrives). TCP_NODELAY on both ends, as sockurl sets it by default.
 *
 * The churn loop is shared with tls-resume.ts, which passes a session to every client.
 */
import { once } from "node:events";
import type net from "node:net";
import tls from "node:tls";
import { connect, listen } from "../src/index.js";
import {
  HOST, RUN_TIMEOUT_MS, background, closeNetServer, scaled, timed, tlsCredentials, withTimeout,
  type Impl, type RunOptions, type Sample, type TlsCredentials,
} from "./common.js";

const HANDSHAKES = 800;
/** Connections in flight at most. */
export const CONCURRENCY = 20;
/**
 * What the server writes on the first connection of a `resume` run only. A Node (OpenSSL)
 * TLS 1.3 server sends its session tickets with its first write; a server that only closes
 * sends none.
 */
const GREETING = Buffer.from("x");

export function tlsHandshake(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  return churn(impl, scaled(HANDSHAKES, scale, CONCURRENCY), "full");
}

/** `full`: clients offer no session. `resume`: every client offers the session of a first, untimed connection. */
export type HandshakeKind = "full" | "resume";

/** Per-connection outcomes, checked after the run. */
interface Tally {
  /** Connections the server completed a handshake on. */
  accepted: number;
  /** Connections whose client end reported a resumed session. */
  clientResumed: number;
  /** Connections whose server end reported a resumed session. */
  serverResumed: number;
  /** The negotiated protocol of the last connection (for the note). */
  protocol: string;
}

/**
 * Makes `n` connections (plus, for `resume`, one untimed first connection whose session the
 * others offer), `CONCURRENCY` at a time, and returns handshakes per second. Fails unless
 * every connection was accepted and every one was (`resume`) or none was (`full`) resumed.
 */
export async function churn(impl: Impl, n: number, kind: HandshakeKind): Promise<Sample> {
  const creds = await tlsCredentials();
  const { seconds, tally } = impl === "sockurl" ? await withSockurl(creds, n, kind) : await withTls(creds, n, kind);
  const name = kind === "full" ? "tls-handshake" : "tls-resume";
  if (tally.accepted !== n) throw new Error(`${name} ${impl}: the server completed ${tally.accepted} of ${n} handshakes`);
  const wanted = kind === "full" ? 0 : n;
  if (tally.clientResumed !== wanted || tally.serverResumed !== wanted) {
    throw new Error(`${name} ${impl}: ${tally.clientResumed} client ends and ${tally.serverResumed} server ends `
      + `resumed a session out of ${n} connections; expected ${wanted}`);
  }
  return { value: n / seconds, note: `${tally.protocol}, ${kind === "full" ? "no handshake resumed" : "every handshake resumed"}` };
}

async function withSockurl(creds: TlsCredentials, n: number, kind: HandshakeKind): Promise<{ seconds: number; tally: Tally }> {
  const server = await listen(`tls://${HOST}:0`, { tls: { cert: creds.cert, key: creds.key } });
  const target = `tls://${HOST}:${(server.address as { port: number }).port}`;
  const tally: Tally = { accepted: 0, clientResumed: 0, serverResumed: 0, protocol: "" };
  let greet = kind === "resume";
  try {
    const serving = background((async () => {
      for await (const socket of server) {
        tally.accepted++;
        if (socket.tls!.sessionReused) tally.serverResumed++;
        if (greet) void socket.write(GREETING);
        void socket.close();
      }
    })());
    let session: Buffer | undefined;
    if (kind === "resume") {
      const first = await connect(target, { tls: { ca: creds.ca, peerName: creds.peerName } });
      const greeting = await first.read();
      if (greeting === null || !greeting.equals(GREETING)) throw new Error("tls-resume sockurl: expected the greeting");
      // Node can report the tickets after the byte that carried them; they precede the end of stream.
      if ((await first.read()) !== null) throw new Error("tls-resume sockurl: expected end of stream");
      session = first.tls!.session ?? undefined;
      await first.close();
      if (session === undefined) throw new Error("tls-resume sockurl: the first connection got no session ticket");
      greet = false;
      tally.accepted = 0; // the first connection is not part of the run
      tally.serverResumed = 0;
    }
    const tlsOptions = { ca: creds.ca, peerName: creds.peerName, ...(session === undefined ? {} : { session }) };
    const seconds = await withTimeout(timed(n, CONCURRENCY, async () => {
      const socket = await connect(target, { tls: tlsOptions });
      const info = socket.tls!;
      if (info.sessionReused) tally.clientResumed++;
      tally.protocol = info.protocol;
      const eof = await socket.read();
      if (eof !== null) throw new Error("tls handshake: expected end of stream");
      await socket.close();
    }), RUN_TIMEOUT_MS, `tls ${kind} handshakes, sockurl to ${target}`, () => void server.close());
    await server.close();
    await serving;
    return { seconds, tally };
  } finally {
    await server.close();
  }
}

async function withTls(creds: TlsCredentials, n: number, kind: HandshakeKind): Promise<{ seconds: number; tally: Tally }> {
  const tally: Tally = { accepted: 0, clientResumed: 0, serverResumed: 0, protocol: "" };
  let greet = kind === "resume";
  const server = tls.createServer({ cert: creds.cert, key: creds.key, noDelay: true }, (socket) => {
    tally.accepted++;
    if (socket.isSessionReused()) tally.serverResumed++;
    socket.on("error", () => {});
    if (greet) socket.write(GREETING);
    socket.end();
  });
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const options: tls.ConnectionOptions = { host: HOST, port, ca: creds.ca, servername: creds.peerName };
  try {
    if (kind === "resume") {
      let session: Buffer | undefined;
      await new Promise<void>((resolve, reject) => {
        const socket = tls.connect(options);
        socket.setNoDelay(true);
        socket.on("session", (s: Buffer) => {
          session = s;
        });
        socket.once("data", (greeting: Buffer) => {
          if (!greeting.equals(GREETING)) reject(new Error("tls-resume baseline: expected the greeting"));
        });
        socket.on("error", reject);
        // The tickets have all arrived by the server's end of stream.
        socket.on("close", () => resolve());
      });
      if (session === undefined) throw new Error("tls-resume baseline: the first connection got no session ticket");
      greet = false;
      options.session = session;
      tally.accepted = 0; // the first connection is not part of the run
      tally.serverResumed = 0;
    }
    const seconds = await withTimeout(timed(n, CONCURRENCY, () => new Promise<void>((resolve, reject) => {
      const socket = tls.connect(options);
      socket.setNoDelay(true);
      socket.on("secureConnect", () => {
        if (socket.isSessionReused()) tally.clientResumed++;
        tally.protocol = socket.getProtocol() ?? "unknown";
      });
      socket.on("error", reject);
      socket.on("close", () => resolve());
      socket.resume();
    })), RUN_TIMEOUT_MS, `tls ${kind} handshakes, baseline to ${HOST}:${port}`, () => server.close());
    return { seconds, tally };
  } finally {
    await closeNetServer(server);
  }
}
