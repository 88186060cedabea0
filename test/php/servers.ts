/**
 * The loopback servers both sides of the differential suite talk to. They live in the test process;
 * the PHP scripts (separate processes) learn their ports and paths from the `Env` record, which the
 * harness passes as JSON in the environment (`$E` in PHP, `env` in the TypeScript twins).
 *
 * Every server is stateless per connection, so a PHP script and its TypeScript twin may use one at
 * the same time.
 *
 * The line protocol (`tcp`, `unix`, every TLS server, and the SMTP-like server after STARTTLS): one
 * command per line, LF or CRLF.
 *
 *   ECHO <text>      → "<text>\n"
 *   TWO              → "one\ntwo\n" in a single write
 *   BYTES <n>        → n bytes "0123456789…" (cycled), no newline
 *   SLEEP <ms>       → "woke\n" after ms
 *   SHUTWR <text>    → "<text>\n", then the server half-closes (FIN) and keeps reading
 *   CLOSE            → the server closes the connection
 *   COUNT            → after the client's FIN: "got <n> bytes\n" (bytes after this command), then FIN
 *   INFO             → "sni=<name|-> alpn=<proto|-> proto=<TLSvX|-> cert=<client CN|->\n"
 *   anything else    → "? <line>\n"
 *
 * The raw `echo` server sends back every byte it receives. `udp`/`udp6` echo datagrams to their
 * sender; `udg` takes a datagram "<reply path>\n<payload>" and sends the payload to that path.
 *
 * `smtp` is a scripted SMTP-like STARTTLS server: greeting `220 sockurl ESMTP`, `EHLO` →
 * `250-sockurl` / `250 STARTTLS`, `STARTTLS` → `220 go ahead` then a server-side TLS handshake
 * (certificate `valid`), `STARTTLS-INJECT` → `220 go ahead` plus a pipelined `250 injected` line in
 * the same segment, `STARTTLS-MUTE` → `220 go ahead` and then silence (no handshake), `NOOP` →
 * `250 ok`, `QUIT` → `221 bye` and close; after the upgrade the line protocol above answers.
 *
 * `dialer` is a control server for scenarios where the PHP side is the server: a line
 * `DIAL <kind> <host:port> [text]` makes the test process connect to that address and report one
 * line back on the control connection (see `dial()`).
 */
import net from "node:net";
import tls from "node:tls";
import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import unixDgram from "unix-dgram";
import { makePki, writePki, type Pki, type PkiPaths } from "../fixtures/pki.js";
import { closedPort, stalledListener } from "../helpers.js";
import { dialerHandler } from "./dialer.js";
import { serveLines } from "./line-protocol.js";
import { smtpHandler } from "./smtp-server.js";

/** Ports, paths and file names the scenarios use (the same record on both sides). */
export interface Env {
  /** Raw TCP echo on 127.0.0.1. */
  echo: number;
  /** Raw TCP echo on ::1 (0 when the host has no IPv6 loopback). */
  echo6: number;
  /** Line-protocol server on 127.0.0.1. */
  line: number;
  /** Accepts, reads and discards, never writes (a TLS client's handshake waits). */
  mute: number;
  /** A closed port on 127.0.0.1, below the ephemeral range: connections are refused. */
  refused: number;
  /**
   * Free ports below the ephemeral range for scenarios that must pick their own listening port
   * (one set for the PHP side, one for the twin, which may run at the same time); index i on both
   * sides is named {spare<i>} in logs.
   */
  spare: { php: number[]; ts: number[] };
  /** A listener on 127.0.0.1 whose accept queue is full: connects stall (test/fixtures/stalled-listener.py). */
  stalled: number;
  /** UDP echo on 127.0.0.1 and ::1 (0 when no IPv6). */
  udp: number;
  udp6: number;
  /** Unix stream line-protocol server and unix datagram reflector. */
  unixPath: string;
  udgPath: string;
  /** The SMTP-like STARTTLS server on 127.0.0.1. */
  smtp: number;
  /** Control server: DIAL requests. */
  dialer: number;
  /** TLS line-protocol servers on 127.0.0.1, keyed by certificate (see `tlsServerSpecs`). */
  tls: Record<TlsServerName, number>;
  /** A scratch directory each scenario may create files in (scenarios use unique names). */
  tmp: string;
  /** Certificate and key files (test/fixtures/pki.ts, written with writePki). */
  pki: {
    dir: string;
    ca: string;
    capath: string;
    validCert: string;
    validChain: string;
    validKey: string;
    clientCert: string;
    clientChain: string;
    clientKey: string;
    selfSignedCert: string;
    selfSignedKey: string;
    encryptedKey: string;
    encryptedCert: string;
    passphrase: string;
    /** Fingerprints of the `valid` leaf (what the `valid` servers present). */
    validMd5: string;
    validSha1: string;
    validSha256: string;
    /** sha1 fingerprint of the leaf each TLS server presents. */
    sha1: Record<TlsServerName, string>;
  };
  /** Whether ::1 is usable. */
  ipv6: boolean;
}

export const tlsServerSpecs = {
  valid: { cert: "valid" },
  expired: { cert: "expired" },
  notYetValid: { cert: "notYetValid" },
  wrongHost: { cert: "wrongHost" },
  selfSigned: { cert: "selfSigned" },
  untrusted: { cert: "untrusted" },
  noIntermediate: { cert: "noIntermediate" },
  cnOnly: { cert: "cnOnly" },
  wildcard: { cert: "wildcard" },
  ipOnly: { cert: "ipOnly" },
  rsa1024: { cert: "rsa1024" },
  rsa2048: { cert: "rsa2048" },
  clientAuthOnly: { cert: "clientAuthOnly" },
  /** valid, TLS 1.2 only. */
  tls12: { cert: "valid", minVersion: "TLSv1.2", maxVersion: "TLSv1.2" },
  /** valid, TLS 1.3 only. */
  tls13: { cert: "valid", minVersion: "TLSv1.3", maxVersion: "TLSv1.3" },
  /** valid, asks for a client certificate signed by the test root and refuses clients without one. */
  mtls: { cert: "valid", requestCert: true },
  /** valid, ALPN h2 and http/1.1 (server preference: http/1.1 first). */
  alpn: { cert: "valid", alpn: ["http/1.1", "h2"] },
} as const satisfies Record<string, TlsServerSpec>;

export type TlsServerName = keyof typeof tlsServerSpecs;

interface TlsServerSpec {
  cert: "valid" | "expired" | "notYetValid" | "wrongHost" | "selfSigned" | "untrusted" | "noIntermediate" | "cnOnly"
    | "wildcard" | "ipOnly" | "rsa1024" | "rsa2048" | "clientAuthOnly";
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  requestCert?: boolean;
  alpn?: string[];
}

export interface Servers {
  env: Env;
  pki: Pki;
  paths: PkiPaths;
  close(): Promise<void>;
}

/* ------------------------------------------------------------------------------------------------ */

function listenTcp(server: net.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, backlog: 128 }, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function listenPath(server: net.Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function bindUdp(socket: dgram.Socket, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      resolve(socket.address().port);
    });
  });
}

async function hasIpv6(): Promise<boolean> {
  const probe = net.createServer();
  try {
    await listenTcp(probe, "::1");
    return true;
  } catch {
    return false;
  } finally {
    probe.close();
  }
}

function tlsContextOptions(pki: Pki, spec: TlsServerSpec): tls.TlsOptions {
  const issued = pki[spec.cert];
  const options: tls.TlsOptions = { cert: issued.chain, key: issued.key };
  if (spec.minVersion) options.minVersion = spec.minVersion;
  else options.minVersion = "TLSv1.2";
  if (spec.maxVersion) options.maxVersion = spec.maxVersion;
  if (spec.requestCert) {
    options.requestCert = true;
    options.rejectUnauthorized = true;
    options.ca = pki.caBundle + pki.intermediate.cert;
  }
  if (spec.alpn) options.ALPNProtocols = spec.alpn;
  return options;
}

/* ------------------------------------------------------------------------------------------------ */

/** Starts every server, writes the PKI to a temporary directory, and returns the `Env`. */
export async function startServers(): Promise<Servers> {
  const tmp = mkdtempSync(join(tmpdir(), "sockurl-php-"));
  const pki = await makePki();
  const paths = await writePki(join(tmp, "pki"), pki);
  const ipv6 = await hasIpv6();
  const closers: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const track = (server: net.Server): net.Server => {
    server.on("connection", (s: net.Socket) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    server.on("secureConnection", (s: net.Socket) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    server.on("tlsClientError", () => {});
    closers.push(() => server.close());
    return server;
  };

  const echoHandler = (s: net.Socket): void => {
    s.on("error", () => {});
    s.pipe(s);
  };
  // The ::1 servers take ports below the ephemeral range: an IPv4 listener on port 0 could
  // otherwise get the same number, and its name would then read as "{echo6}" in the logs.
  const taken = new Set<number>();
  const echo = await listenTcp(track(net.createServer(echoHandler)), "127.0.0.1");
  const echo6 = ipv6 ? await listenTcp(track(net.createServer(echoHandler)), "::1", await closedPort(taken)) : 0;
  const line = await listenTcp(track(net.createServer((s) => serveLines(s))), "127.0.0.1");
  const mute = await listenTcp(
    track(
      net.createServer((s) => {
        s.on("error", () => {});
        s.resume();
      }),
    ),
    "127.0.0.1",
  );

  const refused = await closedPort(taken);
  const spare = {
    php: [await closedPort(taken), await closedPort(taken)],
    ts: [await closedPort(taken), await closedPort(taken)],
  };

  const stalledServer = await stalledListener("127.0.0.1", 900);
  closers.push(() => stalledServer.close());

  const udpEcho = (family: "udp4" | "udp6") => {
    const s = dgram.createSocket(family);
    s.on("message", (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
    s.on("error", () => {});
    closers.push(() => s.close());
    return s;
  };
  const udp = await bindUdp(udpEcho("udp4"), "127.0.0.1");
  const udp6 = ipv6 ? await bindUdp(udpEcho("udp6"), "::1", await closedPort(taken)) : 0;

  const unixPath = join(tmp, "line.sock");
  await listenPath(track(net.createServer((s) => serveLines(s))), unixPath);

  const udgPath = join(tmp, "reflector.sock");
  const udgSocket = unixDgram.createSocket("unix_dgram");
  const udgSender = unixDgram.createSocket("unix_dgram");
  udgSender.on("error", () => {});
  udgSocket.on("error", () => {});
  udgSocket.on("message", (buf: Buffer) => {
    const nl = buf.indexOf(0x0a);
    if (nl < 0) return;
    const to = buf.subarray(0, nl).toString();
    const payload = buf.subarray(nl + 1);
    udgSender.send(payload, 0, payload.length, to, () => {});
  });
  udgSocket.bind(udgPath);
  closers.push(() => {
    udgSocket.close();
    udgSender.close();
  });

  const smtp = await listenTcp(track(net.createServer(smtpHandler(pki))), "127.0.0.1");
  const dialer = await listenTcp(track(net.createServer(dialerHandler(pki))), "127.0.0.1");

  const tlsPorts = {} as Record<TlsServerName, number>;
  for (const [name, spec] of Object.entries(tlsServerSpecs) as [TlsServerName, TlsServerSpec][]) {
    const server = tls.createServer(tlsContextOptions(pki, spec), (s) => serveLines(s));
    tlsPorts[name] = await listenTcp(track(server), "127.0.0.1");
  }

  const { X509Certificate, createHash } = await import("node:crypto");
  const digestOf = (pem: string, algo: string): string => createHash(algo).update(new X509Certificate(pem).raw).digest("hex");
  const digest = (algo: string): string => digestOf(pki.valid.cert, algo);
  const sha1 = Object.fromEntries(
    (Object.entries(tlsServerSpecs) as [TlsServerName, TlsServerSpec][]).map(([name, spec]) => [name, digestOf(pki[spec.cert].cert, "sha1")]),
  ) as Record<TlsServerName, string>;

  const env: Env = {
    echo,
    echo6,
    line,
    mute,
    refused,
    spare,
    stalled: stalledServer.port,
    udp,
    udp6,
    unixPath,
    udgPath,
    smtp,
    dialer,
    tls: tlsPorts,
    tmp,
    pki: {
      dir: paths.dir,
      ca: paths.caBundle,
      capath: paths.capath ?? "",
      validCert: paths.valid.cert,
      validChain: paths.valid.chain,
      validKey: paths.valid.key,
      clientCert: paths.client.chain,
      clientChain: paths.client.chain,
      clientKey: paths.client.key,
      selfSignedCert: paths.selfSigned.cert,
      selfSignedKey: paths.selfSigned.key,
      encryptedKey: paths.encryptedKey.key,
      encryptedCert: paths.encryptedKey.cert,
      passphrase: pki.encryptedKey.passphrase,
      validMd5: digest("md5"),
      validSha1: digest("sha1"),
      validSha256: digest("sha256"),
      sha1,
    },
    ipv6,
  };

  return {
    env,
    pki,
    paths,
    async close() {
      for (const s of sockets) s.destroy();
      for (const close of closers) {
        try {
          close();
        } catch {
          // already closed
        }
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
