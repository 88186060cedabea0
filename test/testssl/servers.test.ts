/**
 * testssl.sh (Debian's `testssl.sh` package; a scanner nobody here wrote) against sockurl's TLS
 * servers on 127.0.0.1:
 *
 * - `sockurl listen tls://127.0.0.1:0`, the CLI with its throwaway self-signed ECDSA certificate;
 * - a library `listen("tls://…")` server with a CA-signed RSA-2048 certificate (leaf + intermediate);
 * - the same with a CA-signed ECDSA P-256 certificate.
 *
 * Only the checks that judge a server's configuration run (protocols, cipher categories, forward
 * secrecy, server defaults and certificate, vulnerabilities including renegotiation), with short
 * timeouts, so a run takes one to two minutes. Every finding whose severity is above OK/INFO,
 * or whose text says VULNERABLE or NOT ok, fails the test, except the ones in ALLOWED below: each is
 * inherent to a test certificate (or to the scanner's own openssl), not to the server's TLS
 * configuration. The CA-signed servers are scanned with the test root added (`--add-ca`), so their
 * chain of trust is really checked.
 *
 * `.ci/run` installs testssl.sh when it is absent: without it this suite FAILS, it never skips.
 * `SOCKURL_TESTSSL_KEEP=1` keeps the JSON and text reports (their directory is printed).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "../../src/index.js";
import { killAll, serveEach, startListener } from "../cli-helpers.js";
import { makePki, type Issued, type Pki } from "../fixtures/pki.js";
import { tempDir } from "../helpers.js";

/** Which of the scanned servers an allowed finding applies to. */
type Target = "cli-throwaway" | "library-rsa" | "library-ecdsa";
const ALL: readonly Target[] = ["cli-throwaway", "library-rsa", "library-ecdsa"];

/**
 * Findings that may be above OK without failing, by testssl.sh finding id, with the servers they
 * are allowed for and why. Anything not listed here fails the suite.
 */
const ALLOWED: Record<string, { targets: readonly Target[]; why: string; finding?: RegExp }> = {
  // The scanner's own openssl (Debian's OpenSSL 3) has no GOST engine: a note about the scanner.
  engine_problem: { targets: ALL, why: "the scanner's openssl lacks the GOST engine (WARN about testssl.sh itself)" },
  // Test certificates name no CRL distribution point and no OCSP responder: there is no CA
  // infrastructure to point at. A public CA's certificate carries them; the server cannot add them.
  cert_revocation: { targets: ALL, why: "test certificates carry neither a CRL URI nor an OCSP URI" },
  // The CLI's certificate is self-signed by design (its fingerprint is printed for pinning).
  cert_chain_of_trust: { targets: ["cli-throwaway"], why: "the CLI's throwaway certificate is self-signed by design" },
  // The CLI's throwaway certificate lives 30 days: testssl.sh flags anything under 30 (HIGH) or
  // 60 days left as "expires soon". A certificate property, not the server's.
  cert_expirationStatus: { targets: ["cli-throwaway"], why: "the throwaway certificate is valid for 30 days only" },
  cert_notAfter: { targets: ["cli-throwaway"], why: "the same 30-day validity, reported as the notAfter date" },
  // testssl.sh resumes a session with two `openssl s_client </dev/null` runs; the first exits right
  // after its handshake, and on a busy machine it can go before the server's TLS 1.3 ticket has
  // arrived, leaving no session to resume ("connect problem", WARN). A race in the scanner's
  // measurement, not a property of the server: allowed with exactly that text only.
  sessionresumption_ticket: { targets: ALL, why: "the scanner's ticket race on a busy machine", finding: /^check failed because of connect problem$/ },
  sessionresumption_ID: { targets: ALL, why: "the same race for session IDs", finding: /^check failed because of connect problem$/ },
};

/** Severities that are fine without an allow-list entry. */
const FINE = new Set(["OK", "INFO", "DEBUG"]);

/** Ids every complete scan reports: without them the scan did not run what this suite relies on. */
const EXPECTED_IDS = [
  "SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cipherlist_NULL",
  "cipherlist_AVERAGE", "cipherlist_STRONG", "PFS", "secure_renego", "secure_client_renego", "ROBOT", "LUCKY13", "cert_chain_of_trust",
];

interface Finding {
  id: string;
  ip: string;
  port: string;
  severity: string;
  finding: string;
}

/** testssl.sh on PATH (Debian installs /usr/bin/testssl), or null. */
function findTestssl(): string | null {
  for (const bin of ["/usr/bin/testssl", "testssl", "testssl.sh"]) {
    if (bin.startsWith("/") && !existsSync(bin)) continue;
    const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
    if (/testssl/i.test(`${r.stdout}${r.stderr}`)) return bin;
  }
  return null;
}

let testssl: string | null;
let pki: Pki;
let dir: string;
let cleanup = (): void => {};
let rootFile: string;
const keep = process.env.SOCKURL_TESTSSL_KEEP === "1";

before(async () => {
  testssl = findTestssl();
  pki = await makePki();
  const scratch = tempDir();
  dir = scratch.dir;
  cleanup = scratch.cleanup;
  rootFile = join(dir, "root.pem");
  writeFileSync(rootFile, pki.caBundle);
});

after(() => {
  killAll();
  if (keep) process.stderr.write(`testssl.sh reports kept in ${dir}\n`);
  else cleanup();
});

/** Runs testssl.sh against 127.0.0.1:port and returns its JSON findings (and its text output on failure). */
async function scan(name: Target, port: number, addCa: string | null): Promise<{ findings: Finding[]; text: string }> {
  assert.ok(testssl !== null, "testssl.sh is not installed: .ci/run installs Debian's testssl.sh package (apt-get install testssl.sh)");
  const json = join(dir, `${name}.json`);
  rmSync(json, { force: true });
  const args = [
    "--quiet", "--color", "0", "--warnings", "off",
    // An IP literal, and never a DNS query (rDNS, CAA): the machine may have no resolver.
    "--nodns", "none",
    // Bounded waits: a stuck handshake costs seconds, not the test's whole budget.
    "--connect-timeout", "10", "--openssl-timeout", "10",
    // Not --fast: it tests suites through the local openssl, which lacks some (RC4), and skips checks.
    "--jsonfile", json,
    ...(addCa === null ? [] : ["--add-ca", addCa]),
    // protocols, standard cipher categories, forward secrecy, server defaults + certificate, vulnerabilities (includes -R).
    "-p", "-s", "-f", "-S", "-U",
    `127.0.0.1:${port}`,
  ];
  const child = spawn(testssl!, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TERM: "dumb" } });
  let text = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (text += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (text += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
  const code = await new Promise<number | string>((resolve) => child.once("close", (c, s) => resolve(c ?? s ?? -1)));
  clearTimeout(timer);
  writeFileSync(join(dir, `${name}.txt`), text);
  assert.ok(existsSync(json), `testssl.sh wrote no JSON (exit ${code}):\n${text}`);
  const findings = JSON.parse(readFileSync(json, "utf8")) as Finding[];
  assert.ok(Array.isArray(findings), `testssl.sh JSON is not a list of findings:\n${text}`);
  return { findings, text };
}

/** Fails with every finding above OK/INFO (or saying VULNERABLE / NOT ok) that ALLOWED does not list for `name`. */
function judge(name: Target, { findings, text }: { findings: Finding[]; text: string }): void {
  const ids = new Set(findings.map((f) => f.id));
  const missing = EXPECTED_IDS.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], `the scan of ${name} is incomplete (missing ${missing.join(", ")}):\n${text}`);
  const bad = findings.filter((f) => {
    // "not vulnerable" is fine; "VULNERABLE", "potentially vulnerable" and "NOT ok" are not.
    const flagged = !FINE.has(f.severity) || /(?<!not )vulnerable/i.test(f.finding) || /NOT ok/.test(f.finding);
    const allowed = ALLOWED[f.id];
    return flagged && !(allowed !== undefined && allowed.targets.includes(name) && (allowed.finding?.test(f.finding) ?? true));
  });
  assert.deepEqual(bad.map((f) => `${f.id} ${f.severity}: ${f.finding}`), [],
    `testssl.sh findings on ${name} (add to ALLOWED only what a test certificate causes):\n${text}`);
  // The points the server defaults exist for, checked by name so that a change in testssl's
  // severities cannot hide them.
  const finding = (id: string) => findings.find((f) => f.id === id)?.finding ?? "";
  assert.match(finding("secure_client_renego"), /not vulnerable/i, "client-initiated renegotiation");
  // testssl.sh 3.0 files AES/ARIA/Camellia CBC suites under "AVERAGE" ("Obsolete CBC ciphers").
  assert.match(finding("cipherlist_AVERAGE"), /not offered/i, "CBC suites");
  assert.match(finding("PFS"), /^offered/i, "forward secrecy");
  // testssl.sh 3.0 rates static-RSA key exchange as fine where the server is not ROBOT-vulnerable
  // and CCM8 as strong: this suite checks them itself. ROBOT says whether any RSA key transport
  // suite is offered at all; every forward-secret suite offered must be one of the defaults.
  assert.match(finding("ROBOT"), /no RSA key transport cipher/i, "static RSA key exchange must not be offered");
  const offered = finding("PFS_ciphers").split(/\s+/).filter((c) => c !== "");
  assert.ok(offered.length > 0, "PFS_ciphers lists the offered suites");
  const aead = /^(TLS_AES_(128_GCM_SHA256|256_GCM_SHA384)|TLS_CHACHA20_POLY1305_SHA256|ECDHE-(RSA|ECDSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305))$/;
  assert.deepEqual(offered.filter((c) => !aead.test(c)), [], "only ECDHE + AEAD suites (no CBC, no CCM8)");
  assert.match(finding("TLS1_3"), /offered/i);
}

/**
 * A library echo server. It keeps each connection open until the client ends it: testssl.sh's
 * renegotiation check (`echo R | openssl s_client`) counts a server that closes first as "not
 * vulnerable", so a server that answered and closed would pass that check whatever its settings.
 */
async function libraryServer(leaf: Issued): Promise<Server> {
  return serveEach("tls://127.0.0.1:0", async (s) => {
    for await (const chunk of s) await s.write(chunk);
    await s.close();
  }, { tls: { cert: leaf.chain, key: leaf.key } });
}

const portOf = (s: Server) => ("port" in s.address ? s.address.port : 0);

test("testssl.sh is installed (.ci/run installs it)", () => {
  assert.ok(testssl !== null, "testssl.sh is not installed: .ci/run installs Debian's testssl.sh package (apt-get install testssl.sh)");
});

test("sockurl listen tls:// (throwaway self-signed certificate): no finding beyond the allowed ones", { timeout: 300_000 }, async () => {
  const cli = await startListener(["tls://127.0.0.1:0"]);
  try {
    const port = Number(new URL(cli.url.replace(/^tls:/, "http:")).port);
    judge("cli-throwaway", await scan("cli-throwaway", port, null));
  } finally {
    cli.kill();
  }
});

test("library server, CA-signed RSA-2048 certificate: no finding beyond the allowed ones", { timeout: 300_000 }, async () => {
  const server = await libraryServer(pki.rsa2048);
  try {
    judge("library-rsa", await scan("library-rsa", portOf(server), rootFile));
  } finally {
    await server.close();
  }
});

test("library server, CA-signed ECDSA P-256 certificate: no finding beyond the allowed ones", { timeout: 300_000 }, async () => {
  const server = await libraryServer(pki.valid);
  try {
    judge("library-ecdsa", await scan("library-ecdsa", portOf(server), rootFile));
  } finally {
    await server.close();
  }
});
