/**
 * STARTTLS against real servers from Debian ("Proven against real servers"): postfix,
 * dovecot (imap, pop3, lmtp, sieve), slapd, vsftpd, prosody (c2s, s2s), postgresql, mariadb,
 * inn2's nnrpd and inspircd, each started once on 127.0.0.1 with a port of its own, a config file
 * in a temporary directory and the test CA's `valid` certificate.
 *
 * For every protocol, both ways in: `connect(url, { startTls })` and `negotiateStartTls()` on a
 * plaintext socket. Each must verify the server against the test CA (authorized, CN=localhost)
 * and then exchange one real command over TLS (see wire.ts).
 *
 * Nothing is installed here (.ci/run installs the packages) and nothing is skipped: a server that
 * cannot start fails its tests with its log.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { connect, negotiateStartTls, type Socket, type StartTlsProtocol } from "../../src/index.js";
import { makePki, writePki } from "../fixtures/pki.js";
import { makeWorkDir, type RunningServer, type SetupContext } from "./servers/daemon.js";
import { startDovecot } from "./servers/dovecot.js";
import { startInn2 } from "./servers/inn2.js";
import { IRC_SERVER_NAME, startInspircd } from "./servers/inspircd.js";
import { MARIADB_USER, startMariadb } from "./servers/mariadb.js";
import { startPostfix } from "./servers/postfix.js";
import { startPostgres } from "./servers/postgres.js";
import { startProsody } from "./servers/prosody.js";
import { startSlapd } from "./servers/slapd.js";
import { startVsftpd } from "./servers/vsftpd.js";
import * as wire from "./wire.js";

/** Per connection: TCP connect, STARTTLS dialogue and handshake. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Per read over TLS. */
const READ_TIMEOUT_MS = 15_000;
/** Per test: the server's start (which the first test of a server waits for) and both connections. */
const TEST_TIMEOUT_MS = 120_000;

const suiteStarted = performance.now();
const pki = await makePki();
const work = await makeWorkDir();
const files = await writePki(join(work, "pki"), pki);
const ctx: SetupContext = {
  work,
  certFiles: { chain: files.valid.chain, cert: files.valid.cert, key: files.valid.key, ca: files.caBundle },
};

// All servers start at once (they are independent); each test waits for its own.
const starters = {
  postfix: startPostfix,
  dovecot: startDovecot,
  slapd: startSlapd,
  vsftpd: startVsftpd,
  prosody: startProsody,
  postgres: startPostgres,
  mariadb: startMariadb,
  inn2: startInn2,
  inspircd: startInspircd,
} satisfies Record<string, (ctx: SetupContext) => Promise<RunningServer>>;
type ServerName = keyof typeof starters;

const servers = Object.fromEntries(
  Object.entries(starters).map(([name, start]) => {
    const started = start(ctx);
    started.catch(() => {}); // reported by the tests that need it, not as an unhandled rejection
    return [name, started];
  }),
) as Record<ServerName, Promise<RunningServer>>;

after(async () => {
  const failures: string[] = [];
  let keep = Boolean(process.env.SOCKURL_INTEROP_KEEP);
  await Promise.all(Object.entries(servers).map(async ([name, started]) => {
    const server = await started.catch(() => null); // a start failure already stopped its daemons
    if (!server) {
      keep = true; // its logs stay for a look
      return;
    }
    await server.stop().catch((err: unknown) => failures.push(`${name}: ${(err as Error).message}`));
  }));
  if (failures.length === 0 && !keep) await rm(work, { recursive: true, force: true });
  if (failures.length > 0) throw new Error(`servers did not stop cleanly (logs kept in ${work}):\n${failures.join("\n")}`);
});

const tls = { ca: pki.caBundle, peerName: "localhost" };

async function portOf(server: ServerName, service: string): Promise<number> {
  const running = await servers[server];
  const port = running.ports[service];
  assert.ok(port, `${server} has no ${service} port`);
  return port;
}

/** A short line for the test's diagnostics about what the exchange proved. */
function summary(proof: unknown): string {
  const text = Array.isArray(proof) ? `${String(proof[0])} … (${proof.length} lines)`
    : typeof proof === "string" ? proof.replace(/\s+/g, " ")
    : JSON.stringify(proof) ?? "done";
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

/** The certificate was checked against the test CA and names localhost. */
function assertVerified(socket: Socket): void {
  const info = socket.tls;
  assert.ok(info, "the socket is not encrypted");
  assert.equal(info.authorized, true, `not verified: ${info.authorizationError}`);
  assert.equal(info.authorizationError, null);
  assert.ok(info.peerCertificate, "no peer certificate");
  assert.match(info.peerCertificate.subject, /(^|, )CN=localhost(,|$)/, info.peerCertificate.subject);
  assert.match(info.peerCertificate.issuer, /CN=sockurl test intermediate CA/, info.peerCertificate.issuer);
  assert.match(info.protocol, /^TLSv1\.[23]$/);
}

/**
 * Registers two tests for `protocol` on `server`'s `service` port: one through
 * `connect(url, { startTls })`, one through `negotiateStartTls()` on a plaintext socket. Each
 * verifies the certificate, then runs `exchange` over the encrypted socket.
 */
function interop(server: ServerName, protocol: StartTlsProtocol, service: string, exchange: (socket: Socket) => Promise<unknown>): void {
  describe(`${protocol} against ${server}`, () => {
    test(`connect(url, { startTls: "${protocol}" })`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const url = `tcp://127.0.0.1:${await portOf(server, service)}`;
      const socket = await connect(url, { startTls: protocol, tls, timeout: CONNECT_TIMEOUT_MS, readTimeout: READ_TIMEOUT_MS });
      try {
        assert.equal(socket.encrypted, true);
        assertVerified(socket);
        t.diagnostic(`${socket.tls!.protocol} ${socket.tls!.cipher}`);
        t.diagnostic(`over TLS: ${summary(await exchange(socket))}`);
      } finally {
        socket.destroy();
      }
    });

    test(`negotiateStartTls(socket, "${protocol}")`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const url = `tcp://127.0.0.1:${await portOf(server, service)}`;
      const socket = await connect(url, { timeout: CONNECT_TIMEOUT_MS, readTimeout: READ_TIMEOUT_MS });
      try {
        const result = await negotiateStartTls(socket, protocol, { tls, timeout: CONNECT_TIMEOUT_MS });
        assert.equal(result.encrypted, true);
        assert.equal(result.mode, "required");
        assert.equal(result.plaintextReason, null);
        assert.equal(result.protocol, protocol);
        assert.ok(result.transcript.some((e) => e.from === "client"), "the transcript holds what the client sent");
        assert.ok(result.transcript.some((e) => e.from === "server"), "the transcript holds what the server sent");
        assertVerified(socket);
        t.diagnostic(`negotiate ${result.timings.negotiate.toFixed(1)} ms, handshake ${result.timings.handshake.toFixed(1)} ms`);
        t.diagnostic(`over TLS: ${summary(await exchange(socket))}`);
      } finally {
        socket.destroy();
      }
    });
  });
}

test("every server starts", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const results = await Promise.allSettled(Object.values(servers));
  const failed: string[] = [];
  for (const [i, r] of results.entries()) {
    const name = Object.keys(servers)[i]!;
    if (r.status === "fulfilled") t.diagnostic(`${name}: ports ${JSON.stringify(r.value.ports)}, listening after ${Math.round(r.value.startedInMs)} ms`);
    else failed.push(`${name}: ${(r.reason as Error).message}`);
  }
  t.diagnostic(`all settled ${Math.round(performance.now() - suiteStarted)} ms after the suite began (PKI included)`);
  if (failed.length > 0) assert.fail(`servers that did not start (work directory ${work}):\n${failed.join("\n\n")}`);
});

interop("postfix", "smtp", "smtp", (s) => wire.smtpHello(s, "EHLO"));
interop("dovecot", "lmtp", "lmtp", (s) => wire.smtpHello(s, "LHLO"));
interop("dovecot", "imap", "imap", wire.imapCapability);
interop("dovecot", "pop3", "pop3", wire.pop3Capa);
interop("dovecot", "sieve", "sieve", wire.sieveCapability);
interop("slapd", "ldap", "ldap", wire.ldapWhoAmI);
interop("vsftpd", "ftp", "ftp", wire.ftpFeat);
interop("prosody", "xmpp", "xmpp", (s) => wire.xmppRestart(s, "jabber:client"));
interop("prosody", "xmpp-server", "xmpp-server", (s) => wire.xmppRestart(s, "jabber:server"));
interop("postgres", "postgres", "postgres", wire.postgresStartup);
interop("mariadb", "mysql", "mysql", (s) => wire.mysqlLogin(s, MARIADB_USER));
interop("inn2", "nntp", "nntp", wire.nntpCapabilities);
interop("inspircd", "irc", "irc", (s) => wire.ircRegister(s, IRC_SERVER_NAME));
