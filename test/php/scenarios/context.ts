/**
 * Stream contexts: create/get/set, and the `socket` options (bindto, backlog, tcp_nodelay,
 * so_reuseport, ipv6_v6only, so_broadcast).
 */
import type { Entry, Group, Log, Twin } from "../harness.js";
import { ask, client, maskEphemeral } from "./common.js";

/** A client to the line server through a context with `socket` options; records names and an echo. */
async function boundClient(t: Twin, socket: Record<string, unknown>): Promise<void> {
  const ctx = t.php.stream_context_create({ socket });
  const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 2, ctx);
  if (fp === false) return;
  t.rec("local", t.php.stream_socket_get_name(fp, false));
  await ask(t, fp, "ECHO bound");
}

const PHP_BOUND = `
function bound_client(array $socket) {
    global $E;
    $ctx = stream_context_create(['socket' => $socket]);
    $fp = client("tcp://127.0.0.1:{$E['line']}", 2, $ctx);
    if ($fp === false) return;
    rec('local', stream_socket_get_name($fp, false));
    ask($fp, 'ECHO bound');
}
`;

/** Node's net.Server takes `reusePort` from 22.12 (and 23.1) on. */
function reusePortSupported(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

export const context: Group = {
  name: "context",
  scenarios: [
    {
      name: "create, set, get options",
      php: `
        $c = stream_context_create(['socket' => ['bindto' => '127.0.0.1:0']]);
        rec('context', $c);
        rec('options', stream_context_get_options($c));
        rec('set one', stream_context_set_option($c, 'ssl', 'verify_peer', false));
        rec('set array', stream_context_set_option($c, ['ssl' => ['peer_name' => 'localhost'], 'socket' => ['tcp_nodelay' => true]]));
        rec('options after', stream_context_get_options($c));
        attempt('set without a name', fn () => stream_context_set_option($c, 'ssl'));
        attempt('bad shape', fn () => stream_context_create(['socket' => 'x']));`,
      async ts(t) {
        const c = t.php.stream_context_create({ socket: { bindto: "127.0.0.1:0" } });
        t.rec("context", c);
        t.rec("options", t.php.stream_context_get_options(c));
        t.rec("set one", t.php.stream_context_set_option(c, "ssl", "verify_peer", false));
        t.rec("set array", t.php.stream_context_set_option(c, { ssl: { peer_name: "localhost" }, socket: { tcp_nodelay: true } }));
        t.rec("options after", t.php.stream_context_get_options(c));
        await t.attempt("set without a name", () => t.php.stream_context_set_option(c, "ssl"));
        await t.attempt("bad shape", () => t.php.stream_context_create({ socket: "x" }));
      },
    },
    {
      name: "a stream's options are its context's",
      php: `
        $c = stream_context_create(['socket' => ['tcp_nodelay' => true]]);
        $fp = client("tcp://127.0.0.1:{$E['line']}", 2, $c);
        rec('stream options', stream_context_get_options($fp));
        $plain = client("tcp://127.0.0.1:{$E['line']}");
        rec('no context', stream_context_get_options($plain));`,
      async ts(t) {
        const c = t.php.stream_context_create({ socket: { tcp_nodelay: true } });
        const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 2, c);
        t.rec("stream options", t.php.stream_context_get_options(fp));
        const plain = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        t.rec("no context", t.php.stream_context_get_options(plain));
      },
    },
    {
      name: "bindto an address and port 0",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => '127.0.0.1:0']);`,
      async ts(t) {
        await boundClient(t, { bindto: "127.0.0.1:0" });
      },
    },
    {
      name: "bindto 127.0.0.2 shows in the server's view",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => '127.0.0.2:0']);`,
      async ts(t) {
        await boundClient(t, { bindto: "127.0.0.2:0" });
      },
    },
    {
      name: "bindto a host name: warning, connects unbound",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => 'localhost:0']);`,
      async ts(t) {
        await boundClient(t, { bindto: "localhost:0" });
      },
    },
    {
      name: "bindto not a string",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => 5]);`,
      async ts(t) {
        await boundClient(t, { bindto: 5 });
      },
    },
    {
      name: "bindto without a colon is ignored",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => '127.0.0.1']);`,
      async ts(t) {
        await boundClient(t, { bindto: "127.0.0.1" });
      },
    },
    {
      name: "bindto a port in use: warning, connect goes on",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => "127.0.0.1:{$E['line']}"]);`,
      async ts(t) {
        await boundClient(t, { bindto: `127.0.0.1:${t.env.line}` });
      },
    },
    {
      name: "bindto a foreign address",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => '192.0.2.1:0']);`,
      async ts(t) {
        await boundClient(t, { bindto: "192.0.2.1:0" });
      },
    },
    {
      name: "bindto an IPv6 address for an IPv4 target",
      normalize: maskEphemeral,
      php: PHP_BOUND + `bound_client(['bindto' => '[::1]:0']);`,
      async ts(t) {
        await boundClient(t, { bindto: "[::1]:0" });
      },
    },
    {
      name: "tcp_nodelay true and false",
      php: `
        foreach ([true, false] as $v) {
            $fp = client("tcp://127.0.0.1:{$E['line']}", 2, stream_context_create(['socket' => ['tcp_nodelay' => $v]]));
            ask($fp, 'ECHO nodelay');
        }`,
      async ts(t) {
        for (const v of [true, false]) {
          const fp = await client(t, `tcp://127.0.0.1:${t.env.line}`, 2, t.php.stream_context_create({ socket: { tcp_nodelay: v } }));
          await ask(t, fp, "ECHO nodelay");
        }
      },
    },
    {
      name: "so_reuseport: two servers on one port; without it the second fails",
      ...(reusePortSupported()
        ? {}
        : {
            differs: {
              reason: `so_reuseport needs Node >= 22.12 (this is ${process.version}): sockurl/php ignores it, so the second listener fails (docs/php.md)`,
              expect: (php: Log): Log =>
                php.flatMap((e): Entry[] => {
                  if (!("step" in e)) return [e];
                  if (e.step === "second with so_reuseport") {
                    const warning = php.find((w) => "warning" in w) ?? { warning: "(the bind warning)", level: "E_WARNING" };
                    return [warning, { step: e.step, value: false }];
                  }
                  return e.step === "same name" ? [{ step: e.step, value: false }] : [e];
                }),
            },
          }),
      php: `
        $ctx = stream_context_create(['socket' => ['so_reuseport' => true]]);
        $a = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx);
        $addr = stream_socket_get_name($a, false);
        $b = stream_socket_server("tcp://$addr", $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx);
        rec('second with so_reuseport', $b);
        rec('same name', $b !== false && stream_socket_get_name($b, false) === $addr);
        $plain = stream_socket_server('tcp://127.0.0.1:0');
        $paddr = stream_socket_get_name($plain, false);
        $c = stream_socket_server("tcp://$paddr", $errno, $errstr);
        rec('second without', $c);
        rec('errno', $errno);
        rec('errstr', $errstr);`,
      normalize: (e) => JSON.parse(JSON.stringify(e).replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:{ephemeral}")),
      async ts(t) {
        const ctx = t.php.stream_context_create({ socket: { so_reuseport: true } });
        const flags = t.php.STREAM_SERVER_BIND | t.php.STREAM_SERVER_LISTEN;
        const a = await t.php.stream_socket_server("tcp://127.0.0.1:0", t.php.ref(0), t.php.ref(""), flags, ctx);
        const addr = t.php.stream_socket_get_name(a, false);
        const b = await t.php.stream_socket_server(`tcp://${addr}`, t.php.ref(0), t.php.ref(""), flags, ctx);
        t.rec("second with so_reuseport", b);
        t.rec("same name", b !== false && t.php.stream_socket_get_name(b, false) === addr);
        const plain = await t.php.stream_socket_server("tcp://127.0.0.1:0", t.php.ref(0), t.php.ref(""));
        const paddr = t.php.stream_socket_get_name(plain, false);
        const errno = t.php.ref(-1);
        const errstr = t.php.ref("untouched");
        const c = await t.php.stream_socket_server(`tcp://${paddr}`, errno, errstr);
        t.rec("second without", c);
        t.rec("errno", errno.value);
        t.rec("errstr", errstr.value);
      },
    },
    {
      // The listener takes a port below the ephemeral range, so that no connect of ours can get it
      // as its source port (a self-connect would "succeed" where PHP is refused).
      name: "ipv6_v6only false: an IPv4 client reaches [::]",
      requires: (env) => (env.ipv6 ? null : "no IPv6"),
      php: `
        $port = $E['spare']['php'][0];
        $s = stream_socket_server("tcp://[::]:$port", $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, stream_context_create(['socket' => ['ipv6_v6only' => false]]));
        rec('local', stream_socket_get_name($s, false));
        $c = client("tcp://127.0.0.1:$port", 1);
        $a = stream_socket_accept($s, 1, $peer);
        rec('peer', $peer);`,
      normalize: maskEphemeral,
      async ts(t) {
        const port = t.env.spare.ts[0];
        const s = await t.php.stream_socket_server(`tcp://[::]:${port}`, t.php.ref(0), t.php.ref(""), 12, t.php.stream_context_create({ socket: { ipv6_v6only: false } }));
        t.rec("local", t.php.stream_socket_get_name(s, false));
        await client(t, `tcp://127.0.0.1:${port}`, 1);
        const peer = t.php.ref(null);
        await t.php.stream_socket_accept(s, 1, peer);
        t.rec("peer", peer.value);
      },
    },
    {
      name: "ipv6_v6only true: an IPv4 client is refused",
      requires: (env) => (env.ipv6 ? null : "no IPv6"),
      php: `
        $port = $E['spare']['php'][1];
        $s = stream_socket_server("tcp://[::]:$port", $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, stream_context_create(['socket' => ['ipv6_v6only' => true]]));
        rec('local', stream_socket_get_name($s, false));
        client("tcp://127.0.0.1:$port", 1);`,
      async ts(t) {
        const port = t.env.spare.ts[1];
        const s = await t.php.stream_socket_server(`tcp://[::]:${port}`, t.php.ref(0), t.php.ref(""), 12, t.php.stream_context_create({ socket: { ipv6_v6only: true } }));
        t.rec("local", t.php.stream_socket_get_name(s, false));
        await client(t, `tcp://127.0.0.1:${port}`, 1);
      },
    },
    {
      name: "backlog: a server with backlog 1 still accepts",
      normalize: maskEphemeral,
      php: `
        $s = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, stream_context_create(['socket' => ['backlog' => 1]]));
        rec('server', $s);
        $c = client('tcp://' . stream_socket_get_name($s, false), 1);
        $a = stream_socket_accept($s, 1);
        rec('accept', $a);
        fwrite($c, "through backlog 1\\n");
        rec('fgets', fgets($a));`,
      async ts(t) {
        const s = await t.php.stream_socket_server("tcp://127.0.0.1:0", t.php.ref(0), t.php.ref(""), 12, t.php.stream_context_create({ socket: { backlog: 1 } }));
        t.rec("server", s);
        const c = await client(t, `tcp://${t.php.stream_socket_get_name(s, false)}`, 1);
        const a = await t.php.stream_socket_accept(s, 1);
        t.rec("accept", a);
        await t.php.fwrite(c, "through backlog 1\n");
        t.rec("fgets", await t.php.fgets(a));
      },
    },
    {
      name: "so_broadcast: a broadcast address needs it",
      php: `
        client('udp://255.255.255.255:9', 1);
        $fp = client('udp://255.255.255.255:9', 1, stream_context_create(['socket' => ['so_broadcast' => true]]));
        if ($fp) rec('fwrite', fwrite($fp, "x"));`,
      async ts(t) {
        await client(t, "udp://255.255.255.255:9", 1);
        const fp = await client(t, "udp://255.255.255.255:9", 1, t.php.stream_context_create({ socket: { so_broadcast: true } }));
        if (fp) t.rec("fwrite", await t.php.fwrite(fp, "x"));
      },
    },
  ],
};
