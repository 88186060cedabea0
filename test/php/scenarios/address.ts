/**
 * Address parsing and connection errors of stream_socket_client(): every quirk of PHP's parser
 * (bare host, case-sensitive transports, atoi ports, ignored text after the port, brackets, user
 * info) and the pre-connect / connect failures (errno 0 with PHP's text; the OS errno otherwise).
 */
import type { Entry, Group, Scenario, Twin } from "../harness.js";
import type { Env } from "../servers.js";
import { ask, client } from "./common.js";

/**
 * stream_socket_client() does not initialise its `err` before an unknown transport returns early
 * (`int err;` in ext/standard/streamsfuncs.c), so `$errno` is whatever the stack held: 0 in a
 * top-level script call, garbage one call deeper (the bridge). sockurl/php must give 0.
 */
const uninitialisedErrno = (e: Entry): Entry => ("step" in e && e.step === "errno" ? { step: "errno", value: "(uninitialised in PHP)" } : e);

/** A target PHP refuses before any I/O: the three results and the warning. */
function refusedTarget(name: string, phpTarget: string, tsTarget: (e: Env) => string, unknownTransport = false, resolves = false): Scenario {
  return {
    name,
    // A name that goes to the resolver may wait for an unreachable DNS server on an offline machine.
    ...(resolves ? { timeoutMs: 25_000 } : {}),
    php: `client(${phpTarget});`,
    ts: async (t: Twin) => {
      await client(t, tsTarget(t.env));
    },
    ...(unknownTransport ? { bridgeMask: uninitialisedErrno } : {}),
  };
}

export const address: Group = {
  name: "address",
  scenarios: [
    refusedTarget("bare host without a port", `'127.0.0.1'`, () => "127.0.0.1"),
    refusedTarget("tcp:// without a port", `'tcp://127.0.0.1'`, () => "tcp://127.0.0.1"),
    refusedTarget("trailing colon, empty port", `'tcp://127.0.0.1:'`, () => "tcp://127.0.0.1:"),
    refusedTarget("empty string", `''`, () => ""),
    refusedTarget("tcp:// alone", `'tcp://'`, () => "tcp://"),
    refusedTarget("TCP:// is an unknown transport (case-sensitive)", `"TCP://127.0.0.1:{$E['echo']}"`, (e) => `TCP://127.0.0.1:${e.echo}`, true),
    refusedTarget("unknown transport foo://", `'foo://127.0.0.1:80'`, () => "foo://127.0.0.1:80", true),
    refusedTarget(
      "unknown transport name longer than 31 characters",
      `'abcdefghijklmnopqrstuvwxyz0123456789abc://127.0.0.1:80'`,
      () => "abcdefghijklmnopqrstuvwxyz0123456789abc://127.0.0.1:80",
      true,
    ),
    refusedTarget("sslv2:// is unknown", `'sslv2://127.0.0.1:443'`, () => "sslv2://127.0.0.1:443", true),
    refusedTarget("sslv3:// is unknown", `'sslv3://127.0.0.1:443'`, () => "sslv3://127.0.0.1:443", true),
    refusedTarget("one-letter scheme x:// is a host name", `'x://127.0.0.1:80'`, () => "x://127.0.0.1:80", false, true),
    refusedTarget("bracketed IPv6 without a port", `'tcp://[::1]'`, () => "tcp://[::1]"),
    refusedTarget("unterminated bracket", `'tcp://[::1'`, () => "tcp://[::1"),
    refusedTarget("unbracketed IPv6: empty host for getaddrinfo", `'tcp://::1:80'`, () => "tcp://::1:80"),
    refusedTarget("user info is part of the host", `"tcp://user@127.0.0.1:{$E['echo']}"`, (e) => `tcp://user@127.0.0.1:${e.echo}`, false, true),
    refusedTarget("DNS failure for a .invalid name", `'tcp://sockurl-php-diff.invalid:80'`, () => "tcp://sockurl-php-diff.invalid:80", false, true),
    refusedTarget("udp:// without a port", `'udp://127.0.0.1'`, () => "udp://127.0.0.1"),
    refusedTarget("unix:// socket file missing", `'unix:///nonexistent/sockurl-php-diff.sock'`, () => "unix:///nonexistent/sockurl-php-diff.sock"),
    refusedTarget("refused port", `"tcp://127.0.0.1:{$E['refused']}"`, (e) => `tcp://127.0.0.1:${e.refused}`),
    refusedTarget("port :abc is atoi 0: refused", `'tcp://127.0.0.1:abc'`, () => "tcp://127.0.0.1:abc"),
    {
      name: "bare host:port means tcp",
      php: `$fp = client("127.0.0.1:{$E['line']}"); ask($fp, 'ECHO bare'); rec('meta', stream_get_meta_data($fp));`,
      async ts(t) {
        const fp = await client(t, `127.0.0.1:${t.env.line}`);
        await ask(t, fp, "ECHO bare");
        t.rec("meta", t.php.stream_get_meta_data(fp));
      },
    },
    {
      name: "port wraps to 16 bits (port + 65536)",
      php: `$fp = client('tcp://127.0.0.1:' . ($E['line'] + 65536)); ask($fp, 'ECHO wrapped');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line + 65536}`);
        await ask(t, fp, "ECHO wrapped");
      },
    },
    {
      name: "negative port wraps (-(65536 - port))",
      php: `$fp = client('tcp://127.0.0.1:-' . (65536 - $E['line'])); ask($fp, 'ECHO negative');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:-${65536 - t.env.line}`);
        await ask(t, fp, "ECHO negative");
      },
    },
    {
      name: "text after the port is ignored (:port/foo)",
      php: `$fp = client("tcp://127.0.0.1:{$E['line']}/foo?bar#baz"); ask($fp, 'ECHO path');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}/foo?bar#baz`);
        await ask(t, fp, "ECHO path");
      },
    },
    {
      name: "digits then letters in the port (:<port>abc)",
      php: `$fp = client("tcp://127.0.0.1:{$E['line']}abc"); ask($fp, 'ECHO letters');`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}abc`);
        await ask(t, fp, "ECHO letters");
      },
    },
    {
      name: "port 99999 is 34463 and -1 is 65535 (refused or not, the attempt is made)",
      php: `
        foreach (['99999', '-1'] as $p) {
            $fp = stream_socket_client("tcp://127.0.0.1:$p", $errno, $errstr, 1);
            rec("errstr:$p", $fp === false ? $errstr : 'connected');
        }`,
      async ts(t) {
        for (const p of ["99999", "-1"]) {
          const errno = t.php.ref(0);
          const errstr = t.php.ref("");
          const fp = await t.php.stream_socket_client(`tcp://127.0.0.1:${p}`, errno, errstr, 1);
          t.rec(`errstr:${p}`, fp === false ? errstr.value : "connected");
        }
      },
    },
    {
      name: "bracketed IPv6 loopback",
      requires: (env) => (env.ipv6 ? null : "no IPv6 loopback"),
      php: `$fp = client("tcp://[::1]:{$E['echo6']}"); fwrite($fp, "six\\n"); rec('read', fgets($fp)); rec('remote', stream_socket_get_name($fp, true));`,
      async ts(t) {
        const fp = await client(t, `tcp://[::1]:${t.env.echo6}`);
        await t.php.fwrite(fp, "six\n");
        t.rec("read", await t.php.fgets(fp));
        t.rec("remote", t.php.stream_socket_get_name(fp, true));
      },
    },
    {
      name: "localhost: every address is tried in turn",
      php: `$fp = client("tcp://localhost:{$E['line']}"); ask($fp, 'ECHO localhost'); rec('remote', stream_socket_get_name($fp, true));`,
      async ts(t) {
        const fp = await client(t, `tcp://localhost:${t.env.line}`);
        await ask(t, fp, "ECHO localhost");
        t.rec("remote", t.php.stream_socket_get_name(fp, true));
      },
    },
    {
      name: "stream_get_transports",
      php: `rec('transports', stream_get_transports());`,
      async ts(t) {
        t.rec("transports", t.php.stream_get_transports());
      },
    },
    {
      name: "success leaves errno 0 and errstr empty",
      php: `$fp = client("tcp://127.0.0.1:{$E['echo']}"); rec('fclose', fclose($fp));`,
      async ts(t) {
        const fp = await client(t, `tcp://127.0.0.1:${t.env.echo}`);
        t.rec("fclose", await t.php.fclose(fp));
      },
    },
  ],
};
