/**
 * Datagrams and names: stream_socket_sendto()/stream_socket_recvfrom() (addresses, STREAM_PEEK,
 * truncation, bad addresses, ValueErrors), fread/fwrite on UDP, unix datagrams, and
 * stream_socket_get_name() / stream_socket_pair().
 */
import type { Group } from "../harness.js";
import { client, maskEphemeral } from "./common.js";

export const udp: Group = {
  name: "udp+names",
  scenarios: [
    {
      name: "tcp client names",
      normalize: maskEphemeral,
      php: `$c = client("tcp://127.0.0.1:{$E['line']}"); rec('local', stream_socket_get_name($c, false)); rec('remote', stream_socket_get_name($c, true));`,
      async ts(t) {
        const c = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("local", t.php.stream_socket_get_name(c, false));
        t.rec("remote", t.php.stream_socket_get_name(c, true));
      },
    },
    {
      name: "connected udp client: sendto without address, recvfrom with address",
      normalize: maskEphemeral,
      php: `
        $c = client("udp://127.0.0.1:{$E['udp']}");
        rec('local', stream_socket_get_name($c, false));
        rec('remote', stream_socket_get_name($c, true));
        rec('sendto', stream_socket_sendto($c, "ping"));
        $from = 'untouched';
        rec('recvfrom', stream_socket_recvfrom($c, 100, 0, $from));
        rec('from', $from);`,
      async ts(t) {
        const c = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        t.rec("local", t.php.stream_socket_get_name(c, false));
        t.rec("remote", t.php.stream_socket_get_name(c, true));
        t.rec("sendto", await t.php.stream_socket_sendto(c, "ping"));
        const from = t.php.ref("untouched");
        t.rec("recvfrom", await t.php.stream_socket_recvfrom(c, 100, 0, from));
        t.rec("from", from.value);
      },
    },
    {
      name: "STREAM_PEEK leaves the datagram queued",
      php: `
        $c = client("udp://127.0.0.1:{$E['udp']}");
        stream_socket_sendto($c, "peekaboo");
        $from = 'untouched';
        rec('peek', stream_socket_recvfrom($c, 100, STREAM_PEEK, $from));
        rec('peek from', $from);
        rec('peek short', stream_socket_recvfrom($c, 4, STREAM_PEEK));
        rec('read', stream_socket_recvfrom($c, 100));`,
      async ts(t) {
        const c = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        await t.php.stream_socket_sendto(c, "peekaboo");
        const from = t.php.ref("untouched");
        t.rec("peek", await t.php.stream_socket_recvfrom(c, 100, t.php.STREAM_PEEK, from));
        t.rec("peek from", from.value);
        t.rec("peek short", await t.php.stream_socket_recvfrom(c, 4, t.php.STREAM_PEEK));
        t.rec("read", await t.php.stream_socket_recvfrom(c, 100));
      },
    },
    {
      name: "recvfrom shorter than the datagram: the rest is lost",
      php: `
        $c = client("udp://127.0.0.1:{$E['udp']}");
        stream_socket_sendto($c, "0123456789");
        rec('first', stream_socket_recvfrom($c, 4));
        stream_socket_sendto($c, "second");
        rec('next', stream_socket_recvfrom($c, 100));`,
      async ts(t) {
        const c = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        await t.php.stream_socket_sendto(c, "0123456789");
        t.rec("first", await t.php.stream_socket_recvfrom(c, 4));
        await t.php.stream_socket_sendto(c, "second");
        t.rec("next", await t.php.stream_socket_recvfrom(c, 100));
      },
    },
    {
      name: "fread shorter than the datagram: the buffer keeps the rest and the next fread waits for more",
      php: `
        $c = client("udp://127.0.0.1:{$E['udp']}");
        stream_set_timeout($c, 0, 300000);
        rec('fwrite', fwrite($c, "0123456789"));
        rec('fread 4', fread($c, 4));
        rec('fread 100', fread($c, 100));
        rec('meta', stream_get_meta_data($c));`,
      async ts(t) {
        const c = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        t.php.stream_set_timeout(c, 0, 300000);
        t.rec("fwrite", await t.php.fwrite(c, "0123456789"));
        t.rec("fread 4", await t.php.fread(c, 4));
        t.rec("fread 100", await t.php.fread(c, 100));
        t.rec("meta", t.php.stream_get_meta_data(c));
      },
    },
    {
      name: "bound udp socket: sendto an address, recvfrom tells the sender",
      php: `
        $s = stream_socket_server('udp://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND);
        rec('sendto', stream_socket_sendto($s, "to echo", 0, "127.0.0.1:{$E['udp']}"));
        $from = 'untouched';
        rec('recvfrom', stream_socket_recvfrom($s, 100, 0, $from));
        rec('from', $from);`,
      async ts(t) {
        const errno = t.php.ref(0);
        const errstr = t.php.ref("");
        const s = await t.php.stream_socket_server("udp://127.0.0.1:0", errno, errstr, t.php.STREAM_SERVER_BIND);
        t.rec("sendto", await t.php.stream_socket_sendto(s, "to echo", 0, `127.0.0.1:${t.env.udp}`));
        const from = t.php.ref("untouched");
        t.rec("recvfrom", await t.php.stream_socket_recvfrom(s, 100, 0, from));
        t.rec("from", from.value);
      },
    },
    {
      name: "sendto with a scheme in the address",
      php: `
        $s = stream_socket_server('udp://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND);
        rec('sendto', stream_socket_sendto($s, "x", 0, "udp://127.0.0.1:{$E['udp']}"));`,
      async ts(t) {
        const errno = t.php.ref(0);
        const errstr = t.php.ref("");
        const s = await t.php.stream_socket_server("udp://127.0.0.1:0", errno, errstr, t.php.STREAM_SERVER_BIND);
        t.rec("sendto", await t.php.stream_socket_sendto(s, "x", 0, `udp://127.0.0.1:${t.env.udp}`));
      },
    },
    {
      name: "sendto a bad address",
      php: `
        $s = stream_socket_server('udp://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND);
        rec('no port', stream_socket_sendto($s, "x", 0, "127.0.0.1"));
        rec('garbage', stream_socket_sendto($s, "x", 0, "not an address"));`,
      async ts(t) {
        const errno = t.php.ref(0);
        const errstr = t.php.ref("");
        const s = await t.php.stream_socket_server("udp://127.0.0.1:0", errno, errstr, t.php.STREAM_SERVER_BIND);
        t.rec("no port", await t.php.stream_socket_sendto(s, "x", 0, "127.0.0.1"));
        t.rec("garbage", await t.php.stream_socket_sendto(s, "x", 0, "not an address"));
      },
    },
    {
      name: "recvfrom length 0 and -1: ValueError",
      php: `
        $c = client("udp://127.0.0.1:{$E['udp']}");
        attempt('zero', fn () => stream_socket_recvfrom($c, 0));
        attempt('negative', fn () => stream_socket_recvfrom($c, -1));`,
      async ts(t) {
        const c = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        await t.attempt("zero", () => t.php.stream_socket_recvfrom(c, 0));
        await t.attempt("negative", () => t.php.stream_socket_recvfrom(c, -1));
      },
    },
    {
      name: "recvfrom on a listening tcp socket",
      php: `$s = stream_socket_server('tcp://127.0.0.1:0'); rec('recvfrom', stream_socket_recvfrom($s, 10));`,
      async ts(t) {
        const errno = t.php.ref(0);
        const errstr = t.php.ref("");
        const s = await t.php.stream_socket_server("tcp://127.0.0.1:0", errno, errstr);
        t.rec("recvfrom", await t.php.stream_socket_recvfrom(s, 10));
      },
    },
    {
      name: "udp over IPv6",
      normalize: maskEphemeral,
      requires: (env) => (env.ipv6 ? null : "no IPv6 loopback"),
      php: `
        $c = client("udp://[::1]:{$E['udp6']}");
        rec('local', stream_socket_get_name($c, false));
        rec('remote', stream_socket_get_name($c, true));
        rec('sendto', stream_socket_sendto($c, "v6"));
        $from = 'untouched';
        rec('recvfrom', stream_socket_recvfrom($c, 100, 0, $from));
        rec('from', $from);`,
      async ts(t) {
        const c = await client(t, `udp://[::1]:${t.env.udp6}`);
        t.rec("local", t.php.stream_socket_get_name(c, false));
        t.rec("remote", t.php.stream_socket_get_name(c, true));
        t.rec("sendto", await t.php.stream_socket_sendto(c, "v6"));
        const from = t.php.ref("untouched");
        t.rec("recvfrom", await t.php.stream_socket_recvfrom(c, 100, 0, from));
        t.rec("from", from.value);
      },
    },
    {
      name: "unix datagrams: sendto cannot take a path; a connected client can",
      normalize: (e) => JSON.parse(JSON.stringify(e).replace(/udg-[PT]\.sock/g, "udg-X.sock")),
      php: `
        $path = $E['tmp'] . '/udg-P.sock';
        $s = stream_socket_server("udg://$path", $errno, $errstr, STREAM_SERVER_BIND);
        rec('server', $s);
        rec('local', stream_socket_get_name($s, false));
        rec('meta', stream_get_meta_data($s));
        rec('sendto path', stream_socket_sendto($s, "$path\\nreflected", 0, $E['udgPath']));
        rec('sendto udg://', stream_socket_sendto($s, "$path\\nreflected", 0, 'udg://' . $E['udgPath']));
        $c = client('udg://' . $E['udgPath']);
        rec('client remote', stream_socket_get_name($c, true));
        rec('fwrite', fwrite($c, "$path\\nvia client"));
        $from = 'untouched';
        rec('recvfrom', stream_socket_recvfrom($s, 100, 0, $from));
        rec('from', $from);
        fclose($s);
        if (file_exists($path)) unlink($path);`,
      async ts(t) {
        const path = `${t.env.tmp}/udg-T.sock`;
        const errno = t.php.ref(0);
        const errstr = t.php.ref("");
        const s = await t.php.stream_socket_server(`udg://${path}`, errno, errstr, t.php.STREAM_SERVER_BIND);
        t.rec("server", s);
        t.rec("local", t.php.stream_socket_get_name(s, false));
        t.rec("meta", t.php.stream_get_meta_data(s));
        t.rec("sendto path", await t.php.stream_socket_sendto(s, `${path}\nreflected`, 0, t.env.udgPath));
        t.rec("sendto udg://", await t.php.stream_socket_sendto(s, `${path}\nreflected`, 0, `udg://${t.env.udgPath}`));
        const c = await client(t, `udg://${t.env.udgPath}`);
        t.rec("client remote", t.php.stream_socket_get_name(c, true));
        t.rec("fwrite", await t.php.fwrite(c, `${path}\nvia client`));
        const from = t.php.ref("untouched");
        t.rec("recvfrom", await t.php.stream_socket_recvfrom(s, 100, 0, from));
        t.rec("from", from.value);
        await t.php.fclose(s);
        const { rmSync } = await import("node:fs");
        rmSync(path, { force: true });
      },
    },
    {
      name: "stream_socket_pair: types, names, data",
      php: `
        $p = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        rec('pair', $p);
        rec('name', stream_socket_get_name($p[0], false));
        rec('remote', stream_socket_get_name($p[0], true));
        rec('meta', stream_get_meta_data($p[0]));
        rec('fwrite', fwrite($p[0], "across\\n"));
        rec('fgets', fgets($p[1]));
        fclose($p[0]);
        rec('fread after close', fread($p[1], 10));
        rec('feof', feof($p[1]));`,
      async ts(t) {
        const p = await t.php.stream_socket_pair(t.php.STREAM_PF_UNIX, t.php.STREAM_SOCK_STREAM, t.php.STREAM_IPPROTO_IP);
        t.rec("pair", p);
        t.rec("name", t.php.stream_socket_get_name(p[0], false));
        t.rec("remote", t.php.stream_socket_get_name(p[0], true));
        t.rec("meta", t.php.stream_get_meta_data(p[0]));
        t.rec("fwrite", await t.php.fwrite(p[0], "across\n"));
        t.rec("fgets", await t.php.fgets(p[1]));
        await t.php.fclose(p[0]);
        t.rec("fread after close", await t.php.fread(p[1], 10));
        t.rec("feof", t.php.feof(p[1]));
      },
    },
    {
      name: "a closed stream is not a valid resource",
      php: `
        $c = client("tcp://127.0.0.1:{$E['line']}");
        rec('fclose', fclose($c));
        attempt('get_name', fn () => stream_socket_get_name($c, false));
        attempt('fwrite', fn () => fwrite($c, "x"));
        attempt('fclose again', fn () => fclose($c));`,
      async ts(t) {
        const c = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("fclose", await t.php.fclose(c));
        await t.attempt("get_name", () => t.php.stream_socket_get_name(c, false));
        await t.attempt("fwrite", () => t.php.fwrite(c, "x"));
        await t.attempt("fclose again", () => t.php.fclose(c));
      },
    },
  ],
};
