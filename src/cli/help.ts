/**
 * Help texts: `sockurl --help`, and one per subcommand (`sockurl help connect`,
 * `sockurl connect --help`), each with examples.
 */
import { STARTTLS_PROTOCOLS } from "../starttls/types.js";

/** The STARTTLS protocol names, wrapped and indented for a flag description. */
const PROTOCOLS = STARTTLS_PROTOCOLS.join(", ").replace(/(.{1,56})(, |$)/g, "$1,\n                       ").replace(/,\n\s*$/, "");

const URLS = `Transport URLs:
  tcp://127.0.0.1:80   tcp://[::1]:80   tls://example.com:443   tlsv1.3://host:443
  udp://127.0.0.1:53   unix:///run/app.sock   udg:///run/log.sock
  127.0.0.1:80 (no transport means tcp); IPv6 addresses go in brackets`;

export const MAIN_HELP = `sockurl — TCP, UDP, TLS and unix sockets addressed by transport URLs

Usage:
  sockurl connect URL [flags]   stdin to the socket, the socket to stdout (like ncat)
  sockurl listen URL [flags]    accept connections; echo them or print what arrives
  sockurl probe URL [flags]     connect, verify and report: addresses, timings, TLS, certificates
  sockurl demo                  start loopback servers for every transport, talk to each, print a table
  sockurl help COMMAND          help for one command (or: sockurl COMMAND --help)
  sockurl --version             print the version

${URLS}

Examples:
  npx sockurl demo
  sockurl probe tls://example.com:443
  printf 'GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n' | sockurl connect tls://example.com:443
  sockurl listen --echo tcp://127.0.0.1:7000

Errors are one line on stderr: sockurl: CODE: message — what to do.
Exit status: 0 success, 1 failure, 2 usage mistake.
`;

const CONNECT = `Usage: sockurl connect URL [flags]

Copies standard input to the connection and the connection to standard output, like ncat.
The end of standard input half-closes the connection (the server sees end of stream); the
command exits 0 when the server ends its side. For udp:// (and udg://) each line of input is
one datagram and each datagram received is printed on its own line; after the end of input
the command waits until the server has been quiet for half a second.

Flags:
  --starttls PROTO     connect in plaintext, negotiate STARTTLS, then go on encrypted
                       (${PROTOCOLS})
  --timeout MS         deadline for DNS, connect, TLS and STARTTLS (default 10000; 0 = none)
  --ca FILE            trust the CA certificates in FILE (PEM) instead of the system store
  --cert FILE          client certificate (PEM), for mutual TLS
  --key FILE           its private key (default: read from the --cert file)
  --servername NAME    the name to verify and send as SNI (default: the URL's host)
  --alpn a,b           ALPN protocols, most preferred first (e.g. h2,http/1.1)
  --fingerprint HEX    accept exactly the certificate with this sha256 (or sha1/md5) digest,
                       without a CA; colons optional
  --insecure           do not verify the certificate or its name (testing only; warns on stderr)
  --crlf               send line ends as CRLF (LF becomes CRLF), for SMTP, IMAP, HTTP by hand
  -v, --verbose        print a connection and TLS summary on stderr: remote, local, protocol,
                       cipher, ALPN, verification, peer subject and SANs, STARTTLS transcript
  -h, --help           this help

Examples:
  printf 'GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n' | sockurl connect tls://example.com:443
  sockurl connect -v --crlf --starttls smtp tcp://mail.example.com:587
  sockurl connect --fingerprint 5E:0F:…:A1 tls://127.0.0.1:8443
  sockurl connect --ca ca.pem --cert me.pem --key me.key tls://[::1]:8443
  echo ping | sockurl connect udp://127.0.0.1:7000
`;

const LISTEN = `Usage: sockurl listen URL [flags]

Listens on URL and prints "listening on URL" (with the real port) on stderr. Each connection's
bytes are printed on standard output, or sent back with --echo; connections are served
concurrently until Ctrl-C. For udp:// and udg:// each datagram is printed on its own line (or
echoed to its sender). Port 0 picks a free port.

For tls:// without --cert, a throwaway self-signed certificate (localhost, 127.0.0.1, ::1) is
made in memory and its SHA-256 fingerprint printed on stderr, so that
  sockurl connect --fingerprint HEX tls://127.0.0.1:PORT
reaches it safely.

Flags:
  --echo               send what arrives back to the sender
  --once               exit after the first connection (or datagram) is done
  --cert FILE          server certificate chain (PEM) for tls://
  --key FILE           its private key (default: read from the --cert file)
  --ca FILE            require client certificates signed by the CAs in FILE (mutual TLS)
  -v, --verbose        report each connection (and its TLS parameters) on stderr
  -h, --help           this help

Examples:
  sockurl listen --echo tcp://127.0.0.1:7000
  sockurl listen tls://127.0.0.1:0
  sockurl listen --cert server.pem --key server.key tls://[::]:8443
  sockurl listen --echo udp://127.0.0.1:7000
  sockurl listen --once unix:///tmp/app.sock > received.bin
`;

const PROBE = `Usage: sockurl probe URL [flags]

Connects like a friendly openssl s_client and reports: the resolved addresses, timings
(resolve, connect, STARTTLS, TLS, total), TLS version, cipher and ALPN, the verification
result and its reason, and the certificate chain (subject, issuer, SANs, validity with days
left, key type and size, fingerprints). Verification is always on; when the chain does not
verify, it is fetched again without verification only to show it, and reported as
"verification: FAILED (reason)"; when no TLS session was reached (STARTTLS refused, the
handshake failed) it says "FAILED: no TLS session (CODE: why)" and the JSON reason is null.
Output is aligned, and coloured on a terminal (plain when piped or with NO_COLOR set). Text
from the server (certificate names, the transcript, error messages) has every control
character shown as an escape (\\x1b, \\x0d, …), so no server can steer the terminal; in
JSON, DEL and C1 controls are \\u escapes as well. sslv2:// and sslv3:// are refused, and the
URL and flags are checked before any connection, as connect() checks them.

Exit status: 0 when connected and (for TLS) verified; 1 otherwise; 2 usage mistake.

Flags:
  --starttls PROTO     negotiate STARTTLS on a tcp:// URL and show the plaintext transcript
                       (${PROTOCOLS})
  --json               print one JSON object instead (shape below)
  --timeout MS         deadline for each attempt (default 10000; 0 = none)
  --ca FILE            trust the CA certificates in FILE instead of the system store
  --servername NAME    the name to verify and send as SNI (default: the URL's host)
  --alpn a,b           ALPN protocols to offer
  --cert FILE          client certificate (PEM), for mutual TLS
  --key FILE           its private key (default: read from the --cert file)
  --fingerprint HEX    accept exactly this certificate (pin) instead of a CA
  -h, --help           this help

JSON shape (--json; times in milliseconds, null when a step did not happen):
  { "target": "tls://host:443", "transport": "tls", "host": "host" | null, "port": 443 | null,
    "path": null | "/unix/path", "peerName": "host" | null, "starttls": "smtp" | null,
    "connected": true, "verified": true | false | null (null: plaintext, nothing to verify),
    "resolved": [{ "address": "127.0.0.1", "family": 4 }],
    "remote": { "host", "port", "family" } | null, "local": { … } | null,
    "timings": { "resolve", "connect", "starttls", "tls", "total" },
    "tls": { "protocol", "cipher", "alpn", "servername", "sessionReused" } | null,
    "verification": { "result": "ok" | "failed" | "none", "reason": "CERT_HAS_EXPIRED" | null,
                      "message": string | null },
    "chain": [{ "subject", "issuer", "subjectAltNames": [], "validFrom", "validTo" (ISO 8601),
                "daysLeft", "expired", "notYetValid", "serialNumber", "keyType", "keyBits",
                "isCA", "selfSigned", "fingerprints": { "sha256", "sha1" }, "spkiSha256" }],
    "transcript": [{ "from": "client" | "server", "text" }] | null,
    "error": { "code", "phase", "reason", "message" } | null }

Examples:
  sockurl probe tls://example.com:443
  sockurl probe --starttls smtp tcp://mail.example.com:587
  sockurl probe --ca ca.pem --json tls://127.0.0.1:8443 | jq .chain[0].daysLeft
`;

const DEMO = `Usage: sockurl demo

Starts servers on loopback only — tcp, tcp6, udp, unix, udg, tls (with a throwaway root CA and
a leaf for localhost/127.0.0.1 that the client trusts through that root) and an SMTP-like
STARTTLS service — talks to each through the library, and prints a table: transport, URL,
result, TLS protocol, cipher and round-trip time. Exit status 0 when every transport works.

Flags:
  -h, --help           this help

Example:
  npx sockurl demo
`;

/** Help per subcommand. */
export const HELP: Record<string, string> = { connect: CONNECT, listen: LISTEN, probe: PROBE, demo: DEMO };
