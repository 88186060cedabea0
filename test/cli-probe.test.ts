/**
 * `sockurl probe`, spawned as built, against library servers presenting the test PKI's
 * certificates: --json fields and exit codes, the human report, STARTTLS transcripts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { listen, type ListenOptions, type Server, type Socket } from "../src/index.js";
import type { Issued } from "./fixtures/pki.js";
import { cliWorld, oneLine, runCli, serveEach } from "./cli-helpers.js";

const world = cliWorld();

const serve = (target: string, options: ListenOptions, fn: (s: Socket) => Promise<void> = (s) => s.close()): Promise<Server> =>
  serveEach(target, fn, options);

const tlsServer = (leaf: Issued) => serve("tls://127.0.0.1:0", { tls: { cert: leaf.chain, key: leaf.key } });
const portOf = (s: Server) => ("port" in s.address ? s.address.port : 0);

interface Report {
  target: string; transport: string; host: string; port: number; peerName: string; starttls: string | null;
  connected: boolean; verified: boolean | null; resolved: Array<{ address: string; family: number }>;
  remote: { host: string; port: number; family: string } | null; local: { host: string; port: number } | null;
  timings: Record<"resolve" | "connect" | "starttls" | "tls" | "total", number | null>;
  tls: { protocol: string; cipher: string; alpn: string | null } | null;
  verification: { result: string; reason: string | null; message: string | null };
  chain: Array<{ subject: string; issuer: string; subjectAltNames: string[]; validFrom: string; validTo: string; daysLeft: number;
    expired: boolean; keyType: string; keyBits: number; isCA: boolean; fingerprints: { sha256: string; sha1: string }; spkiSha256: string }>;
  transcript: Array<{ from: string; text: string }> | null;
  error: { code: string; reason: string | null; message: string } | null;
}

/** A line of the human report: the label padded to the value column (18), then the value. */
const row = (label: string, value: string) => new RegExp(`^${label.padEnd(18)}${value}$`, "m");

const HEX_SHA256 = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

test("probe --json on a verified TLS server: one JSON object with every field, exit 0", { timeout: 20_000 }, async () => {
  const server = await tlsServer(world.pki.valid);
  try {
    const url = `tls://localhost:${portOf(server)}`;
    const r = await runCli(["probe", "--json", "--ca", world.caFile, url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const report = JSON.parse(r.stdout) as Report;
    assert.deepEqual(Object.keys(report), ["target", "transport", "host", "port", "path", "peerName", "starttls", "connected", "verified",
      "resolved", "remote", "local", "timings", "tls", "verification", "chain", "transcript", "error"]);
    assert.equal(report.target, url);
    assert.equal(report.transport, "tls");
    assert.equal(report.peerName, "localhost");
    assert.equal(report.connected, true);
    assert.equal(report.verified, true);
    assert.deepEqual(report.verification, { result: "ok", reason: null, message: null });
    assert.ok(report.resolved.some((a) => a.address === "127.0.0.1" && a.family === 4), JSON.stringify(report.resolved));
    assert.equal(report.remote!.host, "127.0.0.1");
    assert.equal(report.remote!.port, portOf(server));
    assert.equal(report.tls!.protocol, "TLSv1.3");
    assert.match(report.tls!.cipher, /^TLS_/);
    const { resolve, connect, starttls, tls, total } = report.timings;
    for (const t of [resolve, connect, tls, total]) assert.ok(typeof t === "number" && t >= 0, JSON.stringify(report.timings));
    assert.equal(starttls, null);
    assert.ok(total! >= connect! + tls!);
    assert.equal(report.chain.length, 2, "leaf and intermediate, as sent");
    const [leaf, intermediate] = report.chain;
    assert.equal(leaf!.subject, "CN=localhost");
    assert.equal(leaf!.issuer, "CN=sockurl test intermediate CA, O=sockurl tests");
    assert.ok(leaf!.subjectAltNames.includes("DNS:localhost"));
    assert.ok(leaf!.daysLeft >= 88 && leaf!.daysLeft <= 90, String(leaf!.daysLeft));
    assert.equal(leaf!.expired, false);
    assert.equal(leaf!.keyType, "ec");
    assert.equal(leaf!.keyBits, 256);
    assert.equal(leaf!.isCA, false);
    assert.match(leaf!.fingerprints.sha256, HEX_SHA256);
    assert.match(leaf!.fingerprints.sha1, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    assert.match(leaf!.spkiSha256, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(new Date(leaf!.validTo).toISOString(), leaf!.validTo);
    assert.equal(intermediate!.isCA, true);
    assert.equal(report.transcript, null);
    assert.equal(report.error, null);
  } finally {
    await server.close();
  }
});

test("probe on an expired certificate: verification FAILED with the reason, chain still shown, exit 1", { timeout: 20_000 }, async () => {
  const server = await tlsServer(world.pki.expired);
  try {
    const url = `tls://127.0.0.1:${portOf(server)}`;
    const r = await runCli(["probe", "--json", "--ca", world.caFile, url]);
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^sockurl: ERR_TLS_CERT: .*expired.* — use --ca FILE, --fingerprint, or --insecure for testing$/);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.connected, true);
    assert.equal(report.verified, false);
    assert.equal(report.verification.result, "failed");
    assert.equal(report.verification.reason, "CERT_HAS_EXPIRED");
    assert.equal(report.verification.message, "the certificate has expired");
    assert.equal(report.error!.code, "ERR_TLS_CERT");
    assert.equal(report.chain[0]!.expired, true);
    assert.equal(report.chain[0]!.daysLeft, -1);
    assert.equal(report.tls!.protocol, "TLSv1.3");
    // The human report says the same.
    const human = await runCli(["probe", "--ca", world.caFile, url]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, row("verification", "FAILED \\(CERT_HAS_EXPIRED: the certificate has expired\\)"));
    assert.match(human.stdout, /^ +valid +\S+ \S+ UTC → \S+ \S+ UTC \(EXPIRED 1 day ago\)$/m);
  } finally {
    await server.close();
  }
});

test("probe without the CA, and on a wrong host name: FAILED with each reason, exit 1", { timeout: 20_000 }, async () => {
  const valid = await tlsServer(world.pki.valid);
  const wrong = await tlsServer(world.pki.wrongHost);
  try {
    const untrusted = await runCli(["probe", "--json", `tls://127.0.0.1:${portOf(valid)}`]);
    assert.equal(untrusted.code, 1);
    const a = JSON.parse(untrusted.stdout) as Report;
    assert.equal(a.verified, false);
    assert.match(a.verification.reason!, /ISSUER|LOCALLY|SELF_SIGNED|UNABLE/);
    assert.equal(a.chain.length, 2);
    const misnamed = await runCli(["probe", "--json", "--ca", world.caFile, `tls://127.0.0.1:${portOf(wrong)}`]);
    assert.equal(misnamed.code, 1);
    const b = JSON.parse(misnamed.stdout) as Report;
    assert.equal(b.verification.reason, "ERR_TLS_CERT_ALTNAME_INVALID");
    assert.match(b.verification.message!, /not valid for 127\.0\.0\.1/);
    assert.deepEqual(b.chain[0]!.subjectAltNames, ["DNS:other.example"]);
  } finally {
    await valid.close();
    await wrong.close();
  }
});

test("probe human output: aligned and plain when piped; NO_COLOR wins over FORCE_COLOR; FORCE_COLOR colours", { timeout: 20_000 }, async () => {
  const server = await tlsServer(world.pki.valid);
  try {
    const url = `tls://127.0.0.1:${portOf(server)}`;
    const r = await runCli(["probe", "--ca", world.caFile, url]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\x1b\[/);
    for (const line of [
      row("target", url.replace(/[.]/g, "\\.")),
      row("resolved", "127\\.0\\.0\\.1"),
      row("connected", "127\\.0\\.0\\.1:\\d+ from 127\\.0\\.0\\.1:\\d+"),
      row("timings", "connect [\\d.]+ ms, tls [\\d.]+ ms, total [\\d.]+ ms"),
      row("protocol", "TLSv1\\.3"),
      row("cipher", "TLS_\\w+"),
      row("verification", "OK"),
      /^certificate chain \(2, as the server sent it\)$/m,
      /^\[0\] CN=localhost$/m,
      row("    SANs", "DNS:localhost, DNS:sockurl\\.test, IP Address:127\\.0\\.0\\.1.*"),
      row("    valid", "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC → \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\(\\d+ days left\\)"),
      row("    key", "ec 256 bits"),
      row("    sha256", "([0-9A-F]{2}:){31}[0-9A-F]{2}"),
      /^\[1\] CN=sockurl test intermediate CA, O=sockurl tests$/m,
      row("    key", "ec 256 bits, CA"),
    ]) assert.match(r.stdout, line);
    const noColour = await runCli(["probe", "--ca", world.caFile, url], { env: { NO_COLOR: "1", FORCE_COLOR: "1" } });
    assert.doesNotMatch(noColour.stdout, /\x1b\[/);
    const coloured = await runCli(["probe", "--ca", world.caFile, url], { env: { FORCE_COLOR: "1" } });
    assert.match(coloured.stdout, /\x1b\[32mOK\x1b\[39m/);
  } finally {
    await server.close();
  }
});

/** SMTP with STARTTLS (or without, when `offer` is false). */
function smtp(offer: boolean) {
  return serve("tcp://127.0.0.1:0", {}, async (s) => {
    s.readTimeout = 10_000;
    await s.write("220 probe-test ESMTP\r\n");
    for (let line; (line = await s.readLine()) !== null; ) {
      if (/^EHLO /i.test(line)) await s.write(offer ? "250-probe-test\r\n250 STARTTLS\r\n" : "250 probe-test\r\n");
      else if (/^STARTTLS$/i.test(line)) {
        await s.write("220 ready\r\n");
        await s.startTls({ server: true, cert: world.pki.valid.chain, key: world.pki.valid.key });
      } else await s.write("250 ok\r\n");
    }
    await s.close();
  });
}

test("probe --starttls smtp: the transcript, STARTTLS and TLS timings, verified chain", { timeout: 20_000 }, async () => {
  const server = await smtp(true);
  try {
    const url = `tcp://localhost:${portOf(server)}`;
    const r = await runCli(["probe", "--json", "--starttls", "smtp", "--ca", world.caFile, url]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.starttls, "smtp");
    assert.equal(report.verified, true);
    assert.equal(report.peerName, "localhost");
    assert.ok(typeof report.timings.starttls === "number" && typeof report.timings.tls === "number");
    assert.deepEqual(report.transcript!.map((t) => `${t.from === "server" ? "S" : "C"}: ${t.text}`), [
      "S: 220 probe-test ESMTP", "C: EHLO localhost", "S: 250-probe-test", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 ready",
    ]);
    assert.equal(report.chain[0]!.subject, "CN=localhost");
    const human = await runCli(["probe", "--starttls", "smtp", "--ca", world.caFile, url]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, row("target", "tcp://localhost:\\d+ \\(STARTTLS smtp\\)"));
    assert.match(human.stdout, /^timings .*starttls [\d.]+ ms, tls [\d.]+ ms/m);
    assert.match(human.stdout, /^starttls transcript\n {4}S: 220 probe-test ESMTP\n {4}C: EHLO localhost\n/m);
  } finally {
    await server.close();
  }
});

test("probe --starttls against a server that does not offer it: the transcript and ERR_STARTTLS_UNSUPPORTED, exit 1", { timeout: 20_000 }, async () => {
  const server = await smtp(false);
  try {
    const r = await runCli(["probe", "--json", "--starttls", "smtp", server.url]);
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^sockurl: ERR_STARTTLS_UNSUPPORTED: .*does not offer STARTTLS/);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.connected, true);
    assert.equal(report.verified, false);
    assert.equal(report.tls, null);
    assert.equal(report.error!.code, "ERR_STARTTLS_UNSUPPORTED");
    assert.deepEqual(report.transcript!.map((t) => t.text), ["220 probe-test ESMTP", "EHLO localhost", "250 probe-test"]);
  } finally {
    await server.close();
  }
});

test("probe of a plaintext tcp:// server: connected, nothing to verify (verified null), exit 0", { timeout: 20_000 }, async () => {
  const server = await serve("tcp://127.0.0.1:0", {});
  try {
    const r = await runCli(["probe", "--json", server.url]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.connected, true);
    assert.equal(report.verified, null);
    assert.equal(report.tls, null);
    assert.deepEqual(report.verification, { result: "none", reason: null, message: null });
    assert.equal(report.timings.resolve, null, "an IP literal is not resolved");
    assert.deepEqual(report.resolved, [{ address: "127.0.0.1", family: 4 }]);
  } finally {
    await server.close();
  }
});

test("probe --json of a refused port: connected false with the error, exit 1", { timeout: 20_000 }, async () => {
  const server = await listen("tcp://127.0.0.1:0");
  const url = server.url.replace("tcp://", "tls://");
  await server.close();
  const r = await runCli(["probe", "--json", url]);
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /^sockurl: ECONNREFUSED: /);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.connected, false);
  assert.equal(report.verified, false);
  assert.equal(report.error!.code, "ECONNREFUSED");
  assert.deepEqual(report.chain, []);
});
