/**
 * stream_socket_server() and stream_socket_accept(): binding, errors, accept timeouts, peer names,
 * unix and UDP servers, and a real client (the dialer) accepted by the scenario.
 */
import type { Group, Twin } from "../harness.js";
import { client, maskEphemeral } from "./common.js";

/** stream_socket_server() with sentinels; records the three results. */
async function server(t: Twin, target: string, flags = 12, ctx: unknown = null): Promise<unknown> {
  const errno = t.php.ref(-1);
  const errstr = t.php.ref("untouched");
  const s = await t.php.stream_socket_server(target, errno, errstr, flags, ctx);
  t.rec("server", s);
  t.rec("errno", errno.value);
  t.rec("errstr", errstr.value);
  return s;
}

const PHP_SERVER = `
function server($target, $flags = STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx = null) {
    $errno = -1; $errstr = 'untouched';
    $s = stream_socket_server($target, $errno, $errstr, $flags, $ctx);
    rec('server', $s); rec('errno', $errno); rec('errstr', $errstr);
    return $s;
}
`;

export const servers: Group = {
  name: "server",
  scenarios: [
    {
      name: "listen on an ephemeral port: names and metadata",
      normalize: maskEphemeral,
      php: PHP_SERVER + `$s = server('tcp://127.0.0.1:0'); rec('local', stream_socket_get_name($s, false)); rec('remote', stream_socket_get_name($s, true)); rec('meta', stream_get_meta_data($s));`,
      async ts(t) {
        const s = await server(t, "tcp://127.0.0.1:0");
        t.rec("local", t.php.stream_socket_get_name(s, false));
        t.rec("remote", t.php.stream_socket_get_name(s, true));
        t.rec("meta", t.php.stream_get_meta_data(s));
      },
    },
    {
      name: "accept times out",
      normalize: maskEphemeral,
      php: PHP_SERVER + `$s = server('tcp://127.0.0.1:0'); $t0 = microtime(true); $peer = 'untouched'; rec('accept', stream_socket_accept($s, 0.2, $peer)); $dt = microtime(true) - $t0; rec('peer', $peer); rec('waited', $dt >= 0.19 && $dt < 10);`,
      async ts(t) {
        const s = await server(t, "tcp://127.0.0.1:0");
        const t0 = performance.now();
        const peer = t.php.ref("untouched");
        t.rec("accept", await t.php.stream_socket_accept(s, 0.2, peer));
        const dt = (performance.now() - t0) / 1000;
        t.rec("peer", peer.value);
        t.rec("waited", dt >= 0.19 && dt < 10);
      },
    },
    {
      name: "accept with timeout 0 and nobody waiting",
      normalize: maskEphemeral,
      php: PHP_SERVER + `$s = server('tcp://127.0.0.1:0'); rec('accept', stream_socket_accept($s, 0));`,
      async ts(t) {
        const s = await server(t, "tcp://127.0.0.1:0");
        t.rec("accept", await t.php.stream_socket_accept(s, 0));
      },
    },
    {
      name: "accept a client of this script: peer name is the client's local name",
      normalize: maskEphemeral,
      php: PHP_SERVER + `
        $s = server('tcp://127.0.0.1:0');
        $c = client('tcp://' . stream_socket_get_name($s, false));
        $peer = 'untouched';
        $a = stream_socket_accept($s, 2, $peer);
        rec('accept', $a);
        rec('peer', $peer);
        rec('peer is client', $peer === stream_socket_get_name($c, false));
        rec('accepted local is server', stream_socket_get_name($a, false) === stream_socket_get_name($s, false));
        rec('fwrite', fwrite($a, "from server\\n"));
        rec('fgets', fgets($c));
        rec('meta', stream_get_meta_data($a));`,
      async ts(t) {
        const s = await server(t, "tcp://127.0.0.1:0");
        const errno = t.php.ref(-1);
        const errstr = t.php.ref("untouched");
        const c = await t.php.stream_socket_client(`tcp://${t.php.stream_socket_get_name(s, false)}`, errno, errstr, 2);
        t.rec("client", c);
        t.rec("errno", errno.value);
        t.rec("errstr", errstr.value);
        const peer = t.php.ref("untouched");
        const a = await t.php.stream_socket_accept(s, 2, peer);
        t.rec("accept", a);
        t.rec("peer", peer.value);
        t.rec("peer is client", peer.value === t.php.stream_socket_get_name(c, false));
        t.rec("accepted local is server", t.php.stream_socket_get_name(a, false) === t.php.stream_socket_get_name(s, false));
        t.rec("fwrite", await t.php.fwrite(a, "from server\n"));
        t.rec("fgets", await t.php.fgets(c));
        t.rec("meta", t.php.stream_get_meta_data(a));
      },
    },
    {
      name: "address already in use (errno 0)",
      php: PHP_SERVER + `server("tcp://127.0.0.1:{$E['line']}");`,
      async ts(t) {
        await server(t, `tcp://127.0.0.1:${t.env.line}`);
      },
    },
    {
      name: "cannot assign a foreign address",
      php: PHP_SERVER + `server('tcp://192.0.2.1:0');`,
      async ts(t) {
        await server(t, "tcp://192.0.2.1:0");
      },
    },
    {
      name: "server address without a port",
      php: PHP_SERVER + `server('tcp://127.0.0.1');`,
      async ts(t) {
        await server(t, "tcp://127.0.0.1");
      },
    },
    {
      name: "server port wraps (65536 + port in use)",
      php: PHP_SERVER + `server('tcp://127.0.0.1:' . ($E['line'] + 65536));`,
      async ts(t) {
        await server(t, `tcp://127.0.0.1:${t.env.line + 65536}`);
      },
    },
    {
      name: "udp with the default flags (BIND|LISTEN) fails",
      php: PHP_SERVER + `server('udp://127.0.0.1:0');`,
      async ts(t) {
        await server(t, "udp://127.0.0.1:0");
      },
    },
    {
      name: "udp with STREAM_SERVER_BIND",
      normalize: maskEphemeral,
      php: PHP_SERVER + `$s = server('udp://127.0.0.1:0', STREAM_SERVER_BIND); rec('local', stream_socket_get_name($s, false)); rec('remote', stream_socket_get_name($s, true)); rec('meta', stream_get_meta_data($s));`,
      async ts(t) {
        const s = await server(t, "udp://127.0.0.1:0", 4);
        t.rec("local", t.php.stream_socket_get_name(s, false));
        t.rec("remote", t.php.stream_socket_get_name(s, true));
        t.rec("meta", t.php.stream_get_meta_data(s));
      },
    },
    {
      name: "IPv6 server name",
      normalize: maskEphemeral,
      requires: (env) => (env.ipv6 ? null : "no IPv6 loopback"),
      php: PHP_SERVER + `$s = server('tcp://[::1]:0'); rec('local', stream_socket_get_name($s, false));`,
      async ts(t) {
        const s = await server(t, "tcp://[::1]:0");
        t.rec("local", t.php.stream_socket_get_name(s, false));
      },
    },
    {
      name: "unix server: accept, names, data both ways",
      differs: {
        reason: "fclose() of a unix server removes its socket file in sockurl/php (docs/php.md); PHP leaves it behind",
        expect: (php) => php.map((e) => ("step" in e && e.step === "file after fclose" ? { step: e.step, value: false } : e)),
      },
      php: PHP_SERVER + `
        $path = $E['tmp'] . '/srv-P.sock';
        $s = server("unix://$path");
        $c = client("unix://$path");
        $peer = 'untouched';
        $a = stream_socket_accept($s, 2, $peer);
        rec('accept', $a);
        // PHP fills $peer with whatever bytes its sockaddr buffer held (an unnamed unix peer has
        // no path): only the type is stable.
        rec('peer is a string', is_string($peer));
        rec('server local', stream_socket_get_name($s, false));
        rec('client local', stream_socket_get_name($c, false));
        rec('client remote', stream_socket_get_name($c, true));
        rec('accepted local', stream_socket_get_name($a, false));
        rec('accepted remote', stream_socket_get_name($a, true));
        rec('fwrite', fwrite($c, "over unix\\n"));
        rec('fgets', fgets($a));
        rec('meta', stream_get_meta_data($a));
        fclose($s);
        rec('file after fclose', file_exists($path));
        if (file_exists($path)) unlink($path);`,
      normalize: (e) => JSON.parse(JSON.stringify(e).replace(/srv-[PT]\.sock/g, "srv-X.sock")),
      async ts(t) {
        const path = `${t.env.tmp}/srv-T.sock`;
        const s = await server(t, `unix://${path}`);
        const errno = t.php.ref(-1);
        const errstr = t.php.ref("untouched");
        const c = await t.php.stream_socket_client(`unix://${path}`, errno, errstr, 2);
        t.rec("client", c);
        t.rec("errno", errno.value);
        t.rec("errstr", errstr.value);
        const peer = t.php.ref("untouched");
        const a = await t.php.stream_socket_accept(s, 2, peer);
        t.rec("accept", a);
        t.rec("peer is a string", typeof peer.value === "string");
        t.rec("server local", t.php.stream_socket_get_name(s, false));
        t.rec("client local", t.php.stream_socket_get_name(c, false));
        t.rec("client remote", t.php.stream_socket_get_name(c, true));
        t.rec("accepted local", t.php.stream_socket_get_name(a, false));
        t.rec("accepted remote", t.php.stream_socket_get_name(a, true));
        t.rec("fwrite", await t.php.fwrite(c, "over unix\n"));
        t.rec("fgets", await t.php.fgets(a));
        t.rec("meta", t.php.stream_get_meta_data(a));
        await t.php.fclose(s);
        const { existsSync, rmSync } = await import("node:fs");
        t.rec("file after fclose", existsSync(path));
        rmSync(path, { force: true });
      },
    },
    {
      name: "unix server on an existing socket file",
      php: PHP_SERVER + `server('unix://' . $E['unixPath']);`,
      async ts(t) {
        await server(t, `unix://${t.env.unixPath}`);
      },
    },
    {
      name: "accept a real client (dialer) and talk",
      normalize: maskEphemeral,
      php: PHP_SERVER + `
        $s = server('tcp://127.0.0.1:0');
        $ctl = dialer('DIAL tcp ' . stream_socket_get_name($s, false) . ' hello from dialer');
        $peer = 'untouched';
        $a = stream_socket_accept($s, 5, $peer);
        rec('accept', $a);
        rec('peer', $peer);
        rec('fgets', fgets($a));
        rec('fwrite', fwrite($a, "hello back\\n"));
        rec('dialer', fgets($ctl));`,
      async ts(t) {
        const s = await server(t, "tcp://127.0.0.1:0");
        const ctl = await t.dialer(`DIAL tcp ${t.php.stream_socket_get_name(s, false)} hello from dialer`);
        const peer = t.php.ref("untouched");
        const a = await t.php.stream_socket_accept(s, 5, peer);
        t.rec("accept", a);
        t.rec("peer", peer.value);
        t.rec("fgets", await t.php.fgets(a));
        t.rec("fwrite", await t.php.fwrite(a, "hello back\n"));
        t.rec("dialer", await t.php.fgets(ctl));
      },
    },
    {
      name: "accept on a connected client socket",
      php: `$c = client("tcp://127.0.0.1:{$E['line']}"); rec('accept', stream_socket_accept($c, 0.2));`,
      async ts(t) {
        const c = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("accept", await t.php.stream_socket_accept(c, 0.2));
      },
    },
  ],
};
