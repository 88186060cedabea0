/**
 * The demo's loopback services, each paired with a client that makes one timed round trip
 * through the library: line echo over stream transports (tcp, unix, tls), datagram echo
 * (udp, udg), and a tiny scripted SMTP server that offers STARTTLS.
 */
import { connect, listen, type Socket } from "../index.js";
import type { CertAndKey } from "./certs.js";

/** What one check learned. */
export interface RoundTrip {
  url: string;
  protocol: string;
  cipher: string;
  rttMs: number;
}

const TIMEOUT = 5000;

function tlsColumns(socket: Socket): Pick<RoundTrip, "protocol" | "cipher"> {
  const tls = socket.tls;
  return tls === null ? { protocol: "-", cipher: "-" } : { protocol: tls.protocol, cipher: tls.cipher };
}

function expect(reply: string | null, wanted: string): void {
  if (reply !== wanted) throw new Error(`expected ${JSON.stringify(wanted)}, got ${JSON.stringify(reply)}`);
}

/**
 * A line echo server on `target` and one client round trip; `server` and `client` are the TLS
 * options of each side (tls:// only).
 */
export async function streamEcho(target: string, tls?: { server: CertAndKey; ca: string }): Promise<RoundTrip> {
  const server = await listen(target, tls ? { tls: { cert: tls.server.cert, key: tls.server.key } } : {});
  const serving = (async () => {
    const peer = await server.accept({ timeout: TIMEOUT });
    peer.readTimeout = TIMEOUT;
    try {
      for (let line; (line = await peer.readLine()) !== null; ) await peer.write(`echo: ${line}\n`);
    } finally {
      await peer.close();
    }
  })();
  try {
    const socket = await connect(server.url, { timeout: TIMEOUT, readTimeout: TIMEOUT, ...(tls ? { tls: { ca: tls.ca } } : {}) });
    try {
      const started = performance.now();
      await socket.write("hello\n");
      const reply = await socket.readLine();
      const rttMs = performance.now() - started;
      expect(reply, "echo: hello");
      await socket.closeWrite();
      await serving;
      return { url: server.url, ...tlsColumns(socket), rttMs };
    } finally {
      await socket.close();
    }
  } finally {
    serving.catch(() => {});
    await server.close();
  }
}

/** A datagram echo server on `target` and one client round trip (udg clients bind `bindTo`). */
export async function datagramEcho(target: `udp://${string}` | `udg://${string}`, bindTo?: string): Promise<RoundTrip> {
  const server = await listen(target, { readTimeout: TIMEOUT });
  try {
    const serving = (async () => {
      const { data, remote } = await server.receive();
      await server.sendTo(Buffer.concat([Buffer.from("echo: "), data]), remote);
    })();
    serving.catch(() => {});
    const client = await connect(server.url as `udp://${string}`, { readTimeout: TIMEOUT, ...(bindTo ? { bindTo } : {}) });
    try {
      const started = performance.now();
      await client.send("hello");
      const reply = (await client.receive()).data.toString();
      const rttMs = performance.now() - started;
      await serving;
      expect(reply, "echo: hello");
      return { url: server.url, protocol: "-", cipher: "-", rttMs };
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
}

/**
 * Serves one SMTP-like session on `peer`: a 220 greeting, EHLO offering STARTTLS, STARTTLS
 * answered 220 and then the server side of the TLS handshake, NOOP, QUIT. Anything else is 502.
 *
 * @example
 * ```ts
 * const peer = await server.accept();
 * await smtpSession(peer, { cert, key });
 * ```
 */
export async function smtpSession(peer: Socket, certificate: { cert: string; key: string }): Promise<void> {
  try {
    await peer.write("220 sockurl.demo ESMTP ready\r\n");
    for (let line; (line = await peer.readLine({ maxLength: 512 })) !== null; ) {
      const verb = (line.split(" ")[0] ?? "").toUpperCase();
      if (verb === "EHLO") {
        await peer.write(peer.encrypted ? "250-sockurl.demo\r\n250 8BITMIME\r\n" : "250-sockurl.demo\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
      } else if (verb === "STARTTLS" && !peer.encrypted) {
        await peer.write("220 2.0.0 ready to start TLS\r\n");
        await peer.startTls({ server: true, cert: certificate.cert, key: certificate.key });
      } else if (verb === "NOOP") {
        await peer.write("250 2.0.0 OK\r\n");
      } else if (verb === "QUIT") {
        await peer.write("221 2.0.0 bye\r\n");
        break;
      } else {
        await peer.write("502 5.5.2 command not recognized\r\n");
      }
    }
  } finally {
    await peer.close();
  }
}

/** The scripted SMTP server and one client: STARTTLS, then a NOOP round trip over TLS. */
export async function smtpStartTls(tls: { server: CertAndKey; ca: string }): Promise<RoundTrip> {
  const server = await listen("tcp://127.0.0.1:0");
  const serving = (async () => {
    const peer = await server.accept({ timeout: TIMEOUT });
    peer.readTimeout = TIMEOUT;
    await smtpSession(peer, tls.server);
  })();
  try {
    const socket = await connect(server.url, { timeout: TIMEOUT, readTimeout: TIMEOUT, startTls: "smtp", tls: { ca: tls.ca } });
    try {
      const started = performance.now();
      await socket.write("NOOP\r\n");
      const reply = await socket.readLine();
      const rttMs = performance.now() - started;
      expect(reply, "250 2.0.0 OK");
      await socket.write("QUIT\r\n");
      expect(await socket.readLine(), "221 2.0.0 bye");
      await serving;
      return { url: server.url, ...tlsColumns(socket), rttMs };
    } finally {
      await socket.close();
    }
  } finally {
    serving.catch(() => {});
    await server.close();
  }
}
