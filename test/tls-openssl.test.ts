/**
 * Interoperability with a TLS peer nobody here wrote: the Debian `openssl` binary (OpenSSL 3.x).
 *
 * - sockurl client → `openssl s_server` (implicit TLS, version pinning, ALPN, client certificates);
 * - `openssl s_client` → sockurl server (verification by openssl, data both ways, TLS 1.2, a refused
 *   TLS 1.1 client that does not disturb accept(), mutual TLS).
 *
 * Everything runs on 127.0.0.1 with the certificate world of test/fixtures/pki.ts written to a
 * temporary directory. Every openssl child is spawned with real pipes and killed in `finally`; every
 * wait is bounded. `.ci/run` installs openssl when it is absent: without it this suite FAILS, it
 * never skips.
 *
 * s_server and s_client are run in their default (non -quiet) modes because those print what the
 * tests check ("ACCEPT", the client certificate's subject, "Verify return code", ALPN). In those modes
 * a line typed on their stdin that starts with a command letter (Q, q, R, r, k, K, c, P, S, …) is a
 * command, so every line sent through their stdin here starts with a lower-case letter that is none.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { connect, listen, SocketError, type Server, type Socket } from "../src/index.js";
import type { ConnectOptions, ListenOptions } from "../src/index.js";
import { makePki, writePki, type Pki, type PkiPaths } from "./fixtures/pki.js";
import { sleep, tempDir, until } from "./helpers.js";

/* ------------------------------------------------------------------------------------------------ */
/* The openssl binary                                                                                 */

/** /usr/bin/openssl, else `openssl` on PATH, else null. */
function findOpenssl(): { bin: string; version: string } | null {
  for (const bin of ["/usr/bin/openssl", "openssl"]) {
    if (bin.startsWith("/") && !existsSync(bin)) continue;
    const r = spawnSync(bin, ["version"], { encoding: "utf8", timeout: 5000 });
    if (r.status === 0 && /OpenSSL/i.test(r.stdout)) return { bin, version: r.stdout.trim() };
  }
  return null;
}

const OPENSSL = findOpenssl();

/** The binary, or a loud failure: this suite must not pass (or skip) without its peer. */
function opensslBin(): string {
  if (OPENSSL === null) {
    throw new Error(
      "the openssl binary is missing (looked for /usr/bin/openssl and openssl on PATH); " +
        ".ci/run installs Debian's openssl package — these interop tests fail rather than skip without it",
    );
  }
  return OPENSSL.bin;
}

/* ------------------------------------------------------------------------------------------------ */
/* A spawned openssl process with captured output                                                     */

type Channel = "stdout" | "stderr";

/** One `openssl …` child: stdin is a pipe we write to, stdout and stderr are collected as text. */
class OpensslPeer {
  readonly args: readonly string[];
  readonly child: ChildProcess;
  readonly out: Record<Channel, string> = { stdout: "", stderr: "" };
  /** Set once the process has exited and its pipes have closed (or it could not be spawned). */
  ended: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | null = null;
  readonly closed: Promise<void>;
  #watchers = new Set<() => void>();

  constructor(args: readonly string[]) {
    this.args = args;
    this.child = spawn(opensslBin(), args, { stdio: ["pipe", "pipe", "pipe"] });
    // Writing after openssl exited gives EPIPE on stdin; that must not crash the test process.
    this.child.stdin!.on("error", () => {});
    for (const channel of ["stdout", "stderr"] as const) {
      const stream = this.child[channel]!;
      stream.setEncoding("latin1");
      stream.on("data", (text: string) => {
        this.out[channel] += text;
        this.#notify();
      });
    }
    this.closed = new Promise<void>((resolve) => {
      this.child.once("error", (error) => {
        this.ended ??= { code: null, signal: null, error };
        this.#notify();
        resolve();
      });
      // "close" comes after the pipes are drained, so all output is in `out` by then.
      this.child.once("close", (code, signal) => {
        this.ended ??= { code, signal };
        this.#notify();
        resolve();
      });
    });
  }

  #notify(): void {
    for (const check of [...this.#watchers]) check();
  }

  /** Resolves with the first match of `pattern` in `channel`; rejects when openssl ends first or after `ms`. */
  waitFor(channel: Channel, pattern: RegExp, ms = 5000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        this.#watchers.delete(check);
      };
      const check = () => {
        const match = pattern.exec(this.out[channel]);
        if (match) {
          finish();
          resolve(match);
        } else if (this.ended) {
          finish();
          reject(new Error(`openssl ${this.args[0]} ended (${this.#endText()}) before ${pattern} appeared on its ${channel}\n${this.transcript()}`));
        }
      };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`openssl ${this.args[0]}: no ${pattern} on its ${channel} within ${ms} ms\n${this.transcript()}`));
      }, ms);
      this.#watchers.add(check);
      check();
    });
  }

  /** Sends text to openssl's stdin (which it forwards to its TLS peer). */
  write(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Waits (at most `ms`) for openssl to exit by itself. */
  async exited(ms = 5000): Promise<NonNullable<OpensslPeer["ended"]>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`openssl ${this.args[0]} did not exit within ${ms} ms\n${this.transcript()}`)), ms);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.ended!;
  }

  /** Kills openssl if it still runs and waits (bounded) until it is gone. */
  async stop(): Promise<void> {
    if (this.ended === null) this.child.kill("SIGKILL");
    await Promise.race([this.closed, sleep(3000)]);
    this.child.stdin?.destroy();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }

  #endText(): string {
    const e = this.ended;
    if (e === null) return "running";
    if (e.error) return `spawn failed: ${e.error.message}`;
    return e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
  }

  /** Command line and the tails of both outputs (base64 blocks dropped), for failure messages. */
  transcript(): string {
    const clean = (text: string) => text.replace(/^[A-Za-z0-9+/=]{40,}\r?\n/gm, "").slice(-4000);
    return `$ openssl ${this.args.join(" ")}\n--- stdout ---\n${clean(this.out.stdout)}\n--- stderr ---\n${clean(this.out.stderr)}`;
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* Per-test cleanup                                                                                   */

/** Things a test opened, undone in reverse order in its `finally`, whatever happened. */
class Scope {
  #undo: Array<() => unknown> = [];

  defer(fn: () => unknown): void {
    this.#undo.push(fn);
  }

  peer(args: readonly string[]): OpensslPeer {
    const peer = new OpensslPeer(args);
    this.defer(() => peer.stop());
    return peer;
  }

  socket(socket: Socket): Socket {
    this.defer(() => socket.destroy());
    return socket;
  }

  server(server: Server): Server {
    this.defer(() => server.close());
    return server;
  }

  async close(): Promise<void> {
    for (const fn of this.#undo.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // cleanup goes on
      }
    }
  }
}

async function scoped(body: (scope: Scope) => Promise<void>): Promise<void> {
  const scope = new Scope();
  try {
    await body(scope);
  } finally {
    await scope.close();
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* Fixtures                                                                                           */

let pki: Pki;
let files: PkiPaths;
let removeDir: (() => void) | undefined;

before(async () => {
  pki = await makePki();
  const dir = tempDir();
  removeDir = dir.cleanup;
  files = await writePki(dir.dir, pki);
});

after(() => removeDir?.());

/** A port that was free a moment ago (openssl cannot be told to bind port 0 and report it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** s_server's certificate options: `valid` (SAN localhost, 127.0.0.1) with its intermediate. */
function serverCertArgs(): string[] {
  return ["-cert", files.valid.cert, "-key", files.valid.key, "-cert_chain", files.intermediate.cert];
}

/**
 * s_server options that make it log the SNI name a client sends ("Hostname in TLS extension: "…"").
 * s_server only looks at SNI when it has a second context, for `-servername`; that one is
 * `wrongHost`'s and is never chosen here (no client asks for other.example), so `valid` is served.
 */
function sniLoggingArgs(): string[] {
  return ["-servername", "other.example", "-cert2", files.wrongHost.cert, "-key2", files.wrongHost.key];
}

/**
 * Starts `openssl s_server` for one connection on 127.0.0.1, on a free port, and waits for its
 * "ACCEPT". The port is probed first, so another process can take it in between: then s_server says
 * "Address already in use" and this tries again with another port.
 */
async function startSServer(scope: Scope, args: readonly string[]): Promise<{ peer: OpensslPeer; port: number; url: (transport?: string) => string }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const peer = scope.peer(["s_server", "-accept", `127.0.0.1:${port}`, "-naccept", "1", ...args]);
    try {
      await peer.waitFor("stdout", /^ACCEPT\r?$/m, 10_000);
      return { peer, port, url: (transport = "tls") => `${transport}://127.0.0.1:${port}` };
    } catch (err) {
      lastError = err;
      await peer.stop();
      if (!/address already in use|unable to bind/i.test(peer.out.stderr)) throw err;
    }
  }
  throw new Error(`openssl s_server found no free port in 5 attempts: ${(lastError as Error).message}`);
}

/** `openssl s_client` to a sockurl server on 127.0.0.1, verifying it against the test root. */
function startSClient(scope: Scope, port: number, extra: readonly string[] = []): OpensslPeer {
  return scope.peer([
    "s_client", "-connect", `127.0.0.1:${port}`,
    "-CAfile", files.caBundle, "-verify_return_error", "-verify_hostname", "localhost",
    "-servername", "localhost",
    // Keep going when stdin has nothing more, and treat no input line as a command.
    "-ign_eof",
    ...extra,
  ]);
}

/** Client options: trust the generated root; every wait bounded. */
function clientOptions(tls: NonNullable<ConnectOptions["tls"]> = {}): ConnectOptions {
  return { timeout: 5000, readTimeout: 5000, tls: { ca: pki.caBundle, ...tls } };
}

/** Runs `fn`, which must fail, and returns what it threw. */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected a failure, but it succeeded");
}

/** The port a sockurl server listens on. */
function portOf(server: Server): number {
  const address = server.address;
  assert.ok("port" in address, `${server.url} is not an inet listener`);
  return address.port;
}

const TEST = { timeout: 30_000 };

/* ------------------------------------------------------------------------------------------------ */

test("the openssl binary is installed (.ci/run installs it; this suite never skips)", (t) => {
  const bin = opensslBin();
  t.diagnostic(`${bin}: ${OPENSSL!.version}`);
  assert.match(OPENSSL!.version, /^OpenSSL [3-9]\./, "OpenSSL 3 or later is expected");
});

describe("sockurl client → openssl s_server", () => {
  test("implicit TLS: the chain verifies against the generated root; bytes flow both ways", TEST, async () => {
    await scoped(async (scope) => {
      const server = await startSServer(scope, [...serverCertArgs(), ...sniLoggingArgs()]);
      const socket = scope.socket(await connect(server.url(), clientOptions()));

      const info = socket.tls;
      assert.ok(info, "a tls:// socket has TlsInfo");
      assert.equal(info.protocol, "TLSv1.3");
      assert.equal(info.authorized, true);
      assert.equal(info.authorizationError, null);
      assert.equal(info.servername, null, "no SNI for an IP target");
      assert.equal(info.peerCertificate?.subject, "CN=localhost");
      assert.match(info.peerCertificate?.issuer ?? "", /CN=sockurl test intermediate CA/);
      assert.deepEqual(info.peerCertificate?.subjectAltNames, ["DNS:localhost", "DNS:sockurl.test", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"]);
      assert.match(info.peerChain[1]?.subject ?? "", /CN=sockurl test intermediate CA/, "s_server sent the intermediate");

      await socket.write("hello from sockurl\n");
      await server.peer.waitFor("stdout", /hello from sockurl\n/);
      assert.doesNotMatch(server.peer.out.stdout, /Hostname in TLS extension/, "no SNI is sent for an IP target");
      // s_server's own view of the connection agrees with ours.
      const cipher = await server.peer.waitFor("stdout", /^CIPHER is (\S+)/m);
      assert.equal(cipher[1], info.cipher);

      server.peer.write("greetings from s_server\n");
      assert.equal(await socket.readLine(), "greetings from s_server");

      await socket.close();
      await server.peer.waitFor("stdout", /CONNECTION CLOSED/);
    });
  });

  test("tls.peerName on an IP target: s_server receives it as SNI, and the name is verified", TEST, async () => {
    await scoped(async (scope) => {
      const server = await startSServer(scope, [...serverCertArgs(), ...sniLoggingArgs()]);
      const socket = scope.socket(await connect(server.url(), clientOptions({ peerName: "localhost" })));
      assert.equal(socket.tls?.servername, "localhost");
      assert.equal(socket.tls?.authorized, true);
      await server.peer.waitFor("stdout", /^Hostname in TLS extension: "localhost"\r?$/m);
      await socket.write("named\n");
      await server.peer.waitFor("stdout", /named\n/);
    });
  });

  describe("version pinning", () => {
    test("s_server -tls1_2 refuses a tlsv1.3:// client with ERR_TLS_HANDSHAKE naming the version problem", TEST, async (t) => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-tls1_2"]);
        const err = await failure(() => connect(server.url("tlsv1.3"), clientOptions()));
        assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
        t.diagnostic(`sockurl said: ${err.message} [reason ${err.reason}]`);
        assert.equal(err.code, "ERR_TLS_HANDSHAKE", err.message);
        assert.equal(err.phase, "tls");
        assert.equal(err.address, server.url("tlsv1.3"));
        assert.match(err.message, /no TLS version in common/);
        assert.match(err.message, /protocol version/i, "the OpenSSL detail is kept");
        assert.equal(err.reason, "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
        // openssl refused it too, for the same reason.
        await server.peer.waitFor("stderr", /unsupported protocol|protocol version/i);
      });
    });

    test("s_server -tls1_2 and a tlsv1.2:// client agree on TLSv1.2", TEST, async () => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-tls1_2"]);
        const socket = scope.socket(await connect(server.url("tlsv1.2"), clientOptions()));
        assert.equal(socket.tls?.protocol, "TLSv1.2");
        assert.equal(socket.tls?.authorized, true);
        const cipher = await server.peer.waitFor("stdout", /^CIPHER is (\S+)/m);
        assert.match(cipher[1]!, /^ECDHE-ECDSA-/, "a TLS 1.2 suite for the ECDSA certificate");
        await socket.write("over tls 1.2\n");
        await server.peer.waitFor("stdout", /over tls 1\.2\n/);
        server.peer.write("ack 1.2\n");
        assert.equal(await socket.readLine(), "ack 1.2");
      });
    });

    test("s_server -tls1_3 and a tlsv1.3:// client agree on TLSv1.3", TEST, async () => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-tls1_3"]);
        const socket = scope.socket(await connect(server.url("tlsv1.3"), clientOptions()));
        assert.equal(socket.tls?.protocol, "TLSv1.3");
        const cipher = await server.peer.waitFor("stdout", /^CIPHER is (\S+)/m);
        assert.match(cipher[1]!, /^TLS_/);
        assert.equal(cipher[1], socket.tls?.cipher);
        await socket.write("over tls 1.3\n");
        await server.peer.waitFor("stdout", /over tls 1\.3\n/);
      });
    });

    test("s_server -tls1_3 refuses a tlsv1.2:// client the same way", TEST, async (t) => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-tls1_3"]);
        const err = await failure(() => connect(server.url("tlsv1.2"), clientOptions()));
        assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
        t.diagnostic(`sockurl said: ${err.message} [reason ${err.reason}]`);
        assert.equal(err.code, "ERR_TLS_HANDSHAKE", err.message);
        assert.equal(err.phase, "tls");
        assert.match(err.message, /no TLS version in common/);
      });
    });
  });

  describe("ALPN", () => {
    test("s_server -alpn h2,http/1.1 selects http/1.1 for a client that offers only http/1.1", TEST, async () => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-alpn", "h2,http/1.1"]);
        const socket = scope.socket(await connect(server.url(), clientOptions({ alpn: ["http/1.1"] })));
        assert.equal(socket.tls?.alpn, "http/1.1");
        await server.peer.waitFor("stdout", /^ALPN protocols advertised by the client: http\/1\.1\r?$/m);
        await server.peer.waitFor("stdout", /^ALPN protocols selected: http\/1\.1\r?$/m);
      });
    });

    test("with both offered, openssl's preference (h2, listed first by the server) wins", TEST, async () => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-alpn", "h2,http/1.1"]);
        const socket = scope.socket(await connect(server.url(), clientOptions({ alpn: ["http/1.1", "h2"] })));
        assert.equal(socket.tls?.alpn, "h2");
        await server.peer.waitFor("stdout", /^ALPN protocols advertised by the client: http\/1\.1, h2\r?$/m);
      });
    });

    test("no protocol in common: s_server answers no_application_protocol (RFC 7301) → ERR_TLS_HANDSHAKE", TEST, async (t) => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, [...serverCertArgs(), "-alpn", "h2,http/1.1"]);
        const err = await failure(() => connect(server.url(), clientOptions({ alpn: ["spdy/3"] })));
        assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
        t.diagnostic(`sockurl said: ${err.message} [reason ${err.reason}]`);
        assert.equal(err.code, "ERR_TLS_HANDSHAKE", err.message);
        assert.equal(err.phase, "tls");
        assert.match(err.message, /no application protocol/);
        assert.equal(err.reason, "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
        await server.peer.waitFor("stdout", /^ALPN protocols advertised by the client: spdy\/3\r?$/m);
      });
    });
  });

  describe("client certificates (s_server -Verify 1)", () => {
    const requireClientCert = (): string[] => [
      ...serverCertArgs(), "-Verify", "1", "-CAfile", files.caBundle, "-verify_return_error",
    ];

    test("a client certificate with its chain is verified by s_server, which logs its subject", TEST, async () => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, requireClientCert());
        const socket = scope.socket(await connect(server.url(), clientOptions({ cert: pki.client.chain, key: pki.client.key })));
        assert.equal(socket.tls?.authorized, true);
        await socket.write("with a certificate\n");
        await server.peer.waitFor("stdout", /with a certificate\n/);
        await server.peer.waitFor("stdout", /^Client certificate\r?$/m);
        await server.peer.waitFor("stdout", /^subject=CN = sockurl client\r?$/m);
        await server.peer.waitFor("stdout", /^issuer=CN = sockurl test intermediate CA/m);
        await server.peer.waitFor("stderr", /^depth=0 CN = sockurl client\r?\nverify return:1/m);
        server.peer.write("welcome, client\n");
        assert.equal(await socket.readLine(), "welcome, client");
      });
    });

    test("tlsv1.2:// without a client certificate: connect() fails with ERR_TLS_HANDSHAKE", TEST, async (t) => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, requireClientCert());
        const err = await failure(() => connect(server.url("tlsv1.2"), clientOptions()));
        assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
        t.diagnostic(`sockurl said: ${err.message} [reason ${err.reason}]`);
        assert.equal(err.code, "ERR_TLS_HANDSHAKE", err.message);
        assert.equal(err.phase, "tls");
        assert.match(err.message, /handshake failure|certificate/i);
        await server.peer.waitFor("stderr", /peer did not return a certificate/i);
      });
    });

    test("tls:// (TLS 1.3) without a client certificate: the refusal surfaces as a SocketError", TEST, async (t) => {
      await scoped(async (scope) => {
        const server = await startSServer(scope, requireClientCert());
        // In TLS 1.3 the client's handshake is complete once it has sent its Finished, before the
        // server has judged the (empty) certificate; openssl's "certificate required" alert can then
        // arrive after connect() resolved, so the refusal may come from connect() or from the first read.
        let where = "connect";
        const err = await failure(async () => {
          const socket = scope.socket(await connect(server.url(), clientOptions()));
          where = "read";
          await socket.readLine();
        });
        assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
        t.diagnostic(`sockurl said (from ${where}): ${err.message} [code ${err.code}, phase ${err.phase}, reason ${err.reason}]`);
        // Either way it is reported as the handshake failure it is, with OpenSSL's alert as reason.
        assert.equal(err.code, "ERR_TLS_HANDSHAKE", err.message);
        assert.equal(err.phase, "tls");
        if (where === "read") assert.equal(err.reason, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
        assert.match(err.message, /certificate required/i);
        await server.peer.waitFor("stderr", /peer did not return a certificate/i);
      });
    });
  });
});

describe("openssl s_client → sockurl server", () => {
  const serverTls = (extra: NonNullable<ListenOptions["tls"]> = {}): ListenOptions => ({
    tls: { cert: pki.valid.chain, key: pki.valid.key, alpn: ["h2", "http/1.1"], handshakeTimeout: 5000, ...extra },
    readTimeout: 5000,
  });

  test("s_client verifies the sockurl server (return code 0); a line each way; ALPN http/1.1", TEST, async () => {
    await scoped(async (scope) => {
      const server = scope.server(await listen("tls://127.0.0.1:0", serverTls()));
      const client = startSClient(scope, portOf(server), ["-alpn", "http/1.1"]);
      const socket = scope.socket(await server.accept({ timeout: 10_000 }));

      await client.waitFor("stdout", /^\s*Verify return code: 0 \(ok\)\r?$/m);
      await client.waitFor("stdout", /^ALPN protocol: http\/1\.1\r?$/m);
      await client.waitFor("stdout", /^New, TLSv1\.3, Cipher is /m);
      assert.equal(socket.tls?.protocol, "TLSv1.3");
      assert.equal(socket.tls?.alpn, "http/1.1");
      assert.equal(socket.tls?.servername, "localhost");
      assert.equal(socket.tls?.peerCertificate, null, "no client certificate was asked for");

      client.write("hello from s_client\n");
      assert.equal(await socket.readLine(), "hello from s_client");
      await socket.write("reply from sockurl\n");
      await client.waitFor("stdout", /reply from sockurl\n/);

      // Our close ends s_client (it ignores its own stdin's EOF, not the server's close_notify).
      await socket.close();
      const ended = await client.exited();
      assert.equal(ended.code, 0, client.transcript());
      assert.equal(server.handshakeFailures, 0);
    });
  });

  test("s_client -tls1_2 works: TLSv1.2 on both sides", TEST, async () => {
    await scoped(async (scope) => {
      const server = scope.server(await listen("tls://127.0.0.1:0", serverTls()));
      const client = startSClient(scope, portOf(server), ["-tls1_2"]);
      const socket = scope.socket(await server.accept({ timeout: 10_000 }));
      assert.equal(socket.tls?.protocol, "TLSv1.2");
      await client.waitFor("stdout", /^\s*Verify return code: 0 \(ok\)\r?$/m);
      await client.waitFor("stdout", /^\s*Protocol\s*: TLSv1\.2\r?$/m);
      client.write("tls 1.2 line\n");
      assert.equal(await socket.readLine(), "tls 1.2 line");
      await socket.write("tls 1.2 reply\n");
      await client.waitFor("stdout", /tls 1\.2 reply\n/);
    });
  });

  test("s_client -tls1_1 is refused (default minimum TLS 1.2) and accept() goes on serving", TEST, async (t) => {
    await scoped(async (scope) => {
      const server = scope.server(await listen("tls://127.0.0.1:0", serverTls()));
      const port = portOf(server);
      // SECLEVEL=0 makes s_client itself willing to offer TLS 1.1, so that the refusal is the server's.
      const old = startSClient(scope, port, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
      const pending = server.accept({ timeout: 15_000 });
      pending.catch(() => {}); // judged below
      const ended = await old.exited(10_000);
      t.diagnostic(`s_client -tls1_1 exit ${ended.code}; it reported: ${/^.*alert.*$/im.exec(old.out.stderr)?.[0] ?? "(no alert line)"}`);
      assert.notEqual(ended.code, 0, "the TLS 1.1 handshake must fail");
      assert.match(old.out.stderr, /alert protocol version/i, `the server refused the version\n${old.transcript()}`);
      assert.doesNotMatch(old.out.stdout, /Cipher is (?!\(NONE\))/, "no cipher was negotiated");
      // The failure was counted, and it never reached accept().
      await until(() => server.handshakeFailures > 0, "the refused handshake counted");
      assert.equal(server.handshakeFailures, 1);

      const good = startSClient(scope, port);
      const socket = scope.socket(await pending);
      assert.equal(socket.tls?.protocol, "TLSv1.3");
      good.write("after the refusal\n");
      assert.equal(await socket.readLine(), "after the refusal", "accept() handed over the good client, not the refused one");
      await good.waitFor("stdout", /^\s*Verify return code: 0 \(ok\)\r?$/m);
    });
  });

  test("mutual TLS: requestCert with ca; s_client -cert client.crt -key client.key is seen and verified", TEST, async () => {
    await scoped(async (scope) => {
      const server = scope.server(await listen("tls://127.0.0.1:0", serverTls({ requestCert: true, ca: pki.caBundle })));
      const client = startSClient(scope, portOf(server), [
        "-cert", files.client.cert, "-key", files.client.key, "-cert_chain", files.intermediate.cert,
      ]);
      const socket = scope.socket(await server.accept({ timeout: 10_000 }));
      const peer = socket.tls?.peerCertificate;
      assert.ok(peer, "the server sees the client certificate");
      assert.match(peer.subject, /sockurl client/);
      assert.equal(peer.subject, "CN=sockurl client");
      assert.match(peer.issuer, /CN=sockurl test intermediate CA/);
      assert.equal(socket.tls?.authorized, true);
      await client.waitFor("stdout", /^\s*Verify return code: 0 \(ok\)\r?$/m);
      await client.waitFor("stdout", /^Acceptable client certificate CA names\r?\nCN = sockurl test root CA/m);
      client.write("mutual hello\n");
      assert.equal(await socket.readLine(), "mutual hello");
      await socket.write("mutual reply\n");
      await client.waitFor("stdout", /mutual reply\n/);
    });
  });

  test("mutual TLS: s_client without a certificate is dropped, and accept() keeps working", TEST, async () => {
    await scoped(async (scope) => {
      const server = scope.server(await listen("tls://127.0.0.1:0", serverTls({ requestCert: true, ca: pki.caBundle })));
      const port = portOf(server);
      const pending = server.accept({ timeout: 15_000 });
      pending.catch(() => {});
      const anonymous = startSClient(scope, port);
      await anonymous.exited(10_000);
      assert.match(anonymous.out.stderr, /certificate required|alert/i, anonymous.transcript());
      await until(() => server.handshakeFailures > 0, "the refused handshake counted");
      assert.equal(server.handshakeFailures, 1);

      const client = startSClient(scope, port, [
        "-cert", files.client.cert, "-key", files.client.key, "-cert_chain", files.intermediate.cert,
      ]);
      const socket = scope.socket(await pending);
      assert.equal(socket.tls?.peerCertificate?.subject, "CN=sockurl client");
      client.write("second try\n");
      assert.equal(await socket.readLine(), "second try");
    });
  });
});
