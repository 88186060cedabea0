/**
 * TLS clients (ssl://, tls://) and every verification case of the `ssl` context: chains (expired,
 * not yet valid, self-signed, untrusted, missing intermediate, weak key, wrong purpose), names
 * (SAN, CN-only, wildcards, IP, peer_name), cafile/capath, verify_peer(_name), allow_self_signed,
 * peer_fingerprint (string, array, mismatch, invalid), capture_peer_cert(_chain), client
 * certificates, SNI, ALPN, ciphers.
 */
import type { Env } from "../servers.js";
import type { Differs, Group, Log, Scenario, Twin } from "../harness.js";
import { ask, client } from "./common.js";

/**
 * The PHP side of every case: connect with an `ssl` context; on success ask the server for INFO
 * (SNI, ALPN, version, client certificate) and record the crypto metadata.
 */
const PHP_TLS = `
function tls_client(string $url, array $ssl, $timeout = 2) {
    $fp = client($url, $timeout, stream_context_create(['ssl' => $ssl]));
    if ($fp !== false) {
        ask($fp, 'INFO', 'info');
        rec('crypto', stream_get_meta_data($fp)['crypto'] ?? null);
    }
    return $fp;
}
`;

async function tlsClient(t: Twin, url: string, ssl: Record<string, unknown>, timeout = 2): Promise<unknown> {
  const fp = await client(t, url, timeout, t.php.stream_context_create({ ssl }));
  if (fp !== false) {
    await ask(t, fp, "INFO", "info");
    const meta = t.php.stream_get_meta_data(fp) as Record<string, unknown>;
    t.rec("crypto", meta.crypto ?? null);
  }
  return fp;
}

/**
 * One case: `url` and `ssl` are written once per language. `phpSsl` is PHP array syntax using $E;
 * `tsSsl` builds the same options from env.
 */
function tlsCase(name: string, phpUrl: string, phpSsl: string, tsUrl: (e: Env) => string, tsSsl: (e: Env) => Record<string, unknown>): Scenario {
  return {
    name,
    php: PHP_TLS + `tls_client(${phpUrl}, ${phpSsl});`,
    async ts(t) {
      await tlsClient(t, tsUrl(t.env), tsSsl(t.env));
    },
  };
}

const url = (server: keyof Env["tls"], host = "127.0.0.1", scheme = "ssl") => ({
  php: `"${scheme}://${host}:{$E['tls']['${server}']}"`,
  ts: (e: Env) => `${scheme}://${host}:${e.tls[server]}`,
});

function caseOn(name: string, server: keyof Env["tls"], phpSsl: string, tsSsl: (e: Env) => Record<string, unknown>, opts: { host?: string; scheme?: string } = {}): Scenario {
  const u = url(server, opts.host, opts.scheme);
  const scenario = tlsCase(name, u.php, phpSsl, u.ts, tsSsl);
  const ipSni = /^[\d.]+$|:/.test(opts.host ?? "127.0.0.1") && !phpSsl.includes("'peer_name'") && !phpSsl.includes("'SNI_enabled'");
  return ipSni ? { ...scenario, differs: NO_SNI_FOR_IP } : scenario;
}

/**
 * PHP sends an IP literal as SNI (`ssl://127.0.0.1` → server name "127.0.0.1"); sockurl/php sends
 * SNI for DNS names only. The server's INFO line shows what it received.
 */
export const NO_SNI_FOR_IP: Differs = {
  reason: "sockurl/php sends SNI only for DNS names (RFC 6066 forbids IP literals there; docs/php.md); PHP sends the IP address",
  expect: (php: Log): Log =>
    php.map((e) =>
      "step" in e && typeof e.value === "string" && /^sni=[\d.]+ /.test(e.value) ? { step: e.step, value: e.value.replace(/^sni=[\d.]+ /, "sni=- ") } : e,
    ),
};

export const tlsVerify: Group = {
  name: "tls-verify",
  scenarios: [
    caseOn("valid chain, cafile", "valid", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("valid chain, capath", "valid", `['capath' => $E['pki']['capath']]`, (e) => ({ capath: e.pki.capath })),
    caseOn("tls:// to localhost sends SNI", "valid", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca }), { host: "localhost", scheme: "tls" }),
    caseOn("SNI_enabled false", "valid", `['cafile' => $E['pki']['ca'], 'SNI_enabled' => false]`, (e) => ({ cafile: e.pki.ca, SNI_enabled: false }), { host: "localhost" }),
    caseOn("peer_name sets SNI and the checked name", "valid", `['cafile' => $E['pki']['ca'], 'peer_name' => 'sockurl.test']`, (e) => ({ cafile: e.pki.ca, peer_name: "sockurl.test" })),
    caseOn("peer_name that the certificate lacks", "valid", `['cafile' => $E['pki']['ca'], 'peer_name' => 'nope.example']`, (e) => ({ cafile: e.pki.ca, peer_name: "nope.example" })),
    caseOn("expired", "expired", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("not yet valid", "notYetValid", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("wrong host", "wrongHost", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("wrong host, peer_name matches it", "wrongHost", `['cafile' => $E['pki']['ca'], 'peer_name' => 'other.example']`, (e) => ({ cafile: e.pki.ca, peer_name: "other.example" })),
    caseOn("wrong host, verify_peer_name false", "wrongHost", `['cafile' => $E['pki']['ca'], 'verify_peer_name' => false]`, (e) => ({ cafile: e.pki.ca, verify_peer_name: false })),
    caseOn("self-signed, not trusted", "selfSigned", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("self-signed, allow_self_signed", "selfSigned", `['cafile' => $E['pki']['ca'], 'allow_self_signed' => true]`, (e) => ({ cafile: e.pki.ca, allow_self_signed: true })),
    caseOn("self-signed as its own cafile", "selfSigned", `['cafile' => $E['pki']['selfSignedCert']]`, (e) => ({ cafile: e.pki.selfSignedCert })),
    caseOn("self-signed, verify_peer false (names still checked)", "selfSigned", `['verify_peer' => false]`, () => ({ verify_peer: false })),
    caseOn("wrong host, verify_peer false", "wrongHost", `['verify_peer' => false]`, () => ({ verify_peer: false })),
    caseOn("wrong host, verify_peer and verify_peer_name false", "wrongHost", `['verify_peer' => false, 'verify_peer_name' => false]`, () => ({ verify_peer: false, verify_peer_name: false })),
    caseOn("untrusted root", "untrusted", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("allow_self_signed does not help an untrusted chain", "untrusted", `['cafile' => $E['pki']['ca'], 'allow_self_signed' => true]`, (e) => ({ cafile: e.pki.ca, allow_self_signed: true })),
    caseOn("missing intermediate", "noIntermediate", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("CN only, no SAN: the CN is checked", "cnOnly", `['cafile' => $E['pki']['ca'], 'peer_name' => 'localhost']`, (e) => ({ cafile: e.pki.ca, peer_name: "localhost" })),
    caseOn("CN only, other name", "cnOnly", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("wildcard, one label", "wildcard", `['cafile' => $E['pki']['ca'], 'peer_name' => 'www.sockurl.test']`, (e) => ({ cafile: e.pki.ca, peer_name: "www.sockurl.test" })),
    caseOn("wildcard, two labels", "wildcard", `['cafile' => $E['pki']['ca'], 'peer_name' => 'a.b.sockurl.test']`, (e) => ({ cafile: e.pki.ca, peer_name: "a.b.sockurl.test" })),
    caseOn("wildcard, the bare domain", "wildcard", `['cafile' => $E['pki']['ca'], 'peer_name' => 'sockurl.test']`, (e) => ({ cafile: e.pki.ca, peer_name: "sockurl.test" })),
    caseOn("IP SAN only, by IP", "ipOnly", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("IP SAN only, by name", "ipOnly", `['cafile' => $E['pki']['ca'], 'peer_name' => 'localhost']`, (e) => ({ cafile: e.pki.ca, peer_name: "localhost" })),
    caseOn("RSA 1024 at the default security level", "rsa1024", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("RSA 1024 at security_level 0", "rsa1024", `['cafile' => $E['pki']['ca'], 'security_level' => 0]`, (e) => ({ cafile: e.pki.ca, security_level: 0 })),
    caseOn("RSA 2048", "rsa2048", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("client-auth-only certificate on a server", "clientAuthOnly", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("verify_depth 0", "valid", `['cafile' => $E['pki']['ca'], 'verify_depth' => 0]`, (e) => ({ cafile: e.pki.ca, verify_depth: 0 })),
    caseOn("verify_depth 1", "valid", `['cafile' => $E['pki']['ca'], 'verify_depth' => 1]`, (e) => ({ cafile: e.pki.ca, verify_depth: 1 })),
    caseOn("cafile missing", "valid", `['cafile' => '/nonexistent/ca.pem']`, () => ({ cafile: "/nonexistent/ca.pem" })),
    caseOn("capath missing", "valid", `['capath' => '/nonexistent/capath']`, () => ({ capath: "/nonexistent/capath" })),
    tlsCase("TLS to a plain TCP server", `"ssl://127.0.0.1:{$E['line']}"`, `['cafile' => $E['pki']['ca']]`, (e) => `ssl://127.0.0.1:${e.line}`, (e) => ({ cafile: e.pki.ca })),
    caseOn("ciphers restrict TLS 1.2", "tls12", `['cafile' => $E['pki']['ca'], 'ciphers' => 'ECDHE-ECDSA-CHACHA20-POLY1305']`, (e) => ({ cafile: e.pki.ca, ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305" })),
    caseOn("ciphers with nothing in common", "tls12", `['cafile' => $E['pki']['ca'], 'ciphers' => 'ECDHE-RSA-AES128-SHA']`, (e) => ({ cafile: e.pki.ca, ciphers: "ECDHE-RSA-AES128-SHA" })),
    caseOn("ALPN: the server picks", "alpn", `['cafile' => $E['pki']['ca'], 'alpn_protocols' => 'h2,http/1.1']`, (e) => ({ cafile: e.pki.ca, alpn_protocols: "h2,http/1.1" })),
    caseOn("ALPN: nothing in common", "alpn", `['cafile' => $E['pki']['ca'], 'alpn_protocols' => 'spdy/1']`, (e) => ({ cafile: e.pki.ca, alpn_protocols: "spdy/1" })),
    caseOn("client certificate accepted", "mtls", `['cafile' => $E['pki']['ca'], 'local_cert' => $E['pki']['clientChain'], 'local_pk' => $E['pki']['clientKey']]`, (e) => ({
      cafile: e.pki.ca,
      local_cert: e.pki.clientChain,
      local_pk: e.pki.clientKey,
    })),
    caseOn("no client certificate for a server that requires one", "mtls", `['cafile' => $E['pki']['ca']]`, (e) => ({ cafile: e.pki.ca })),
    caseOn("local_cert missing", "valid", `['cafile' => $E['pki']['ca'], 'local_cert' => '/nonexistent/cert.pem']`, (e) => ({ cafile: e.pki.ca, local_cert: "/nonexistent/cert.pem" })),
    caseOn("local_pk does not match local_cert", "valid", `['cafile' => $E['pki']['ca'], 'local_cert' => $E['pki']['clientChain'], 'local_pk' => $E['pki']['validKey']]`, (e) => ({
      cafile: e.pki.ca,
      local_cert: e.pki.clientChain,
      local_pk: e.pki.validKey,
    })),
    caseOn("encrypted key with its passphrase", "valid", `['cafile' => $E['pki']['ca'], 'local_cert' => $E['pki']['encryptedCert'], 'local_pk' => $E['pki']['encryptedKey'], 'passphrase' => $E['pki']['passphrase']]`, (e) => ({
      cafile: e.pki.ca,
      local_cert: e.pki.encryptedCert,
      local_pk: e.pki.encryptedKey,
      passphrase: e.pki.passphrase,
    })),
    caseOn("encrypted key, wrong passphrase", "valid", `['cafile' => $E['pki']['ca'], 'local_cert' => $E['pki']['encryptedCert'], 'local_pk' => $E['pki']['encryptedKey'], 'passphrase' => 'wrong']`, (e) => ({
      cafile: e.pki.ca,
      local_cert: e.pki.encryptedCert,
      local_pk: e.pki.encryptedKey,
      passphrase: "wrong",
    })),
  ],
};

/* ------------------------------------------------------------------------------------------------ */

export const tlsFingerprint: Group = {
  name: "tls-fingerprint",
  scenarios: [
    caseOn("sha1 string", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => $E['pki']['validSha1']]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: e.pki.validSha1 })),
    caseOn("md5 string, upper case", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => strtoupper($E['pki']['validMd5'])]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: e.pki.validMd5.toUpperCase() })),
    caseOn("sha256 as a string is not accepted", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => $E['pki']['validSha256']]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: e.pki.validSha256 })),
    caseOn("string mismatch", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => str_repeat('ab', 20)]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: "ab".repeat(20) })),
    caseOn("array sha256", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => ['sha256' => $E['pki']['validSha256']]]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: { sha256: e.pki.validSha256 } })),
    caseOn("array, every entry must match", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => ['sha256' => $E['pki']['validSha256'], 'md5' => str_repeat('0', 32)]]`, (e) => ({
      cafile: e.pki.ca,
      peer_fingerprint: { sha256: e.pki.validSha256, md5: "0".repeat(32) },
    })),
    caseOn("array, unknown algorithm", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => ['nope' => 'abcd']]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: { nope: "abcd" } })),
    caseOn("array with a numeric key", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => [$E['pki']['validSha1']]]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: [e.pki.validSha1] })),
    caseOn("not a string or an array", "valid", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => 42]`, (e) => ({ cafile: e.pki.ca, peer_fingerprint: 42 })),
    caseOn("a matching fingerprint does not skip chain checks", "untrusted", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => $E['pki']['sha1']['untrusted']]`, (e) => ({
      cafile: e.pki.ca,
      peer_fingerprint: e.pki.sha1.untrusted,
    })),
    caseOn("pinning with verify_peer false: a match", "selfSigned", `['verify_peer' => false, 'peer_fingerprint' => $E['pki']['sha1']['selfSigned']]`, (e) => ({
      verify_peer: false,
      peer_fingerprint: e.pki.sha1.selfSigned,
    })),
    caseOn("pinning with verify_peer false: a mismatch", "selfSigned", `['verify_peer' => false, 'peer_fingerprint' => str_repeat('ab', 20)]`, () => ({ verify_peer: false, peer_fingerprint: "ab".repeat(20) })),
    caseOn("a matching fingerprint does not skip the name check", "wrongHost", `['cafile' => $E['pki']['ca'], 'peer_fingerprint' => $E['pki']['sha1']['wrongHost']]`, (e) => ({
      cafile: e.pki.ca,
      peer_fingerprint: e.pki.sha1.wrongHost,
    })),
    {
      name: "capture_peer_cert and capture_peer_cert_chain",
      differs: NO_SNI_FOR_IP,
      php: PHP_TLS + `
        $fp = tls_client("ssl://127.0.0.1:{$E['tls']['valid']}", ['cafile' => $E['pki']['ca'], 'capture_peer_cert' => true, 'capture_peer_cert_chain' => true]);
        $o = stream_context_get_options($fp)['ssl'];
        rec('option keys', array_keys($o));
        rec('peer_certificate', $o['peer_certificate']);
        openssl_x509_export($o['peer_certificate'], $pem);
        rec('is the server leaf', trim($pem) === trim(file_get_contents($E['pki']['validCert'])));
        rec('chain length', count($o['peer_certificate_chain']));
        rec('chain[0]', $o['peer_certificate_chain'][0]);`,
      async ts(t) {
        const fp = await tlsClient(t, `ssl://127.0.0.1:${t.env.tls.valid}`, { cafile: t.env.pki.ca, capture_peer_cert: true, capture_peer_cert_chain: true });
        const o = (t.php.stream_context_get_options(fp) as Record<string, Record<string, unknown>>).ssl!;
        t.rec("option keys", Object.keys(o));
        t.rec("peer_certificate", o.peer_certificate);
        const { readFileSync } = await import("node:fs");
        t.rec("is the server leaf", pemOf(o.peer_certificate).trim() === readFileSync(t.env.pki.validCert, "utf8").trim());
        const chain = o.peer_certificate_chain as unknown[];
        t.rec("chain length", chain.length);
        t.rec("chain[0]", chain[0]);
      },
    },
  ],
};

/** The PEM text of whatever sockurl/php hands out for a captured certificate. */
function pemOf(cert: unknown): string {
  if (typeof cert === "string") return cert;
  const c = cert as { pem?: unknown; toPEM?: () => string; toString?: (f?: string) => string };
  if (typeof c?.pem === "string") return c.pem;
  if (typeof c?.toPEM === "function") return c.toPEM();
  if (typeof c?.toString === "function") return c.toString("pem");
  return String(cert);
}
