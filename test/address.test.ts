import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatAddress,
  INET_TRANSPORTS,
  isDatagramTransport,
  isTlsTransport,
  parseAddress,
  type Address,
  type InetTransport,
  type ParseAddressOptions,
} from "../src/address.js";
import { SocketError } from "../src/errors.js";
import { countWork } from "./stress/util-work.js";

const inet = (host: string, port: number, transport: InetTransport = "tcp"): Address => ({ transport, host, port });
const p80: ParseAddressOptions = { port: 80 };

/** [target, options, expected address, canonical URL]. */
type Accept = [string, ParseAddressOptions | undefined, Address, string];

const accepts: Accept[] = [
  // Every example of PHP's "Internet Domain: TCP, UDP, SSL, and TLS" page, fsockopen form.
  ["127.0.0.1", p80, inet("127.0.0.1", 80), "tcp://127.0.0.1:80"],
  ["fe80::1", p80, inet("fe80::1", 80), "tcp://[fe80::1]:80"],
  ["www.example.com", p80, inet("www.example.com", 80), "tcp://www.example.com:80"],
  ["tcp://127.0.0.1", p80, inet("127.0.0.1", 80), "tcp://127.0.0.1:80"],
  ["tcp://fe80::1", p80, inet("fe80::1", 80), "tcp://[fe80::1]:80"],
  ["tcp://www.example.com", p80, inet("www.example.com", 80), "tcp://www.example.com:80"],
  ["udp://www.example.com", p80, inet("www.example.com", 80, "udp"), "udp://www.example.com:80"],
  ["ssl://www.example.com", p80, inet("www.example.com", 80, "ssl"), "ssl://www.example.com:80"],
  ["sslv2://www.example.com", p80, inet("www.example.com", 80, "sslv2"), "sslv2://www.example.com:80"],
  ["sslv3://www.example.com", p80, inet("www.example.com", 80, "sslv3"), "sslv3://www.example.com:80"],
  ["tls://www.example.com", p80, inet("www.example.com", 80, "tls"), "tls://www.example.com:80"],
  // ... and the stream_socket_client form.
  ["tcp://127.0.0.1:80", undefined, inet("127.0.0.1", 80), "tcp://127.0.0.1:80"],
  ["tcp://[fe80::1]:80", undefined, inet("fe80::1", 80), "tcp://[fe80::1]:80"],
  ["tcp://www.example.com:80", undefined, inet("www.example.com", 80), "tcp://www.example.com:80"],
  // No transport means tcp.
  ["127.0.0.1:80", undefined, inet("127.0.0.1", 80), "tcp://127.0.0.1:80"],
  ["[::1]:443", undefined, inet("::1", 443), "tcp://[::1]:443"],
  ["localhost:8080", undefined, inet("localhost", 8080), "tcp://localhost:8080"],
  // Every TLS version and datagram transport.
  ["tlsv1.0://host.example:443", undefined, inet("host.example", 443, "tlsv1.0"), "tlsv1.0://host.example:443"],
  ["tlsv1.1://host.example:443", undefined, inet("host.example", 443, "tlsv1.1"), "tlsv1.1://host.example:443"],
  ["tlsv1.2://host.example:443", undefined, inet("host.example", 443, "tlsv1.2"), "tlsv1.2://host.example:443"],
  ["tlsv1.3://host.example:443", undefined, inet("host.example", 443, "tlsv1.3"), "tlsv1.3://host.example:443"],
  ["udp://[2001:db8::53]:53", undefined, inet("2001:db8::53", 53, "udp"), "udp://[2001:db8::53]:53"],
  ["ssl://smtp.example.com:465", undefined, inet("smtp.example.com", 465, "ssl"), "ssl://smtp.example.com:465"],
  // Transport names are case-insensitive.
  ["TCP://127.0.0.1:80", undefined, inet("127.0.0.1", 80), "tcp://127.0.0.1:80"],
  ["Udp://127.0.0.1:53", undefined, inet("127.0.0.1", 53, "udp"), "udp://127.0.0.1:53"],
  ["TLSv1.3://example.com:443", undefined, inet("example.com", 443, "tlsv1.3"), "tlsv1.3://example.com:443"],
  ["UNIX:///tmp/x.sock", undefined, { transport: "unix", path: "/tmp/x.sock" }, "unix:///tmp/x.sock"],
  // Zones, plain and RFC 6874 percent-encoded.
  ["[fe80::1%eth0]:80", undefined, inet("fe80::1%eth0", 80), "tcp://[fe80::1%eth0]:80"],
  ["[fe80::1%25eth0]:80", undefined, inet("fe80::1%eth0", 80), "tcp://[fe80::1%eth0]:80"],
  ["tcp://[fe80::1%2]:80", undefined, inet("fe80::1%2", 80), "tcp://[fe80::1%2]:80"],
  ["[fe80::1%25]:80", undefined, inet("fe80::1%25", 80), "tcp://[fe80::1%2525]:80"],
  ["fe80::1%eth0", p80, inet("fe80::1%eth0", 80), "tcp://[fe80::1%eth0]:80"],
  // IPv6 canonical (RFC 5952) form.
  ["[FE80::A:B]:80", undefined, inet("fe80::a:b", 80), "tcp://[fe80::a:b]:80"],
  ["[0:0:0:0:0:0:0:1]:80", undefined, inet("::1", 80), "tcp://[::1]:80"],
  ["[::FFFF:192.0.2.1]:80", undefined, inet("::ffff:192.0.2.1", 80), "tcp://[::ffff:192.0.2.1]:80"],
  ["[::1]", p80, inet("::1", 80), "tcp://[::1]:80"],
  ["::1:80", p80, inet("::1:80", 80), "tcp://[::1:80]:80"],
  // Host names: IDN to A-labels, lower case, underscores, trailing dot kept.
  ["tcp://bücher.example:80", undefined, inet("xn--bcher-kva.example", 80), "tcp://xn--bcher-kva.example:80"],
  ["tcp://BÜCHER.Example:80", undefined, inet("xn--bcher-kva.example", 80), "tcp://xn--bcher-kva.example:80"],
  ["tls://münchen.de:443", undefined, inet("xn--mnchen-3ya.de", 443, "tls"), "tls://xn--mnchen-3ya.de:443"],
  ["tcp://ＥＸＡＭＰＬＥ.com:80", undefined, inet("example.com", 80), "tcp://example.com:80"],
  ["WWW.Example.COM:80", undefined, inet("www.example.com", 80), "tcp://www.example.com:80"],
  ["_sip._tcp.example.com:5060", undefined, inet("_sip._tcp.example.com", 5060), "tcp://_sip._tcp.example.com:5060"],
  ["example.com.:80", undefined, inet("example.com.", 80), "tcp://example.com.:80"],
  ["my-host-1:22", undefined, inet("my-host-1", 22), "tcp://my-host-1:22"],
  [`${"a".repeat(63)}.example:1`, undefined, inet(`${"a".repeat(63)}.example`, 1), `tcp://${"a".repeat(63)}.example:1`],
  ["tcp:80", undefined, inet("tcp", 80), "tcp://tcp:80"],
  // Ports: 0 parses (connect refuses it later), 65535, leading zeros.
  ["127.0.0.1:0", undefined, inet("127.0.0.1", 0), "tcp://127.0.0.1:0"],
  ["127.0.0.1:65535", undefined, inet("127.0.0.1", 65535), "tcp://127.0.0.1:65535"],
  ["127.0.0.1:00080", undefined, inet("127.0.0.1", 80), "tcp://127.0.0.1:80"],
  ["127.0.0.1", { port: 0 }, inet("127.0.0.1", 0), "tcp://127.0.0.1:0"],
  // Local sockets: absolute, relative, spaces; the path is taken verbatim.
  ["unix:///tmp/x.sock", undefined, { transport: "unix", path: "/tmp/x.sock" }, "unix:///tmp/x.sock"],
  ["unix://sock", undefined, { transport: "unix", path: "sock" }, "unix://sock"],
  ["unix:///run/my app/s.sock", undefined, { transport: "unix", path: "/run/my app/s.sock" }, "unix:///run/my app/s.sock"],
  ["udg:///var/run/log", undefined, { transport: "udg", path: "/var/run/log" }, "udg:///var/run/log"],
  ["udg://./rel:80", undefined, { transport: "udg", path: "./rel:80" }, "udg://./rel:80"],
];

/** [target, options, code, message pattern]. */
type Refuse = [unknown, unknown, string, RegExp];
const BAD = "ERR_INVALID_ADDRESS";

const refusals: Refuse[] = [
  ["tcp://www.example.com", undefined, BAD, /missing port: tcp:\/\/www\.example\.com:PORT, e\.g\. tcp:\/\/www\.example\.com:80/],
  ["127.0.0.1", undefined, BAD, /missing port/],
  ["www.example.com:", undefined, BAD, /missing port after ":"/],
  ["[::1]", undefined, BAD, /missing port: tcp:\/\/\[::1\]:PORT/],
  ["x:65536", undefined, BAD, /port 65536 is out of range: ports are 0-65535/],
  ["x:999999", undefined, BAD, /out of range/],
  ["x:abc", undefined, BAD, /port "abc" is not a number.*tcp:\/\/x:80/],
  ["x:8o", undefined, BAD, /not a number/],
  ["x:+80", undefined, BAD, /not a number/],
  ["x:-1", undefined, BAD, /port -1 is negative/],
  ["x:80/path", undefined, BAD, /no path, query or fragment allowed \("\/path"\): use tcp:\/\/x:80/],
  ["x:80?x", undefined, BAD, /query.*\("\?x"\)/],
  ["x:80#f", undefined, BAD, /fragment.*\("#f"\)/],
  ["tcp://x:80/", undefined, BAD, /use tcp:\/\/x:80/],
  ["user@host:80", undefined, BAD, /user info "user@" is not allowed.*use tcp:\/\/host:80/],
  ["user:pw@host:80", undefined, BAD, /user info "user:pw@".*use tcp:\/\/host:80/],
  ["tls://u@[::1]:443", undefined, BAD, /use tls:\/\/\[::1\]:443/],
  ["tcp://::1:80", undefined, BAD, /IPv6 addresses must be enclosed in brackets: tcp:\/\/\[::1\]:80/],
  ["fe80::1:80", undefined, BAD, /IPv6 addresses must be enclosed in brackets: tcp:\/\/\[fe80::1\]:80/],
  ["udp://2001:db8::1:53", undefined, BAD, /brackets: udp:\/\/\[2001:db8::1\]:53/],
  ["fe80::1%eth0:80", undefined, BAD, /brackets: tcp:\/\/\[fe80::1%eth0\]:80/],
  ["fe80::1", undefined, BAD, /brackets: tcp:\/\/\[fe80::1\]:80/],
  ["a:b:c", undefined, BAD, /too many ":"/],
  ["tcp://:80", undefined, BAD, /empty host/],
  [":80", undefined, BAD, /empty host/],
  ["tcp://", undefined, BAD, /empty host/],
  ["[::1", undefined, BAD, /unterminated "\["/],
  ["tcp://[fe80::1:80", undefined, BAD, /unterminated/],
  ["[::1]80", undefined, BAD, /unexpected "80" after "\]"/],
  ["[127.0.0.1]:80", undefined, BAD, /brackets are only for IPv6 addresses: tcp:\/\/127\.0\.0\.1:80/],
  ["[example.com]:80", undefined, BAD, /brackets are only for IPv6/],
  ["[]:80", undefined, BAD, /not a valid IPv6 address/],
  ["[fe80::1%]:80", undefined, BAD, /invalid IPv6 zone/],
  ["[fe80::1%eth!0]:80", undefined, BAD, /invalid IPv6 zone "%eth!0"/],
  ["", undefined, BAD, /empty target/],
  [" example.com:80", undefined, BAD, /whitespace or invisible character U\+0020 at index 0/],
  ["example.com:80\n", undefined, BAD, /control character U\+000A at index 14/],
  ["exa\u200Bmple.com:80", undefined, BAD, /U\+200B/],
  ["unix:///tmp/a\0b", undefined, BAD, /control character U\+0000/],
  ["x\uD800:80", undefined, BAD, /U\+D800/],
  [undefined, undefined, BAD, /must be a string/],
  [80, undefined, BAD, /must be a string.*got 80/],
  [{ host: "x" }, undefined, BAD, /must be a string/],
  ["http://x:80", undefined, "ERR_UNKNOWN_TRANSPORT", /unknown transport "http": use one of tcp, udp, ssl, tls, tlsv1\.0, .*udg, e\.g\. tcp:\/\/x:80/],
  ["https://x:443", undefined, "ERR_UNKNOWN_TRANSPORT", /e\.g\. tls:\/\/x:443/],
  ["foo://x:1", undefined, "ERR_UNKNOWN_TRANSPORT", /unknown transport "foo"/],
  ["tlsv1.4://x:1", undefined, "ERR_UNKNOWN_TRANSPORT", /tlsv1\.3/],
  ["://x:80", undefined, BAD, /missing transport/],
  ["tcp:host:80", undefined, BAD, /transport "tcp" must be followed by ":\/\/": tcp:\/\/host:80/],
  ["unix:/tmp/x", undefined, BAD, /unix:\/\/\/tmp\/x/],
  ["unix://", undefined, BAD, /empty path/],
  ["udg://", undefined, BAD, /empty path: write udg:\/\//],
  ["unix:///tmp/x", p80, "ERR_INVALID_OPTION", /unix sockets have no port/],
  ["127.0.0.1:80", p80, BAD, /port given twice/],
  ["[::1]:80", p80, BAD, /port given twice/],
  ["x", { port: 65536 }, "ERR_INVALID_OPTION", /options\.port must be an integer 0-65535, got 65536/],
  ["x", { port: -1 }, "ERR_INVALID_OPTION", /got -1/],
  ["x", { port: 1.5 }, "ERR_INVALID_OPTION", /got 1\.5/],
  ["x", { port: "80" }, "ERR_INVALID_OPTION", /got "80"/],
  ["x", { port: NaN }, "ERR_INVALID_OPTION", /got NaN/],
  ["x", 80, "ERR_INVALID_OPTION", /options must be an object/],
  ["127.1:80", undefined, BAD, /"127\.1" is not a valid IPv4 address/],
  ["2130706433:80", undefined, BAD, /not a valid IPv4/],
  ["0x7f.0.0.1:80", undefined, BAD, /not a valid IPv4/],
  ["256.1.1.1:80", undefined, BAD, /not a valid IPv4/],
  ["010.0.0.1:80", undefined, BAD, /without leading zeros/],
  ["１２７.０.０.１:80", undefined, BAD, /not a valid IPv4/],
  ["a..b:80", undefined, BAD, /empty label/],
  [".example.com:80", undefined, BAD, /empty label/],
  [`${"a".repeat(64)}.example:80`, undefined, BAD, /longer than 63 characters/],
  [`${"abcdefghi.".repeat(26)}example:80`, undefined, BAD, /longer than 253 characters/],
  ["exa$mple.com:80", undefined, BAD, /invalid character "\$"/],
  ["host%41:80", undefined, BAD, /invalid character "%"/],
  ["xn--zz.example:80", undefined, BAD, /not a valid host name/],
];

for (const [target, options, expected, canonical] of accepts) {
  test(`accepts ${JSON.stringify(target)}${options ? ` with ${JSON.stringify(options)}` : ""}`, () => {
    const address = parseAddress(target, options);
    assert.deepEqual(address, expected);
    assert.equal(formatAddress(address), canonical);
    assert.deepEqual(parseAddress(formatAddress(address)), address);
  });
}

for (const [target, options, code, message] of refusals) {
  test(`refuses ${typeof target === "string" ? JSON.stringify(target) : String(typeof target)} (${code})`, () => {
    assert.throws(
      () => parseAddress(target as string, options as ParseAddressOptions),
      (err: unknown) => {
        assert.ok(err instanceof SocketError, `expected a SocketError, got ${String(err)}`);
        assert.equal(err.code, code);
        assert.equal(err.phase, "address");
        assert.equal(err.address, typeof target === "string" ? target : undefined);
        assert.match(err.message, message);
        return true;
      },
    );
  });
}

test("formatAddress writes the canonical form", () => {
  const cases: [Address, string][] = [
    [inet("fe80::1%eth0", 80), "tcp://[fe80::1%eth0]:80"],
    [inet("::1", 0, "udp"), "udp://[::1]:0"],
    [inet("fe80::1%25x", 1), "tcp://[fe80::1%2525x]:1"],
    [inet("example.com", 443, "tls"), "tls://example.com:443"],
    [{ transport: "unix", path: "/tmp/x.sock" }, "unix:///tmp/x.sock"],
    [{ transport: "udg", path: "rel" }, "udg://rel"],
  ];
  for (const [address, url] of cases) {
    assert.equal(formatAddress(address), url);
    assert.deepEqual(parseAddress(url), address);
  }
});

test("every inet transport parses and round-trips", () => {
  for (const transport of INET_TRANSPORTS) {
    const address = parseAddress(`${transport.toUpperCase()}://[::1]:1`);
    assert.deepEqual(address, inet("::1", 1, transport));
    assert.equal(formatAddress(address), `${transport}://[::1]:1`);
  }
});

test("isTlsTransport and isDatagramTransport", () => {
  assert.deepEqual(INET_TRANSPORTS.filter(isTlsTransport), ["ssl", "tls", "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3", "sslv2", "sslv3"]);
  assert.equal(isTlsTransport("unix"), false);
  assert.equal(isDatagramTransport("udp"), true);
  assert.equal(isDatagramTransport("udg"), true);
  assert.equal(isDatagramTransport("tcp"), false);
});

test("does linear work on hostile input (characters examined counted, not timed)", () => {
  const n = 200_000;
  const inputs = [
    "a".repeat(n) + ":80",
    "1.".repeat(n) + ":80",
    ":".repeat(n),
    "[" + ":".repeat(n),
    "[::1%" + "25".repeat(n) + "]:80",
    "a:".repeat(n),
    "tcp:" + "/".repeat(n),
    "x:" + "9".repeat(n),
    "é".repeat(n) + ":80",
    "unix://" + "a".repeat(n),
  ];
  for (const input of inputs) {
    // A quadratic pass over 200,000 characters would examine ~10^10 of them.
    const work = countWork(() => {
      try {
        parseAddress(input);
      } catch (err) {
        assert.ok(err instanceof SocketError);
      }
    });
    assert.ok(work.chars <= 32 * input.length + 2000, `${work.chars} characters examined for ${input.length} on ${input.slice(0, 20)}…`);
  }
});
